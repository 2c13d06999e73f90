"""The one error shape every rule builder raises: all problems at once, each with its path."""

from __future__ import annotations


class RulesError(ValueError):
    """Every problem found in a section, as ``(path, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))
