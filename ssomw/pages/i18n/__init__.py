"""Message catalogs for the gateway's pages, and choosing a language from ``Accept-Language``.

Each ``<lang>.json`` here maps a key (an error code such as ``DOMAIN_NOT_ALLOWED``, or a UI
string such as ``email.label``) to plain text. English is complete and is the fallback for every
key another language lacks, so a partial translation never shows a blank. Operators override or
add texts per language in ``templates.messages``; a language that exists only there is offered
too. Texts are plain text (the pages escape them); ``{name}`` placeholders are filled from
keyword arguments, never with ``str.format`` (which could reach into objects' attributes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

CATALOG_DIR = Path(__file__).resolve().parent
DEFAULT_LANGUAGE = "en"
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_HEADER = 1024     # Accept-Language longer than this is cut, not parsed in full
MAX_RANGES = 32


def load_catalogs(directory: Path = CATALOG_DIR) -> dict[str, dict[str, str]]:
    """Every ``<lang>.json`` in ``directory``, keyed by lower-case language tag."""
    catalogs = {}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        catalogs[path.stem.lower()] = {str(k): str(v) for k, v in data.items()}
    return catalogs


def fill(text: str, values: Mapping[str, object]) -> str:
    """Replace ``{name}`` with ``values[name]``; unknown placeholders stay as written."""
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values
                           else m.group(0), text)


def fallback_chain(lang: str) -> list[str]:
    """``de-ch-1996`` → ``de-ch-1996, de-ch, de, en``: most specific first, English last."""
    parts = lang.lower().split("-")
    chain = ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return chain + ([DEFAULT_LANGUAGE] if DEFAULT_LANGUAGE not in chain else [])


def parse_accept_language(header: str | None) -> list[str]:
    """Language ranges in preference order (highest q first, then as listed); q=0 and
    malformed entries are dropped, so a garbage header simply yields nothing."""
    ranges: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "")[:MAX_HEADER].split(",")[:MAX_RANGES]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";") if params else ():
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if not 0 < quality <= 1 or not (tag == "*" or LANGUAGE_TAG.match(tag)):
            continue
        ranges.append((-quality, index, tag.lower()))
    return [tag for _, _, tag in sorted(ranges)]


def negotiate(header: str | None, available: Iterable[str],
              default: str = DEFAULT_LANGUAGE) -> str:
    """The best available language for ``header``: an exact match, else the range's shorter
    forms (``de-CH`` → ``de``); ``*`` or no match at all gives ``default``."""
    offered = {lang.lower(): lang for lang in available}
    for tag in parse_accept_language(header):
        if tag == "*":
            return default
        parts = tag.split("-")
        for n in range(len(parts), 0, -1):
            candidate = "-".join(parts[:n])
            if candidate in offered:
                return offered[candidate]
    return default


class Messages:
    """Catalog texts with the operator's overrides on top, looked up with per-key fallback."""

    def __init__(self, catalogs: Mapping[str, Mapping[str, str]],
                 overrides: Mapping[str, Mapping[str, str]] | None = None):
        self.tables: dict[str, dict[str, str]] = {k.lower(): dict(v) for k, v in catalogs.items()}
        self.spelling: dict[str, str] = {k.lower(): k for k in catalogs}
        # The shipped English keys: an override (even under ``en``) cannot invent one.
        self.keys = frozenset(self.tables.get(DEFAULT_LANGUAGE, {}))
        for lang, texts in (overrides or {}).items():
            self.tables.setdefault(lang.lower(), {}).update(texts)
            self.spelling.setdefault(lang.lower(), lang)

    @property
    def languages(self) -> list[str]:
        return sorted(self.spelling.values())

    def get(self, lang: str, key: str, **values: object) -> str:
        """The text for ``key`` in ``lang``, falling back along :func:`fallback_chain`; the key
        itself when no language has it (visible, rather than an empty page)."""
        for candidate in fallback_chain(lang):
            text = self.tables.get(candidate, {}).get(key)
            if text is not None:
                return fill(text, values)
        return key

    def translator(self, lang: str) -> Translate:
        return Translate(self, lang)


class Translate:
    """The ``t(key, **values)`` callable handed to templates, bound to one language."""

    def __init__(self, messages: Messages, lang: str):
        self._messages = messages
        self._lang = lang

    def __repr__(self) -> str:
        return f"<messages in {self._lang}>"

    def __call__(self, key: str, **values: object) -> str:
        return self._messages.get(self._lang, str(key), **values)
