"""`ssomw demo` as users run it: a real subprocess, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.gateway import ssomw_executable
from tests.support.net import free_port, port_open
from tests.support.signin import sign_in

pytestmark = pytest.mark.e2e

READY_LINE = "Press Ctrl-C to stop."


class DemoProcess:
    """`ssomw demo` with its output collected line by line (a thread drains the pipe)."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [ssomw_executable(), "demo", "--port", str(port), "--workdir", str(workdir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if READY_LINE in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.reader.join(timeout=2)
                pytest.fail(f"ssomw demo did not come up:\n{self.output}")
        return self.output

    def descendants(self) -> set[int]:
        """Every process below the demo (provider, gateway and its workers, nginx and its)."""
        found: set[int] = set()
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    children = {int(c) for c in (task / "children").read_text().split()}
                except OSError:
                    continue
                todo += children - found
                found |= children
        return found

    def interrupt(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def alive(pid: int) -> bool:
    """True for a running process (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def demo_port() -> int:
    return free_port()


@pytest.fixture
def demo(tmp_path: Path, demo_port: int) -> Iterator[DemoProcess]:
    process = DemoProcess(demo_port, tmp_path / "demo")
    yield process
    process.kill()  # only if a failed test left it running


def test_demo_serves_the_chain_and_stops_cleanly(demo: DemoProcess, demo_port: int):
    output = demo.wait_ready()
    app_a, app_b = (f"http://{app}.ssomw.localhost:{demo_port}/" for app in ("app-a", "app-b"))
    assert app_a in output and app_b in output
    passwords = dict(re.findall(r"^\s+(alice|bob)\s+/\s+(\S+)", output, re.MULTILINE))
    assert set(passwords) == {"alice", "bob"}
    discovery = re.search(r"http://127\.0\.0\.1:\d+/\.well-known/openid-configuration", output)
    assert discovery and requests.get(discovery[0], timeout=5).status_code == 200

    with requests.Session() as alice:
        page = sign_in(alice, app_a + "page", "alice", passwords["alice"])
        assert page.status_code == 200, page.trail
        headers = {k.lower(): v for k, v in page.json()["headers"].items()}
        assert headers["x-auth-request-user"] == "alice"
        assert headers["x-auth-request-email"] == "alice@example.com"
        html = alice.get(app_b, headers={"Accept": "text/html"}, timeout=5)
        assert html.status_code == 200
        assert "<td>X-Auth-Request-User</td><td>alice</td>" in html.text
        assert f'href="{app_a}"' in html.text and "/sso/logout" in html.text
    with requests.Session() as bob:
        denied = sign_in(bob, app_b, "bob", passwords["bob"])
        assert denied.status_code == 403, denied.trail
    forged = requests.get(app_a + "public/", headers={"X-Auth-Request-User": "admin"},
                          timeout=5)
    assert forged.status_code == 200
    assert "x-auth-request-user" not in {k.lower() for k in forged.json()["headers"]}

    ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", output)} | {demo_port}
    assert len(ports) == 5 and all(port_open(p) for p in ports)  # nginx, gateway, idp, 2 apps
    children = demo.descendants()
    assert len(children) >= 3

    assert demo.interrupt() == 0, demo.output
    assert "Stopped." in demo.output
    assert not [p for p in ports if port_open(p)]
    assert not [pid for pid in children if alive(pid)]


def test_demo_explains_a_busy_port(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [ssomw_executable(), "demo", "--port", str(port), "--workdir", str(tmp_path)],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port" in result.stderr
    assert not list(tmp_path.iterdir())  # nothing started, nothing written
