"""The real chain through Caddy: Caddy → gateway (``/sso/forward-auth``) → oidc-provider.

The same apps, users and provider as :class:`tests.e2e.stack.Stack`; Caddy runs exactly the
Caddyfile ``ssomw proxy caddy`` prints for the gateway's configuration file, adapted only by
the command's own options (``--http PORT``, ``--gateway``, ``--admin off``).
"""

from __future__ import annotations

import subprocess
from typing import Any

from tests.support.caddy import Caddy
from tests.support.gateway import GatewayProcess

from .stack import REPO, Stack


def printed_caddyfile(gateway: GatewayProcess, port: int, *extra: str) -> str:
    """What ``ssomw proxy caddy`` prints for this gateway's configuration file."""
    result = subprocess.run(
        [str(REPO / ".venv/bin/ssomw"), "proxy", "caddy", "-c", str(gateway.config_path),
         "--http", str(port), "--gateway", gateway.bind, "--admin", "off", *extra],
        capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


class CaddyStack(Stack):
    caddy: Caddy | None = None

    def apps_config(self) -> list[dict[str, Any]]:
        apps = super().apps_config()
        apps[0]["api"] = {"paths": ["^/rest/"]}  # app-a's REST API (contract §7)
        return apps

    def start(self) -> CaddyStack:
        self.start_behind_the_proxy()
        self.caddyfile = printed_caddyfile(self.gateway, self.port)
        self.caddy = Caddy(self.workdir / "caddy", self.caddyfile, self.port).start()
        return self

    def stop(self) -> None:
        if self.caddy is not None:
            self.caddy.stop()
        super().stop()
