"""ssomw: a single sign-on gateway for nginx ``auth_request``.

``flask_app(config)`` builds the Flask application for the gateway's pages (sign-in, logout,
health); ``ssomw.wsgi`` wraps it with the auth hot path and the middleware stack.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, request

from ssomw.config import Config
from ssomw.gateway.runtime import Runtime
from ssomw.oidc.flow import FLOW_LIFETIME
from ssomw.session.flask_store import StoreSessionInterface, unreadable
from ssomw.store.base import StoreUnavailable

log = logging.getLogger("ssomw")
PAGES_DIR = Path(__file__).resolve().parent / "pages"
# Blueprints that never use the flow session.
SESSIONLESS = frozenset({"health", "metrics", "admin", "keys"})


def flask_app(config: Config, runtime: Runtime | None = None) -> Flask:
    """The Flask app for the gateway's own pages, mounted under ``server.path_prefix``."""
    from ssomw import admin, console
    from ssomw.admin import http as admin_http
    from ssomw.broker.server import Broker
    from ssomw.views import (
        broker,
        channels,
        emergency,
        health,
        keys,
        login,
        logout,
        metrics,
        pages,
    )
    from ssomw.views.common import error_page, replace_with_store_down, store_down_page

    runtime = runtime or Runtime.build(config)
    app = Flask(__name__, static_url_path=f"{config.prefix}/static",
                static_folder=PAGES_DIR / "static", template_folder=PAGES_DIR / "templates")
    session = config["session"]
    app.config.update(
        SECRET_KEY=session["secret_keys"][0],
        SESSION_COOKIE_NAME=f"{session['name']}_flow",
        SESSION_COOKIE_PATH=config.prefix,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=session["secure"],
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=FLOW_LIFETIME),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.extensions["ssomw"] = runtime
    if config["broker"]["clients"]:
        app.extensions["ssomw_broker"] = Broker(runtime)
    app.context_processor(lambda: {"prefix": config.prefix})
    app.session_interface = StoreSessionInterface(app, runtime.store, FLOW_LIFETIME,
                                                  replace_with_store_down)
    for blueprint in (login.bp, logout.bp, channels.bp, health.bp, metrics.bp, pages.bp,
                      keys.bp, broker.bp, admin.bp, console.bp):
        app.register_blueprint(blueprint, url_prefix=config.prefix)
    emergency.register(app, config["emergency"])

    @app.before_request
    def flow_session_readable() -> None:
        """A page that keeps sign-in state answers 503 when that state could not be read
        (rather than "your sign-in expired"); health, metrics and the admin API need none."""
        failure = unreadable(request.environ)
        if failure is not None and request.blueprint not in SESSIONLESS:
            raise failure

    @app.errorhandler(StoreUnavailable)
    def store_down(exc: StoreUnavailable) -> Any:
        return store_down_page(exc)

    @app.errorhandler(404)
    def not_found(exc: Exception) -> Any:
        return error_page("NOT_FOUND", 404)

    @app.errorhandler(405)
    def not_allowed(exc: Exception) -> Any:
        """A method no route takes (QUERY, OPTIONS...): JSON under the admin API, the error
        page elsewhere; always with ``Allow`` (RFC 9110 §15.5.6)."""
        if request.path.startswith(f"{config.prefix}{admin.API}/"):
            return admin_http.method_not_allowed()
        body, status, headers = error_page("BAD_REQUEST", 405)
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        return body, status, {**headers, **({"Allow": ", ".join(allowed)} if allowed else {})}

    @app.errorhandler(400)
    def bad_request(exc: Exception) -> Any:
        return error_page("BAD_REQUEST", 400)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        try:
            return error_page("INTERNAL_ERROR", 500)
        except Exception:  # the page itself failed: a plain answer, never a second traceback
            log.exception("the error page failed too")
            return "Internal error", 500, {"Content-Type": "text/plain; charset=utf-8"}

    return app
