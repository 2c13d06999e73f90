"""The e2e Stack, reshaped for benchmarks: many users, nginx serving files, a baseline backend.

One nginx on one port holds every scenario, told apart by Host:

* ``static.bench.localhost``: a plain static file, no auth (scenario a);
* ``app-a|app-b.ssomw.localhost``: the server blocks ``ssomw nginx`` generates (the repo's
  snippet files, ``ssomw.integration.nginx.full_config``), with ``proxy_pass`` swapped for the same
  static file, so a and b/c differ only by the auth (scenarios b, c);
* ``app-a|app-b.baseline.localhost``: the same snippets pointed at the 40-line HMAC app
  (``baseline_app.py``) instead of the gateway (scenario d).

Decision caching is switched with ``nginx_conf(cache=...)`` + ``Nginx.reload``, as
``ssomw nginx --no-cache`` would. The cache directory is the caller's (tmpfs by default).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from ssomw.integration.nginx import full_config
from tests.bench.baseline_app import sign
from tests.e2e.stack import REPO, Stack
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port, wait_port_closed
from tests.support.nginx import Nginx
from tests.support.oidc_provider import TEST_PASSWORD, OidcProvider
from tests.support.process import ManagedProcess, wait_ready
from tests.support.resolve import patch_localhost_resolution
from tests.support.signin import sign_in

APPS = ("app-a", "app-b")
BACKENDS = ("sqlite", "redis", "redis-cluster")  # the session stores the benches measure
STATIC_HOST = "static.bench.localhost"
PLACEHOLDER = "http://127.0.0.1:9/bench-static"  # replaced by `root` + `try_files` in nginx
SNIPPETS = REPO / "nginx"
PAGE = "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Bench page</title>" \
       "</head>\n<body><main>\n" + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing " \
       "elit, sed do eiusmod tempor incididunt ut labore.</p>\n" * 18 + "</main></body></html>\n"


class _NoUpstream:
    """Stands in for the e2e EchoApps: nginx serves the file itself."""

    url = PLACEHOLDER

    def stop(self) -> None:
        pass


def cookie_header(index: int, name: str, value: str) -> str:
    """The SSO cookie amid a browser's usual others (analytics, preferences, CSRF)."""
    before = (f"_ga=GA1.1.{1000000000 + index * 7919}.1719{index:06d}; "
              f"_gid=GA1.1.{index * 31337}; theme=dark; lang=en-US")
    after = f"csrftoken={secrets.token_hex(16)}; _pk_id.1.1fff=4f2a{index:04x}.1719000000"
    return f"{before}; {name}={value}; {after}"


class BenchStack(Stack):
    def __init__(self, workdir: Path, *, users: int, cache_dir: Path, backend: str = "sqlite",
                 workers: int = 2) -> None:
        super().__init__(workdir, backend=backend, cache=True, workers=workers)
        self.user_names = [f"user{i:03d}" for i in range(users)]
        self.cache_dir = cache_dir
        self.static_dir = workdir / "static"
        self.many_apps = False
        self.baseline_port = free_port()
        self.baseline = ManagedProcess("baseline gunicorn", workdir / "baseline" / "out.log")

    def host(self, app: str, kind: str = "ssomw") -> str:
        return STATIC_HOST if kind == "static" else f"{app}.{kind}.localhost"

    def users(self) -> dict[str, dict[str, Any]]:
        return {name: {"email": f"{name}@example.com", "email_verified": True,
                       "name": f"User {name[4:]}", "preferred_username": name,
                       "groups": ["staff", "app-b-users"]} for name in self.user_names}

    def apps_config(self) -> list[dict[str, Any]]:
        apps = super().apps_config()
        for app in apps:  # bearer clients (scenario e): the provider's tokens for bench-api
            app["api"] = {"bearer": {"providers": ["idp"], "audiences": ["bench-api"]}}
        return many_apps(apps) if self.many_apps else apps

    def bearer_tokens(self, names: list[str]) -> list[str]:
        """One access token per user, signed by the provider's key, valid for an hour."""
        assert self.provider is not None
        now = int(time.time())
        return [self.provider.sign({
            "iss": self.provider.issuer, "sub": name, "preferred_username": name,
            "aud": "bench-api", "client_id": "bench", "scope": "openid", "iat": now,
            "exp": now + 3600, "groups": ["staff", "app-b-users"],
            "email": f"{name}@example.com", "email_verified": True}) for name in names]

    def start_providers(self) -> None:
        self.provider = OidcProvider(self.workdir / "idp", users=self.users(),
                                     clients=[self.client()]).start()

    # -- nginx

    def nginx_conf(self, cache: bool | None = None, diag_log: Path | None = None) -> str:
        """The whole http-level config; ``diag_log``: also log, for the protected apps, each
        request's end time, duration and the auth subrequest's cache status (costs CPU)."""
        assert self.gateway is not None
        cache = self.cache if cache is None else cache
        listen = f"127.0.0.1:{self.port}"
        files = f"root {self.static_dir};\n        try_files /page.html =404;"
        protected_files, diag = files, ""
        if diag_log is not None:
            diag = "log_format bench_diag '$msec $request_time $host $status $bench_cache';\n"
            protected_files = (f"{files}\n        auth_request_set $bench_cache "
                               "$upstream_cache_status;\n"
                               f"        access_log {diag_log} bench_diag buffer=256k;")
        protected = full_config(self.config(), gateway=self.gateway.bind, listen=listen,
                                cache_path=str(self.cache_dir), snippet_dir=str(SNIPPETS),
                                cache=cache, app_ids=APPS)
        marker = f"proxy_pass {PLACEHOLDER};"
        assert protected.count(marker) == len(APPS), protected
        protected = protected.replace(marker, protected_files)
        server = (SNIPPETS / "ssomw-server.conf").read_text()
        assert "http://ssomw" in server
        baseline_server = server.replace("http://ssomw", "http://bench_baseline")
        names = " ".join(self.host(app, "baseline") for app in APPS)
        return f"""{diag}{protected}
upstream bench_baseline {{
    server 127.0.0.1:{self.baseline_port};
    keepalive 32;
}}
server {{
    listen {listen};
    server_name {names};
{indent(baseline_server)}
    location / {{
        include {SNIPPETS}/ssomw-protect.conf;
        {files}
    }}
}}
server {{
    listen {listen};
    server_name {STATIC_HOST};
    location / {{
        {files}
    }}
}}
"""

    # -- processes

    def start(self) -> BenchStack:
        self.static_dir.mkdir(parents=True, exist_ok=True)
        (self.static_dir / "page.html").write_text(PAGE)
        self.start_store()
        self.apps = {name: _NoUpstream() for name in APPS}  # type: ignore[misc]
        self.start_providers()
        self.gateway = GatewayProcess(self.workdir / "gateway", self.config_dict(),
                                      workers=self.workers).start()
        self.gateways = [self.gateway]
        bind = f"127.0.0.1:{self.baseline_port}"
        self.baseline.start([sys.executable, "-m", "tests.bench.baseline_app", bind,
                             str(self.workers)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
        wait_ready(self.baseline, f"http://{bind}/auth", expect_status=401)
        self.nginx = Nginx(self.workdir / "nginx", self.nginx_conf(), listen_ports=[self.port],
                           access_log=False).start()
        return self

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.baseline.running:
                self.baseline.stop()
                wait_port_closed(self.baseline_port)

    def set_many_apps(self, on: bool) -> None:
        """Restart the gateway with (or without) 50 apps × 20 rules; sessions survive."""
        assert self.gateway is not None
        self.many_apps = on
        self.gateway.update_config(self.config_dict())

    def process_groups(self) -> dict[str, int | None]:
        return {"nginx": self.nginx.process.pid if self.nginx else None,
                "gateway": self.gateway.process.pid if self.gateway else None,
                "baseline": self.baseline.pid}

    # -- sessions

    def sign_in_all(self, names: list[str], parallel: int = 6) -> dict[str, str]:
        """user -> SSO cookie value, each from a full sign-in through nginx and the provider."""
        cookie = self.config()["session"]["name"]

        def one(index_name: tuple[int, str]) -> tuple[str, str]:
            index, name = index_name
            with requests.Session() as http:
                app = APPS[index % len(APPS)]
                response = sign_in(http, self.url(app, "/"), name, TEST_PASSWORD)
                if response.status_code != 200 or "Bench page" not in response.text:
                    raise RuntimeError(f"sign-in of {name} failed: {response.status_code} "
                                       f"{getattr(response, 'trail', response.url)}")
                return name, next(c.value for c in http.cookies if c.name == cookie)

        with patch_localhost_resolution(), ThreadPoolExecutor(parallel) as pool:
            return dict(pool.map(one, enumerate(names)))

    def baseline_cookie(self, name: str) -> str:
        return sign(name)


def many_apps(apps: list[dict[str, Any]], count: int = 50, rules: int = 20) -> list[dict[str, Any]]:
    """``count`` apps (the benchmark's own among them), each with ``rules`` path rules that
    never match the benchmark's paths, placed before the app's own rules so all are tried."""
    def extra(app_no: int) -> list[dict[str, Any]]:
        return [{"paths": [f"^/zz{app_no:02d}-{r:02d}/(admin|api|internal)/",
                           rf"\.(bak|old|orig)-{app_no}-{r}$"],
                 "policy": ("deny", "bypass", "authenticated")[r % 3]} for r in range(rules)]

    out = [{**app, "rules": extra(i) + list(app.get("rules", []))} for i, app in enumerate(apps)]
    for i in range(len(apps), count):
        out.append({"id": f"extra-{i:02d}", "hosts": [f"extra-{i:02d}.ssomw.localhost"],
                    "upstream": PLACEHOLDER, "rules": extra(i)})
    return out


def indent(text: str, spaces: int = 4) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))
