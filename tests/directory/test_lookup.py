"""Finding users, their groups and attributes in a real slapd (tests/data/ldap/base.ldif)."""

from __future__ import annotations

import pytest

from ssomw.directory import Directory, DirectoryUser
from tests.support.slapd import SERVICE_DN, SUFFIX, TEST_PASSWORD, Slapd, directory_settings

# Expected groups per user: nested resolved, cycle g1 <-> g2 terminates, and the
# groupOfUniqueNames "other" and posixGroup "devs" are outside the default group filter.
GROUPS = [
    pytest.param("alice", ("engineering", "staff"), id="direct-and-one-level-up"),
    pytest.param("carol", ("backend", "engineering", "staff"), id="two-levels-of-nesting"),
    pytest.param("dave", ("staff",), id="direct-only"),
    pytest.param("erin", ("g1", "g2"), id="cycle-from-g1"),
    pytest.param("frank", ("g1", "g2"), id="cycle-from-g2"),
    pytest.param("root-admin", ("sso-admins",), id="admin"),
    pytest.param("grace", (), id="no-groups"),
]


@pytest.mark.parametrize("member_of", [False, True], ids=["member-attr", "memberOf"])
@pytest.mark.parametrize(("username", "groups"), GROUPS)
def test_find_user_resolves_groups(
    slapd: Slapd, member_of: bool, username: str, groups: tuple[str, ...]
) -> None:
    directory = Directory(directory_settings(slapd, member_of=member_of))
    user = directory.find_user(username=username)
    assert user is not None and user.groups == groups


def test_find_user_by_username_returns_profile_attributes(directory: Directory) -> None:
    assert directory.find_user(username="bob") == DirectoryUser(
        dn=f"uid=bob,ou=people,{SUFFIX}",
        username="bob",
        email="bob@example.com",
        groups=("engineering", "staff"),
        attributes={
            "departmentNumber": "42",
            "telephoneNumber": ["+49 30 2001", "+49 171 2002"],
            "l": "Hamburg",
            "manager": f"uid=alice,ou=people,{SUFFIX}",
        },
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"email": "carol@example.com"}, "carol", id="email"),
        pytest.param({"email": "CAROL@Example.COM"}, "carol", id="email-any-case"),
        pytest.param({"username": "jose"}, "jose", id="plain"),
        pytest.param({"username": "alice", "email": "alice@example.com"}, "alice", id="both"),
        pytest.param({"username": "alice", "email": "bob@example.com"}, None, id="both-mismatch"),
        pytest.param({"username": "nobody"}, None, id="unknown"),
        pytest.param({"email": "shared@example.com"}, None, id="ambiguous-email-refused"),
        pytest.param({"username": ""}, None, id="empty"),
        pytest.param({"username": "ssomw"}, None, id="service-account-is-not-a-user"),
    ],
)
def test_find_user(directory: Directory, query: dict, expected: str | None) -> None:
    user = directory.find_user(**query)
    assert (user.username if user else None) == expected


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param("*)(uid=*", id="close-and-wildcard"),
        pytest.param("*", id="wildcard"),
        pytest.param("alice)(|(uid=*", id="or-injection"),
        pytest.param("al*", id="prefix-wildcard"),
        pytest.param("alice\\00", id="escaped-nul"),
        pytest.param("alice)", id="unbalanced"),
    ],
)
def test_filter_injection_finds_nobody(directory: Directory, attack: str) -> None:
    assert directory.find_user(username=attack) is None
    assert directory.find_user(email=attack) is None


def test_non_ascii_values_round_trip(directory: Directory) -> None:
    user = directory.find_user(username="jose")
    assert user is not None and user.attributes == {"l": "München"}
    assert user.email == "jose@example.com"


def test_user_without_email(directory: Directory) -> None:
    user = directory.find_user(username="grace")
    assert user is not None and user.email is None


def test_nested_off_gives_direct_groups_only(slapd: Slapd) -> None:
    directory = Directory(directory_settings(slapd, nested=False))
    assert directory.find_user(username="carol").groups == ("backend",)
    assert {u.username: u.groups for u in directory.iter_users()}["carol"] == ("backend",)


def test_posix_groups_by_member_uid(slapd: Slapd) -> None:
    directory = Directory(directory_settings(
        slapd, group_filter="(objectClass=posixGroup)", group_member_attr="memberUid"))
    assert directory.find_user(username="carol").groups == ("devs",)
    synced = {u.username: u.groups for u in directory.iter_users()}
    assert synced["alice"] == ("devs",) and synced["bob"] == ()


def test_member_of_mode_reads_member_of(tmp_path) -> None:
    """Without the memberof overlay nothing writes memberOf, so member_of mode finds no groups
    while the member-attribute mode still does: member_of really reads memberOf."""
    from tests.support.slapd import BASE_LDIF

    with Slapd(tmp_path, ldif=[BASE_LDIF], memberof=False) as bare:
        by_member_of = Directory(directory_settings(bare, member_of=True))
        by_member = Directory(directory_settings(bare, member_of=False))
        assert by_member_of.find_user(username="carol").groups == ()
        assert by_member.find_user(username="carol").groups == ("backend", "engineering", "staff")


@pytest.mark.parametrize("member_of", [False, True], ids=["member-attr", "memberOf"])
@pytest.mark.parametrize("page_size", [3, 500])
def test_iter_users_pages_through_everyone(slapd: Slapd, member_of: bool, page_size: int) -> None:
    directory = Directory(directory_settings(slapd, member_of=member_of, page_size=page_size))
    users = {u.username: u for u in directory.iter_users()}
    assert sorted(users) == [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "jose",
        "root-admin",
    ]  # fmt: skip
    assert directory.count_users() == len(users)
    for username, groups in [p.values for p in GROUPS]:
        assert users[username].groups == groups
    assert users[username] == directory.find_user(username=username)  # same shape both ways


@pytest.mark.parametrize(
    ("username", "password", "ok"),
    [
        pytest.param("alice", TEST_PASSWORD, True, id="good"),
        pytest.param("alice", "wrong", False, id="bad"),
        pytest.param("alice", "", False, id="empty-is-unauthenticated-bind"),
        pytest.param("nobody", TEST_PASSWORD, False, id="unknown-user"),
        pytest.param("*", TEST_PASSWORD, False, id="wildcard-user"),
        pytest.param("", TEST_PASSWORD, False, id="empty-user"),
    ],
)
def test_check_password(directory: Directory, username: str, password: str, ok: bool) -> None:
    user = directory.check_password(username, password)
    assert (user is not None) == ok
    if ok:
        assert user.username == username and user.groups == ("engineering", "staff")



@pytest.mark.parametrize(
    ("username", "password", "binds_as_user"),
    [
        pytest.param("alice", "wrong", True, id="wrong-password"),
        pytest.param("nobody", TEST_PASSWORD, False, id="unknown-user"),
        pytest.param("alice", "", False, id="empty-password"),
        pytest.param("", TEST_PASSWORD, False, id="empty-user"),
    ],
)
def test_every_refusal_costs_one_search_and_one_bind(
    directory: Directory, monkeypatch: pytest.MonkeyPatch, username: str, password: str,
    binds_as_user: bool,
) -> None:
    """Unknown users cost what known ones do: the bind then goes to a DN that is nobody's,
    under user_base, never the service account's (its failed binds could lock it)."""
    searches: list[str] = []
    binds: list[str] = []
    real_lookup, real_open = directory._lookup, directory._net.open
    monkeypatch.setattr(directory, "_lookup", lambda q, d: searches.append(q) or real_lookup(q, d))

    def open_(user: str | None = None, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if user is not None:  # not the pooled service connection the search runs on
            binds.append(user)
        return real_open(user, *args, **kwargs)

    monkeypatch.setattr(directory._net, "open", open_)
    assert directory.check_password(username, password) is None
    assert len(searches) == 1 and len(binds) == 1
    [dn] = binds
    assert dn.endswith(f",ou=people,{SUFFIX}") and dn != SERVICE_DN
    assert (dn == f"uid=alice,ou=people,{SUFFIX}") == binds_as_user

def test_ping(directory: Directory) -> None:
    directory.ping()
