"""Credentials inside URL-valued settings: redact them, and put them back after a round trip.

``store.url: redis://:PASS@host`` and ``directory.ldap.url`` carry passwords in their userinfo,
and some URLs carry them as query parameters (``?sentinel_password=``, ``?token=``). Wherever
secrets are hidden (``GET /config``, redacted exports, version diffs, audit events, ``ssomw
check``, log lines), such a URL is shown with ``***`` in each credential position::

    redis://:***@cache:6379/0     redis://app:***@cache     ldap://***@dir.example
    redis+sentinel://:***@s1:26379,s2:26379/main?sentinel_password=***

A PUT or import that sends such a URL back keeps the current credential in each ``***``
position (:func:`restore_url`), so an editor never has to know the password to change the host.

Plain string work, no URL library: nothing here raises, whatever the input, and a malformed
URL is redacted more, never less. A password with an unencoded ``/``, ``?`` or ``#`` ends the
authority early, so an ``@`` anywhere before the query (anywhere at all when the authority is
not ``host[:port]``) is read as the end of a userinfo: ``https://h/users/a@b`` shows as
``https://***@b``, and still round-trips. A userinfo without ``:`` is hidden whole, as some
clients read ``redis://PASS@host`` as a password. A value that is only an environment
reference (``${REDIS_PASSWORD}``) is left visible: it holds no secret. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import unquote

REDACTED = "***"
MARKERS = frozenset({REDACTED, "%2A%2A%2A", "%2a%2a%2a"})
# Query parameter names (lower case, '-' read as '_') whose values are secrets; also any name
# ending in one of SECRET_SUFFIXES (sentinel_password, client_secret, access_token, api_key).
SECRET_PARAMS = frozenset({
    "password", "passwd", "pass", "pwd", "secret", "token", "key", "apikey", "auth",
    "authorization", "credential", "credentials", "signature", "sig", "private_key",
})
SECRET_SUFFIXES = ("password", "passwd", "_pass", "_pwd", "secret", "token", "_key", "apikey",
                   "credentials")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
ENV_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
HOST = r"(?:\[[0-9A-Fa-f:.%\w]*\]|[^:@\[\],]*)(?::\d*)?"
AUTHORITY = re.compile(rf"^{HOST}(?:,{HOST})*$")


@dataclass(frozen=True)
class UrlParts:
    """A URL cut into the pieces that matter here; joined again by :meth:`text`."""

    head: str               # "redis://"
    userinfo: str | None    # between head and the last "@" of the authority, or None
    middle: str             # host(s), port, path
    query: str | None       # after "?", or None
    fragment: str           # "#..." or ""

    def text(self) -> str:
        userinfo = "" if self.userinfo is None else self.userinfo + "@"
        query = "" if self.query is None else "?" + self.query
        return f"{self.head}{userinfo}{self.middle}{query}{self.fragment}"


def split_url(value: object) -> UrlParts | None:
    """The parts of ``scheme://...``, or None for anything else (never raises)."""
    if not isinstance(value, str):
        return None
    match = SCHEME.match(value)
    if match is None:
        return None
    rest = value[match.end():]
    authority = rest[:_first(rest, "/?#")]
    if "@" in authority:
        scope = authority
    elif AUTHORITY.match(authority):
        scope = rest[:_first(rest, "?#")]  # "redis://pass/word@host": still a userinfo
    else:
        scope = rest  # unparsable authority: a password with "/", "?" or "#" in it
    userinfo: str | None = None
    if "@" in scope:
        userinfo, _, host = scope.rpartition("@")
        rest = host + rest[len(scope):]
    before_hash, hash_, fragment = rest.partition("#")
    middle, mark, query = before_hash.partition("?")
    return UrlParts(match.group(), userinfo, middle, query if mark else None, hash_ + fragment)


def _first(text: str, chars: str) -> int:
    """Index of the first of ``chars`` in ``text``, else its length."""
    return min((i for i in map(text.find, chars) if i >= 0), default=len(text))


def secret_param(name: str) -> bool:
    """Whether a query parameter of this name holds a credential."""
    lowered = unquote(name).strip().lower().replace("-", "_")
    return lowered in SECRET_PARAMS or lowered.endswith(SECRET_SUFFIXES)


def _visible(value: str) -> bool:
    """Nothing to hide: empty, already redacted, or only an environment reference."""
    return not value or value in MARKERS or bool(ENV_ONLY.match(unquote(value)))


def _params(query: str) -> list[tuple[str, str, str]]:
    """(name, "=" or "", value) for each ``&``-separated piece, order and text kept."""
    return [piece.partition("=") for piece in query.split("&")]


def redact_url(value: str) -> str:
    """``value`` with every credential replaced by ``***``; anything else comes back unchanged.

    Credentials: the password of the userinfo (the whole userinfo when it has no ``:``) and
    the value of each query parameter that :func:`secret_param` names.
    """
    parts = split_url(value)
    if parts is None:
        return value
    userinfo = parts.userinfo
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        if not colon:
            user, password = "", userinfo
        if not _visible(password):
            userinfo = f"{user}:{REDACTED}" if colon else REDACTED
    query = parts.query
    if query is not None:
        query = "&".join(f"{name}={REDACTED}" if sep and secret_param(name) and not _visible(v)
                         else name + sep + v for name, sep, v in _params(query))
    return replace(parts, userinfo=userinfo, query=query).text()


def url_secrets(value: str) -> list[str]:
    """The credentials :func:`redact_url` hides in ``value`` (to scrub them from messages)."""
    parts = split_url(value)
    if parts is None:
        return []
    found = []
    if parts.userinfo is not None:
        user, colon, password = parts.userinfo.partition(":")
        found.append(password if colon else parts.userinfo)
    found += [v for name, sep, v in _params(parts.query or "") if sep and secret_param(name)]
    return [v for v in found if not _visible(v)]


def restore_url(new: str, old: object) -> str | None:
    """``new`` with each ``***`` credential taken from ``old``; None if ``old`` has none there.

    The counterpart of a userinfo password is ``old``'s userinfo password (``new``'s user name
    is kept, so a PUT may rename the user); of a query parameter, ``old``'s parameter of the
    same name (the n-th of that name for the n-th). A ``***`` anywhere else is literal text.
    """
    parts = split_url(new)
    if parts is None:
        return new
    before = split_url(old)
    userinfo = parts.userinfo
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        if not colon and userinfo in MARKERS:
            kept = before.userinfo if before and before.userinfo is not None else None
            if kept is None or ":" in kept or kept in MARKERS:
                return None
            userinfo = kept
        elif colon and password in MARKERS:
            old_user, old_colon, old_password = (
                before.userinfo.partition(":") if before and before.userinfo else ("", "", ""))
            if not old_colon or not old_password or old_password in MARKERS:
                return None
            userinfo = f"{user}:{old_password}"
    query = parts.query
    if query is not None:
        old_values: dict[str, list[str]] = {}
        for name, sep, value in _params((before.query if before else None) or ""):
            if sep:
                old_values.setdefault(name, []).append(value)
        seen: dict[str, int] = {}
        pieces = []
        for name, sep, value in _params(query):
            index = seen[name] = seen.get(name, -1) + 1
            if sep and value in MARKERS and secret_param(name):
                candidates = old_values.get(name, [])
                if index >= len(candidates) or candidates[index] in MARKERS:
                    return None
                value = candidates[index]
            pieces.append(name + sep + value)
        query = "&".join(pieces)
    return replace(parts, userinfo=userinfo, query=query).text()


def has_redacted_credential(value: object) -> bool:
    """Whether ``value`` is a URL with ``***`` in a credential position."""
    parts = split_url(value)
    if parts is None:
        return False
    if parts.userinfo is not None:
        _, colon, password = parts.userinfo.partition(":")
        if (password if colon else parts.userinfo) in MARKERS:
            return True
    return any(sep and v in MARKERS and secret_param(name)
               for name, sep, v in _params(parts.query or ""))
