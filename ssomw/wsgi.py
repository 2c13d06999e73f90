"""The WSGI entry point: gunicorn runs ``ssomw.wsgi:create_app()``.

The stack, outermost first::

    RequestId → TrustedProxies → dispatch: {prefix}/auth → AuthEndpoint (plain WSGI, hot path)
                                           everything else → SecurityHeaders → Flask app
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import create_app as create_flask_app
from .config import Config, config_path, load_config
from .housekeeping import Housekeeper
from .logs import configure_logging
from .middleware.proxy import TrustedProxies
from .middleware.request_id import RequestId
from .middleware.security_headers import SecurityHeaders
from .runtime import Runtime
from .views.auth import AuthEndpoint


class Gateway:
    """Routes the auth subrequest around Flask; everything else goes to the Flask app."""

    def __init__(self, config: Config, runtime: Runtime | None = None):
        self.runtime = runtime or Runtime.build(config)
        self.flask = create_flask_app(config, self.runtime)
        self.auth_path = f"{config.prefix}/auth"
        self.auth = AuthEndpoint(self.runtime)
        self.pages = SecurityHeaders(self.flask.wsgi_app)
        self.housekeeper = Housekeeper(self.runtime)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.housekeeper.ensure_started()
        if environ.get("PATH_INFO") == self.auth_path:
            return self.auth(environ, start_response)
        return self.pages(environ, start_response)


def build_stack(config: Config, runtime: Runtime | None = None) -> Any:
    gateway = Gateway(config, runtime)
    return RequestId(TrustedProxies(gateway, gateway.runtime.trusted_proxies))


def create_app(path: str | None = None) -> Any:
    """Load the config (``-c``/``$SSOMW_CONFIG``/``conf/ssomw.yaml``) and build the stack."""
    config = load_config(config_path(path))
    configure_logging(config["logging"])
    return build_stack(config)
