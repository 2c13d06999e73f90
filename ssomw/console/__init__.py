"""The admin console (contract §11): the REST API's conveniences as server-rendered pages at
``{prefix}/admin/``.

Rule of this folder: **no rule of its own**. Every change goes through the services the REST
API uses (:class:`ssomw.admin.service.ConfigService` for configuration — validation with every
error at its path, a new version, an audit event, live on every instance within 2 s — and
:mod:`ssomw.admin.actions` for sessions and local groups); every configuration change shows
its impact preview (:mod:`ssomw.admin.preview`) and applies only from there. Views parse a
form, call one service, render a page. Pages work without JavaScript; ``static/console.js``
only adds the template editor's live preview. See README.md.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, static_folder="static", static_url_path="/admin/static")

from ssomw.console import (  # noqa: E402,F401  (register the routes on bp)
    configuration,
    gate,
    operations,
    templates,
)
