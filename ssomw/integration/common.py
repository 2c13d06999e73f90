"""What every proxy configuration shares: which headers it copies to the app, and which sites
(host lists) serve which apps. Each proxy's module renders these in its own syntax."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import yaml

from ssomw.config import Config
from ssomw.integration.nginx import host_covered, identity_header_names, public_host
from ssomw.integration.nginx import strip_header_names as _strip

FORWARD_AUTH = "/forward-auth"
EXT_AUTHZ = "/ext-authz"


def copied_headers(config: Config) -> list[str]:
    """Every header a proxy copies from the gateway's allow answer to the app, which
    ``/forward-auth`` and ``/ext-authz`` always send (empty when unset): the identity headers,
    each app's extra headers and ``headers.strip``. Copying them all overwrites whatever the
    client sent under those names."""
    names = [*identity_header_names(config),
             *sorted({h for app in config["apps"] for h in app["headers"]}),
             *_strip(config)]
    return list(dict.fromkeys(names))


class Site(NamedTuple):
    """One virtual host of the printed configuration: its names and the apps it serves."""

    hosts: list[str]
    apps: list[tuple[dict[str, Any], Any]]  # (the app's config, its compiled policy app)


def sites(config: Config, app_ids: Iterable[str] | None = None) -> list[Site]:
    """One site per set of hosts that serve the same apps (as ``ssomw nginx`` groups them),
    then one without apps for ``server.public_url``'s host when no site covers it."""
    wanted = set(app_ids) if app_ids else None
    by_host: dict[str, list[Any]] = {}
    for app_config, app in zip(config["apps"], config.policy.apps, strict=True):
        if wanted is None or app.id in wanted:
            for host in app_config["hosts"]:
                by_host.setdefault(host.lower(), []).append((app_config, app))
    grouped: dict[tuple[str, ...], Site] = {}
    for host, apps in by_host.items():
        key = tuple(app.id for _, app in apps)
        grouped.setdefault(key, Site([], apps)).hosts.append(host)
    out = list(grouped.values())
    public = public_host(config)
    if public and not host_covered(public, by_host):
        out.append(Site([public], []))
    return out


def upstream_of(app_config: dict[str, Any], upstreams: dict[str, str]) -> str:
    """Where the app's traffic goes: ``--upstream APP=URL``, else ``apps[].upstream``."""
    return upstreams.get(app_config["id"]) or app_config.get("upstream") or ""


class _Dumper(yaml.SafeDumper):
    """YAML for people: no anchors/aliases, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def to_yaml(*documents: Any) -> str:
    """The documents as one YAML stream (``---`` between them), keys in written order."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=100)
