"""The one error collector every rule builder uses: all problems at once, each with its path.

Builders take an :data:`Errors` list, append ``(path, message)`` for each problem and carry on,
so one pass reports everything (a config with four mistakes gets four messages, not one per
try); :class:`RulesError` carries them out. The checks below are the ones every builder needs.
"""

from __future__ import annotations

import re

Errors = list[tuple[str, str]]


class RulesError(ValueError):
    """Every problem found in a section, as ``(path, message)`` pairs."""

    def __init__(self, errors: Errors) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))


def strings(value: object, path: str, errors: Errors, *, required: bool = False,
            empty: str | None = None) -> tuple[str, ...] | None:
    """A list of non-empty strings, or None when absent (an error when ``required``).
    ``empty``: why ``[]`` is an error."""
    if value is None and not required:
        return None
    if not isinstance(value, list):
        errors.append((path, "must be a list of non-empty strings"))
        return ()
    if not value and empty:
        errors.append((path, f"must not be empty; {empty}"))
    bad = [k for k, item in enumerate(value) if not isinstance(item, str) or not item]
    errors.extend((f"{path}[{k}]", "must be a non-empty string") for k in bad)
    return () if bad else tuple(value)


def regex(text: object, path: str, errors: Errors) -> re.Pattern[str] | None:
    """A compiled regular expression, or None (with the reason) when it does not compile."""
    if not isinstance(text, str) or not text:
        errors.append((path, "is required and must be a regular expression"))
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        errors.append((path, f"invalid regular expression: {exc}"))
        return None


def regexes(value: object, path: str, errors: Errors) -> tuple[re.Pattern[str], ...]:
    return tuple(pattern for k, text in enumerate(strings(value, path, errors) or ())
                 if (pattern := regex(text, f"{path}[{k}]", errors)) is not None)
