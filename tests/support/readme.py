"""The README's tested blocks: what it tells a user to write, read back by the tests.

A block is the fenced code between ``<!-- tested: NAME -->`` and ``<!-- /tested -->``; tests
substitute only the placeholders the README names (hosts of the provider, ports, paths,
secrets), so the README and what CI runs can never drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"<!-- tested: (?P<name>[\w/-]+) -->\n```[\w-]*\n(?P<body>.*?)```\n"
                    r"<!-- /tested -->", re.DOTALL)


def readme_blocks(text: str | None = None) -> dict[str, str]:
    """Every tested block of the README (or of ``text``), by name."""
    found: dict[str, str] = {}
    for match in _BLOCK.finditer(README.read_text() if text is None else text):
        assert match["name"] not in found, f"two README blocks named {match['name']}"
        found[match["name"]] = match["body"]
    return found


def readme_block(name: str) -> str:
    blocks = readme_blocks()
    assert name in blocks, f"README has no block marked <!-- tested: {name} --> ({list(blocks)})"
    return blocks[name]


def substitute(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each placeholder replaced; each must occur (a README edit that drops one
    fails here rather than testing something else)."""
    for old, new in replacements.items():
        assert old in text, f"placeholder {old!r} is no longer in the README block"
        text = text.replace(old, new)
    return text
