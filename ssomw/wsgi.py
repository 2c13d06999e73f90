"""The WSGI entry point: gunicorn runs ``ssomw.wsgi:create_app()``.

The stack, outermost first::

    Gateway → {prefix}/auth  → AuthEndpoint (plain WSGI, the hot path: nothing in between)
            → {prefix}/forward-auth, {prefix}/ext-authz/… → FrontDoors (the same decision,
              answered for Traefik, Caddy, HAProxy and Envoy; its 403 page from the pages)
            → anything else → RequestId → TrustedProxies → SecurityHeaders → Flask app

Everything built from a configuration (runtime, Flask app, auth endpoint, proxy trust) is one
immutable :class:`Stack`. The Gateway swaps in a new Stack when a new configuration version
becomes active (or the file changes, with ``config_source: file``): in-flight requests finish
on the old one, and a version that fails to load here is logged and never used.

At start with ``config_source: store`` the file seeds version 1, or becomes a new version when
its content was never one (see :meth:`ConfigVersions.sync_file`); what happened, or that the
file is *not* in force, is printed on the console as well as logged.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ssomw import flask_app
from ssomw.broker.logout import ROUND_INTERVAL as BROKER_ROUND
from ssomw.broker.logout import safe_round
from ssomw.broker.server import Broker
from ssomw.config import Config, ConfigInvalid, config_path, load_config
from ssomw.config.versions import ConfigVersions, FileState, Version, canonical
from ssomw.gateway.housekeeping import Housekeeper, ProcessThread
from ssomw.gateway.runtime import Runtime
from ssomw.middleware.proxy import TrustedProxies
from ssomw.middleware.request_id import RequestId
from ssomw.middleware.security_headers import SecurityHeaders
from ssomw.store import open_store
from ssomw.store.base import Store, StoreUnavailable
from ssomw.store.forks import current_pid
from ssomw.telemetry.logs import configure_logging
from ssomw.views.auth import AuthEndpoint
from ssomw.views.forward_auth import FrontDoors

log = logging.getLogger("ssomw.config")
WATCH_INTERVAL = 1.0


@dataclass(frozen=True)
class Stack:
    runtime: Runtime
    auth_path: str
    auth: Callable[..., Iterable[bytes]]
    pages: Callable[..., Iterable[bytes]]
    version: int | None
    doors: FrontDoors
    broker: Broker | None = None  # set when broker.clients are configured


def build_stack(config: Config, runtime: Runtime | None = None,
                    version: int | None = None) -> Stack:
    runtime = runtime or Runtime.build(config)
    flask = flask_app(config, runtime)
    pages = RequestId(TrustedProxies(SecurityHeaders(flask.wsgi_app), runtime.trusted_proxies))
    auth = AuthEndpoint(runtime)
    return Stack(runtime, f"{config.prefix}/auth", auth, pages, version,
                 FrontDoors(auth, pages, config.prefix), flask.extensions.get("ssomw_broker"))


class Gateway:
    """Serves the current Stack and keeps it current."""

    def __init__(self, config: Config, runtime: Runtime | None = None):
        self.store: Store = runtime.store if runtime else open_store(config["store"])
        self.file_config = config
        self.versions = ConfigVersions(self.store,
                                       base_dir=config.source.parent if config.source else None)
        self.stack = self.initial_stack(config, runtime)
        self.housekeeper = Housekeeper(lambda: self.stack.runtime)
        self.watcher = ProcessThread(self._watch, "ssomw-config-watch")
        self.broker_logout = ProcessThread(self._broker_logout, "ssomw-broker-logout")
        self._threads_for: int | None = None  # the process the threads were started in

    @property
    def runtime(self) -> Runtime:
        return self.stack.runtime

    @property
    def from_store(self) -> bool:
        return self.file_config["admin"]["config_source"] == "store"

    def initial_stack(self, config: Config, runtime: Runtime | None) -> Stack:
        if not self.from_store or config.raw is None:
            return build_stack(config, runtime or Runtime.build(config, self.store))
        name = str(config.source or "the configuration")
        try:
            state, made = self.versions.sync_file(config.raw, name)
            active = self.versions.active()
        except StoreUnavailable:
            log.error("store unavailable at start: serving the file's configuration")
            active = None
        else:
            announce(file_news(state, made, name))
        if active is not None and canonical(active.data) != canonical(config.raw):
            try:
                stored = self.versions.validate(active.data)
                return build_stack(stored, Runtime.build(stored, self.store), active.number)
            except ConfigInvalid as exc:
                log.error("configuration version %d does not load here (%s); serving the "
                          "file's configuration", active.number, exc)
        return build_stack(config, runtime or Runtime.build(config, self.store),
                           active.number if active else None)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self._threads_for != current_pid():
            self.housekeeper.ensure_started()
            self.watcher.ensure_started()
            self.broker_logout.ensure_started()
            self._threads_for = current_pid()
        stack = self.stack
        path = environ.get("PATH_INFO", "")
        if path == stack.auth_path:
            return stack.auth(environ, start_response)
        if stack.doors.handles(path):
            return stack.doors(environ, start_response)
        return stack.pages(environ, start_response)

    def close(self) -> None:
        """Stop this process's upkeep threads (purge, config watch, broker logout) for good.
        A Gateway that is done serving but stays in a process (a test, an embedding app) would
        otherwise keep polling a store that may be gone, and a fork taken while one of them is
        inside SQLite can leave the child stuck on SQLite's lock."""
        for thread in (self.housekeeper.thread, self.watcher, self.broker_logout):
            thread.stop()

    def _broker_logout(self) -> None:
        """Back-channel logout to broker clients, about once a second (``broker/logout.py``)."""
        while not self.broker_logout.pause(BROKER_ROUND):
            broker = self.stack.broker
            if broker is not None:
                safe_round(broker.fan_out)

    def _watch(self) -> None:
        source = self.file_config.source
        mtime = source.stat().st_mtime if source and source.exists() else None
        while not self.watcher.pause(WATCH_INTERVAL):
            try:
                if self.from_store:
                    self.reload_from_store()
                elif source is not None:
                    mtime = self.reload_from_file(source, mtime)
            except Exception:  # never let the watcher die
                log.exception("configuration reload failed")

    def reload_from_store(self) -> None:
        try:
            number = self.versions.active_number()
        except StoreUnavailable:
            return
        if number is None or number == self.stack.version:
            return
        version = self.versions.get(number)
        if version is None:
            return
        try:
            config = self.versions.validate(version.data)
        except ConfigInvalid as exc:
            log.error("configuration version %d does not load here: %s", number, exc)
            self.stack = replace(self.stack, version=number)  # don't retry
            return
        self.swap(config, number)

    def reload_from_file(self, source: Path, mtime: float | None) -> float | None:
        current = source.stat().st_mtime if source.exists() else None
        if current == mtime:
            return mtime
        try:
            config = load_config(source)
        except ConfigInvalid as exc:
            log.error("%s changed but is invalid; keeping the running configuration: %s",
                      source, exc)
            return current
        self.file_config = config
        self.swap(config, None)
        return current

    def swap(self, config: Config, number: int | None) -> None:
        self.stack = build_stack(config, Runtime.build(config, self.store), number)
        log.warning("configuration %s is now active",
                    f"version {number}" if number else "from the file")


def file_news(state: FileState, made: Version | None, name: str
              ) -> tuple[int, str | None]:
    """What an operator must hear about the file at start, and how loudly (no message:
    nothing to say, the file is what runs)."""
    if made is not None and state.status == "empty":
        return logging.INFO, f"configuration version {made.number} seeded from {name}"
    if made is not None:
        return logging.WARNING, (
            f"{name} changed since it was last applied: it is now configuration version "
            f"{made.number} (replacing version {state.active}; `ssomw config rollback "
            f"{state.active}` brings that back)")
    if state.status == "superseded":
        return logging.WARNING, (
            f"{name} differs from the active configuration version {state.active}, which "
            f"stays in force: the file is version {state.match}, changed since through the "
            f"API, the CLI or a rollback. To apply the file: ssomw config import {name}")
    return logging.INFO, None


def announce(news: tuple[int, str | None]) -> None:
    """A plain console line as well as the log record (logs may be JSON, or go elsewhere)."""
    level, message = news
    if message:
        log.log(level, message)
        print(f"ssomw: {message}", file=sys.stderr, flush=True)


def create_app(path: str | None = None) -> Any:
    """Load the config (``-c``/``$SSOMW_CONFIG``/``conf/ssomw.yaml``) and build the stack."""
    config = load_config(config_path(path))
    configure_logging(config["logging"])
    return Gateway(config)
