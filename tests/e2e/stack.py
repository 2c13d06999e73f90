"""The whole real chain for end-to-end tests: nginx → gateway → oidc-provider (+ Redis).

Two apps behind one nginx port on their own names (`app-a.ssomw.localhost`,
`app-b.ssomw.localhost`), sharing one SSO cookie (`session.domain: ssomw.localhost`). nginx runs
the exact snippet files from `nginx/` with the http block `ssomw nginx` prints. ``backend`` is
``sqlite``, ``redis`` or ``redis-cluster`` (a 3-master Redis Cluster).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ssomw.config import Config, from_text
from ssomw.integration.nginx import full_config
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port
from tests.support.nginx import Nginx
from tests.support.oidc_provider import OidcProvider
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer
from tests.support.upstream import EchoApp

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "ssomw.localhost"
CLIENT_ID = "ssomw-e2e"
CLIENT_SECRET = "e2e-client-secret-0123456789"
SESSION_KEY = "e2e-session-key-0123456789-abcdefghijklmnop"
USERS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Example",
              "preferred_username": "alice", "groups": ["staff", "app-b-users"]},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob Example",
            "preferred_username": "bob", "groups": ["staff"]},
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class Stack:
    """Subclasses change the apps, providers or routing by overriding the *_config methods."""

    APP_NAMES: tuple[str, ...] = ("app-a", "app-b")

    def __init__(self, workdir: Path, backend: str = "sqlite", cache: bool = True,
                 overrides: dict[str, Any] | None = None, workers: int = 2,
                 instances: int = 1, provider_settings: dict[str, Any] | None = None,
                 provider_ttl: dict[str, int] | None = None):
        self.workdir = workdir
        self.backend = backend
        self.cache = cache
        self.overrides = overrides or {}
        self.workers = workers
        self.instances = instances
        self.provider_settings = provider_settings or {}
        self.provider_ttl = provider_ttl
        self.gateways: list[GatewayProcess] = []
        self.port = free_port()
        self.redis: RedisServer | None = None
        self.cluster: RedisCluster | None = None  # backend "redis-cluster": 3 masters
        self.provider: OidcProvider | None = None
        self.apps: dict[str, EchoApp] = {}
        self.gateway: GatewayProcess | None = None
        self.nginx: Nginx | None = None

    def host(self, app: str) -> str:
        return f"{app}.{DOMAIN}"

    def url(self, app: str, path: str = "/") -> str:
        return f"http://{self.host(app)}:{self.port}{path}"

    def config_dict(self) -> dict[str, Any]:
        assert self.provider is not None
        store: dict[str, Any] = (
            {"backend": "redis", "url": self.redis.url} if self.redis
            else {"backend": "redis", "url": self.cluster.url} if self.cluster
            else {"backend": "sqlite", "path": str(self.workdir / "ssomw.db")})
        config = {
            "server": {"trusted_proxies": ["127.0.0.1/32"]},
            "store": store,
            "session": {"domain": DOMAIN, "secure": False, "secret_keys": [SESSION_KEY],
                        "idle_timeout": "30m", "max_lifetime": "8h"},
            "providers": self.providers_config(),
            "apps": self.apps_config(),
            "logging": {"level": "info", "format": "json"},
        }
        return deep_merge(config, self.overrides)

    def providers_config(self) -> list[dict[str, Any]]:
        assert self.provider is not None
        return [{"id": "idp", "name": "Test IdP", "issuer": self.provider.issuer,
                 "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                 "scopes": ["openid", "email", "profile", "groups"],
                 "authoritative": ["username"], **self.provider_settings}]

    def apps_config(self) -> list[dict[str, Any]]:
        return [
            {"id": "app-a", "hosts": [self.host("app-a")], "upstream": self.apps["app-a"].url,
             "rules": [{"paths": ["^/public/"], "policy": "bypass"}]},
            {"id": "app-b", "hosts": [self.host("app-b")], "upstream": self.apps["app-b"].url,
             "allowed_groups": ["app-b-users"]},
        ]

    def client(self) -> dict[str, Any]:
        """The gateway's registration at a test provider."""
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "redirect_uris": [self.url(a, "/sso/callback") for a in self.apps],
                "post_logout_redirect_uris": [self.url(a, "/sso/logged-out") for a in self.apps],
                "backchannel_logout_uri": self.url("app-a", "/sso/backchannel-logout")}

    def start_providers(self) -> None:
        self.provider = OidcProvider(self.workdir / "idp", users=USERS, clients=[self.client()],
                                     ttl=self.provider_ttl).start()
        self.extra_providers: list[OidcProvider] = []

    def config(self) -> Config:
        return from_text(yaml.safe_dump(self.config_dict()))

    def nginx_conf(self) -> str:
        assert self.gateways
        return full_config(self.config(), gateway=[g.bind for g in self.gateways],
                           listen=f"127.0.0.1:{self.port}",
                           cache_path=str(self.workdir / "nginx-cache"),
                           snippet_dir=str(REPO / "nginx"), cache=self.cache)

    def start_store(self) -> None:
        """The shared store's server, if the backend has one."""
        if self.backend == "redis":
            self.redis = RedisServer().start()
        elif self.backend == "redis-cluster":
            self.cluster = RedisCluster().start()

    def start(self) -> Stack:
        self.start_behind_the_proxy()
        self.nginx = Nginx(self.workdir / "nginx", self.nginx_conf(),
                           listen_ports=[self.port]).start()
        return self

    def start_behind_the_proxy(self) -> None:
        """Everything but the front door: the store, the apps, the providers, the gateways
        (stacks for other proxies start their own door after this)."""
        self.start_store()
        for name in self.APP_NAMES:
            self.apps[name] = EchoApp(name)
        self.start_providers()
        for i in range(self.instances):
            self.gateways.append(GatewayProcess(self.workdir / f"gateway-{i}", self.config_dict(),
                                                workers=self.workers).start())
        self.gateway = self.gateways[0]

    def stop(self) -> None:
        for part in (self.nginx, *self.gateways, self.provider,
                     *getattr(self, "extra_providers", [])):
            if part is not None:
                part.stop()
        for app in self.apps.values():
            app.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.cluster is not None:
            self.cluster.stop()
