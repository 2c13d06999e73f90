"""Configuration: load YAML, resolve secrets, validate, and hand out a read-only Config.

``load_config(path)`` either returns a fully valid Config or raises ConfigInvalid listing every
problem; there is no half-loaded state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssomw.config.errors import ConfigError, ConfigInvalid
from ssomw.config.loader import parse_yaml, read_file, resolve_secrets
from ssomw.config.validate import covered, section_defaults, validate
from ssomw.core.policy import Policy
from ssomw.core.routing import Routing

DEFAULT_PATH = Path("conf/ssomw.yaml")

__all__ = ["Config", "ConfigError", "ConfigInvalid", "load_config", "config_path", "from_text",
           "section_defaults"]


@dataclass(frozen=True)
class Config:
    """A validated configuration; sections are plain dicts with defaults filled in."""

    data: dict[str, Any]
    policy: Policy = field(repr=False, compare=False)
    routing: Routing = field(repr=False, compare=False)
    source: Path | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def __getitem__(self, section: str) -> Any:
        return self.data[section]

    @property
    def prefix(self) -> str:
        return self.data["server"]["path_prefix"]

    @property
    def providers(self) -> dict[str, dict[str, Any]]:
        return {p["id"]: p for p in self.data["providers"]}

    def provider(self, provider_id: str) -> dict[str, Any] | None:
        return self.providers.get(provider_id)

    def app_settings(self, app_id: str) -> dict[str, Any]:
        return next(a for a in self.data["apps"] if a["id"] == app_id)


def config_path(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``-c FILE``, else ``$SSOMW_CONFIG``, else ``conf/ssomw.yaml`` (contract §1)."""
    env = os.environ if env is None else env
    return Path(explicit or env.get("SSOMW_CONFIG") or DEFAULT_PATH)


def build(raw: Any, source: Path | None, env: Mapping[str, str] | None) -> Config:
    base_dir = source.parent if source else None
    resolved, unresolved = resolve_secrets(raw, env, base_dir)
    valid, more = validate(resolved)
    # One answer: what could not be resolved, and every other problem. A value that failed
    # to resolve (``KEY`` from ``${VAR}`` or ``KEY_file``) is reported once, at its source.
    missing = {e.path for e in unresolved} | {e.path.removesuffix("_file") for e in unresolved}
    errors = unresolved + [e for e in more if not covered(e.path, missing)]
    if errors or valid is None:
        raise ConfigInvalid(errors)
    store = valid.data["store"]
    if store["backend"] == "sqlite" and base_dir and not Path(store["path"]).is_absolute():
        store["path"] = str(base_dir / store["path"])
    return Config(valid.data, valid.policy, valid.routing, source,
                  raw if isinstance(raw, dict) else None)


def load_config(path: Path | str, env: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    raw, errors = read_file(path)
    if errors:
        raise ConfigInvalid(errors)
    return build(raw, path, env)


def from_text(text: str, env: Mapping[str, str] | None = None) -> Config:
    raw, errors = parse_yaml(text)
    if errors:
        raise ConfigInvalid(errors)
    return build(raw, None, env)
