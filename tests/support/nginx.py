"""A private nginx (the Debian binary) on free ports in a temp dir, never the system one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.support.net import port_open
from tests.support.patience import STARTUP
from tests.support.process import Component

NGINX_BIN = "/usr/sbin/nginx"
_LISTEN = re.compile(r"(?:^|[\s;{])listen\s+(?:\[[^\]]*\]:|[\w.-]+:)?(\d+)\b")


def listen_ports_of(http_conf: str) -> list[int]:
    """Every port named by a `listen` directive (best effort, for readiness waits)."""
    return sorted({int(p) for p in _LISTEN.findall(http_conf)})


class Nginx(Component):
    """`Nginx(workdir, http_conf).start()` runs nginx with `http_conf` inside its http block.

    The main config (written to workdir/nginx.conf) keeps pid, error log (info level), temp
    paths and optional access log inside workdir. `listen_ports` are waited for on start
    (default: the ports of the config's `listen` directives).
    """

    name = "nginx"
    log_name = "nginx.out"
    start_timeout = STARTUP

    def __init__(
        self,
        workdir: Path,
        http_conf: str,
        listen_ports: list[int] | None = None,
        *,
        access_log: bool = True,
        worker_processes: int = 2,
    ) -> None:
        super().__init__(workdir, None)  # several ports: its stop waits for none
        self.http_conf = http_conf
        self.listen_ports = listen_ports
        self.access_log = access_log
        self.worker_processes = worker_processes
        self.conf_path = self.workdir / "nginx.conf"
        self.error_log = self.workdir / "error.log"
        self.access_log_path = self.workdir / "access.log"

    def main_conf(self, http_conf: str) -> str:
        w = self.workdir
        temps = "\n".join(
            f"    {kind}_temp_path {w}/tmp/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        access = f"access_log {self.access_log_path};" if self.access_log else "access_log off;"
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            f"daemon off;\nmaster_process on;\nworker_processes {self.worker_processes};\n{user}"
            # As the README recommends for every nginx in front of ssomw: the decision cache's
            # key maps run regexes on each protected request (see ssomw/integration/nginx.py).
            "pcre_jit on;\n"
            f"pid {w}/nginx.pid;\nerror_log {self.error_log} info;\n"
            "events { worker_connections 4096; }\n"
            "http {\n    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            f"    {access}\n{temps}\n\n{http_conf}\n}}\n"
        )

    def _argv(self, *extra: str) -> list[str]:
        return [NGINX_BIN, "-p", f"{self.workdir}/", "-c", str(self.conf_path),
                "-e", str(self.error_log), *extra]

    def _write_and_test(self, http_conf: str) -> None:
        (self.workdir / "tmp").mkdir(exist_ok=True)
        self.conf_path.write_text(self.main_conf(http_conf))
        result = subprocess.run(
            self._argv("-t", "-q"), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"nginx config test failed:\n{result.stderr.strip()}")

    def check_config(self) -> None:
        """Only `nginx -t` on the config (nothing listens); raises with nginx's message."""
        self._write_and_test(self.http_conf)

    def _ports(self) -> list[int]:
        return self.listen_ports if self.listen_ports is not None else listen_ports_of(
            self.http_conf)

    def launch(self) -> None:
        self._write_and_test(self.http_conf)
        self.process.start(self._argv())

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for port in self._ports():
            self.wait_for(lambda port=port: port_open(port), max(0.0, deadline - time.monotonic()),
                          f"not listening on {port}")

    def _workers(self) -> set[int]:
        assert self.process.proc is not None, "nginx not started"
        pid = self.process.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(child) for child in children}

    def reload(self, http_conf: str, timeout: float = STARTUP) -> None:
        """Replace the http config (tested first) and wait until only new workers are left,
        so the next request is certainly served by the new config."""
        self._write_and_test(http_conf)
        self.http_conf = http_conf
        old_workers = self._workers()
        assert self.process.proc is not None
        os.kill(self.process.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self._workers() & old_workers:
            self.process.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx reload did not finish:\n{self.log_tail()}")
            time.sleep(0.02)
        self.wait_ready(timeout)

    def log_tail(self, lines: int = 40) -> str:
        """The tail of nginx's error log (where it explains failures)."""
        try:
            text = self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        return "\n".join(text.splitlines()[-lines:]) + "\n" + self.process.log_tail(10)
