"""``ssomw demo``: the whole chain on loopback, in the foreground, until Ctrl-C.

nginx (the repo's ``nginx/`` snippets) → gateway (``ssomw serve``) → the test OpenID provider
(``tests/oidc-provider``), and two small apps that show the identity headers they receive. It
reuses the test harness in ``tests/support``, so it runs from a source checkout only.

Apps live on ``app-a.ssomw.localhost`` and ``app-b.ssomw.localhost`` (on the nginx port) rather
than on 127.0.0.1 ports: cookies are per host, not per port, so only distinct names show the one
shared SSO cookie (``Domain=ssomw.localhost``) at work and keep the provider's own cookies (on
127.0.0.1) apart from the apps'. Chromium, Firefox and curl resolve ``*.localhost`` to loopback.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

DOMAIN = "ssomw.localhost"
GROUP = "team-b"
CLIENT_ID = "ssomw-demo"
BOOTSTRAP = "bash tests/bootstrap.sh"
#: Demo accounts at the local provider; `password` replaces the provider's default password.
USERS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Example",
              "preferred_username": "alice", "groups": ["staff", GROUP],
              "password": "alice-demo"},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob Example",
            "preferred_username": "bob", "groups": ["staff"], "password": "bob-demo"},
}
APPS = {"app-a": "Demo app A", "app-b": "Demo app B"}


class DemoError(Exception):
    """A problem the user can fix; the message says how."""


# -- the demo apps ------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:.25rem .6rem;
text-align:left}}th{{background:#f4f4f4}}code{{background:#f4f4f4;padding:0 .2rem}}</style>
</head><body>
<h1>{title}</h1>
<p>{intro}</p>
{table}
<p>Path: <code>{path}</code></p>
<ul>{links}</ul>
</body></html>
"""


def render_page(title: str, path: str, headers: dict[str, str],
                links: list[tuple[str, str]]) -> str:
    """The HTML a browser sees: who nginx says the user is, and where to go next."""
    identity = sorted((k, v) for k, v in headers.items()
                      if k.lower().startswith("x-auth-request-"))
    if identity:
        intro = "nginx passed these identity headers from the gateway:"
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                       for k, v in identity)
        table = f"<table><tr><th>Header</th><th>Value</th></tr>{rows}</table>"
    else:
        intro = "No identity headers: this path is public (a <code>bypass</code> rule)."
        table = ""
    items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>'
                    for text, href in links)
    return PAGE.format(title=html.escape(title), intro=intro, table=table,
                       path=html.escape(path), links=items)


class _AppHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _AppServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        if "text/html" in self.headers.get("Accept", ""):
            payload = render_page(self.server.title, self.path, headers,
                                  self.server.links).encode()
            ctype = "text/html; charset=utf-8"
        else:
            payload = json.dumps({"app": self.server.name, "method": self.command,
                                  "path": self.path, "headers": headers,
                                  "body": body.decode("utf-8", "replace")}, indent=1).encode()
            ctype = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # nginx's access log already records every request


class _AppServer(ThreadingHTTPServer):
    daemon_threads = True
    name = title = ""
    links: list[tuple[str, str]] = []


class DemoApp:
    """An app on 127.0.0.1 (a thread): HTML for browsers, JSON of the request otherwise."""

    def __init__(self, name: str, title: str, links: list[tuple[str, str]]) -> None:
        self.server = _AppServer(("127.0.0.1", 0), _AppHandler)
        self.server.name, self.server.title, self.server.links = name, title, links
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,),
                                       name=f"demo-{name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# -- prerequisites ------------------------------------------------------------------------------

def find_repo() -> Path:
    """The checkout holding tests/support and the provider script; on sys.path afterwards."""
    for root in (Path(__file__).resolve().parents[1], Path.cwd()):
        if ((root / "tests" / "support" / "oidc_provider.py").is_file()
                and (root / "tests" / "oidc-provider" / "provider.js").is_file()):
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return root
    raise DemoError(
        "ssomw demo runs from a source checkout: the local OpenID provider it starts lives "
        "under tests/, which this installation does not have.\n"
        f"  Fix: clone the repository, run `{BOOTSTRAP}` in it, then `.venv/bin/ssomw demo`.")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def missing_prerequisites(repo: Path, port: int) -> list[str]:
    """Every reason the demo cannot start, each with its fix (all at once, not one per run)."""
    from tests.support.nginx import NGINX_BIN

    problems = []
    if not os.access(NGINX_BIN, os.X_OK):
        problems.append(f"nginx not found at {NGINX_BIN}.\n"
                        f"  Fix: `sudo apt-get install nginx` (or `{BOOTSTRAP}`).")
    else:
        version = subprocess.run([NGINX_BIN, "-V"], capture_output=True, text=True).stderr
        if "with-http_auth_request_module" not in version:
            problems.append("this nginx lacks the auth_request module.\n"
                            "  Fix: install Debian's `nginx` package.")
    node = shutil.which("node")
    if node is None:
        problems.append("Node.js (20 or later) not found; the local OpenID provider needs it.\n"
                        f"  Fix: `sudo apt-get install nodejs npm` (or `{BOOTSTRAP}`).")
    else:
        major = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"],
                               capture_output=True, text=True).stdout.strip()
        if not major.isdigit() or int(major) < 20:
            problems.append(f"Node.js 20 or later needed (found {major or 'unknown'}).")
    if not (repo / "tests" / "oidc-provider" / "node_modules" / "oidc-provider").is_dir():
        problems.append("the local OpenID provider's node modules are missing.\n"
                        f"  Fix: run `{BOOTSTRAP}` (or `npm ci` in tests/oidc-provider).")
    if not 0 < port < 65536:
        problems.append(f"--port {port} is not a TCP port.")
    elif not port_free(port):
        problems.append(f"port {port} on 127.0.0.1 is in use (or needs root).\n"
                        "  Fix: stop what uses it, or pick another: `ssomw demo --port 8081`.")
    return problems


# -- the stack ----------------------------------------------------------------------------------

@dataclass
class DemoInfo:
    """What the demo is running; given to ready_callback."""

    port: int
    workdir: Path
    urls: dict[str, str]
    discovery_url: str
    ports: dict[str, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)


class Demo:
    """Starts the parts in dependency order; stop() is safe after a partial start."""

    def __init__(self, repo: Path, port: int, workdir: Path) -> None:
        self.repo, self.port, self.workdir = repo, port, workdir
        self.apps: dict[str, DemoApp] = {}
        self.provider: Any = None
        self.gateway: Any = None
        self.nginx: Any = None

    def url(self, app: str, path: str = "/") -> str:
        return f"http://{app}.{DOMAIN}:{self.port}{path}"

    def config(self, client_secret: str) -> dict[str, Any]:
        return {
            "server": {"trusted_proxies": ["127.0.0.1/32"]},
            "store": {"backend": "sqlite", "path": str(self.workdir / "ssomw.db")},
            "session": {"domain": DOMAIN, "secure": False,
                        "secret_keys": [secrets.token_urlsafe(48)],
                        "idle_timeout": "1h", "max_lifetime": "8h"},
            "providers": [{"id": "demo", "name": "Demo provider", "issuer": self.provider.issuer,
                           "client_id": CLIENT_ID, "client_secret": client_secret,
                           "scopes": ["openid", "email", "profile", "groups"]}],
            "apps": [
                {"id": "app-a", "hosts": [f"app-a.{DOMAIN}"], "upstream": self.apps["app-a"].url,
                 "rules": [{"paths": ["^/public/"], "policy": "bypass"}]},
                {"id": "app-b", "hosts": [f"app-b.{DOMAIN}"], "upstream": self.apps["app-b"].url,
                 "allowed_groups": [GROUP]},
            ],
            "logging": {"level": "info", "format": "text"},
        }

    def start(self) -> DemoInfo:
        from ssomw.config import from_text
        from ssomw.nginxconf import full_config
        from tests.support.gateway import GatewayProcess
        from tests.support.nginx import Nginx
        from tests.support.oidc_provider import OidcProvider

        for name, title in APPS.items():
            other = "app-b" if name == "app-a" else "app-a"
            self.apps[name] = DemoApp(name, title, [
                (f"Open {APPS[other]}", self.url(other)),
                ("A public page of app A (no sign-in needed)", self.url("app-a", "/public/")),
                ("Sign out", self.url(name, "/sso/logout")),
            ])
        client_secret = secrets.token_urlsafe(32)
        self.provider = OidcProvider(self.workdir / "provider", users=USERS, clients=[{
            "client_id": CLIENT_ID, "client_secret": client_secret,
            "redirect_uris": [self.url(a, "/sso/callback") for a in APPS],
            "post_logout_redirect_uris": [self.url(a, "/sso/logged-out") for a in APPS],
        }]).start()
        config = self.config(client_secret)
        self.gateway = GatewayProcess(self.workdir / "gateway", config, workers=2).start()
        nginx_conf = full_config(from_text(yaml.safe_dump(config)), gateway=self.gateway.bind,
                                 listen=f"127.0.0.1:{self.port}",
                                 cache_path=str(self.workdir / "nginx" / "cache"),
                                 snippet_dir=str(self.repo / "nginx"))
        self.nginx = Nginx(self.workdir / "nginx", nginx_conf, listen_ports=[self.port]).start()
        return DemoInfo(
            port=self.port, workdir=self.workdir,
            urls={name: self.url(name) for name in APPS},
            discovery_url=f"{self.provider.issuer}/.well-known/openid-configuration",
            ports={"nginx": self.port, "gateway": self.gateway.port,
                   "provider": self.provider.port,
                   **{name: app.port for name, app in self.apps.items()}},
            users={name: user["password"] for name, user in USERS.items()},
        )

    def dead_part(self) -> tuple[str, str] | None:
        """(name, log tail) of a process that exited on its own, else None."""
        for name, part in (("nginx", self.nginx), ("gateway", self.gateway),
                           ("OpenID provider", self.provider)):
            if part is not None and not part.process.running:
                return name, part.log_tail()
        return None

    def stop(self) -> None:
        for part in (self.nginx, self.gateway, self.provider):
            if part is not None:
                part.stop()
        for app in self.apps.values():
            app.stop()


def summary(info: DemoInfo, keep: bool) -> str:
    a, b, p = info.urls["app-a"], info.urls["app-b"], info.ports
    users = "\n".join(f"         {name:<5} / {password:<12} "
                      f"({'in' if GROUP in USERS[name]['groups'] else 'not in'} group {GROUP})"
                      for name, password in info.users.items())
    where = "kept after exit" if keep else "removed at exit"
    return f"""
ssomw demo is up. Plain http on loopback: cookies are set with `secure: false`.

  Open:  {a}   (app A: any signed-in user; /public/ is open to all)
         {b}   (app B: group {GROUP} only)
  Users:
{users}

  Things to try:
  1. Open app A and sign in as alice: the page lists the X-Auth-Request-* headers it received.
  2. Follow the link to app B: alice is already signed in there (one cookie for *.{DOMAIN}).
  3. Sign out (link on each page, confirm at the provider): both apps ask you to sign in again.
  4. Sign in as bob: app A lets him in, app B answers 403 (bob is not in {GROUP}).
  5. {a}public/ works without signing in.
  6. Forged headers are overwritten by nginx; the app never sees "admin":
       curl -H 'X-Auth-Request-User: admin' {a}public/
  7. The provider's discovery document: {info.discovery_url}

  Behind the scenes: gateway 127.0.0.1:{p['gateway']}, provider 127.0.0.1:{p['provider']},
    apps 127.0.0.1:{p['app-a']} and 127.0.0.1:{p['app-b']}.
  Files and logs: {info.workdir} ({where}).
  Press Ctrl-C to stop.
"""


def run_demo(port: int = 8080, workdir: Path | None = None, *,
             ready_callback: Callable[[DemoInfo], None] | None = None,
             stop_event: threading.Event | None = None) -> None:
    """Run until Ctrl-C / SIGTERM (or until `stop_event` is set), then stop every part.

    `ready_callback` and `stop_event` let a test drive the demo in-process (from any thread);
    signal handlers are installed only when called from the main thread.
    """
    try:
        repo = find_repo()
        problems = missing_prerequisites(repo, port)
    except DemoError as exc:
        problems = [str(exc)]
    if problems:
        print("ssomw demo cannot start:", file=sys.stderr)
        for problem in problems:
            print(f"- {problem}", file=sys.stderr)
        raise SystemExit(2)

    keep = workdir is not None
    root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="ssomw-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    stop = stop_event or threading.Event()
    started = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        if not started.is_set():
            raise KeyboardInterrupt  # interrupt a start-up still in progress

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    demo = Demo(repo, port, root)
    try:
        error = _serve(demo, stop, started, keep, ready_callback)
    except KeyboardInterrupt:  # a signal just as start-up finished
        error = None
    finally:
        started.set()  # from here on a signal only asks to stop, which is under way
        print("Stopping ...", flush=True)
        demo.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if error:
        print(error, file=sys.stderr)
        raise SystemExit(1)
    print("Stopped.", flush=True)


def _serve(demo: Demo, stop: threading.Event, started: threading.Event, keep: bool,
           ready_callback: Callable[[DemoInfo], None] | None) -> str | None:
    """Start, print what to try, wait for the stop; the error to show, if any."""
    print(f"Starting the ssomw demo in {demo.workdir} ...", flush=True)
    try:
        info = demo.start()
    except KeyboardInterrupt:
        return None
    except (RuntimeError, TimeoutError, OSError) as exc:
        return f"ssomw demo could not start: {exc}"
    started.set()
    print(summary(info, keep), flush=True)
    if ready_callback is not None:
        ready_callback(info)
    while not stop.wait(1.0):
        dead = demo.dead_part()
        if dead:
            return f"The {dead[0]} stopped unexpectedly; the end of its log:\n{dead[1]}"
    return None
