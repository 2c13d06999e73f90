"""The demo's parts and its configuration: two OpenID providers, slapd, the gateway, nginx and
three apps, started in dependency order on loopback.

The configuration is meant to be read: it is what a small company would write to put a wiki,
a team app and a service desk behind one sign-in (``<workdir>/gateway/ssomw.yaml``).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher

from ssomw.config import from_text
from ssomw.demo.apps import DemoApp
from ssomw.identity.users import set_local_groups
from ssomw.integration.nginx import full_config
from ssomw.store import open_store

DOMAIN = "ssomw.localhost"
TEAM = "team-b"
AGENTS = "agents"
ADMINS = "sso-admins"
CLIENT_ID = "ssomw-demo"
EMERGENCY_USER = "admin"
BRAND = "Example Corp"
PARTNER_BRAND = "Partner Co."
CHOOSE_TITLE = f"Sign in to {BRAND}"

#: The company's provider: staff. `password` replaces the provider's default password.
CORP_USERS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Example",
              "preferred_username": "alice", "groups": ["staff", TEAM],
              "password": "alice-demo"},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob Example",
            "preferred_username": "bob", "groups": ["staff"], "password": "bob-demo"},
}
#: The partner's provider: its users are known by e-mail (`claims.username: email`), so they
#: never collide with the company's directory, where a different carol lives.
PARTNER_USERS: dict[str, dict[str, Any]] = {
    "carol": {"email": "carol@partner.example", "email_verified": True,
              "name": "Carol Partner", "preferred_username": "carol", "groups": [AGENTS],
              "password": "carol-demo"},
}
APPS = {"app-a": "App A: the staff wiki", "app-b": f"App B: {TEAM} only",
        "desk": "Service desk: SSO for agents"}
NAMES = {"app-a": "App A", "app-b": "App B", "desk": "Service desk"}  # on the gateway's pages
LOCAL_LOGIN = {"app-a": "/login"}  # the app's own login page, hidden while SSO is enforced
ABOUT = {
    "app-a": "Any Example Corp user may enter (provider <code>corp</code> only); "
             "<code>/public/</code> is open to everyone (a <code>bypass</code> rule).",
    "app-b": f"Only members of <code>{TEAM}</code> get in (<code>allowed_groups</code>); "
             "everyone else sees the gateway's 403 page.",
    "desk": f"Members of <code>{AGENTS}</code> are signed in by SSO; everyone else passes "
            "through <em>without</em> identity (<code>denied_action: passthrough</code>).",
}
ANONYMOUS = {
    "app-a": "This path is public: a <code>bypass</code> rule needs no sign-in.",
    "app-b": "This page is public.",
    "desk": f"You are signed in, but not in <code>{AGENTS}</code>: the gateway let you "
            "through anonymously, so the desk's own login would take over here.",
}
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
        '<rect width="32" height="32" rx="7" fill="#2458d3"/><path d="M9 9h14v3.5H13v2.3h9v3.4'
        'h-9v2.3h10V24H9z" fill="#fff"/></svg>')


def demo_users(users: dict[str, dict[str, Any]]) -> str:
    """The line under a demo provider's sign-in form: who may sign in, with which password."""
    return "Demo users: " + ", ".join(f"{name} / {u['password']}" for name, u in users.items())


def url(port: int, app: str, path: str = "/") -> str:
    return f"http://{app}.{DOMAIN}:{port}{path}"


@dataclass
class DemoInfo:
    """What the demo is running; given to ready_callback and printed by summary()."""

    port: int
    workdir: Path
    config_path: Path
    urls: dict[str, str]
    discovery: dict[str, str]
    emergency_url: str
    emergency_password: str
    ports: dict[str, int] = field(default_factory=dict)


class Demo:
    """Starts the parts in dependency order; stop() is safe after a partial start."""

    def __init__(self, repo: Path, port: int, workdir: Path) -> None:
        self.repo, self.port, self.workdir = repo, port, workdir
        self.apps: dict[str, Any] = {}
        self.corp: Any = None
        self.partner: Any = None
        self.slapd: Any = None
        self.gateway: Any = None
        self.nginx: Any = None
        self.client_secret = secrets.token_urlsafe(32)
        self.emergency_path = f"/sso/break-glass-{secrets.token_hex(8)}"
        self.emergency_password = secrets.token_urlsafe(12)

    def url(self, app: str, path: str = "/") -> str:
        return url(self.port, app, path)

    def links(self, app: str) -> list[tuple[str, str]]:
        return [*((f"Open {APPS[other]}", self.url(other)) for other in APPS if other != app),
                ("App A's public page (no sign-in)", self.url("app-a", "/public/")),
                ("Sign out (every app at once)", self.url(app, "/sso/logout"))]

    def client(self) -> dict[str, Any]:
        """The gateway's registration at each provider: every app host may sign in there."""
        return {"client_id": CLIENT_ID, "client_secret": self.client_secret,
                "client_name": f"{BRAND} apps",  # "to continue to …" on the sign-in page
                "redirect_uris": [self.url(a, "/sso/callback") for a in APPS],
                "post_logout_redirect_uris": [self.url(a, "/sso/logged-out") for a in APPS]}

    def config(self, password_hash: str) -> dict[str, Any]:
        from tests.support.slapd import directory_settings

        def provider(pid: str, name: str, issuer: str, **extra: Any) -> dict[str, Any]:
            return {"id": pid, "name": name, "issuer": issuer, "client_id": CLIENT_ID,
                    "client_secret": self.client_secret,
                    "scopes": ["openid", "email", "profile", "groups"],
                    "authoritative": ["username"], **extra}

        def app(app_id: str, **extra: Any) -> dict[str, Any]:
            return {"id": app_id, "name": NAMES[app_id], "hosts": [f"{app_id}.{DOMAIN}"],
                    "upstream": self.apps[app_id].url, **extra}

        logo = base64.b64encode(LOGO.encode()).decode()
        return {
            "server": {"trusted_proxies": ["127.0.0.1/32"]},
            "store": {"backend": "sqlite", "path": str(self.workdir / "ssomw.db")},
            "session": {"domain": DOMAIN, "secure": False,
                        "secret_keys": [secrets.token_urlsafe(48)],
                        "idle_timeout": "1h", "max_lifetime": "8h"},
            "providers": [
                provider("corp", f"{BRAND} login", self.corp.issuer),
                provider("partner", "Partner login", self.partner.issuer,
                         claims={"username": "email"}),
            ],
            "routing": {"default": "choose",
                        "allowed_email_domains": ["example.com", "partner.example"]},
            "apps": [
                app("app-a", providers=["corp"], local_login_paths=[LOCAL_LOGIN["app-a"]],
                    rules=[{"paths": ["^/public/"], "policy": "bypass"}]),
                app("app-b", providers=["corp"], allowed_groups=[TEAM]),
                app("desk", allowed_groups=[AGENTS], denied_action="passthrough"),
            ],
            "groups": {"map": {"engineering": ["developers"]}},
            "directory": {"ldap": directory_settings(self.slapd)},
            "profile": {"department": {"ldap": "departmentNumber"}},
            "emergency": {"enabled": True, "path": self.emergency_path,
                          "allowed_groups": [ADMINS], "credentials": "local",
                          "local_users": [{"username": EMERGENCY_USER, "hash": password_hash}],
                          "max_lifetime": "1h"},
            "templates": {
                "brand": {"name": BRAND, "logo_url": f"data:image/svg+xml;base64,{logo}"},
                "support": {"email": "help@example.com",
                            "text": "Demo help desk: call extension 1234."},
                "messages": {"en": {
                    "choose.title": CHOOSE_TITLE,
                    "choose.intro": f"{BRAND} staff: use the {BRAND} login. "
                                    "Partner agents: use the partner login."}},
            },
            "logging": {"level": "info", "format": "text"},
        }

    def start(self) -> DemoInfo:
        from tests.support.gateway import GatewayProcess
        from tests.support.nginx import Nginx
        from tests.support.oidc_provider import OidcProvider
        from tests.support.slapd import BASE_LDIF, Slapd

        for name, title in APPS.items():
            self.apps[name] = DemoApp(name, title, about=ABOUT[name], anonymous=ANONYMOUS[name],
                                      links=self.links(name), short_name=NAMES[name],
                                      login_path=LOCAL_LOGIN.get(name, ""))
        self.slapd = Slapd(self.workdir / "ldap", ldif=[BASE_LDIF]).start()
        self.corp = OidcProvider(self.workdir / "corp", users=CORP_USERS,
                                 clients=[self.client()], brand=BRAND,
                                 hint=demo_users(CORP_USERS)).start()
        self.partner = OidcProvider(self.workdir / "partner", users=PARTNER_USERS,
                                    clients=[self.client()], brand=PARTNER_BRAND,
                                    hint=demo_users(PARTNER_USERS)).start()
        config = self.config(PasswordHasher().hash(self.emergency_password))
        loaded = from_text(yaml.safe_dump(config))
        store = open_store(loaded["store"])
        try:  # the emergency admin's group is a local one, assigned in the gateway's store
            set_local_groups(store, EMERGENCY_USER, [ADMINS])
        finally:
            store.close()
        self.gateway = GatewayProcess(self.workdir / "gateway", config, workers=2).start()
        # Profile headers depend on the config, so nginx gets snippets rendered for it.
        nginx_conf = full_config(loaded, gateway=self.gateway.bind,
                                 listen=f"127.0.0.1:{self.port}",
                                 cache_path=str(self.workdir / "nginx" / "cache"),
                                 snippet_dir=None)
        self.nginx = Nginx(self.workdir / "nginx", nginx_conf, listen_ports=[self.port]).start()
        return DemoInfo(
            port=self.port, workdir=self.workdir, config_path=self.gateway.config_path,
            urls={name: self.url(name) for name in APPS},
            discovery={pid: f"{p.issuer}/.well-known/openid-configuration"
                       for pid, p in (("corp", self.corp), ("partner", self.partner))},
            emergency_url=self.url("app-a", self.emergency_path),
            emergency_password=self.emergency_password,
            ports={"nginx": self.port, "gateway": self.gateway.port, "corp": self.corp.port,
                   "partner": self.partner.port, "ldap": self.slapd.port,
                   **{name: app.port for name, app in self.apps.items()}},
        )

    def parts(self) -> list[tuple[str, Any]]:
        return [("nginx", self.nginx), ("gateway", self.gateway),
                ("company OpenID provider", self.corp), ("partner OpenID provider", self.partner),
                ("LDAP directory", self.slapd)]

    def dead_part(self) -> tuple[str, str] | None:
        """(name, log tail) of a process that exited on its own, else None."""
        for name, part in self.parts():
            if part is not None and not part.process.running:
                return name, part.log_tail()
        return None

    def stop(self) -> None:
        for _, part in self.parts():
            if part is not None:
                part.stop()
        for app in self.apps.values():
            app.stop()
