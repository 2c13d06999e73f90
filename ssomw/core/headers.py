"""Identity header values (contract §3): single-line, bounded, never passed raw.

The upstream app trusts these headers as the truth about the user, so a value that could split
into a second header, smuggle a second group or confuse a log viewer is dropped (and reported
to the caller for logging), never repaired: a repaired value is a value nobody wrote.

Encoding decision: printable Unicode is kept as UTF-8. nginx copies header bytes verbatim from
the auth response to the upstream request, and apps expect ``Jürgen`` rather than ``J%C3%BCrgen``
or RFC 8187 syntax no app parses. WSGI, however, carries header values as latin-1 ``str``; the
view layer must pass each value through :func:`to_wsgi` so the UTF-8 bytes reach nginx intact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

MAX_VALUE_BYTES = 4096

# RFC 9110 token: what a header name may contain.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Characters that change how text displays or is split without being visible: bidi
# embeddings/overrides/isolates and marks, and the byte-order mark.
_INVISIBLE = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                       "\u2066\u2067\u2068\u2069\ufeff")
# Controls (C0, DEL, C1), lone surrogates, and the Unicode line/paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def safe_header_value(value: object) -> str | None:
    """``value`` as a header value, or None when it must be dropped.

    Accepts text, numbers and booleans (``true``/``false``). Surrounding spaces are trimmed
    (HTTP trims them anyway). Dropped: any control character (CR, LF, NUL, TAB, DEL, C1),
    U+2028/U+2029, bidi controls and BOM, lone surrogates, more than 4096 UTF-8 bytes, and
    anything that is not a scalar (lists are for :func:`identity_headers` to join).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    text = value.strip(" ")
    if text.isascii():
        if not text.isprintable():
            return None
    elif any(ch in _INVISIBLE or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES
             for ch in text):
        return None
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        return None
    return text


def to_wsgi(value: str) -> str:
    """The latin-1 "WSGI string" whose bytes are ``value``'s UTF-8 (PEP 3333 header rule)."""
    return value.encode("utf-8").decode("latin-1")


def identity_headers(
    names: Mapping[str, str], identity: Mapping[str, object]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The identity headers to send, and the attributes dropped for being unsafe.

    ``names`` maps attribute → header name (the ``headers:`` config section plus an app's
    extra headers); ``identity`` maps attribute → value. Missing, None and empty attributes
    are simply not sent. A list, tuple or set is comma-joined (sets sorted, duplicates
    removed); a member containing a comma is dropped and reported as ``attr[i]`` because it
    would read as two members (``admins,users`` must not grant ``admins``). A joined value
    over the size limit drops the whole header: a truncated group list would be a guess.
    A header name that is not an HTTP token, or repeats an earlier one, drops its attribute.
    """
    headers: list[tuple[str, str]] = []
    dropped: list[str] = []
    seen: set[str] = set()
    for attribute, header in names.items():
        if not isinstance(header, str) or not _TOKEN.fullmatch(header) \
                or header.lower() in seen:
            dropped.append(attribute)
            continue
        seen.add(header.lower())
        value = identity.get(attribute)
        if value is None:
            continue
        if isinstance(value, list | tuple | AbstractSet):
            text = _join(attribute, value, dropped)
        else:
            text = safe_header_value(value)
            if text is None:
                dropped.append(attribute)
        if text:
            headers.append((header, text))
    return headers, dropped


def _join(attribute: str, values: object, dropped: list[str]) -> str | None:
    items = sorted(values, key=str) if isinstance(values, AbstractSet) else list(values)
    kept: dict[str, None] = {}  # ordered set: first occurrence wins
    for index, item in enumerate(items):
        text = safe_header_value(item)
        if text is None or "," in text or not text:
            dropped.append(f"{attribute}[{index}]")
        else:
            kept.setdefault(text)
    joined = ",".join(kept)
    if len(joined.encode("utf-8")) > MAX_VALUE_BYTES:
        dropped.append(attribute)
        return None
    return joined
