"""The Kubernetes ingress-nginx side: Ingress annotations over ``/sso/auth``.

ingress-nginx turns ``auth-url`` into an nginx ``auth_request`` subrequest that sends
``X-Original-URL`` and ``X-Original-Method`` like ``ssomw nginx`` does, ``auth-signin`` into
the redirect for a 401, and ``auth-response-headers`` into ``auth_request_set`` +
``proxy_set_header`` (an empty answer clears the client's header). Per app one Ingress with
those annotations and a ``configuration-snippet`` that clears ``headers.strip``; per site one
Ingress sending the gateway's pages to its Service; and a NetworkPolicy that lets only the
ingress controller reach the gateway, since ``/sso/auth`` believes ``X-Original-URL`` from
whoever asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ssomw.config import Config
from ssomw.integration.common import sites, to_yaml, upstream_of
from ssomw.integration.nginx import identity_header_names, strip_header_names

ANNOTATION = "nginx.ingress.kubernetes.io/"


def k8s_name(text: str) -> str:
    """A DNS-1123 label from an app id."""
    name = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    return name[:63] or "app"


def backend(url: str) -> dict[str, Any]:
    """A Service backend from ``http://SERVICE[.NAMESPACE...]:PORT`` (the first label names
    the Service in the Ingress's namespace)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "app").split(".")[0]
    return {"service": {"name": host, "port": {"number": parts.port or 80}}}


def ingress_nginx_config(config: Config, *, gateway: str, namespace: str = "default",
                         gateway_namespace: str = "ssomw", ingress_class: str = "nginx",
                         controller_namespace: str = "ingress-nginx",
                         app_ids: Iterable[str] | None = None,
                         upstreams: dict[str, str] | None = None,
                         command: str | None = None) -> str:
    """Ingress objects for the configured apps and the gateway's NetworkPolicy (YAML)."""
    prefix = config.prefix
    gateway_url = gateway if "://" in gateway else f"http://{gateway}"
    app_headers = sorted({h for app in config["apps"] for h in app["headers"]})
    gateway_backend = backend(gateway_url)
    docs: list[dict[str, Any]] = []
    for n, site in enumerate(sites(config, app_ids)):
        rules = [{"host": host, "http": {"paths": [{
            "path": f"{prefix}/", "pathType": "Prefix", "backend": gateway_backend}]}}
            for host in site.hosts]
        docs.append(ingress(f"ssomw-pages-{n}", gateway_namespace,
                            ingress_class, {}, rules))
        for app_config, app in site.apps:
            annotations: dict[str, str] = {}
            cleared = [*strip_header_names(config), *(h for h in app_headers
                                                      if h not in app_config["headers"])]
            if app_config["sso"]:
                names = [*identity_header_names(config), *app_config["headers"]]
                annotations = {
                    ANNOTATION + "auth-url": f"{gateway_url}{prefix}/auth",
                    ANNOTATION + "auth-signin": (f"$scheme://$http_host{prefix}/login"
                                                 "?rd=$scheme://$http_host$escaped_request_uri"),
                    ANNOTATION + "auth-response-headers": ",".join(names)}
            else:
                cleared = [*identity_header_names(config), *app_headers,
                           *strip_header_names(config)]
            # X-Auth-Request-Redirect: the controller's own header to auth-url; a client's
            # copy is not for the app either.
            annotations[ANNOTATION + "configuration-snippet"] = "".join(
                f'proxy_set_header {h} "";\n' for h in [*cleared, "X-Auth-Request-Redirect"])
            target = upstream_of(app_config, upstreams or {}) or "http://app:80"
            rules = [{"host": host, "http": {"paths": [{
                "path": app_config["path_prefix"], "pathType": "Prefix",
                "backend": backend(target)}]}} for host in site.hosts]
            docs.append(ingress(f"app-{k8s_name(app.id)}", namespace, ingress_class,
                                annotations, rules))
    docs.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "ssomw-only-from-ingress", "namespace": gateway_namespace},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ssomw"}},
                 "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": controller_namespace}}}],
                     "ports": [{"port": gateway_backend["service"]["port"]["number"]}]}]}})
    head = ("# ssomw: the ingress-nginx side of the gateway (Ingress objects and a "
            "NetworkPolicy).\n# Made by `ssomw proxy ingress-nginx`; make it again after "
            "changing apps, hosts or header names:\n"
            f"#   {command or 'ssomw proxy ingress-nginx -c FILE ...'}\n"
            "# configuration-snippet needs the controller's allow-snippet-annotations: true "
            "(it clears\n# headers.strip); the gateway's pods carry app.kubernetes.io/name: "
            "ssomw, and server.trusted_proxies\n# lists the controller pods' network.\n")
    return head + to_yaml(*docs)


def ingress(name: str, namespace: str, ingress_class: str, annotations: dict[str, str],
            rules: list[dict[str, Any]]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
            "spec": {"ingressClassName": ingress_class, "rules": rules}}
