"""Configuration as numbered versions in the store (``admin.config_source: store``).

The YAML file seeds version 1; every change (API, CLI, import, rollback) adds a version with its
author, time, comment and a diff against the previous one, and becomes active only after it
validated completely — an invalid version can never become active. Versions keep the data as
written (``${ENV}`` references and ``*_file`` keys unresolved), so secrets given that way never
reach the store and each instance resolves them from its own environment.

The file at start (:meth:`ConfigVersions.sync_file`): a file whose content was never a version
becomes the active version — editing the YAML and restarting applies it — while a file whose
content was a version once and has been replaced since (through the API, the CLI or a
rollback) is left alone, so a later change made elsewhere is never undone by a restart, and
several instances starting with an old and a new copy of the file cannot flip-flop. Comparing
by content (not by modification time) also keeps a reformatted or re-deployed identical file
from making a version.

Concurrency: version numbers are claimed with ``kv_add`` (one writer wins), and a writer that
names the version it started from (``expected``) gets :class:`VersionConflict` when another
change landed first (HTTP 412).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ssomw.config import Config, build
from ssomw.store.base import Store

NAMESPACE = "config"
ACTIVE = "active"


class VersionConflict(Exception):
    """The configuration changed since the version the writer started from."""

    def __init__(self, active: int | None):
        self.active = active
        super().__init__(f"the active configuration is version {active}")


@dataclass(frozen=True)
class Version:
    number: int
    author: str
    time: float
    comment: str
    data: dict[str, Any]
    diff: list[dict[str, Any]] = field(default_factory=list)

    def meta(self) -> dict[str, Any]:
        return {"number": self.number, "author": self.author, "time": self.time,
                "comment": self.comment, "changes": len(self.diff)}


@dataclass(frozen=True)
class FileState:
    """How the configuration file stands against the store's versions.

    ``status``: ``empty`` (no version yet: the file seeds version 1), ``active`` (the file is
    the active version), ``new`` (its content was never a version: applied at start) or
    ``superseded`` (it was version ``match``; the later ``active`` stays in force).
    """

    status: str
    active: int | None = None
    match: int | None = None


def canonical(data: Any) -> str:
    """One spelling per content: key order and YAML-only types do not count."""
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Changes from ``old`` to ``new`` as ``{"op": add|remove|change, "path": ..}`` entries."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in old:
                changes.append({"op": "add", "path": child, "value": new[key]})
            elif key not in new:
                changes.append({"op": "remove", "path": child})
            else:
                changes += diff(old[key], new[key], child)
        return changes
    if old != new:
        return [{"op": "change", "path": path or "(top level)", "from": old, "to": new}]
    return []


class ConfigVersions:
    def __init__(self, store: Store, env: Mapping[str, str] | None = None,
                 base_dir: Path | None = None):
        self.store = store
        self.env = env
        self.base_dir = base_dir

    def active_number(self) -> int | None:
        """One small read: what workers poll to notice a new version."""
        raw = self.store.kv_get(NAMESPACE, ACTIVE)
        return int(raw) if raw else None

    def get(self, number: int) -> Version | None:
        raw = self.store.kv_get(NAMESPACE, f"v:{number:08d}")
        if raw is None:
            return None
        return Version(**json.loads(raw))

    def active(self) -> Version | None:
        number = self.active_number()
        return self.get(number) if number else None

    def history(self) -> list[dict[str, Any]]:
        return [Version(**json.loads(raw)).meta()
                for _, raw in self.store.kv_items(NAMESPACE, "v:")]

    def validate(self, data: Mapping[str, Any]) -> Config:
        """The Config this data would give, or ConfigInvalid with every error."""
        source = self.base_dir / "ssomw.yaml" if self.base_dir else None
        return build(dict(data), source, self.env)

    def propose(self, data: Mapping[str, Any], *, author: str, comment: str = "",
                expected: int | None = None) -> Version:
        """Validate and activate ``data`` as a new version (raises ConfigInvalid or
        VersionConflict; nothing changes then)."""
        self.validate(data)
        current = self.active()
        if expected is not None and (current.number if current else None) != expected:
            raise VersionConflict(current.number if current else None)
        number = (current.number if current else 0) + 1
        version = Version(number=number, author=author, time=time.time(), comment=comment,
                          data=json.loads(json.dumps(data)),
                          diff=diff(current.data if current else {}, data))
        if not self.store.kv_add(NAMESPACE, f"v:{number:08d}",
                                 json.dumps(asdict(version)).encode(), None):
            raise VersionConflict(self.active_number())
        self.store.kv_set(NAMESPACE, ACTIVE, str(number).encode(), None)
        return version

    def rollback(self, number: int, *, author: str) -> Version:
        old = self.get(number)
        if old is None:
            raise KeyError(number)
        return self.propose(old.data, author=author, comment=f"rollback to version {number}")

    def file_state(self, data: Mapping[str, Any]) -> FileState:
        """Compare the file's data with the active version and the history (reads only)."""
        active = self.active()
        if active is None:
            return FileState("empty")
        mine = canonical(data)
        if canonical(active.data) == mine:
            return FileState("active", active.number, active.number)
        match = None
        for _, raw in self.store.kv_items(NAMESPACE, "v:"):
            version = json.loads(raw)
            if canonical(version["data"]) == mine:
                match = version["number"]
        return FileState("superseded" if match else "new", active.number, match)

    def sync_file(self, data: Mapping[str, Any], name: str
                  ) -> tuple[FileState, Version | None]:
        """At start: seed version 1 from the file, or make a file whose content was never a
        version the active one. Returns the state found and the version made, if any."""
        for _ in range(5):  # other instances may be starting at the same moment
            state = self.file_state(data)
            if state.status not in ("empty", "new"):
                return state, None
            try:
                if state.status == "empty":
                    made = self.seed(data)
                else:
                    made = self.propose(data, author="file", expected=state.active,
                                        comment=f"applied from {name}: the file changed")
            except VersionConflict:
                made = None
            if made is not None:
                return state, made
        return self.file_state(data), None

    def seed(self, data: Mapping[str, Any], author: str = "file") -> Version | None:
        """Version 1 from the YAML file, when the store has no configuration yet."""
        if self.active_number() is not None:
            return None
        try:
            return self.propose(data, author=author, comment="seeded from the file",
                                expected=None)
        except VersionConflict:
            return None
