"""How the gateway reads a request: a page load or a script call, and which paths it may mean.

Page load or script call (:func:`is_navigation`): a redirect to the provider only helps a browser
tab showing a page. For ``fetch()``, XHR and API clients it is harmful: the script follows the
redirect cross-origin, fails on CORS, and sees an opaque error instead of a 401 it could act on
(contract §2).

Which path (:func:`path_forms`): nginx forwards the raw URI, and the app behind it may decode
it, drop ``;`` parameters (servlet containers) or resolve dot segments, so ``/public/..;/admin``
can be ``/admin`` to the app. Access rules are checked against every reading.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# A navigation ends up on a page; GET is the only way to get one (HEAD answers like GET).
_NAVIGATION_METHODS = frozenset({"GET", "HEAD"})


def is_navigation(
    method: str,
    accept: str | None,
    x_requested_with: str | None,
    sec_fetch_mode: str | None,
    sec_fetch_dest: str | None,
) -> bool:
    """True when a 401 should carry ``Location:`` to the sign-in page.

    Not a navigation when any of these holds:

    * the method is not GET or HEAD: the browser would follow the redirect with a GET and the
      request body (a form the user typed) would be lost silently; a 401 lets the app say so;
    * ``X-Requested-With: XMLHttpRequest`` (jQuery and friends mark their XHRs this way);
    * ``Sec-Fetch-Mode`` is present and not ``navigate`` (fetch/XHR send ``cors``,
      ``same-origin`` or ``no-cors``);
    * ``Sec-Fetch-Dest: empty``, which browsers send only for fetch/XHR/beacons, never for a
      document (a safety net for the rule above; it cannot turn a navigation into an API call);
    * an ``Accept`` header that accepts neither ``text/html`` nor ``*/*`` (``q=0`` counts as
      not accepted). A missing or empty ``Accept`` is treated as a navigation, as curl and
      old clients that send nothing still benefit from seeing where to sign in.
    """
    if not isinstance(method, str) or method.strip().upper() not in _NAVIGATION_METHODS:
        return False
    if _lower(x_requested_with) == "xmlhttprequest":
        return False
    mode = _lower(sec_fetch_mode)
    if mode and mode != "navigate":
        return False
    if _lower(sec_fetch_dest) == "empty":
        return False
    if not accept or not accept.strip():
        return True
    return _accepts_html(accept)


def _lower(value: str | None) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _accepts_html(accept: str) -> bool:
    for media_range in accept.split(","):
        media_type, _, params = media_range.partition(";")
        if media_type.strip().lower() in ("text/html", "*/*") and _quality(params) > 0:
            return True
    return False


def _quality(params: str) -> float:
    """The ``q`` parameter of one media range; malformed or missing counts as 1."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 1.0
    return 1.0


def normalise_path(path: str) -> str:
    """The path as nginx reads it for ``location`` matching.

    Query and fragment dropped, percent-escapes decoded once, repeated slashes merged, dot
    segments removed (never above the root).
    """
    if plain_path(path):
        return path
    return _normalise(_raw(path), strip_params=False)


def path_forms(path: str) -> tuple[str, ...]:
    """Every distinct reading of ``path`` an upstream may act on, the nginx reading first.

    nginx's reading, the servlet reading (``;params`` dropped from each segment before dots
    are resolved) and the raw path as sent (query dropped).
    """
    if plain_path(path):
        return (path,)
    raw = _raw(path)
    forms = (_normalise(raw, strip_params=False), _normalise(raw, strip_params=True), raw)
    return tuple(dict.fromkeys(forms))


_NOT_PLAIN = re.compile(r"[%?#;]|//|/\.")
_SLASHES = re.compile(r"/{2,}")


def plain_path(path: str) -> bool:
    """True when every reading of ``path`` is the path itself (the fast path)."""
    return path.startswith("/") and not _NOT_PLAIN.search(path)


def _raw(path: str) -> str:
    text = path.split("?", 1)[0].split("#", 1)[0]
    return text if text.startswith("/") else "/" + text


def _normalise(text: str, strip_params: bool) -> str:
    if "%" in text:
        text = unquote(text, errors="replace")
    if strip_params and ";" in text:
        text = "/".join(segment.split(";", 1)[0] for segment in text.split("/"))
    segments = _SLASHES.sub("/", text).split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments and segments[-1] in (".", ".."):
        kept.append("")
    return "/" + "/".join(kept)
