"""A throwaway ``redis-server`` on loopback for tests: free port, temp dir, no persistence.

    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        server.stop()    # outage
        server.start()   # back, same port (and empty: nothing is saved)

``RedisServer(password=PW)`` requires that password (``--requirepass``).
``RedisServer(sentinel_for=master)`` runs a Sentinel watching ``master`` instead; its
``sentinel_url()`` is the ``redis+sentinel://`` URL of that master. The process is killed
by a finaliser even when a test forgets to stop it, and by the kernel if the test process
itself is killed (PR_SET_PDEATHSIG: start it from a thread that outlives it).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from types import TracebackType

DEFAULT_BINARY = "/usr/bin/redis-server"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_binary() -> str:
    found = shutil.which("redis-server") or (
        DEFAULT_BINARY if os.access(DEFAULT_BINARY, os.X_OK) else None
    )
    if not found:
        raise FileNotFoundError("redis-server not found; install it (apt-get install redis-server)")
    return found


def _die_with_parent() -> None:
    """Runs in the child before exec: if the test process is SIGKILLed, redis goes too (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


def _kill(box: list[subprocess.Popen[bytes] | None], tmpdir: str) -> None:
    """Finaliser: must not reference the RedisServer object itself."""
    proc = box[0]
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(5)
    shutil.rmtree(tmpdir, ignore_errors=True)


class RedisServer:
    """One redis-server (or Sentinel) process; restartable on the same port."""

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
        startup_timeout: float = 10.0,
        password: str | None = None,
    ) -> None:
        self.host = host
        self.password = password
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port(host)
        self.extra_args = list(extra_args)
        self.sentinel_for = sentinel_for
        self.service_name = service_name
        self.binary = binary or find_binary()
        self.startup_timeout = startup_timeout
        self.tmpdir = tempfile.mkdtemp(prefix="redis-test-")
        self.unix_path = os.path.join(self.tmpdir, "redis.sock") if unix_socket else None
        self.log_path = os.path.join(self.tmpdir, "redis.log")
        self._box: list[subprocess.Popen[bytes] | None] = [None]
        self._finalizer = weakref.finalize(self, _kill, self._box, self.tmpdir)

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

    @property
    def pid(self) -> int | None:
        proc = self._box[0]
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    # -- lifecycle -------------------------------------------------------------------------
    def _command(self) -> list[str]:
        if self.sentinel_for is not None:
            master = self.sentinel_for
            conf = os.path.join(self.tmpdir, "sentinel.conf")
            with open(conf, "w") as fh:  # Sentinel rewrites its config, so a file is required
                fh.write(
                    f"port {self.port}\nbind {self.host}\ndir {self.tmpdir}\n"
                    f"sentinel monitor {self.service_name} {master.host} {master.port} 1\n"
                    f"sentinel down-after-milliseconds {self.service_name} 1000\n"
                    f"sentinel failover-timeout {self.service_name} 2000\n"
                )
            return [self.binary, conf, "--sentinel", "--logfile", self.log_path]
        cmd = [
            self.binary, "--port", str(self.port), "--bind", self.host, "--dir", self.tmpdir,
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--logfile", self.log_path,
        ]  # fmt: skip
        if self.unix_path:
            cmd += ["--unixsocket", self.unix_path, "--unixsocketperm", "700"]
        if self.password:
            cmd += ["--requirepass", self.password]
        return cmd + self.extra_args

    def start(self) -> RedisServer:
        """Start (or restart after stop()) and wait until it answers PING."""
        if self.running:
            return self
        for attempt in range(3):
            proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
            self._box[0] = proc
            if self._wait_ready(proc):
                return self
            self.stop(kill=True)
            if self._fixed_port or attempt == 2:
                break
            self.port = free_port(self.host)  # lost a race for the port: try another
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{self.log_tail()}")

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if self.ping():
                return True
            time.sleep(0.02)
        return False

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

    def stop(self, kill: bool = False) -> None:
        """Stop the process (SIGTERM, or SIGKILL to simulate a crash); data is lost."""
        proc = self._box[0]
        if proc is None:
            return
        if proc.poll() is None:
            self.thaw()
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._box[0] = None

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (a hung server)."""
        if self.pid:
            os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGCONT)

    def close(self) -> None:
        """Stop for good and remove the temp dir."""
        self.stop()
        self._finalizer()

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RedisServer {self.host}:{self.port} pid={self.pid}>"
