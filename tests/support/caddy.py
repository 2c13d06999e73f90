"""A private Caddy (the Debian binary) on a free port, running a Caddyfile as it is given."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.net import port_open
from tests.support.process import Component

CADDY_BIN = "/usr/bin/caddy"


class Caddy(Component):
    """``Caddy(workdir, caddyfile, port).start()`` runs ``caddy run`` on that Caddyfile (its
    data and config directories inside workdir); ready when ``port`` accepts connections."""

    name = "caddy"
    log_name = "caddy.log"

    def __init__(self, workdir: Path, caddyfile: str, port: int) -> None:
        super().__init__(workdir, port)
        self.caddyfile = caddyfile
        self.path = self.workdir / "Caddyfile"

    def env(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.workdir),
                "XDG_DATA_HOME": str(self.workdir / "data"),
                "XDG_CONFIG_HOME": str(self.workdir / "config")}

    def check_config(self) -> None:
        """``caddy validate`` on the Caddyfile; raises with Caddy's message."""
        self.path.write_text(self.caddyfile)
        result = subprocess.run([CADDY_BIN, "validate", "--config", str(self.path),
                                 "--adapter", "caddyfile"], capture_output=True, text=True,
                                env=self.env(), timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"caddy validate failed:\n{result.stderr.strip()[-2000:]}")

    def launch(self) -> None:
        self.path.write_text(self.caddyfile)
        self.process.start([CADDY_BIN, "run", "--config", str(self.path), "--adapter",
                            "caddyfile"], cwd=self.workdir, env=self.env())

    def wait_ready(self, timeout: float) -> None:
        assert self.port is not None
        self.wait_for(lambda: port_open(self.port), timeout, f"not listening on {self.port}")
