"""The gateway's pages: shipped defaults, operators' custom templates, sandboxed and translated.

Custom templates are written by whoever may edit the configuration, and may be pasted in from
anywhere, so they run in Jinja's immutable sandbox with autoescaping on: they see only the
variables below (no ``config``, ``request`` or ``session``), cannot reach Python internals
(``''.__class__``, ``self._TemplateReference__context`` …) and cannot change what they are
given. A custom template that fails at run time is logged and the shipped page is shown
instead; syntax errors are refused when the configuration is validated.

Configuration (``templates`` section)::

    templates:
      error: {file: /etc/ssomw/error.html}      # a file (absolute path), read at config load
      logout: {inline: "{% extends 'base.html' %}{% block content %}Bye{% endblock %}"}
      apps: {intranet: {error: {file: /etc/ssomw/intranet-error.html}}}
      messages: {de: {DOMAIN_NOT_ALLOWED: "Nur Konten von example.com."}, fr: {...}}
      brand: {name: Example Corp, logo_url: /sso-brand/logo.svg}
      support: {email: help@example.com, url: https://help.example.com, text: "Ext. 1234"}

Pages: ``error``, ``forbidden`` (403s; falls back to ``error``), ``logout`` (signed out),
``logout_confirm`` (asks before signing out), ``choose_provider``, ``email`` (asks for the
e-mail address to pick the provider) and ``emergency``. Lookup, first found wins:
``apps.<app>.<page>``, then for ``forbidden`` ``apps.<app>.error``, then ``<page>``, then
``error`` (for ``forbidden``), then the shipped page.
Custom templates may ``{% extends "base.html" %}`` (blocks ``title``, ``card_class``,
``content``, ``footer``) or include any shipped page. ``disabled`` lists custom templates
(``error``, ``apps.<app>.<page>``) and message overrides (``messages.<lang>``) that are kept,
and still validated, but not in force: the console's on/off switch.

Variables (every page):

============  ===========================================================================
``lang``      the chosen language tag (``en``, ``de``…), for ``<html lang>``
``t``         ``t(key, **values)``: the message for ``key`` in ``lang`` (i18n catalogs)
``prefix``    the gateway's path prefix (``/sso``); ``static`` is ``<prefix>/static``
``app``       ``{id, name}`` of the app being signed in to, or None when not known
``brand``     ``{name, logo_url}`` from the config (may be empty)
``support``   ``{email, url, text}`` from the config (may be empty)
``request_id`` the request id, as logged
``page``      the page name being rendered
============  ===========================================================================

Per page: ``error``/``forbidden``: ``code`` (e.g. ``USER_NOT_ALLOWED``), ``message`` (the
translated text for the code), ``status`` (HTTP status), ``logout_csrf`` (the token a ``POST
<prefix>/logout`` form must carry as ``csrf`` to sign out; empty without a session),
``user`` (who is signed in; empty when not said), ``anonymous`` (true when the visitor is
known not to be signed in), ``start`` (the href of "back to
the start page"; empty when that page would be refused too), ``switch_rd`` (the ``rd`` that
"sign in as someone else" posts with the sign-out: a sign-in for the app; empty when another
account would not help).
``choose_provider``: ``providers`` (list of ``{id, name, url}``), ``choices`` (the same as
``(id, name, url)`` tuples), ``rd``. ``email``: ``csrf``, ``rd``, ``error`` (true after an
unusable address). ``emergency``: ``csrf``, ``rd``, ``action`` (form target; empty posts back
to the same URL), ``error`` (true after a failed attempt), ``username`` (to prefill),
``second_factor`` (true with ``emergency.second_factor: totp``: ask for a ``code`` too).
``logout``: none besides the common ones. ``logout_confirm``: ``csrf``, ``rd`` (empty when
none was given), ``action`` (form target), ``user`` (who is signed in), ``cancel`` (where
"stay signed in" goes).
"""

from __future__ import annotations

import difflib
import logging
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, TemplateNotFound
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ssomw.pages.i18n import CATALOG_DIR, Messages, load_catalogs, negotiate

log = logging.getLogger("ssomw.templates")

DEFAULT_DIR = Path(__file__).resolve().parent / "templates"
PAGE_FILES = {
    "error": "error.html", "forbidden": "error.html", "logout": "logout.html",
    "logout_confirm": "logout_confirm.html",
    "choose_provider": "choose.html", "email": "email.html", "emergency": "emergency.html",
}
ERROR_CODES = (
    "DOMAIN_NOT_ALLOWED", "USER_NOT_ALLOWED", "PROVIDER_UNAVAILABLE", "INVALID_RESPONSE",
    "PROVIDER_MISCONFIGURED", "SESSION_EXPIRED", "ACCESS_DENIED", "AUTH_LEVEL_NOT_MET",
    "SERVICE_UNAVAILABLE", "BAD_REQUEST", "NOT_FOUND", "INTERNAL_ERROR",
    "HOST_NOT_CONFIGURED", "PATH_DENIED", "REQUEST_REFUSED",  # 403s: why nginx refused
)
MAX_TEMPLATE = 256 * 1024
SAFE_GLOBALS = ("range", "dict", "cycler", "joiner", "namespace")  # not lipsum (unbounded)


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False}


_SOURCE = {
    **_obj({
        "file": {"type": "string", "pattern": r"^/", "description": "absolute path"},
        "inline": {"type": "string", "maxLength": MAX_TEMPLATE},
    }),
    "minProperties": 1, "maxProperties": 1,
    "description": "a custom page: {file: /absolute/path.html} or {inline: 'template text'}",
}
_PAGES = {page: _SOURCE for page in PAGE_FILES}
TEMPLATES_SCHEMA: dict[str, Any] = _obj({
    **_PAGES,
    "apps": {"type": "object", "default": {},
             "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"},
             "additionalProperties": _obj(_PAGES),
             "description": "per-app page overrides, keyed by app id"},
    "messages": {"type": "object", "default": {},
                 "propertyNames": {"pattern": r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$"},
                 "additionalProperties": {"type": "object", "additionalProperties": {
                     "type": "string", "maxLength": 2000}},
                 "description": "texts per language tag and message key (plain text)"},
    "brand": _obj({
        "name": {"type": "string", "maxLength": 100},
        "logo_url": {"type": "string", "pattern": r"^(/(?![/\\])[^\s\"'<>\\]*|data:image/"
                     r"(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+)$",
                     "description": "a path on the gateway's host (e.g. served by nginx) or a "
                     "data:image URI; remote URLs would be blocked by the pages' CSP"},
    }),
    "logout_redirect": {"type": "string", "pattern": r"^(/(?![/\\])\S*|https?://\S+)$",
                        "description": "after sign-out go here instead of showing the logout "
                        "page (a validated rd given to /sso/logout still wins)"},
    "disabled": {"type": "array", "uniqueItems": True, "default": [],
                 "items": {"type": "string", "minLength": 1},
                 "description": "custom templates and message overrides kept but not in force "
                 "(the shipped page or text is shown): 'error', 'apps.<app>.<page>', "
                 "'messages.<lang>'"},
    "support": _obj({
        "email": {"type": "string", "pattern": r"^[^\s@<>\"]+@[^\s@<>\"]+$"},
        "url": {"type": "string", "pattern": r"^https?://[^\s]+$"},
        "text": {"type": "string", "maxLength": 500},
    }),
})


class _PageLoader(BaseLoader):
    """Custom sources by their config path (``templates.apps.x.error``), then shipped files."""

    def __init__(self, custom: Mapping[str, str], default_dir: Path):
        self.custom = dict(custom)
        self.shipped = FileSystemLoader(str(default_dir))

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Any]:
        if template in self.custom:
            return self.custom[template], template, lambda: True
        return self.shipped.get_source(environment, template)


def make_environment(custom: Mapping[str, str], default_dir: Path = DEFAULT_DIR
                     ) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(loader=_PageLoader(custom, default_dir),
                                        autoescape=True, auto_reload=False)
    env.globals = {name: env.globals[name] for name in SAFE_GLOBALS}
    return env


def custom_specs(section: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(config path, ``{file|inline}``) for every custom template in the section."""
    for page in PAGE_FILES:
        if isinstance(section.get(page), Mapping):
            yield f"templates.{page}", section[page]
    for app_id, pages in (section.get("apps") or {}).items():
        for page in PAGE_FILES:
            if isinstance(pages, Mapping) and isinstance(pages.get(page), Mapping):
                yield f"templates.apps.{app_id}.{page}", pages[page]


def read_source(spec: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(template text, None) or (None, the problem)."""
    if "inline" in spec:
        return str(spec["inline"]), None
    path = Path(str(spec.get("file", "")))
    if not path.is_absolute():
        return None, f"file must be an absolute path, not {str(path)!r}"
    try:
        if path.stat().st_size > MAX_TEMPLATE:
            return None, f"{path} is larger than {MAX_TEMPLATE // 1024} KiB"
        return path.read_text(encoding="utf-8"), None
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    except UnicodeDecodeError:
        return None, f"{path} is not UTF-8 text"


def template_line(exc: BaseException, name: str) -> int | None:
    """The line of template ``name`` where ``exc`` was raised (Jinja maps frames to lines)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == name]
    return frames[-1].lineno if frames else None


def describe(exc: BaseException, name: str, detail: bool = True) -> str:
    """``line 3: unexpected '}'``. Without ``detail`` only Jinja's own wording about the
    template text is kept: other messages may quote runtime values (a CSRF token, say)."""
    line = template_line(exc, name)
    where = f"line {line}: " if line else ""
    if isinstance(exc, TemplateSyntaxError):
        origin = "" if exc.name in (None, name) else f" (in {exc.name})"
        return f"{where}{exc.message}{origin}"
    if isinstance(exc, TemplateNotFound):
        return f"{where}template {exc.name!r} not found"
    if detail and isinstance(exc, (SecurityError, TemplateError)):
        return f"{where}{exc.message}"
    return f"{where}{type(exc).__name__}"


def plain(value: Any, where: str = "context") -> Any:
    """``value`` as plain data (str, numbers, lists, dicts), so a template can only ever see
    what a view chose to pass: an object (a request, a config) would expose its attributes."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, f"{where}[]") for v in value)
    if isinstance(value, Mapping):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(f"{where}: only plain data may be passed to a page, "
                    f"not {type(value).__name__}")


class Pages:
    """Renders the named pages; build once per configuration (custom files are read here)."""

    def __init__(self, section: Mapping[str, Any] | None, default_dir: Path = DEFAULT_DIR, *,
                 prefix: str = "/sso", app_names: Mapping[str, str | None] | None = None,
                 catalog_dir: Path = CATALOG_DIR):
        self.section = dict(section or {})
        self.prefix = prefix
        self.app_names = dict(app_names or {})
        custom: dict[str, str] = {}
        off = set(self.section.get("disabled") or ())
        for path, spec in custom_specs(self.section):
            if path.removeprefix("templates.") in off:
                continue
            text, problem = read_source(spec)
            if text is None:
                log.error("custom template %s unusable (%s); the default page is shown",
                          path, problem)
            else:
                custom[path] = text
        self.custom = frozenset(custom)
        self.env = make_environment(custom, default_dir)
        self.messages = Messages(load_catalogs(catalog_dir), {
            lang: texts for lang, texts in (self.section.get("messages") or {}).items()
            if f"messages.{lang}" not in off})

    @classmethod
    def from_config(cls, config: Any) -> Pages:
        """From a validated ``ssomw.config.Config`` (its ``templates`` section, apps, prefix)."""
        return cls(config.data.get("templates"), prefix=config.prefix,
                   app_names={a["id"]: a.get("name") for a in config["apps"]})

    @property
    def languages(self) -> list[str]:
        return self.messages.languages

    def negotiate(self, accept_language: str | None) -> str:
        return negotiate(accept_language, self.languages)

    def message(self, code: str, lang: str) -> str:
        """The user-facing text for an error code; unknown codes get INTERNAL_ERROR's."""
        return self.messages.get(lang, code if code in ERROR_CODES else "INTERNAL_ERROR")

    def template_for(self, page: str, app_id: str | None) -> str | None:
        """The configured template for ``page`` (see the lookup order above), or None."""
        pages = (page, "error") if page == "forbidden" else (page,)
        scopes = ([f"templates.apps.{app_id}."] if app_id else []) + ["templates."]
        for scope in scopes:
            for name in pages:
                if scope + name in self.custom:
                    return scope + name
        return None

    def context(self, page: str, app_id: str | None, lang: str,
                given: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "page": page, "lang": lang, "t": self.messages.translator(lang),
            "prefix": self.prefix, "static": f"{self.prefix}/static", "request_id": "",
            "app": {"id": app_id, "name": self.app_names.get(app_id)} if app_id else None,
            "brand": dict(self.section.get("brand") or {}),
            "support": dict(self.section.get("support") or {}),
            "rd": "/", "csrf": "", "error": False,
        }
        values.update(plain(dict(given)))
        if page in ("error", "forbidden"):
            values.setdefault("logout_csrf", "")
            values.setdefault("user", "")
            values.setdefault("anonymous", False)
            values.setdefault("start", "/")
            values.setdefault("switch_rd", "")
            values.setdefault("status", 403 if page == "forbidden" else 500)
            values.setdefault("code", "INTERNAL_ERROR")
            values.setdefault("message", self.message(values["code"], lang))
        if page == "choose_provider":
            if "providers" in values:
                values["providers"] = [dict(p) for p in values["providers"]]
            else:
                values["providers"] = [{"id": i, "name": n, "url": u}
                                       for i, n, u in values.get("choices", ())]
            values["choices"] = [(p["id"], p["name"], p["url"]) for p in values["providers"]]
        return values

    def render(self, page: str, *, app_id: str | None, lang: str, **context: Any) -> str:
        """The page's HTML. A failing custom template is logged (no values, just where and
        what kind) and the shipped page is rendered instead."""
        if page not in PAGE_FILES:
            raise KeyError(f"unknown page {page!r}")
        values = self.context(page, app_id, lang, context)
        custom = self.template_for(page, app_id)
        if custom is not None:
            try:
                return self.env.get_template(custom).render(values)
            except Exception as exc:  # any failure in operator code: show the default page
                log.error("custom template %s failed: %s; showed the default %s page",
                          custom, describe(exc, custom, detail=False), page)
        return self.env.get_template(PAGE_FILES[page]).render(values)


def sample_contexts(page: str) -> list[dict[str, Any]]:
    """Representative variables for a trial render at validation time."""
    common = {"request_id": "0123456789abcdef", "rd": "/", "csrf": "sample-csrf"}
    if page in ("error", "forbidden"):
        forbidden = page == "forbidden"
        if not forbidden:
            return [{**common, "status": 502, "code": "INVALID_RESPONSE"}]
        return [{**common, "status": 403, "code": "USER_NOT_ALLOWED", "user": "sample",
                 "logout_csrf": "sample-csrf", "start": "/",
                 "switch_rd": "/sso/login?rd=%2F"},
                {**common, "status": 403, "code": "HOST_NOT_CONFIGURED", "start": ""}]
    if page == "choose_provider":
        return [{**common, "providers": [{"id": "a", "name": "A", "url": "/sso/login?idp=a"},
                                         {"id": "b", "name": "B", "url": "/sso/login?idp=b"}]}]
    if page == "email":
        return [{**common, "error": False}, {**common, "error": True, "username": "sample"}]
    if page == "emergency":
        return [{**common, "error": False}, {**common, "error": True, "username": "sample"},
                {**common, "error": True, "username": "sample", "second_factor": True}]
    if page == "logout_confirm":
        return [{**common, "user": "sample", "action": "/sso/logout", "cancel": "/"}]
    return [common]


def validate_templates(section: Mapping[str, Any] | None,
                       app_ids: list[str] | None = None) -> list[tuple[str, str]]:
    """Every problem in a ``templates`` section as (path, message); reads files, changes
    nothing. Templates are compiled and trial-rendered with sample variables, so syntax
    errors, missing files and references to missing templates are caught before use."""
    section = section or {}
    errors: list[tuple[str, str]] = []
    sources: dict[str, str] = {}
    specs = list(custom_specs(section))
    for path, spec in specs:
        text, problem = read_source(spec)
        if text is None:
            errors.append((path, problem or "unreadable"))
        else:
            sources[path] = text
    pages = Pages({**section, **{page: None for page in PAGE_FILES}, "apps": {},
                   "disabled": []})
    env = make_environment(sources)
    for path in sources:
        page = path.rsplit(".", 1)[1]
        app_id = path.split(".")[2] if path.startswith("templates.apps.") else None
        try:
            template = env.get_template(path)
            for sample in sample_contexts(page):
                template.render(pages.context(page, app_id, "en", sample))
        except Exception as exc:  # report whatever the template does wrong, with its line
            errors.append((path, describe(exc, path)))
    known = pages.messages.keys
    for lang, texts in (section.get("messages") or {}).items():
        for key in texts or {}:
            if key not in known:
                near = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                errors.append((f"templates.messages.{lang}.{key}", f"unknown message key{hint} "
                               "(the keys are those of ssomw/pages/i18n/en.json)"))
    names = {path.removeprefix("templates.") for path, _ in specs} | {
        f"messages.{lang}" for lang in section.get("messages") or {}}
    for k, name in enumerate(section.get("disabled") or ()):
        if name not in names:
            errors.append((f"templates.disabled[{k}]", f"{name!r} names no custom template or "
                           "message override here"))
    if app_ids is not None:
        for app_id in section.get("apps") or {}:
            if app_id not in app_ids:
                errors.append((f"templates.apps.{app_id}", f"unknown app {app_id!r}"))
    return errors
