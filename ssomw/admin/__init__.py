"""The admin REST API (contract §6), mounted at ``{server.path_prefix}/api/v1``.

Register with ``app.register_blueprint(admin.bp, url_prefix=config.prefix)``. Views are thin:
authentication in :mod:`.auth`, configuration rules in :mod:`.service` (shared with the
``ssomw config`` CLI), secrets handling in :mod:`.export`, the OpenAPI document in
:mod:`.openapi`. Every answer is JSON, errors included (``{"error", "message", "errors"?}``).
"""

from __future__ import annotations

from flask import Blueprint

API = "/api/v1"
bp = Blueprint("admin", __name__)

from ssomw.admin import http, ops, views  # noqa: E402,F401  (register handlers and routes on bp)
