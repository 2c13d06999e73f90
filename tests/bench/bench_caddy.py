"""Caddy beside nginx for ``bench_auth.py``: one Caddy on its own port, running the Caddyfile
``ssomw proxy caddy`` prints for the bench gateway, plus two plain sites serving the bench page.

* ``static.caddy.localhost``: the page from Caddy's ``file_server``, no auth (scenario ac);
* ``app-a|app-b.ssomw.localhost``: the printed sites, ``forward_auth`` to the gateway, then
  ``reverse_proxy`` to the same Caddy's page on a second port (scenario bc). Caddy has no
  decision cache: every request asks the gateway, like nginx's (c).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.bench.bench_stack import APPS, BenchStack
from tests.support.caddy import Caddy
from tests.support.net import free_port

CADDY_STATIC_HOST = "static.caddy.localhost"


def start_caddy(stack: BenchStack, workdir: Path) -> tuple[Caddy, int]:
    """The started Caddy and its port (the page's second port is internal)."""
    assert stack.gateway is not None
    port, page_port = free_port(), free_port()
    upstreams = [f"--upstream={app}=http://127.0.0.1:{page_port}" for app in APPS]
    printed = subprocess.run(
        [str(Path(__file__).resolve().parents[2] / ".venv/bin/ssomw"), "proxy", "caddy", "-c",
         str(stack.gateway.config_path), "--http", str(port), "--gateway", stack.gateway.bind,
         "--admin", "off", *upstreams],
        capture_output=True, text=True, timeout=60, check=True).stdout
    page = (f"\troot * {stack.static_dir}\n\trewrite * /page.html\n\tfile_server\n")
    static = (f"\n# bench: the page without auth, and the apps' upstream\n"
              f"http://{CADDY_STATIC_HOST}:{port}, http://:{page_port} {{\n{page}}}\n")
    caddy = Caddy(workdir / "caddy", printed + static, port).start()
    return caddy, port
