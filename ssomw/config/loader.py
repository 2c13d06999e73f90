"""Reading a configuration: YAML text → plain data with secrets resolved.

Secrets never have to live in the file: any string may be ``${ENV_VAR}``, and any key may be
given as ``<key>_file: PATH`` instead (a list-valued key then takes one item per line).
Problems are collected, not raised one by one, so ``ssomw check`` can print them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ssomw.config.errors import ConfigError

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
LIST_SECRETS = frozenset({"secret_keys"})


def parse_yaml(text: str) -> tuple[Any, list[ConfigError]]:
    """Parse YAML safely (no Python objects); a syntax error becomes one ConfigError."""
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ConfigError(where, f"YAML syntax error: {problem}")]


def read_file(path: Path) -> tuple[Any, list[ConfigError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [ConfigError("(file)", f"cannot read {path}: {exc.strerror}")]
    return parse_yaml(text)


def resolve_secrets(
    data: Any, env: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> tuple[Any, list[ConfigError]]:
    """Return a copy of ``data`` with ``${VAR}`` and ``*_file`` references replaced."""
    env = os.environ if env is None else env
    errors: list[ConfigError] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, str):
            return substitute(node, path)
        if isinstance(node, list):
            return [walk(item, f"{path}[{i}]") for i, item in enumerate(node)]
        if isinstance(node, dict):
            out: dict[Any, Any] = {}
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and key.endswith("_file") and len(key) > 5:
                    target = key[:-5]
                    if target in node:
                        errors.append(
                            ConfigError(child, f"give either {target} or {key}, not both"))
                        continue
                    out[target] = read_secret_file(value, target, child)
                else:
                    out[key] = walk(value, child)
            return out
        return node

    def substitute(text: str, path: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                errors.append(ConfigError(path, f"environment variable {name} is not set"))
                return ""
            return env[name]
        return ENV_REFERENCE.sub(one, text)

    def read_secret_file(value: Any, target: str, path: str) -> Any:
        if not isinstance(value, str) or not value:
            errors.append(ConfigError(path, "must be a file path"))
            return None
        file = Path(substitute(value, path))
        if base_dir is not None and not file.is_absolute():
            file = base_dir / file
        try:
            content = file.read_text(encoding="utf-8")
        except OSError as exc:
            errors.append(ConfigError(path, f"cannot read secret file {file}: {exc.strerror}"))
            return None
        if target in LIST_SECRETS:
            return [line.strip() for line in content.splitlines() if line.strip()]
        return content.rstrip("\r\n")

    return walk(data, ""), errors
