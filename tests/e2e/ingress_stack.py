"""The real chain through an nginx shaped like the one ingress-nginx generates from the Ingress
objects ``ssomw proxy ingress-nginx`` prints: nginx → gateway ``/sso/auth`` → oidc-provider.

The server blocks follow ingress-nginx's template for ``auth-url``/``auth-signin``/
``auth-response-headers``/``configuration-snippet``: an internal location proxying to
``auth-url`` with ``X-Original-URL``, ``X-Original-Method``, ``X-Sent-From``,
``X-Auth-Request-Redirect`` and ``Host`` set to the auth host; ``auth_request_set`` +
``proxy_set_header`` per response header; ``error_page 401`` to a named location returning 302
to ``auth-signin``. Two stand-ins: Service names resolve through a table (cluster DNS), and
``$escaped_request_uri`` is ``$request_uri`` (ingress-nginx sets it with OpenResty's
``set_escape_uri``, which Debian's nginx lacks), so tests navigate to URIs without a query.
"""

from __future__ import annotations

import subprocess
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.support.gateway import GatewayProcess
from tests.support.nginx import Nginx

from .stack import REPO, Stack

A = "nginx.ingress.kubernetes.io/"


def printed_ingress(gateway: GatewayProcess, upstreams: dict[str, str]) -> list[dict[str, Any]]:
    """What ``ssomw proxy ingress-nginx`` prints for this gateway's configuration file."""
    args = [f"--upstream={app}={url}" for app, url in upstreams.items()]
    result = subprocess.run(
        [str(REPO / ".venv/bin/ssomw"), "proxy", "ingress-nginx", "-c", str(gateway.config_path),
         "--gateway", f"ssomw:{gateway.port}", *args],
        capture_output=True, text=True, timeout=60, check=True)
    return list(yaml.safe_load_all(result.stdout))


def service_address(backend: dict[str, Any], dns: dict[str, str]) -> str:
    return f"{dns[backend['service']['name']]}:{backend['service']['port']['number']}"


def ingress_nginx_conf(docs: list[dict[str, Any]], port: int, dns: dict[str, str]) -> str:
    """The http-level nginx configuration ingress-nginx would generate for these Ingresses."""
    servers: dict[str, list[str]] = {}
    for n, doc in enumerate(d for d in docs if d["kind"] == "Ingress"):
        notes = doc["metadata"].get("annotations", {})
        for rule in doc["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                upstream = service_address(path["backend"], dns)
                common = ("        proxy_set_header Host $http_host;\n"
                          "        proxy_set_header X-Forwarded-For $remote_addr;\n"
                          "        proxy_set_header X-Forwarded-Host $http_host;\n"
                          "        proxy_set_header X-Forwarded-Proto $scheme;\n")
                if A + "auth-url" not in notes:
                    body = (f"    location {path['path']} {{\n{common}"
                            f"{notes.get(A + 'configuration-snippet', '')}"
                            f"        proxy_pass http://{upstream};\n    }}\n")
                else:
                    auth = urlsplit(notes[A + "auth-url"])
                    auth_at = f"{dns[auth.hostname]}:{auth.port}"
                    names = notes[A + "auth-response-headers"].split(",")
                    copied = "".join(
                        f"        auth_request_set $authHeader{i} $upstream_http_"
                        f"{h.lower().replace('-', '_')};\n"
                        f"        proxy_set_header '{h}' $authHeader{i};\n"
                        for i, h in enumerate(names))
                    body = (
                        f"    location = /_external-auth-{n} {{\n        internal;\n"
                        "        proxy_pass_request_body off;\n"
                        '        proxy_set_header Content-Length "";\n'
                        '        proxy_set_header X-Forwarded-Proto "";\n'
                        f"        proxy_set_header Host {auth.hostname};\n"
                        "        proxy_set_header X-Original-URL $scheme://$http_host$request_uri;\n"
                        "        proxy_set_header X-Original-Method $request_method;\n"
                        '        proxy_set_header X-Sent-From "nginx-ingress-controller";\n'
                        "        proxy_set_header X-Real-IP $remote_addr;\n"
                        "        proxy_set_header X-Forwarded-For $remote_addr;\n"
                        "        proxy_set_header X-Auth-Request-Redirect $request_uri;\n"
                        "        proxy_http_version 1.1;\n"
                        f"        proxy_pass http://{auth_at}{auth.path};\n    }}\n"
                        f"    location @external-auth-signin-{n} {{\n"
                        f"        return 302 {notes[A + 'auth-signin']};\n    }}\n"
                        f"    location {path['path']} {{\n"
                        "        set $escaped_request_uri $request_uri;\n"
                        f"        auth_request /_external-auth-{n};\n"
                        "        auth_request_set $auth_cookie $upstream_http_set_cookie;\n"
                        "        add_header Set-Cookie $auth_cookie;\n"
                        f"{copied}"
                        f"        error_page 401 = @external-auth-signin-{n};\n{common}"
                        f"{notes.get(A + 'configuration-snippet', '')}"
                        f"        proxy_pass http://{upstream};\n    }}\n")
                servers.setdefault(rule["host"], []).append(body)
    return "".join(f"server {{\n    listen 127.0.0.1:{port};\n    server_name {host};\n"
                   + "".join(bodies) + "}\n" for host, bodies in servers.items())


class IngressStack(Stack):
    def start(self) -> IngressStack:
        self.start_behind_the_proxy()
        upstreams = {name: f"http://{name}:{urlsplit(app.url).port}"
                     for name, app in self.apps.items()}
        self.ingresses = printed_ingress(self.gateway, upstreams)
        dns = {"ssomw": "127.0.0.1", **{name: "127.0.0.1" for name in self.apps}}
        self.nginx = Nginx(self.workdir / "nginx",
                           ingress_nginx_conf(self.ingresses, self.port, dns),
                           listen_ports=[self.port]).start()
        return self
