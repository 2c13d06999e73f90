"""``ssomw users migrate``: names from providers not authoritative for usernames move to
``<sub>@<provider>``, keeping their local groups, and their old sessions end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.identity.users import local_groups, set_local_groups

CONFIG = {
    "session": {"secret_keys": ["k" * 40]},
    "providers": [
        {"id": "corp", "issuer": "https://corp.example.com", "client_id": "c", "client_secret": "s",
         "authoritative": ["username"]},
        {"id": "social", "issuer": "https://social.example.com", "client_id": "c",
         "client_secret": "s"}],
    "routing": {"default": "corp"},
    "apps": [{"id": "a", "hosts": ["a.example.com"]}],
}


def test_migrate_moves_only_names_a_provider_no_longer_vouches_for(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "store": {"path": str(tmp_path / "s.db")}}))
    rt = Runtime.build(from_text(path.read_text()))
    kept, _ = rt.sessions.create(user="alice", provider="corp", sub="a1", sid=None, data={})
    moved, _ = rt.sessions.create(user="bob", provider="social", sub="g-77", sid=None, data={})
    set_local_groups(rt.store, "alice", ["admins"])
    set_local_groups(rt.store, "bob", ["wiki"])
    set_local_groups(rt.store, "carol", ["desk"])

    def run(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "ssomw.cli", "users", "migrate", "-c",
                                 str(path), *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    dry = run("--dry-run")
    assert "would move bob -> g-77@social" in dry and "unmapped: carol" in dry
    assert rt.store.get_session(moved.id) is not None
    assert local_groups(rt.store, "g-77@social") == []
    out = run()
    assert "moved bob -> g-77@social" in out and "alice" not in out.split("unmapped")[0]
    assert local_groups(rt.store, "g-77@social") == ["wiki"]
    assert rt.store.get_session(moved.id) is None
    assert rt.store.get_session(kept.id) is not None
    assert local_groups(rt.store, "alice") == ["admins"]
