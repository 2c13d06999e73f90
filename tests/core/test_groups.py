"""Group pipeline (contract §4.6): the tables in tests/data/group_cases.yaml, plus invariants."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssomw.core.groups import Grant, GroupPipeline, GroupsError, names

DATA = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "group_cases.yaml")
                      .read_text(encoding="utf-8"))
CONFIGS: dict[str, Any] = DATA["configs"]
COMPILED = {name: GroupPipeline.build(config) for name, config in CONFIGS.items()}
CASES = [pytest.param(case, id=case["id"]) for case in DATA["resolve"]]


def inputs(step: dict[str, Any], reverse: bool = False) -> dict[str, Any]:
    """A resolve's sources: absent means asked and empty, null means unavailable."""
    def value(key: str) -> Any:
        found = step.get(key, [])
        return found[::-1] if reverse and isinstance(found, list) else found
    return {"idp": value("idp"), "ldap": value("ldap"), "local": value("local") or []}


def previous_of(case: dict[str, Any], reverse: bool = False) -> tuple[Grant, ...] | None:
    """The case's earlier resolves, run in order: the user as the store last saw them."""
    pipeline = COMPILED[case["config"]]
    previous: tuple[Grant, ...] | None = () if case.get("seen_before") else None
    for step in case.get("history", []):
        previous = pipeline.resolve(**inputs(step, reverse), previous=previous)
    return previous


def run(case: dict[str, Any], reverse: bool = False) -> tuple[Grant, ...]:
    return COMPILED[case["config"]].resolve(**inputs(case, reverse),
                                            previous=previous_of(case, reverse))


@pytest.mark.parametrize("case", CASES)
def test_resolve(case: dict[str, Any]) -> None:
    grants = run(case)
    assert {grant.name: grant.source for grant in grants} == case["expect"]
    by_name = {grant.name: grant for grant in grants}
    for name, origin in case.get("origin", {}).items():
        assert by_name[name].origin == origin
    for name, parts in case.get("via", {}).items():
        for part in parts:
            assert any(part in step for step in by_name[name].via), (part, by_name[name].via)


@pytest.mark.parametrize("case", CASES)
def test_result_is_sorted_unique_and_explained(case: dict[str, Any]) -> None:
    grants = run(case)
    assert [grant.name for grant in grants] == names(grants)
    for grant in grants:
        assert grant.via and all(grant.via), grant
        if grant.source in ("default", "local"):
            assert grant.origin == ""


@pytest.mark.parametrize("case", CASES)
def test_order_of_the_source_lists_does_not_matter(case: dict[str, Any]) -> None:
    assert run(case, reverse=True) == run(case)


@pytest.mark.parametrize("case", [pytest.param(case, id=case["id"]) for case in DATA["resolve"]
                                  if case.get("history") or case.get("seen_before")])
def test_grants_survive_a_store_round_trip(case: dict[str, Any]) -> None:
    """The store keeps grants as JSON: what comes back must resolve exactly like the original."""
    previous = previous_of(case)
    assert previous is not None
    stored = json.loads(json.dumps([asdict(grant) for grant in previous]))
    loaded = [Grant(**{**item, "via": tuple(item["via"])}) for item in stored]
    pipeline = COMPILED[case["config"]]
    assert pipeline.resolve(**inputs(case), previous=loaded) == run(case)


def test_table_covers_the_brief_and_is_large_enough() -> None:
    ids = [case["id"] for case in DATA["resolve"]]
    assert len(ids) >= 30 and len(ids) == len(set(ids))
    for number in range(1, 5):
        assert any(case_id.startswith(f"brief-{number}-") for case_id in ids)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in DATA["build_errors"]])
def test_build_errors(case: dict[str, Any]) -> None:
    with pytest.raises(GroupsError) as caught:
        GroupPipeline.build(case["config"])
    errors = caught.value.errors
    assert sorted(path for path, _ in errors) == sorted(path for path, _ in case["errors"])
    for path, part in case["errors"]:
        messages = [message for where, message in errors if where == path]
        assert any(part in message for message in messages), (path, messages)
    assert str(caught.value).startswith(errors[0][0])


def test_missing_section_means_every_default() -> None:
    pipeline = GroupPipeline.build(None)
    assert pipeline == GroupPipeline.build({})
    assert (pipeline.sources, pipeline.mode, pipeline.keep_local, pipeline.update_existing) == (
        frozenset({"idp", "ldap", "local"}), "all", True, True)
    assert (pipeline.rewrite, dict(pipeline.map), pipeline.protected) == ((), {}, frozenset())


def test_compiled_section_is_immutable() -> None:
    pipeline = COMPILED["full"]
    assert pipeline.include[0] == re.compile("^jira-")
    with pytest.raises(TypeError):
        pipeline.map["x"] = ("y",)  # type: ignore[index]
    with pytest.raises(AttributeError):
        pipeline.keep_local = False  # type: ignore[misc]


def test_resolve_compiles_no_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    """resolve runs for every user of a sync: every pattern must be compiled by build."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"regex compiled at resolve time: {args}")
    monkeypatch.setattr(re, "compile", refuse)
    monkeypatch.setattr(re, "_compile", refuse)
    for case in DATA["resolve"]:
        run(case)


def test_update_existing_false_returns_previous_as_given() -> None:
    previous = [Grant("b", "ldap", "b", ("ldap group 'b'",)), Grant("a", "idp", "a", ("x",))]
    result = COMPILED["frozen"].resolve(idp=["c"], ldap=[], local=[], previous=previous)
    assert result == tuple(previous)


def test_repeated_outages_do_not_grow_the_explanation() -> None:
    pipeline = COMPILED["full"]
    grants = pipeline.resolve(idp=["jira-dev"], ldap=["jira-dev", "cn=jira-ops,ou=g"],
                              local=["jira-dev"], previous=None)
    later = grants
    for _ in range(5):
        later = pipeline.resolve(idp=None, ldap=None, local=[], previous=later)
    assert names(later) == names(grants) == ["jira-dev", "jira-ops", "jira-users", "newcomers"]
    once = pipeline.resolve(idp=None, ldap=None, local=[], previous=grants)
    assert later == once
    assert {g.name: g.source for g in once}["jira-dev"] == "kept"


def test_names_helper() -> None:
    grants = [Grant("b", "idp", "b", ("s",)), Grant("a", "local", "", ("s",)),
              Grant("b", "ldap", "b", ("s",))]
    assert names(grants) == GroupPipeline.names(grants) == ["a", "b"]
