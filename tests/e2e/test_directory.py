"""Groups and profile from a real OpenLDAP through the real chain (issue 5).

The provider says alice is in `staff` and `app-b-users`; slapd (tests/data/ldap/base.ldif)
puts her in `engineering` and, nested, `staff`, with departmentNumber 42. The gateway maps
`engineering` to `developers`, adds `everyone` to all users and keeps local groups.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ssomw.integration.nginx import full_config
from tests.support.slapd import BASE_LDIF, Slapd, directory_settings

from .conftest import API, signed_in, start_stack
from .stack import REPO, Stack


class DirectoryStack(Stack):
    def start_providers(self) -> None:
        self.slapd = Slapd(self.workdir / "slapd", ldif=[BASE_LDIF]).start()
        super().start_providers()

    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["directory"] = {"ldap": directory_settings(self.slapd, timeout=1)}
        config["groups"] = {"map": {"engineering": ["developers"]},
                            "default_groups": [{"groups": ["everyone"], "for": "all"}]}
        config["profile"] = {"department": {"ldap": "departmentNumber"},
                             "phone": {"ldap": "telephoneNumber"},
                             "display_name": {"claim": "name"}}
        return config

    def apps_config(self) -> list[dict[str, Any]]:
        apps = super().apps_config()
        apps[1]["headers"] = {"X-Dept": "department", "X-Team-Mail": "email"}
        return apps

    def nginx_conf(self) -> str:
        # Profile headers are config-specific: the snippets are rendered for this config.
        return full_config(self.config(), gateway=[g.bind for g in self.gateways],
                           listen=f"127.0.0.1:{self.port}",
                           cache_path=str(self.workdir / "nginx-cache"), snippet_dir=None)

    def stop(self) -> None:
        super().stop()
        self.slapd.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[DirectoryStack]:
    stack = start_stack(tmp_path_factory, "directory", DirectoryStack)
    yield stack
    stack.stop()


def ssomw(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv/bin/ssomw"), *args, "-c",
                           str(stack.gateway.config_path)], capture_output=True, text=True)


def seen(session: requests.Session, stack: Stack, path: str = "/page") -> dict[str, str]:
    response = session.get(stack.url("app-a", path), headers=API)
    assert response.status_code == 200, response.text
    return {k.lower(): v for k, v in response.json()["headers"].items()}


def test_groups_and_profile_from_provider_and_directory(stack: DirectoryStack):
    headers = seen(signed_in(stack, "alice"), stack)
    assert headers["x-auth-request-groups"].split(",") == [
        "app-b-users", "developers", "everyone", "staff"]
    assert headers["x-auth-request-department"] == "42"
    assert headers["x-auth-request-phone"] == "+49 30 1234"
    assert headers["x-auth-request-display-name"] == "Alice Example"


def test_multi_valued_attribute_is_one_safe_header(stack: DirectoryStack):
    headers = seen(signed_in(stack, "bob"), stack)
    assert headers["x-auth-request-phone"] == "+49 30 2001,+49 171 2002"


def test_directory_change_reaches_the_next_decision_after_a_sync(stack: DirectoryStack):
    alice = signed_in(stack, "alice")
    assert "developers" in seen(alice, stack)["x-auth-request-groups"]
    stack.slapd.modify("dn: cn=engineering,ou=groups,dc=example,dc=com\nchangetype: modify\n"
                       "delete: member\nmember: uid=alice,ou=people,dc=example,dc=com\n")
    try:
        result = ssomw(stack, "ldap", "sync")
        assert result.returncode == 0, result.stderr
        assert "users" in result.stdout and "changed" in result.stdout
        time.sleep(1.1)  # the nginx decision cache holds an answer for at most 1 s
        groups = seen(alice, stack, "/after-sync")["x-auth-request-groups"].split(",")
        assert "developers" not in groups and "everyone" in groups
    finally:
        stack.slapd.modify("dn: cn=engineering,ou=groups,dc=example,dc=com\n"
                           "changetype: modify\nadd: member\n"
                           "member: uid=alice,ou=people,dc=example,dc=com\n")


def test_dry_run_changes_nothing(stack: DirectoryStack):
    carol = signed_in(stack, "alice")
    before = seen(carol, stack)["x-auth-request-groups"]
    result = ssomw(stack, "ldap", "sync", "--dry-run")
    assert result.returncode == 0 and result.stdout.startswith("dry run")
    assert seen(carol, stack, "/again")["x-auth-request-groups"] == before


def test_local_groups_survive_sync_and_show_their_source(stack: DirectoryStack):
    assert ssomw(stack, "groups", "add", "alice", "jira-local-admins").returncode == 0
    assert ssomw(stack, "ldap", "sync").returncode == 0
    alice = signed_in(stack, "alice")
    assert "jira-local-admins" in seen(alice, stack)["x-auth-request-groups"]
    shown = ssomw(stack, "groups", "show", "alice").stdout
    assert "jira-local-admins" in shown and "local" in shown
    assert "developers" in shown and "map" in shown  # provenance: engineering -> developers
    assert ssomw(stack, "groups", "remove", "alice", "jira-local-admins").returncode == 0


def test_directory_down_sign_in_uses_last_known_groups(stack: DirectoryStack):
    assert ssomw(stack, "ldap", "sync").returncode == 0  # bob's groups are known now
    stack.slapd.stop()
    try:
        started = time.monotonic()
        bob = signed_in(stack, "bob")
        assert time.monotonic() - started < 5, "a down directory must not block sign-in"
        groups = seen(bob, stack)["x-auth-request-groups"].split(",")
        assert "developers" in groups and "everyone" in groups
        assert "directory unavailable" in stack.gateway.log_text()
        result = ssomw(stack, "ldap", "sync")
        assert result.returncode == 1 and "failed" in result.stderr
    finally:
        stack.slapd.start()


def test_app_specific_headers_reach_only_that_app_and_cannot_be_forged(stack: DirectoryStack):
    alice = signed_in(stack, "alice")
    forged = {"X-Dept": "99", "X-Team-Mail": "evil@example.com"}
    at_b = alice.get(stack.url("app-b", "/"), headers={**API, **forged})
    headers = {k.lower(): v for k, v in at_b.json()["headers"].items()}
    assert (headers["x-dept"], headers["x-team-mail"]) == ("42", "alice@example.com")
    at_a = alice.get(stack.url("app-a", "/"), headers={**API, **forged}).json()["headers"]
    assert not {"x-dept", "x-team-mail"} & {k.lower() for k in at_a}
