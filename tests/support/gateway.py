"""The ssomw gateway as a real process: `ssomw serve` (gunicorn) on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port
from tests.support.process import Component

REPO = Path(__file__).resolve().parents[2]


def ssomw_executable() -> str:
    """The repo venv's `ssomw`, else the one beside the running Python."""
    for candidate in (REPO / ".venv" / "bin" / "ssomw", Path(sys.executable).parent / "ssomw"):
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("ssomw is not installed: run tests/bootstrap.sh")


class GatewayProcess(Component):
    """Writes `config` to workdir/ssomw.yaml and runs
    `ssomw serve -c <file> --bind 127.0.0.1:<port> --workers N`.

    Ready when `GET <path_prefix>/healthz` answers 200. The port stays the same across
    restart(), so nginx configs keep pointing at it.
    """

    name = "ssomw gateway"
    log_name = "gateway.log"

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        port: int | None = None,
        workers: int = 2,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(workdir, port or free_port())
        self.config = config
        self.workers = workers
        self.env = dict(env or {})
        self.config_path = self.workdir / "ssomw.yaml"
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def bind(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def path_prefix(self) -> str:
        return ((self.config.get("server") or {}).get("path_prefix") or "/sso").rstrip("/")

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.config_path.chmod(0o600)

    def launch(self) -> None:
        self.write_config()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        argv = [ssomw_executable(), "serve", "-c", str(self.config_path),
                "--bind", self.bind, "--workers", str(self.workers)]
        self.process.start(argv, cwd=self.workdir, env=env)

    def wait_ready(self, timeout: float) -> None:
        self.wait_url(f"{self.url}{self.path_prefix}/healthz", timeout)

    def update_config(self, config: dict[str, Any]) -> None:
        """Replace the config file and restart (for changes that need a new process)."""
        self.config = config
        self.restart()

    def nginx_conf(
        self, listen: str, cache_path: Path, *, cache: bool = True, apps: list[str] | None = None
    ) -> str:
        """The http-level nginx config that `ssomw nginx` prints for this gateway's config."""
        self.write_config()
        argv = [ssomw_executable(), "nginx", "-c", str(self.config_path), "--http", listen,
                "--gateway", self.bind, "--cache-path", str(cache_path),
                "--write-snippets", str(self.workdir / "nginx-snippets")]
        argv += [] if cache else ["--no-cache"]
        for app in apps or []:
            argv += ["--app", app]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"ssomw nginx failed ({result.returncode}):\n{result.stderr}")
        return result.stdout

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
