"""The demo's upstream apps: tiny HTTP servers (threads) that show what nginx passed them.

A browser gets an HTML page listing the ``X-Auth-Request-*`` headers (or, when there are none,
why) — or, at the app's own login path, a login form; anything else gets the request as JSON,
which is what the tests and ``curl`` read.
"""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:.25rem .6rem;
text-align:left}}th{{background:#f4f4f4}}code{{background:#f4f4f4;padding:0 .2rem}}
.note{{border-left:4px solid #c90;padding:.2rem .8rem;background:#fff8e6}}</style>
</head><body>
<h1>{title}</h1>
<p>{about}</p>
{identity}
<p>Path: <code>{path}</code></p>
<ul>{links}</ul>
</body></html>
"""


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{app}: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;background:#f4f1ea;color:#222;margin:0;
min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1rem}}
main{{background:#fff;border:1px solid #d8d2c4;border-radius:10px;padding:2rem;width:100%;
max-width:22rem;box-shadow:0 6px 20px rgba(0,0,0,.08)}}h1{{font-size:1.35rem;margin:0 0 .25rem}}
.sub{{color:#666;margin:0 0 1.25rem}}label{{display:block;font-weight:600;margin:.75rem 0 .25rem}}
input{{width:100%;box-sizing:border-box;padding:.55rem .7rem;font:inherit;border:1px solid #999;
border-radius:6px}}button{{margin-top:1.25rem;width:100%;padding:.65rem;font:inherit;
font-weight:600;border:0;border-radius:6px;background:#7a4b00;color:#fff;cursor:pointer}}
.note{{margin-top:1.25rem;font-size:.875rem;color:#555;border-left:4px solid #c90;
padding:.2rem .8rem;background:#fff8e6}}</style>
</head><body><main>
<h1>{app}</h1>
<p class="sub">Sign in with your {app} account</p>
{message}
<form method="post" action="{action}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="note">{app}'s own login page (<code>{action}</code>). While single sign-on is
enforced it is hidden: only an emergency session reaches it {who}.</p>
</main></body></html>
"""


def render_login(app: str, action: str, headers: dict[str, str], posted: bool) -> str:
    """The app's own login form (``local_login_paths``): what an emergency session reaches.
    The demo app has no accounts of its own, so a posted form only says so."""
    user = headers.get("X-Auth-Request-User") or headers.get("x-auth-request-user")
    who = f"(you are here as <code>{html.escape(user)}</code>)" if user else ""
    message = ('<p class="note">The demo app has no accounts of its own: in a real app this '
               'form would sign you in.</p>') if posted else ""
    return LOGIN_PAGE.format(app=html.escape(app), action=html.escape(action), who=who,
                             message=message)


def render_page(title: str, about: str, anonymous: str, path: str, headers: dict[str, str],
                links: list[tuple[str, str]]) -> str:
    """The HTML a browser sees: who nginx says the user is, and where to go next.

    `about` and `anonymous` are trusted HTML written by the demo itself; everything from the
    request is escaped.
    """
    identity = sorted((k, v) for k, v in headers.items()
                      if k.lower().startswith("x-auth-request-"))
    if identity:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                       for k, v in identity)
        shown = ("<p>nginx passed these identity headers from the gateway:</p>"
                 f"<table><tr><th>Header</th><th>Value</th></tr>{rows}</table>")
    else:
        shown = f'<p class="note">No identity headers. {anonymous}</p>'
    items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>'
                    for text, href in links)
    return PAGE.format(title=html.escape(title), about=about, identity=shown,
                       path=html.escape(path), links=items)


class _AppHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _AppServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        s = self.server
        page_path = self.path.split("?", 1)[0]
        if "text/html" in self.headers.get("Accept", "") and s.login_path and (
                page_path == s.login_path or page_path.startswith(s.login_path + "/")):
            payload = render_login(s.short_name, s.login_path, headers,
                                   self.command == "POST").encode()
            ctype = "text/html; charset=utf-8"
        elif "text/html" in self.headers.get("Accept", ""):
            payload = render_page(s.title, s.about, s.anonymous, self.path, headers,
                                  s.links).encode()
            ctype = "text/html; charset=utf-8"
        else:
            payload = json.dumps({"app": s.name, "method": self.command, "path": self.path,
                                  "headers": headers,
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
    name = title = about = anonymous = short_name = login_path = ""
    links: list[tuple[str, str]] = []


class DemoApp:
    """An app on 127.0.0.1 (a thread): HTML for browsers, JSON of the request otherwise."""

    def __init__(self, name: str, title: str, *, about: str, anonymous: str,
                 links: list[tuple[str, str]], short_name: str = "",
                 login_path: str = "") -> None:
        self.server = _AppServer(("127.0.0.1", 0), _AppHandler)
        s = self.server
        s.name, s.title, s.about, s.anonymous, s.links = name, title, about, anonymous, links
        s.short_name, s.login_path = short_name or name, login_path
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,),
                                       name=f"demo-{name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
