"""Configuration problems, reported all at once with the path of each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ConfigError:
    path: str       # e.g. "providers[1].issuer"; "(file)" or "line 3, column 2" for the file
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigInvalid(Exception):
    """Raised with every problem found; nothing was applied."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))
