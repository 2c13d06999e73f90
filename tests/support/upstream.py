"""An in-process echo app standing in for a protected application behind nginx.

It answers every request with JSON describing what reached it, so tests can prove which
identity headers nginx passed (and that client-forged ones were overwritten).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from tests.support.net import free_port

STATIC_TEXT = b"static file from the echo app\n"


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _EchoServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/static/"):
            payload, ctype = STATIC_TEXT, "text/plain; charset=utf-8"
        else:
            payload = json.dumps({
                "app": self.server.app_name,
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode("utf-8", "replace"),
            }).encode()
            ctype = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests assert on the JSON, not on access logs


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    app_name = "app"


class EchoApp:
    """`EchoApp("app-a").url` -> http://127.0.0.1:<port>; JSON echo of each request.

    Header names in the echo keep the case they arrived with (nginx sends them as configured).
    Use as a context manager or call stop().
    """

    def __init__(self, name: str, port: int | None = None) -> None:
        self.name = name
        self._server = _EchoServer(("127.0.0.1", port or free_port()), _EchoHandler)
        self._server.app_name = name
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"echo-{name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
