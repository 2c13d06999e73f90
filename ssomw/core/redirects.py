"""The one redirect check (``rd``, post-logout targets) and host pattern matching.

Every place that redirects to a caller-supplied URL goes through :func:`safe_redirect`; every
place that matches a request host against configured hosts goes through :func:`host_matches`.
Both share one host normalisation, so "which host is this" has a single answer.

Decisions (contract §5):

* A target is accepted only in one of two shapes: a relative path starting with exactly one
  ``/``, or ``http(s)://host[:port][/?#...]`` whose host is allowed. Anything the check cannot
  classify with certainty is refused; refusing a legitimate but odd URL costs a click, accepting
  a hostile one sends a signed-in user to an attacker.
* Hosts compare case-insensitively after IDNA (UTS #46, non-transitional, STD3 rules: what
  browsers do), so ``BÜCHER.corp.example`` equals ``xn--bcher-kva.corp.example``, while a
  homograph such as Cyrillic ``аpp.example.com`` normalises to a different ``xn--`` name.
* The port is ignored: an allowed host is trusted on every port (its operator owns them all).
  A port, when present, must still be 1–65535 in digits, so ``host:evil.com`` is refused.
* ``*.example.com`` matches subdomains at any depth, never ``example.com`` itself and never
  ``evil-example.com``. Any other use of ``*`` matches nothing.
* A trailing dot (``app.example.com.``) is refused: DNS treats it as the same name but browsers
  treat it as a different origin, and no legitimate link of ours carries one.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Collection
from urllib.parse import unquote

import idna

MAX_TARGET_LENGTH = 2048

_SCHEME = re.compile(r"(?i)https?://")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# Characters that end the authority in a browser's URL parser (backslash is refused earlier).
_AUTHORITY_END = re.compile(r"[/?#]")
# Unicode categories that never belong in a redirect target: controls, format characters
# (bidi overrides, zero-width), surrogates, and every kind of whitespace or separator.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# Once percent-decoded, an encoded space is ordinary text (``?q=a%20b``); the rest still is not.
_FORBIDDEN_DECODED = _FORBIDDEN_CATEGORIES - {"Zs"}


def safe_redirect(target: str | None, allowed_hosts: Collection[str], fallback: str = "/") -> str:
    """Return ``target`` when it is safe to redirect to, else ``fallback``.

    Refused, and why:

    * empty, not a string, or longer than 2048 characters — no real link is that long, and
      bounding the input bounds the work done on it;
    * any control, format, whitespace or separator character, raw or percent-encoded (even
      twice): CR/LF splits the ``Location`` header, NUL truncates in C code, and browsers
      silently strip tabs, newlines and leading spaces, which is how ``java\\tscript:`` and
      `` javascript:`` become scripts;
    * a backslash anywhere: browsers read ``\\`` as ``/`` in http(s) URLs, so ``/\\evil`` and
      ``https:\\\\evil`` are protocol-relative or absolute URLs to another host;
    * ``//host`` (protocol-relative) and paths that become it once percent-decoded or once
      dot segments are removed (``/%2F%2Fevil``, ``/%5Cevil``, ``/..//evil``), because a
      later hop (an app, a proxy) may decode or normalise before redirecting;
    * every scheme but http and https (``javascript:``, ``data:``, ``vbscript:``, ``file:``...),
      and malformed http ones (``https:/x``, ``https:///x``) that browsers "repair";
    * userinfo (any ``@`` in the authority): ``https://app.example.com@evil.com`` goes to
      ``evil.com``; ``%`` in the authority (encoded host names) is refused for the same reason;
    * hosts that are not allowed after normalisation: look-alikes, homographs, trailing dots.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET_LENGTH:
        return fallback
    if "\\" in target or not _printable(target):
        return fallback
    decoded = _decodings(target)
    if decoded is None:
        return fallback
    if target.startswith("/"):
        return target if _safe_relative(decoded) else fallback
    match = _SCHEME.match(target)
    if match is None:
        return fallback
    rest = target[match.end():]
    end = _AUTHORITY_END.search(rest)
    authority = rest[: end.start()] if end else rest
    if "@" in authority or "%" in authority:
        return fallback
    if authority.count(":") > 1 and not authority.startswith("["):
        return fallback
    host = _split_port(authority)
    if host is None:
        return fallback
    return target if host_matches(host, allowed_hosts) else fallback


def host_matches(host: str, patterns: Collection[str]) -> bool:
    """True when ``host`` (port stripped) equals a pattern or falls under a ``*.`` wildcard.

    ``host`` may carry a port (``app.example.com:8443``) and any case or IDNA form; a host that
    cannot be normalised matches nothing.
    """
    name = normalise_host(host)
    if name is None:
        return False
    for pattern in patterns:
        exact, suffix = _pattern(pattern)
        if exact is not None and name == exact:
            return True
        if suffix is not None and name.endswith(suffix):
            return True
    return False


def normalise_host(host: str) -> str | None:
    """The canonical form of a request or URL host, port removed; None when it is not one.

    Lower-case ASCII, IDNA ``xn--`` labels for Unicode, IPv6 compressed in brackets.
    """
    if not isinstance(host, str):
        return None
    name = _split_port(host.strip())
    return None if name is None else _canonical_name(name)


def _printable(text: str, forbidden: frozenset[str] = _FORBIDDEN_CATEGORIES) -> bool:
    if text.isascii():
        return text.isprintable() and ("Zs" not in forbidden or " " not in text)
    return not any(unicodedata.category(ch) in forbidden for ch in text)


def _decodings(target: str) -> list[str] | None:
    """The target and its percent-decodings (up to three rounds), or None if any is unsafe.

    Invalid UTF-8 decodes to U+FFFD, which is harmless; what matters is that an encoded
    control character or backslash is seen however it is wrapped.
    """
    forms = [target]
    for _ in range(3):
        current = forms[-1]
        if "%" not in current:
            break
        decoded = unquote(current, errors="replace")
        if decoded == current:
            break
        if "\\" in decoded or not _printable(decoded, _FORBIDDEN_DECODED):
            return None
        forms.append(decoded)
    return forms


def _safe_relative(forms: list[str]) -> bool:
    """Each decoded form's path must stay a single-slash path, even after dot removal."""
    for form in forms:
        path = form.split("?", 1)[0].split("#", 1)[0]
        if path.startswith("//") or _strip_leading_dots(path).startswith("//"):
            return False
    return True


def _strip_leading_dots(path: str) -> str:
    while True:
        if path.startswith("/./"):
            path = path[2:]
        elif path.startswith("/../"):
            path = path[3:]
        else:
            return path


def _split_port(authority: str) -> str | None:
    """The host part of ``host[:port]`` / ``[v6][:port]``; None when the port is invalid."""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return None
        host, rest = authority[: close + 1], authority[close + 1:]
        if rest and not (rest.startswith(":") and _valid_port(rest[1:])):
            return None
        return host
    if authority.count(":") > 1:  # a bare IPv6 address (patterns and Host headers only)
        return authority
    host, sep, port = authority.partition(":")
    if sep and not _valid_port(port):
        return None
    return host


def _valid_port(port: str) -> bool:
    return port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536


@functools.lru_cache(maxsize=4096)
def _canonical_name(name: str) -> str | None:
    if not name or name.endswith("."):
        return None
    if name.startswith("[") or ":" in name:
        try:
            return "[" + ipaddress.IPv6Address(name.strip("[]")).compressed + "]"
        except ValueError:
            return None
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True, std3_rules=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    name = name.lower()
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return None
    return name


def canonical_pattern(pattern: str) -> str:
    """A configured host pattern (app ``hosts``, ``allowed_redirect_hosts``) in canonical form.

    Raises ValueError saying what is wrong: ``*`` other than a leading ``*.``, a port (ports
    are ignored when matching, so writing one would suggest a restriction that does not
    exist), or a name that is not a valid host.
    """
    text = pattern.strip() if isinstance(pattern, str) else ""
    wildcard = text.startswith("*.")
    body = text.removeprefix("*.")
    if "*" in body:
        raise ValueError(f"{pattern!r}: a wildcard is allowed only as a leading '*.'")
    if _split_port(body) != body:
        raise ValueError(f"{pattern!r} must not include a port (ports are ignored)")
    name = _canonical_name(body)
    if name is None:
        raise ValueError(f"{pattern!r} is not a valid host name")
    return "*." + name if wildcard else name


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str) -> tuple[str | None, str | None]:
    """(exact name, ".suffix") for one configured pattern; (None, None) if it is unusable.

    Unlike :func:`canonical_pattern`, a port is tolerated here (and ignored).
    """
    if not isinstance(pattern, str):
        return None, None
    text = pattern.strip()
    if text.startswith("*."):
        suffix = normalise_host(text[2:])
        return None, None if suffix is None else "." + suffix
    if "*" in text:
        return None, None
    return normalise_host(text), None
