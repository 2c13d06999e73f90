"""Validation: every problem with its path, in one answer, and no side effects.

Three passes over plain data: the JSON Schema (types, unknown keys), then defaults and
normalisation (durations to seconds), then cross-references the schema cannot express
(checks.py: unique ids, provider references, regexes and networks compiled by the policy
builder, a client secret where the token endpoint needs one, whether the session cookie can
reach every app). The cross-references run even when the schema found problems, on a copy without
the refused parts (:func:`well_typed`), so a config with a bad regex, an unknown key, a
wrong type and an unknown provider gets all four errors at once; a cross-reference error at
(or under) a path the schema already reported is dropped.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema

from ssomw.config.checks import cross_checks, entries
from ssomw.config.errors import ConfigError
from ssomw.config.phrasing import format_path, phrase
from ssomw.config.schema import config_schema
from ssomw.core.policy import Policy
from ssomw.core.routing import Routing
from ssomw.core.url_secrets import redact_url

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


@lru_cache(maxsize=1)
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(config_schema())


def schema_problems(data: Any) -> list[jsonschema.ValidationError]:
    return list(validator().iter_errors(data))


def schema_errors(data: Any) -> list[ConfigError]:
    """Schema problems, phrased for an operator rather than as JSON Schema jargon."""
    return [ConfigError(path, message) for err in schema_problems(data)
            for path, message in phrase(err)]


def shown(value: Any) -> Any:
    """A value as an error message may quote it: a URL without its credentials (the message
    reaches ``ssomw check``, logs and the admin API)."""
    return redact_url(value) if isinstance(value, str) else value


def fill_defaults(data: Any, schema: dict[str, Any]) -> Any:
    """Return a copy of ``data`` with the schema's defaults filled in, recursively."""
    if isinstance(data, dict) and "properties" in schema:
        out = dict(data)
        for key, sub in schema["properties"].items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = fill_defaults(out[key], sub)
        return out
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [fill_defaults(item, schema["items"]) for item in data]
    return data


def section_defaults(name: str, partial: dict[str, Any] | None = None) -> dict[str, Any]:
    """One config section with the schema's defaults filled in (durations as given): for
    tools and tests that build a single part without a whole configuration."""
    return fill_defaults(dict(partial or {}), config_schema()["properties"][name])


def to_seconds(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    match = DURATION_TEXT.match(str(value))
    assert match, "schema guarantees the duration format"
    return float(match.group(1)) * UNITS[match.group(2)]


def normalise(data: dict[str, Any]) -> None:
    """Turn durations into seconds in place (on a private copy)."""
    for section, key in (("session", "idle_timeout"), ("session", "max_lifetime"),
                         ("store", "outage_log_interval")):
        data[section][key] = to_seconds(data[section][key])
    emergency = data["emergency"]
    emergency["max_lifetime"] = to_seconds(emergency["max_lifetime"])
    for key in ("window", "lockout"):
        emergency["throttle"][key] = to_seconds(emergency["throttle"][key])
    if "ldap" in data["directory"]:
        ldap = data["directory"]["ldap"]
        ldap["sync_interval"] = to_seconds(ldap["sync_interval"])
    for _, provider in entries(data["providers"]):
        provider["leeway"] = to_seconds(provider["leeway"])
    for _, app in entries(data["apps"]):
        for _, rule in entries(app.get("rules")):
            if "max_age" in rule:
                rule["max_age"] = to_seconds(rule["max_age"])


# Problems that leave the value itself usable by the cross-references.
KEEP_VALUE = frozenset({"required", "minItems", "maxItems", "minProperties", "maxProperties",
                        "uniqueItems"})


def well_typed(data: Any, problems: list[jsonschema.ValidationError]
               ) -> tuple[dict[str, Any] | None, set[str]]:
    """A copy of ``data`` without the parts the schema refused, for the cross-references
    (None when nothing is left: the document is not a mapping), and the paths of the values
    removed: a cross-reference may find their parents incomplete ("match is empty"), which
    says nothing new.

    Unknown keys and refused values are removed (defaults fill in for them); a refused list
    item becomes None rather than going, so every other item keeps its index and its path.
    An ``id`` that breaks only the naming pattern stays: it still names its entry for the
    references to it (else each reference would add an "unknown provider" of its own).
    """
    if not isinstance(data, dict):
        return None, set()
    out = copy.deepcopy(data)
    removed: set[str] = set()
    for err in problems:
        parts = list(err.absolute_path)
        node = walk(out, parts)
        if err.validator == "additionalProperties" and isinstance(node, dict):
            allowed = err.schema.get("properties", {})
            for key in [k for k in node if k not in allowed]:
                del node[key]
        elif "propertyNames" in err.relative_schema_path and isinstance(node, dict):
            node.pop(err.instance, None)
        elif err.validator in KEEP_VALUE or (parts[-1:] == ["id"] and isinstance(node, str)):
            continue
        elif not parts:
            return None, set()
        else:
            removed.add(format_path(parts))
            parent, last = walk(out, parts[:-1]), parts[-1]
            if isinstance(parent, dict):
                parent.pop(last, None)
            elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                parent[last] = None
    for section, empty in (("session", {}), ("providers", []), ("apps", [])):
        if not isinstance(out.get(section), type(empty)):
            out[section] = empty
    return out, removed


def walk(node: Any, parts: list[Any]) -> Any:
    """The node at ``parts`` below ``node``, or None when the way is gone."""
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


@dataclass(frozen=True)
class Validated:
    """A valid configuration and the rules compiled while checking it (used as they are)."""

    data: dict[str, Any]
    policy: Policy
    routing: Routing


def covered(path: str, reported: set[str]) -> bool:
    """Whether ``path`` is, or lies under, a path already reported."""
    return any(path == r or path.startswith((r + ".", r + "[")) for r in reported)


def above(path: str, removed: set[str]) -> bool:
    """Whether ``path`` is a parent of a removed value."""
    return any(r.startswith((path + ".", path + "[")) for r in removed)


def validate(data: Any) -> tuple[Validated | None, list[ConfigError]]:
    """Validate resolved data; return (what was built, []) or (None, every error). Changes
    nothing: the data is copied before defaults are filled in."""
    problems = schema_problems(data)
    errors = [ConfigError(path, message) for err in problems for path, message in phrase(err)]
    checked, removed = well_typed(data, problems) if problems else (data, set())
    if checked is None:
        return None, errors
    full = fill_defaults(checked, config_schema())
    normalise(full)
    more, policy, routing = cross_checks(full)
    reported = {e.path for e in errors}
    errors += [e for e in more if not covered(e.path, reported) and not above(e.path, removed)]
    if errors or policy is None or routing is None:
        return None, list(dict.fromkeys(errors))
    return Validated(full, policy, routing), []
