"""Configuration operations shared by the admin API and ``ssomw config``: one set of rules.

Every change goes through :meth:`ConfigService.apply`: redacted secrets restored from the
active version, the whole document validated (every error, with its path; secret values
scrubbed from the messages), then proposed as a new version, which the gateway's watcher puts
in force on every instance within about a second. Nothing is written unless all of that
passed. With ``admin.config_source: file`` the YAML file is authoritative and every write
is refused (409).

Errors are :class:`AdminError` with an HTTP status; the CLI maps them to exit codes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssomw.admin.export import (
    ExportError,
    document,
    read_document,
    redact,
    redact_diff,
    restore,
    scrub,
    secret_values,
)
from ssomw.admin.preview import Impact, impact
from ssomw.config import Config, ConfigError, ConfigInvalid
from ssomw.config.versions import ConfigVersions, VersionConflict, diff
from ssomw.store.base import Store
from ssomw.telemetry import audit

#: Deeper than any configuration (about 8 levels) by far; every walk of a document (diff,
#: redaction, validation, export) recurses once per level, and Python's stack ends near 1,000.
MAX_DEPTH = 64


class AdminError(Exception):
    """An operation refused: ``status`` (HTTP), ``code`` (machine), every ``errors`` item."""

    def __init__(self, status: int, code: str, message: str,
                 errors: list[ConfigError] | None = None, headers: dict[str, str] | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.errors:
            out["errors"] = [{"path": e.path, "message": e.message} for e in self.errors]
        return out


@dataclass
class Change:
    """The outcome of a change: the version now active (or still active, for a dry run)."""

    version: int | None
    diff: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def body(self, show_secrets: bool = False) -> dict[str, Any]:
        return {"version": self.version, "dry_run": self.dry_run, "changes": len(self.diff),
                "diff": self.diff if show_secrets else redact_diff(self.diff)}


@dataclass
class Preview:
    """A change not made: the diff against the active version and its impact
    (:mod:`.preview`)."""

    version: int | None
    diff: list[dict[str, Any]]
    impact: Impact

    def body(self, show_secrets: bool = False) -> dict[str, Any]:
        return {"version": self.version, "changes": len(self.diff),
                "diff": self.diff if show_secrets else redact_diff(self.diff),
                **self.impact.body()}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge recursively, ``null`` removes a key, anything
    else (arrays included) replaces the target value."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class ConfigService:
    def __init__(self, store: Store, *, source_mode: str, file_raw: Mapping[str, Any] | None,
                 base_dir: Path | None = None, via: str = "api"):
        self.store = store
        self.file_mode = source_mode == "file"
        self.file_raw = dict(file_raw or {})
        self.versions = ConfigVersions(store, base_dir=base_dir)
        self.via = via

    @classmethod
    def for_config(cls, config: Config, store: Store, via: str = "api") -> ConfigService:
        """For a running gateway's (or the CLI's) config: same base dir as the watcher uses."""
        return cls(store, source_mode=config["admin"]["config_source"], file_raw=config.raw,
                   base_dir=config.source.parent if config.source else None, via=via)

    # --- reading ---------------------------------------------------------------------------

    def current(self) -> tuple[int | None, dict[str, Any]]:
        """(active version number, its data as written); the file's data in file mode."""
        if not self.file_mode:
            active = self.versions.active()
            if active is not None:
                return active.number, copy.deepcopy(active.data)
        return None, copy.deepcopy(self.file_raw)

    def history(self) -> dict[str, Any]:
        return {"active": None if self.file_mode else self.versions.active_number(),
                "config_source": "file" if self.file_mode else "store",
                "versions": self.versions.history()}

    def version(self, number: int, show_secrets: bool = False) -> dict[str, Any]:
        found = self.versions.get(number)
        if found is None:
            raise AdminError(404, "not_found", f"there is no configuration version {number}")
        return {**found.meta(), "data": found.data if show_secrets else redact(found.data),
                "diff": found.diff if show_secrets else redact_diff(found.diff)}

    def export(self, mode: str, passphrase: str | None) -> dict[str, Any]:
        number, data = self.current()
        try:
            return document(data, number, mode, passphrase)
        except ExportError as exc:
            raise AdminError(400, exc.code, str(exc)) from exc

    # --- changing --------------------------------------------------------------------------

    def writable(self) -> None:
        """409 when the YAML file is authoritative (``admin.config_source: file``)."""
        if self.file_mode:
            raise AdminError(409, "config_source_file", "admin.config_source is file: the "
                             "YAML file is authoritative; change it there")

    def apply(self, data: Any, *, author: str, comment: str = "", expected: int | None = None,
              keep_redacted: bool = True, dry_run: bool = False) -> Change:
        """Validate ``data`` completely and make it the active version (unless ``dry_run``).

        ``expected``: the version the writer started from (None: no check); a different active
        version is a 412. ``keep_redacted``: ``"***"`` secrets keep their current values.
        A dry run validates and diffs even when the file is authoritative.
        """
        if not dry_run:
            self.writable()
        refuse_deep(data)
        number, current = self.current()
        if expected is not None and expected != number:
            raise self.conflict(number)
        errors: list[ConfigError] = []
        if keep_redacted:
            data, errors = restore(data, current)
        if not isinstance(data, Mapping):
            errors.append(ConfigError("(top level)", "must be a JSON object"))
        if errors:
            raise self.invalid(errors, data)
        try:
            if dry_run:
                self.versions.validate(data)
                return Change(number, diff(current, data), dry_run=True)
            version = self.versions.propose(data, author=author, comment=comment,
                                            expected=number)
        except ConfigInvalid as exc:
            raise self.invalid(exc.errors, data) from exc
        except VersionConflict as exc:
            raise self.conflict(exc.active) from exc
        audit.record(self.store, "config_changed", version=version.number, author=author,
                     via=self.via, comment=comment, diff=redact_diff(version.diff))
        return Change(version.number, version.diff)

    def patch(self, patch: Any, *, author: str, expected: int | None,
              comment: str = "") -> Change:
        refuse_deep(patch)
        _, current = self.current()
        return self.apply(merge_patch(current, patch), author=author, comment=comment,
                          expected=expected)

    def import_document(self, doc: Any, *, passphrase: str | None, author: str,
                        dry_run: bool = False, expected: int | None = None) -> Change:
        if not dry_run:
            self.writable()
        refuse_deep(doc)
        try:
            data, may_restore = read_document(doc, passphrase)
        except ExportError as exc:
            raise AdminError(400, exc.code, str(exc)) from exc
        return self.apply(data, author=author, comment="import", expected=expected,
                          keep_redacted=may_restore, dry_run=dry_run)

    def preview(self, data: Any, *, keep_redacted: bool = True) -> Preview:
        """What making ``data`` active would change (contract §11), changing nothing: the
        same restoring of ``"***"`` and the same validation as :meth:`apply` (422 with every
        error), then the diff and the impact on known users and live sessions. Works with
        ``config_source: file`` too (against the file)."""
        refuse_deep(data)
        number, current = self.current()
        errors: list[ConfigError] = []
        if keep_redacted:
            data, errors = restore(data, current)
        if not isinstance(data, Mapping):
            errors.append(ConfigError("(top level)", "must be a JSON object"))
        if errors:
            raise self.invalid(errors, data)
        try:
            new = self.versions.validate(data)
        except ConfigInvalid as exc:
            raise self.invalid(exc.errors, data) from exc
        try:
            old = self.versions.validate(current)
        except ConfigInvalid as exc:
            raise AdminError(409, "active_config_unloadable", "the active configuration does "
                             "not load here, so there is nothing to compare with") from exc
        return Preview(number, diff(current, data), impact(self.store, old, new))

    def preview_patch(self, patch: Any) -> Preview:
        refuse_deep(patch)
        _, current = self.current()
        return self.preview(merge_patch(current, patch))

    def read_backup(self, doc: Any, passphrase: str | None) -> tuple[Any, bool]:
        """(configuration, whether ``"***"`` in it keeps current secrets) from a backup."""
        refuse_deep(doc)
        try:
            return read_document(doc, passphrase)
        except ExportError as exc:
            raise AdminError(400, exc.code, str(exc)) from exc

    def rollback(self, number: int, *, author: str, expected: int | None = None) -> Change:
        self.writable()
        old = self.versions.get(number)
        if old is None:
            raise AdminError(404, "not_found", f"there is no configuration version {number}")
        return self.apply(old.data, author=author, comment=f"rollback to version {number}",
                          expected=expected, keep_redacted=False)

    @staticmethod
    def conflict(active: int | None) -> AdminError:
        return AdminError(412, "version_conflict", f"the active configuration is version "
                          f"{active}; fetch it again and reapply your change",
                          headers={"ETag": f'"{active}"'} if active is not None else {})

    @staticmethod
    def invalid(errors: list[ConfigError], data: Any) -> AdminError:
        hidden = secret_values(data)
        return AdminError(422, "invalid_config", "the configuration is invalid; nothing was "
                          "changed", [ConfigError(e.path, scrub(e.message, hidden))
                                      for e in sorted(set(errors))])


def refuse_deep(doc: Any) -> None:
    """400 for a document nested deeper than :data:`MAX_DEPTH` (whatever the depth), before
    anything walks it: the diff, redaction and validation all recurse once per level. Counted
    with a list, not recursion, so measuring cannot itself run out of stack."""
    pending = [(doc, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise AdminError(400, "bad_request", f"the document nests arrays or objects deeper "
                             f"than {MAX_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children)
