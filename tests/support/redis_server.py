"""A throwaway ``redis-server`` on loopback for tests: free port, temp dir, no persistence.

    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        server.stop()    # outage
        server.start()   # back, same port (and empty: nothing is saved)

``RedisServer(password=PW)`` requires that password (``--requirepass``).
``RedisServer(sentinel_for=master)`` runs a Sentinel watching ``master`` instead; its
``sentinel_url()`` is the ``redis+sentinel://`` URL of that master. The process is killed
by a finaliser even when a test forgets to stop it, and by the kernel if the test process
itself is killed (PR_SET_PDEATHSIG: start it from a thread that outlives it). Its files live in
a temp dir of its own (removed by ``close()``, which leaving the ``with`` block calls) unless
a ``workdir`` is given.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path

from tests.support.net import free_port
from tests.support.patience import STARTUP
from tests.support.process import Component

DEFAULT_BINARY = "/usr/bin/redis-server"


def find_binary() -> str:
    """The server every test runs: ``$SSOMW_TEST_REDIS_SERVER`` when set (a ``valkey-server``,
    say, since Debian packages only Redis), else Debian's ``redis-server``."""
    chosen = os.environ.get("SSOMW_TEST_REDIS_SERVER")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise FileNotFoundError(f"SSOMW_TEST_REDIS_SERVER={chosen} is not an executable")
        return chosen
    found = shutil.which("redis-server") or (
        DEFAULT_BINARY if os.access(DEFAULT_BINARY, os.X_OK) else None
    )
    if not found:
        raise FileNotFoundError("redis-server not found; install it (apt-get install redis-server)")
    return found


class RedisServer(Component):
    """One redis-server (or Sentinel) process; restartable on the same port."""

    name = "redis-server"
    log_name = "redis.log"
    stop_grace = 10.0

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        extra_args: Sequence[str] = (),
        unix_socket: bool = False,
        sentinel_for: RedisServer | None = None,
        service_name: str = "mymaster",
        binary: str | None = None,
        startup_timeout: float = STARTUP,
        password: str | None = None,
        workdir: Path | None = None,
        cluster_bus: bool = False,
    ) -> None:
        if sentinel_for is not None:
            self.name = "redis-sentinel"
        own = workdir is None
        super().__init__(Path(tempfile.mkdtemp(prefix="redis-test-")) if own else workdir,
                         port if port is not None else free_port(host))
        self._remove_workdir = (weakref.finalize(self, shutil.rmtree, str(self.workdir),
                                                 ignore_errors=True) if own else None)
        self.host = host
        self.password = password
        self._fixed_port = port is not None
        self.extra_args = list(extra_args)
        self.sentinel_for = sentinel_for
        self.service_name = service_name
        self.binary = binary or find_binary()
        self.start_timeout = startup_timeout
        self.unix_path = str(self.workdir / "redis.sock") if unix_socket else None
        # A cluster node's bus port is chosen too (re-chosen with the port on a retry): by
        # default it is the port + 10,000, and redis-server refuses a bus port above 65535.
        self.bus_port = free_port(host) if cluster_bus else None

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def unix_url(self) -> str:
        if self.unix_path is None:
            raise ValueError("started without unix_socket=True")
        return f"unix://{self.unix_path}?db=0"

    def sentinel_url(self, db: int = 0) -> str:
        return f"redis+sentinel://{self.host}:{self.port}/{self.service_name}/{db}"

    # -- lifecycle -------------------------------------------------------------------------
    def _command(self) -> list[str]:
        """The command line; with no ``logfile`` redis logs to stdout, i.e. to redis.log."""
        if self.sentinel_for is not None:
            master = self.sentinel_for
            conf = self.workdir / "sentinel.conf"
            conf.write_text(  # Sentinel rewrites its config, so a file is required
                f"port {self.port}\nbind {self.host}\ndir {self.workdir}\n"
                f"sentinel monitor {self.service_name} {master.host} {master.port} 1\n"
                f"sentinel down-after-milliseconds {self.service_name} 1000\n"
                f"sentinel failover-timeout {self.service_name} 2000\n"
            )
            return [self.binary, str(conf), "--sentinel"]
        cmd = [
            self.binary, "--port", str(self.port), "--bind", self.host, "--dir", str(self.workdir),
            "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip
        if self.unix_path:
            cmd += ["--unixsocket", self.unix_path, "--unixsocketperm", "700"]
        if self.password:
            cmd += ["--requirepass", self.password]
        if self.bus_port is not None:
            cmd += ["--cluster-enabled", "yes", "--cluster-port", str(self.bus_port)]
        return cmd + self.extra_args

    def launch(self) -> None:
        self.process.start(self._command(), die_with_parent=True)

    def wait_ready(self, timeout: float) -> None:
        self.wait_for(self.ping, timeout, f"does not answer PING on port {self.port}")

    def start(self, timeout: float | None = None) -> RedisServer:
        """Start (or restart after stop()) and wait until it answers PING. Without a fixed
        port, a lost race for the port (or a cluster node's bus port) is retried on other ones
        (three tries in all)."""
        tries = 1
        while True:
            try:
                return super().start(timeout)
            except (RuntimeError, TimeoutError):
                if self._fixed_port or tries == 3:
                    raise
                tries += 1
                self.port = free_port(self.host)
                if self.bus_port is not None:
                    self.bus_port = free_port(self.host)

    def ping(self, timeout: float = 0.5) -> bool:
        """True if the server answers PING with PONG (not LOADING or an error)."""
        auth = b"AUTH %s\r\n" % self.password.encode() if self.password else b""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                sock.sendall(auth + b"PING\r\n")
                answer = b""
                while answer.count(b"\r\n") < (2 if auth else 1):
                    chunk = sock.recv(64)
                    if not chunk:
                        break
                    answer += chunk
                return answer.split(b"\r\n")[-2].startswith(b"+PONG")
        except OSError:
            return False

    def close(self) -> None:
        """Stop for good and remove the temp dir it made."""
        self.stop()
        if self._remove_workdir is not None:
            self._remove_workdir()

    def __repr__(self) -> str:
        return f"<RedisServer {self.host}:{self.port} pid={self.pid}>"
