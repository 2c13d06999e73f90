"""Form fields to configuration values and configuration errors back to form fields."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from ssomw.config import ConfigError

_SEGMENT = re.compile(r"^\.?([A-Za-z0-9_-]+)")


class FieldError(ValueError):
    """A field that cannot even be read (bad YAML): ``field``, ``message``."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def names(text: str | None) -> list[str]:
    """One name per line or comma: ``staff, admins`` → ``["staff", "admins"]``."""
    return [part.strip() for part in re.split(r"[,\n]", text or "") if part.strip()]


def yaml_field(field: str, text: str | None, empty: Any = None) -> Any:
    """A YAML (or JSON) text area's value; a syntax error is a :class:`FieldError`."""
    if not (text or "").strip():
        return empty
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise FieldError(field, f"{where}{problem}") from exc


def dump(value: Any) -> str:
    """A value for a YAML text area ("" for nothing)."""
    if value in (None, [], {}):
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def by_field(errors: Iterable[ConfigError], prefix: str, fields: Iterable[str]
             ) -> tuple[dict[str, list[str]], list[str]]:
    """Errors under ``prefix`` (``apps[2]``) placed at their form field (the first key after
    the prefix, when the form has it), with the rest of their path kept in the message; all
    others as ``path: message`` for the summary."""
    known = set(fields)
    placed: dict[str, list[str]] = {}
    rest: list[str] = []
    for error in errors:
        tail = error.path[len(prefix):] if error.path.startswith(prefix) else None
        match = _SEGMENT.match(tail) if tail is not None else None
        if match and match.group(1) in known:
            field = match.group(1)
            where = tail.lstrip(".")
            placed.setdefault(field, []).append(
                error.message if where == field else f"{where}: {error.message}")
        else:
            rest.append(f"{error.path}: {error.message}")
    return placed, rest
