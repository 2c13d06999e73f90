"""The Traefik side (v3 dynamic configuration, file provider): ``forwardAuth`` to
``/sso/forward-auth``.

Per app a router through two middlewares, in order: ``ssomw-strip`` deletes every identity
header the client sent (a ``customRequestHeaders`` entry with an empty value removes it), then
``ssomw-auth`` asks the gateway and copies its headers (``authResponseHeaders``; the gateway's
allow answer carries every one of them, empty when unset). Traefik hands the gateway's other
answers (302 to sign in, 401, the 403 page) to the browser. The gateway's pages get their own
router per site; its proxy endpoints are rewritten to a path the gateway answers 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ssomw.config import Config
from ssomw.integration.common import (
    EXT_AUTHZ,
    FORWARD_AUTH,
    copied_headers,
    sites,
    to_yaml,
    upstream_of,
)


def host_rule(hosts: list[str]) -> str:
    """``Host(`a`) || HostRegexp(`^[^.]+\\.b$`)`` (Traefik v3 syntax for ``*.`` wildcards)."""
    rules = []
    for host in hosts:
        if host.startswith("*."):
            rules.append("HostRegexp(`^[^.]+" + host[1:].replace(".", "\\.") + "$`)")
        else:
            rules.append(f"Host(`{host}`)")
    return " || ".join(rules)


def traefik_config(config: Config, *, gateway: str, app_ids: Iterable[str] | None = None,
                   upstreams: dict[str, str] | None = None, entrypoint: str | None = None,
                   command: str | None = None) -> str:
    """The dynamic configuration (YAML) for the configured apps (``ssomw proxy traefik``)."""
    prefix = config.prefix
    copied = copied_headers(config)
    gateway_url = gateway if "://" in gateway else f"http://{gateway}"
    middlewares: dict[str, Any] = {
        "ssomw-strip": {"headers": {"customRequestHeaders": {h: "" for h in copied}}},
        "ssomw-auth": {"forwardAuth": {"address": f"{gateway_url}{prefix}{FORWARD_AUTH}",
                                       "trustForwardHeader": False,
                                       "authResponseHeaders": copied}},
        "ssomw-proxy-only": {"replacePath": {"path": f"{prefix}/proxy-endpoint"}},
    }
    routers: dict[str, Any] = {}
    services: dict[str, Any] = {"ssomw": {"loadBalancer": {"servers": [{"url": gateway_url}]}}}
    extra = {"entryPoints": [entrypoint]} if entrypoint else {}
    for n, site in enumerate(sites(config, app_ids)):
        hosts = f"({host_rule(site.hosts)})"
        routers[f"ssomw-pages-{n}"] = {
            "rule": f"{hosts} && PathPrefix(`{prefix}/`)", "service": "ssomw",
            "middlewares": ["ssomw-strip"], "priority": 10000, **extra}
        routers[f"ssomw-proxy-only-{n}"] = {
            "rule": (f"{hosts} && (Path(`{prefix}/auth`) || Path(`{prefix}{FORWARD_AUTH}`) "
                     f"|| PathPrefix(`{prefix}{EXT_AUTHZ}/`))"),
            "service": "ssomw", "middlewares": ["ssomw-proxy-only"], "priority": 10001,
            **extra}
        for app_config, app in site.apps:
            path = app_config["path_prefix"]
            rule = hosts if path == "/" else f"{hosts} && PathPrefix(`{path}`)"
            chain = ["ssomw-strip", "ssomw-auth"] if app_config["sso"] else ["ssomw-strip"]
            routers[f"app-{app.id}"] = {"rule": rule, "service": f"app-{app.id}",
                                        "middlewares": chain, **extra}
            target = upstream_of(app_config, upstreams or {}) or "http://127.0.0.1:8080"
            services[f"app-{app.id}"] = {"loadBalancer": {"servers": [{"url": target}]}}
    head = ("# ssomw: the Traefik side of the gateway (v3 dynamic configuration for the file "
            "provider).\n# Made by `ssomw proxy traefik`; make it again after changing apps, "
            "hosts or header names:\n"
            f"#   {command or 'ssomw proxy traefik -c FILE ...'}\n"
            "# The gateway must list Traefik's address in server.trusted_proxies.\n")
    body = {"http": {"middlewares": middlewares, "routers": routers, "services": services}}
    return head + to_yaml(body)
