"""Group nesting resolved in memory (no directory needed)."""

from __future__ import annotations

import pytest

from ssomw.directory.groups import GroupIndex, member_key, normalize_dn


def dn(name: str) -> str:
    return f"cn={name},ou=groups,dc=example,dc=com"


ALICE = "uid=alice,ou=people,dc=example,dc=com"


def by_members(groups: dict[str, list[str]]) -> GroupIndex:
    index = GroupIndex()
    for name, members in groups.items():
        index.add(dn(name), name, members=members)
    return index


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        pytest.param({"a": [ALICE]}, ("a",), id="direct"),
        pytest.param({"a": [ALICE], "b": [dn("a")], "c": [dn("b")]}, ("a", "b", "c"), id="chain"),
        pytest.param({"a": [ALICE, dn("b")], "b": [dn("a")]}, ("a", "b"), id="cycle"),
        pytest.param({"a": [ALICE, dn("a")]}, ("a",), id="self-member"),
        pytest.param({"a": [ALICE], "b": [dn("a"), dn("c")], "c": [dn("b")], "d": [dn("c")]},
                     ("a", "b", "c", "d"), id="cycle-with-exit"),
        pytest.param({"a": [ALICE], "b": ["CN=A, OU=Groups,DC=example,DC=com"]}, ("a", "b"),
                     id="dn-case-and-spaces"),
        pytest.param({"a": [ALICE, dn("b")], "b": [ALICE.replace("alice", "bob")]}, ("a",),
                     id="subgroup-is-not-inherited"),
    ],
)
def test_nested_names(groups: dict[str, list[str]], expected: tuple[str, ...]) -> None:
    index = by_members(groups)
    assert index.names(index.members_of(member_key(ALICE)), nested=True) == expected


def test_not_nested_gives_direct_groups() -> None:
    index = by_members({"a": [ALICE], "b": [dn("a")]})
    assert index.names(index.members_of(member_key(ALICE)), nested=False) == ("a",)


def test_member_of_style_parents_and_unknown_groups() -> None:
    index = GroupIndex()
    index.add(dn("a"), "a", parents=[dn("b"), "cn=elsewhere,dc=other"])
    index.add(dn("b"), "b", parents=[dn("a")])
    direct = index.known([dn("a").upper(), "cn=Domain Users,cn=Users,dc=example,dc=com"])
    assert index.names(direct, nested=True) == ("a", "b")


def test_member_uid_keys_are_usernames() -> None:
    index = GroupIndex()
    index.add(dn("devs"), "devs", members=["Alice", "carol"])
    assert index.names(index.members_of(member_key("alice")), nested=True) == ("devs",)


def test_same_name_in_two_places_is_one_group_name() -> None:
    index = GroupIndex()
    index.add(dn("ops"), "ops", members=[ALICE])
    index.add("cn=ops,ou=legacy,dc=example,dc=com", "ops", members=[ALICE])
    assert index.names(index.members_of(member_key(ALICE)), nested=True) == ("ops",)


def test_escaped_comma_stays_inside_the_rdn() -> None:
    assert normalize_dn(r"CN=Doe\, John , OU=People") == r"cn=doe\, john,ou=people"
