"""Console pages for the gateway's own pages ("template design area"): each page template
and message catalog listed with its state, switched on or off, edited with a live preview
rendered by :class:`ssomw.pages.templating.Pages` — the production sandbox, the production
lookup — and saved as a new configuration version through the review page.

Names: a page (``error``), a page for one app (``apps.<app>.<page>``), a language's message
overrides (``messages.<lang>``); ``templates.disabled`` holds the names switched off.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

from flask import Response, abort, request

from ssomw.admin.service import AdminError
from ssomw.console import bp
from ssomw.console.flow import propose, service
from ssomw.console.render import base, page
from ssomw.middleware.security_headers import CSP as PAGES_CSP
from ssomw.pages.i18n import LANGUAGE_TAG, load_catalogs
from ssomw.pages.templating import (
    DEFAULT_DIR,
    MAX_TEMPLATE,
    PAGE_FILES,
    Pages,
    read_source,
    sample_contexts,
    validate_templates,
)
from ssomw.views.common import runtime

#: The preview is framed by the editor only, and sandboxed: no script, no form, no origin.
PREVIEW_CSP = (PAGES_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
               + "; sandbox")


def parse_name(name: str) -> tuple[str, str | None]:
    """(page, app id or None) for ``error`` / ``apps.<app>.<page>``; 404 for anything else."""
    parts = name.split(".")
    if len(parts) == 1 and parts[0] in PAGE_FILES:
        return parts[0], None
    if len(parts) == 3 and parts[0] == "apps" and parts[2] in PAGE_FILES:
        return parts[2], parts[1]
    abort(404)


def spec_at(section: dict[str, Any], name: str) -> Any:
    page_name, app_id = parse_name(name)
    holder = (section.get("apps") or {}).get(app_id) or {} if app_id else section
    return holder.get(page_name) if isinstance(holder, dict) else None


def with_template(section: dict[str, Any], name: str, text: str | None) -> dict[str, Any]:
    """A copy of ``section`` with ``name`` set to inline ``text`` (None: removed)."""
    out = copy.deepcopy(section)
    page_name, app_id = parse_name(name)
    if app_id:
        apps = out.setdefault("apps", {})
        holder = apps.setdefault(app_id, {})
    else:
        holder = out
    if text is None:
        holder.pop(page_name, None)
        if app_id and not holder:
            out["apps"].pop(app_id)
    else:
        holder[page_name] = {"inline": text}
    return out


def languages(section: dict[str, Any]) -> list[str]:
    return sorted(set(load_catalogs()) | set(section.get("messages") or {}))


@bp.get("/admin/templates")
def templates_list() -> Response:
    rt = runtime()
    _, data = service().current()
    section = data.get("templates") or {}
    off = set(section.get("disabled") or [])
    app_ids = [a["id"] for a in rt.config["apps"]]
    rows = []
    for app_id in [None, *app_ids]:
        for page_name in PAGE_FILES:
            name = f"apps.{app_id}.{page_name}" if app_id else page_name
            spec = spec_at(section, name)
            if app_id and spec is None:
                continue
            rows.append({"name": name, "page": page_name, "app": app_id or "",
                         "custom": spec is not None, "on": name not in off,
                         "file": spec.get("file", "") if isinstance(spec, dict) else ""})
    catalogs = load_catalogs()
    messages = [{"lang": lang, "name": f"messages.{lang}", "shipped": lang in catalogs,
                 "overrides": len((section.get("messages") or {}).get(lang) or {}),
                 "on": f"messages.{lang}" not in off} for lang in languages(section)]
    return page("templates.html", section="templates", rows=rows, messages=messages,
                apps=app_ids, pages=list(PAGE_FILES))


@bp.post("/admin/templates/switch")
def switch() -> Response:
    """On/off for one custom template or message catalog: ``templates.disabled``."""
    number, data = service().current()
    name = request.form.get("name", "")
    on = request.form.get("on") == "yes"
    section = data.setdefault("templates", {})
    off = [n for n in section.get("disabled") or [] if n != name]
    if not on:
        off.append(name)
    if off:
        section["disabled"] = off
    else:
        section.pop("disabled", None)
    return propose(f"Switch {name} {'on' if on else 'off'}", f"{base()}/templates", data=data,
                   base_version=number, invalid=lambda exc: invalid_page(exc))


def invalid_page(exc: AdminError) -> Response:
    return page("message.html", 422, section="templates", title="Not valid",
                message=exc.message, errors=[f"{e.path}: {e.message}" for e in exc.errors])


# --- a page template -----------------------------------------------------------------------

@bp.get("/admin/templates/edit")
def edit() -> Response:
    name = request.args.get("name", "")
    _, data = service().current()
    spec = spec_at(data.get("templates") or {}, name)
    page_name, _ = parse_name(name)
    note = ""
    if isinstance(spec, dict):
        text, problem = read_source(spec)
        if "file" in spec:
            note = (f"This template is read from {spec['file']}; saving here stores the text "
                    "in the configuration instead.")
        text = text if text is not None else ""
        note = problem or note
    else:
        text = (DEFAULT_DIR / PAGE_FILES[page_name]).read_text(encoding="utf-8")
        note = "No custom template yet: this is the shipped page, to start from."
    return editor(name, text, note, custom=isinstance(spec, dict))


def editor(name: str, text: str, note: str = "", errors: list[str] | None = None,
           status: int = 200, custom: bool = True) -> Response:
    page_name, app_id = parse_name(name)
    lang = request.values.get("lang", "en")
    return page("template_edit.html", status, section="templates", name=name, text=text,
                note=note, errors=errors or [], page_name=page_name, app=app_id or "",
                custom=custom,
                langs=languages(service().current()[1].get("templates") or {}), lang=lang,
                action=f"{base()}/templates/edit?name={quote(name, safe='')}",
                preview=f"{base()}/templates/preview",
                preview_src=f"{base()}/templates/preview?name={quote(name, safe='')}"
                f"&lang={quote(lang, safe='')}")


@bp.post("/admin/templates/edit")
def save() -> Response:
    name = request.args.get("name", "")
    parse_name(name)
    text = request.form.get("text", "").replace("\r\n", "\n")
    number, data = service().current()
    remove = request.form.get("action") == "remove"
    data["templates"] = with_template(data.get("templates") or {}, name,
                                      None if remove else text)
    if remove:
        data["templates"]["disabled"] = [n for n in data["templates"].get("disabled") or []
                                         if n != name]
        if not data["templates"]["disabled"]:
            data["templates"].pop("disabled")
    title = f"Remove the custom {name} template" if remove else f"Save the {name} template"
    return propose(title, f"{base()}/templates", data=data, base_version=number,
                   invalid=lambda exc: editor(name, text, errors=[
                       e.message if e.path == f"templates.{name}" else f"{e.path}: {e.message}"
                       for e in exc.errors], status=422))


# --- message catalogs ------------------------------------------------------------------------

@bp.route("/admin/templates/messages", methods=["GET", "POST"])
def messages() -> Response:
    lang = (request.values.get("lang") or "").strip()
    if not LANGUAGE_TAG.match(lang) or len(lang) > 35:
        abort(404)
    number, data = service().current()
    section = data.get("templates") or {}
    current = dict(((section.get("messages") or {}).get(lang)) or {})
    if request.method == "POST":
        texts = posted_texts()
        changed = copy.deepcopy(data)
        catalog = changed.setdefault("templates", {}).setdefault("messages", {})
        if texts:
            catalog[lang] = texts
        else:
            catalog.pop(lang, None)
        return propose(f"Save the {lang} messages", f"{base()}/templates", data=changed,
                       base_version=number, invalid=lambda exc: messages_page(
                           lang, texts, [f"{e.path}: {e.message}" for e in exc.errors], 422))
    return messages_page(lang, current)


def posted_texts() -> dict[str, str]:
    keys = set(load_catalogs().get("en", {}))
    return {key[2:]: value.strip() for key, value in request.form.items()
            if key.startswith("m.") and key[2:] in keys and value.strip()}


def messages_page(lang: str, texts: dict[str, str], errors: list[str] | None = None,
                  status: int = 200) -> Response:
    catalogs = load_catalogs()
    english = catalogs.get("en", {})
    shipped = catalogs.get(lang.lower(), {})
    rows = [{"key": key, "shipped": shipped.get(key) or english[key],
             "value": texts.get(key, "")} for key in english]
    return page("messages_edit.html", status, section="templates", lang=lang, rows=rows,
                errors=errors or [], pages=list(PAGE_FILES),
                action=f"{base()}/templates/messages?lang={quote(lang, safe='')}",
                preview=f"{base()}/templates/preview",
                preview_src=f"{base()}/templates/preview?name=error&lang={quote(lang, safe='')}")


# --- the preview, in the production sandbox ----------------------------------------------------

@bp.route("/admin/templates/preview", methods=["GET", "POST"])
def preview() -> Response:
    rt = runtime()
    values = request.values
    name = values.get("name", "error")
    page_name, app_id = parse_name(name)
    lang = values.get("lang", "en")
    _, data = service().current()
    section = copy.deepcopy(data.get("templates") or {})
    if request.method == "POST" and "text" in values:
        section = with_template(section, name, values["text"].replace("\r\n", "\n"))
    if request.method == "POST" and values.get("kind") == "messages":
        section.setdefault("messages", {})[lang] = posted_texts()
    section["disabled"] = [n for n in section.get("disabled") or []
                           if n not in (name, f"messages.{lang}")]
    problems = [f"{path}: {message}" for path, message in validate_templates(
        section, [a["id"] for a in rt.config["apps"]]) if path.startswith(f"templates.{name}")
        or path.startswith("templates.messages")]
    if problems or len(values.get("text", "")) > MAX_TEMPLATE:
        html = page("preview_problem.html", problems=problems or ["the template is too long"])
        return framed(html.get_data(as_text=True))
    pages = Pages(section, prefix=rt.prefix,
                  app_names={a["id"]: a.get("name") for a in rt.config["apps"]})
    sample = sample_contexts(page_name)[0]
    html = pages.render(page_name, app_id=app_id, lang=pages.negotiate(lang), **sample)
    return framed(html)


def framed(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response
