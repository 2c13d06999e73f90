"""The Envoy side (a static bootstrap, v3 API): the HTTP ``ext_authz`` filter with
``path_prefix: /sso/ext-authz``.

The filter chain runs in order: ``header_mutation`` removes every identity header the client
sent, ``ext_authz`` asks the gateway (the original method, ``/sso/ext-authz`` + the original
path, ``Host``, and the client headers the decision reads) and sets the headers it answers on
an allow (``allowed_upstream_headers``: every copied name, always sent by the gateway), then
the router. A denial (302 to sign in, 401, the 403 page) goes to the browser with the
gateway's status, headers and body. The gateway's own pages are routed to it with the filter
off; its proxy endpoints answer 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ssomw.config import Config
from ssomw.integration.common import (
    EXT_AUTHZ,
    FORWARD_AUTH,
    copied_headers,
    sites,
    to_yaml,
    upstream_of,
)

# Client headers the decision reads (contract §2, §7), beyond Envoy's own Host, Method, Path,
# Content-Length and Authorization; the X-Auth-Request- prefix so a forged one is refused.
REQUEST_HEADERS = ("cookie", "accept", "x-requested-with", "sec-fetch-mode", "sec-fetch-dest",
                   "origin", "access-control-request-method", "x-forwarded-for",
                   "x-forwarded-proto", "x-request-id")
CLIENT_HEADERS = ("location", "www-authenticate", "content-type", "cache-control",
                  "content-security-policy", "x-frame-options", "set-cookie")
NO_EXT_AUTHZ = {"envoy.filters.http.ext_authz": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
    "disabled": True}}


def cluster(name: str, url: str) -> dict[str, Any]:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https"
                                                                else 80)
    out: dict[str, Any] = {
        "name": name, "type": "STRICT_DNS", "connect_timeout": "2s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{
            "endpoint": {"address": {"socket_address": {"address": host,
                                                        "port_value": port}}}}]}]}}
    if parts.scheme == "https":
        out["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                     "UpstreamTlsContext", "sni": host}}
    return out


def matchers(names: Iterable[str]) -> list[dict[str, Any]]:
    return [{"exact": name.lower(), "ignore_case": True} for name in names]


def envoy_config(config: Config, *, gateway: str, listen: str = "0.0.0.0:8080",
                 app_ids: Iterable[str] | None = None,
                 upstreams: dict[str, str] | None = None, command: str | None = None) -> str:
    """The bootstrap YAML for the configured apps (``ssomw proxy envoy``)."""
    prefix = config.prefix
    copied = copied_headers(config)
    address, _, port = listen.rpartition(":")
    virtual_hosts, clusters = [], [cluster("ssomw", gateway)]
    for n, site in enumerate(sites(config, app_ids)):
        routes: list[dict[str, Any]] = [
            {"match": match, "direct_response": {"status": 404},
             "typed_per_filter_config": NO_EXT_AUTHZ}
            for match in ({"path": f"{prefix}/auth"}, {"path": prefix + FORWARD_AUTH},
                          {"prefix": f"{prefix}{EXT_AUTHZ}/"})]
        routes.append({"match": {"prefix": f"{prefix}/"}, "route": {"cluster": "ssomw"},
                       "typed_per_filter_config": NO_EXT_AUTHZ})
        for app_config, app in sorted(site.apps, key=lambda a: -len(a[0]["path_prefix"])):
            route: dict[str, Any] = {"match": {"prefix": app_config["path_prefix"]},
                                     "route": {"cluster": f"app-{app.id}"}}
            if not app_config["sso"]:
                route["typed_per_filter_config"] = NO_EXT_AUTHZ
            routes.append(route)
            target = upstream_of(app_config, upstreams or {}) or "http://127.0.0.1:8080"
            clusters.append(cluster(f"app-{app.id}", target))
        domains = [d for h in site.hosts for d in (h, f"{h}:*")]
        virtual_hosts.append({"name": f"site-{n}", "domains": domains, "routes": routes})
    ext_authz = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
        "failure_mode_allow": False,  # the gateway unreachable: refused, never let through
        "http_service": {
            "server_uri": {"uri": f"http://{gateway}", "cluster": "ssomw", "timeout": "3s"},
            "path_prefix": prefix + EXT_AUTHZ,
            "authorization_request": {
                "allowed_headers": {"patterns": [*matchers(REQUEST_HEADERS),
                                                 {"prefix": "x-auth-request-",
                                                  "ignore_case": True}]}},
            "authorization_response": {
                "allowed_upstream_headers": {"patterns": matchers(copied)},
                "allowed_client_headers": {"patterns": matchers(CLIENT_HEADERS)}}}}
    strip = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3."
                 "HeaderMutation",
        "mutations": {"request_mutations": [{"remove": h.lower()} for h in copied]}}
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager."
                 "v3.HttpConnectionManager",
        "stat_prefix": "ssomw", "use_remote_address": True,
        "route_config": {"name": "ssomw", "virtual_hosts": virtual_hosts},
        "http_filters": [
            {"name": "envoy.filters.http.header_mutation", "typed_config": strip},
            {"name": "envoy.filters.http.ext_authz", "typed_config": ext_authz},
            {"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
        ]}
    bootstrap = {"static_resources": {
        "listeners": [{"name": "ssomw", "address": {"socket_address": {
            "address": address or "0.0.0.0", "port_value": int(port)}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": manager}]}]}],
        "clusters": clusters}}
    head = ("# ssomw: the Envoy side of the gateway (a static bootstrap, v3 API; Envoy 1.27 or "
            "later for\n# header_mutation). Made by `ssomw proxy envoy`; make it again after "
            "changing apps, hosts\n# or header names:\n"
            f"#   {command or 'ssomw proxy envoy -c FILE ...'}\n"
            "# The gateway must list Envoy's address in server.trusted_proxies. Plain HTTP: "
            "add your TLS\n# transport socket to the listener.\n")
    return head + to_yaml(bootstrap)
