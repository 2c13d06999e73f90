"""Everything one gateway process needs at run time, built once from a validated Config.

Views and the auth endpoint take what they need from here; nothing else holds global state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ssomw.config import Config
from ssomw.core.networks import parse_networks
from ssomw.identity.keys import KeyRing
from ssomw.identity.users import Identities
from ssomw.oidc.provider import Providers
from ssomw.pages.templating import Pages
from ssomw.session.manager import Sessions, SessionSettings
from ssomw.store import open_store
from ssomw.store.base import Store
from ssomw.telemetry import metrics

log = logging.getLogger("ssomw")


class OutageLog:
    """Logs a store outage once per interval instead of once per request (a flood helps nobody)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._last = float("-inf")
        self._suppressed = 0
        self._down = False
        self._lock = threading.Lock()

    def failed(self, what: str, exc: BaseException) -> None:
        metrics.store_error(what)
        with self._lock:
            now = self.clock()
            self._down = True
            if now - self._last < self.interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        log.error("store unavailable during %s: %s (%d similar errors suppressed); "
                  "failing closed with 503", what, type(exc).__name__, suppressed)

    def ok(self) -> None:
        if self._down:
            with self._lock:
                if self._down:
                    self._down = False
                    self._last = float("-inf")
                    log.warning("store reachable again")


@dataclass
class Runtime:
    config: Config
    store: Store
    sessions: Sessions
    providers: Providers
    outage: OutageLog
    trusted_proxies: tuple[Any, ...]
    redirect_hosts: tuple[str, ...]
    identities: Identities
    pages: Pages
    admin_networks: tuple[Any, ...]
    keys: KeyRing  # the gateway's own signing keys (identity assertions, jwks.json)

    @classmethod
    def build(cls, config: Config, store: Store | None = None) -> Runtime:
        store = store or open_store(config["store"])
        app_hosts = [h for app in config["apps"] for h in app["hosts"]]
        public = config["server"].get("public_url")
        public_host = [urlsplit(public).hostname or ""] if public else []
        return cls(
            config=config,
            store=store,
            sessions=Sessions(store, SessionSettings.from_config(config["session"])),
            providers=Providers(config["providers"]),
            outage=OutageLog(config["store"]["outage_log_interval"]),
            trusted_proxies=parse_networks(config["server"]["trusted_proxies"]),
            redirect_hosts=tuple(app_hosts + config["server"]["allowed_redirect_hosts"]
                                 + public_host),
            identities=Identities(config.data, store),
            pages=Pages.from_config(config),
            admin_networks=parse_networks(config["admin"]["allow_from"]),
            keys=KeyRing(store, config["session"]["secret_keys"]),
        )

    @property
    def prefix(self) -> str:
        return self.config.prefix
