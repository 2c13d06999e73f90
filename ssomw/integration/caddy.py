"""The Caddy side (a Caddyfile, Caddy ≥ 2.6): ``forward_auth`` to ``/sso/forward-auth``.

One site per group of app hosts. In each, the gateway's own pages go to the gateway (its
internal endpoints answer 404 to browsers), and each app's traffic runs through one ``route``
— written order is run order, unlike Caddy's sorted directives — that first deletes every
identity header the client sent, then asks the gateway, whose allow answer always carries
every copied header (empty when unset), then proxies to the app. Caddy hands the gateway's
other answers (302 to sign in, 401, the 403 page) to the browser as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

from ssomw.config import Config
from ssomw.integration.common import EXT_AUTHZ, FORWARD_AUTH, copied_headers, sites, upstream_of

TAB = "\t"


def caddy_address(host: str, http_port: str | None, https_port: str | None) -> str:
    """A site address: ``http://host:PORT`` for plain HTTP, else ``host`` (Caddy's automatic
    HTTPS; ``*.`` wildcards need its DNS challenge) with an optional port."""
    if http_port:
        return f"http://{host}:{http_port}"
    return f"{host}:{https_port}" if https_port else host


def caddyfile(config: Config, *, gateway: str, http_port: str | None = None,
              https_port: str | None = None, app_ids: Iterable[str] | None = None,
              upstreams: dict[str, str] | None = None, admin: str | None = None,
              command: str | None = None) -> str:
    """The whole Caddyfile for the configured apps (``ssomw proxy caddy``)."""
    prefix = config.prefix
    copied = copied_headers(config)
    upstreams = upstreams or {}
    lines = ["# ssomw: the Caddy side of the gateway (a Caddyfile, Caddy 2.6 or later).",
             "# Made by `ssomw proxy caddy`; after changing apps, hosts, the path prefix or "
             "header names",
             "# in the gateway's configuration, make it again:",
             f"#   {command or 'ssomw proxy caddy -c FILE ...'}",
             "# The gateway must list this Caddy's address in server.trusted_proxies.", ""]
    options = ([f"admin {admin}"] if admin else []) + (["auto_https off"] if http_port else [])
    if options:
        lines += ["{", *(TAB + o for o in options), "}", ""]
    for site in sites(config, app_ids):
        addresses = ", ".join(caddy_address(h, http_port, https_port) for h in site.hosts)
        lines += [f"{addresses} {{",
                  f"{TAB}# The gateway's own pages: sign-in, callback, logout, error pages.",
                  f"{TAB}handle {prefix}/* {{",
                  f"{TAB * 2}reverse_proxy {gateway}",
                  f"{TAB}}}",
                  f"{TAB}# Its proxy endpoints are for proxies only, never for browsers."]
        for internal in (f"{prefix}/auth", prefix + FORWARD_AUTH, f"{prefix}{EXT_AUTHZ}/*"):
            lines.append(f"{TAB}handle {internal} {{\n{TAB * 2}respond 404\n{TAB}}}")
        if not site.apps:
            lines += [f"{TAB}# server.public_url: sign-in happens here; the gateway's pages only.",
                      f"{TAB}handle {{\n{TAB * 2}respond 404\n{TAB}}}"]
        for app_config, app in site.apps:
            path = app_config["path_prefix"]
            where = "" if path == "/" else f" {path}*"
            target = upstream_of(app_config, upstreams)
            proxy = (f"reverse_proxy {target}" if target else
                     "reverse_proxy 127.0.0.1:8080  # set apps[].upstream or --upstream")
            body = [f"{TAB}# app {app.id}" + ("" if app_config["sso"] else ": SSO off"),
                    f"{TAB}handle{where} {{", f"{TAB * 2}route {{",
                    f"{TAB * 3}# Identity headers: the client's never reach the app."]
            body += [f"{TAB * 3}request_header -{h}" for h in copied]
            if app_config["sso"]:
                body += [f"{TAB * 3}# The gateway decides; its allow answer sets every header "
                         "copied here.",
                         f"{TAB * 3}forward_auth {gateway} {{",
                         f"{TAB * 4}uri {prefix}{FORWARD_AUTH}",
                         f"{TAB * 4}copy_headers {' '.join(copied)}",
                         f"{TAB * 3}}}"]
            body += [f"{TAB * 3}{proxy}", f"{TAB * 2}}}", f"{TAB}}}"]
            lines += body
        lines += ["}", ""]
    return "\n".join(lines)
