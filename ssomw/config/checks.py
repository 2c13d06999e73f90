"""Cross-references the schema cannot express, across sections: unique ids, provider
references, regexes and networks compiled by the policy builder, a client secret where the
token endpoint needs one, identity and profile headers that do not clash, whether the session
cookie can reach every app, broker clients and the emergency URL.

They run on data with defaults filled in and durations in seconds (validate.py), and tolerate
entries the schema refused: a list item that is not a mapping is skipped (:func:`entries`),
so one run reports every problem.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ssomw.config.errors import ConfigError
from ssomw.config.schema import RESERVED_AUTH_PARAMS, identity_header_names, profile_header
from ssomw.core.networks import parse_networks
from ssomw.core.policy import Policy, PolicyError
from ssomw.core.redirects import canonical_pattern
from ssomw.core.routing import Routing, RoutingError
from ssomw.pages.templating import validate_templates


def entries(items: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, entry) for the mappings in a list: entries the schema refused are skipped."""
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            yield i, item


def cross_checks(data: dict[str, Any]) -> tuple[list[ConfigError], Policy | None, Routing | None]:
    """Checks across sections; also returns the compiled policy and routing when they built.
    Tolerates entries the schema refused (see :func:`well_typed`)."""
    errors: list[ConfigError] = []
    policy: Policy | None = None
    routing: Routing | None = None
    providers, apps = list(entries(data["providers"])), list(entries(data["apps"]))
    errors += duplicates("providers", [(i, p.get("id")) for i, p in providers])
    errors += duplicates("apps", [(i, a.get("id")) for i, a in apps])
    known = {p["id"] for _, p in providers if isinstance(p.get("id"), str)}
    app_ids = [a["id"] for _, a in apps if isinstance(a.get("id"), str)]
    for i, app in apps:
        for j, ref in enumerate(app.get("providers") or []):
            if isinstance(ref, str) and ref not in known:
                errors.append(ConfigError(f"apps[{i}].providers[{j}]",
                                          f"unknown provider {ref!r}{near(ref, known)}"))
        bearer = (app.get("api") or {}).get("bearer") or {}
        for j, ref in enumerate(bearer.get("providers") or []):
            if isinstance(ref, str) and ref not in known:
                errors.append(ConfigError(f"apps[{i}].api.bearer.providers[{j}]",
                                          f"unknown provider {ref!r}{near(ref, known)}"))
    try:
        routing = Routing.build(data["routing"], known, app_ids)
    except RoutingError as exc:
        errors += [ConfigError(path, message) for path, message in exc.errors]
    for i, app in apps:
        for param in sorted(set(app["auth_params"]) & RESERVED_AUTH_PARAMS):
            errors.append(ConfigError(f"apps[{i}].auth_params.{param}",
                                      "is set by the gateway and cannot be configured"))
    session = data["session"]
    if session["samesite"] == "None" and not session["secure"]:
        errors.append(ConfigError("session.samesite", "None requires session.secure: true"))
    if session["idle_timeout"] <= 0 or session["max_lifetime"] <= 0:
        errors.append(ConfigError("session", "idle_timeout and max_lifetime must be positive"))
    for i, provider in providers:
        if "openid" not in provider["scopes"]:
            errors.append(ConfigError(f"providers[{i}].scopes", "must include 'openid'"))
        for param in sorted(set(provider["auth_params"]) & RESERVED_AUTH_PARAMS):
            errors.append(ConfigError(f"providers[{i}].auth_params.{param}",
                                      "is set by the gateway and cannot be configured"))
        if provider["acr_essential"] and not provider["auth_params"].get("acr_values"):
            errors.append(ConfigError(f"providers[{i}].acr_essential",
                                      "needs auth_params.acr_values"))
        alg = provider.get("id_token_signed_response_alg", "")
        if alg.startswith("HS") and not provider.get("client_secret"):
            errors.append(ConfigError(f"providers[{i}].id_token_signed_response_alg",
                                      "HMAC algorithms need client_secret"))
        method = provider["token_auth"]
        if not provider.get("client_secret"):
            errors.append(ConfigError(
                f"providers[{i}].client_secret",
                f"is required with token_auth: {method}: without it the provider refuses "
                "every code exchange (invalid_client) and no one can sign in; give "
                "client_secret or client_secret_file"))
    errors += profile_checks(data)
    errors += app_header_checks(data)
    errors += emergency_checks(data)
    errors += broker_checks(data, set(app_ids))
    errors += cookie_checks(data)
    for where in ("server.trusted_proxies", "admin.allow_from", "metrics.allow_from"):
        section, key = where.split(".")
        try:
            parse_networks([n for n in data[section][key] if isinstance(n, str)])
        except ValueError as exc:
            errors.append(ConfigError(where, str(exc)))
    try:
        policy = Policy.build(data["apps"])
    except PolicyError as exc:
        errors += [ConfigError(path, message) for path, message in exc.errors]
    errors += [ConfigError(path, message) for path, message in
               validate_templates(data["templates"], app_ids)]
    return errors, policy, routing


def near(given: str, known: set[str]) -> str:
    """``; did you mean 'corp'?`` for a reference close to a known name."""
    found = difflib.get_close_matches(given, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


def assertion_header(data: dict[str, Any]) -> set[str]:
    """The signed assertion's header name (lower-case), when ``headers.assertion`` is set."""
    name = data["headers"].get("assertion")
    return {name.lower()} if isinstance(name, str) else set()


def profile_checks(data: dict[str, Any]) -> list[ConfigError]:
    errors = []
    taken = {h.lower() for h in identity_header_names(data["headers"]).values()}
    if assertion_header(data) & taken:
        errors.append(ConfigError("headers.assertion", "is already an identity header"))
    taken |= assertion_header(data)
    for name, settings in data["profile"].items():
        path = f"profile.{name}"
        if ("claim" in settings) == ("ldap" in settings):
            errors.append(ConfigError(path, "needs exactly one of claim or ldap"))
        if "ldap" in settings and "ldap" not in data["directory"]:
            errors.append(ConfigError(f"{path}.ldap", "needs directory.ldap to be configured"))
        header = profile_header(name, settings).lower()
        if header in taken:
            errors.append(ConfigError(path, f"header {header} is already used"))
        taken.add(header)
    return errors


def app_header_checks(data: dict[str, Any]) -> list[ConfigError]:
    """``apps[].headers``: known attributes, and no clash with the global identity headers."""
    known = set(identity_header_names(data["headers"])) | set(data["profile"])
    taken = {h.lower() for h in identity_header_names(data["headers"]).values()} | {
        profile_header(n, s).lower() for n, s in data["profile"].items()} | assertion_header(data)
    errors = []
    for i, app in entries(data["apps"]):
        for header, attribute in app["headers"].items():
            path = f"apps[{i}].headers.{header}"
            if attribute not in known:
                errors.append(ConfigError(path, f"unknown attribute {attribute!r} (known: "
                                                f"{', '.join(sorted(known))})"))
            if header.lower() in taken:
                errors.append(ConfigError(path, "is already an identity header for every app"))
    return errors


def emergency_checks(data: dict[str, Any]) -> list[ConfigError]:
    section = data["emergency"]
    if not section["enabled"]:
        return []
    errors = []
    prefix = data["server"]["path_prefix"]
    path = section.get("path")
    if not path:
        errors.append(ConfigError("emergency.path", "is required when enabled"))
    elif not path.startswith(prefix + "/") or path.rstrip("/") in reserved_paths(prefix):
        errors.append(ConfigError("emergency.path",
                                  f"must be a path of its own under {prefix}/ (nginx sends "
                                  f"only {prefix}/ to the gateway)"))
    if not section["allowed_groups"]:
        errors.append(ConfigError("emergency.allowed_groups",
                                  "is required: the emergency login is for a few named groups"))
    if section["credentials"] == "ldap" and "ldap" not in data["directory"]:
        errors.append(ConfigError("emergency.credentials", "ldap needs directory.ldap"))
    if section["credentials"] == "local" and not section["local_users"]:
        errors.append(ConfigError("emergency.local_users", "is required for credentials: local"))
    return errors


def broker_checks(data: dict[str, Any], app_ids: set[str]) -> list[ConfigError]:
    """``broker.clients`` (contract §12): each client a secret *hash* or ``public: true``, an
    existing ``app``, and https URIs (plain http only on loopback, for local tests)."""
    section = data["broker"]
    clients = list(entries(section["clients"]))
    errors, seen = [], set()
    for i, entry in clients:
        if entry.get("client_id") in seen:
            errors.append(ConfigError(f"broker.clients[{i}].client_id",
                                      f"duplicate client_id {entry.get('client_id')!r}"))
        seen.add(entry.get("client_id"))
    if clients and not (section.get("issuer") or data["server"].get("public_url")):
        errors.append(ConfigError("broker.issuer", "is required (or server.public_url): "
                                  "apps must see one fixed issuer"))
    prefix = data["server"]["path_prefix"]
    if section.get("issuer") and urlsplit(section["issuer"]).path.rstrip("/") != prefix:
        errors.append(ConfigError("broker.issuer", f"its path must be {prefix} "
                                  "(server.path_prefix): clients read the discovery document "
                                  f"at <issuer>/.well-known/openid-configuration, served at "
                                  f"{prefix}/.well-known/openid-configuration"))
    for i, client in clients:
        where = f"broker.clients[{i}]"
        has_hash, public = "client_secret_hash" in client, client.get("public", False)
        if has_hash == bool(public):
            errors.append(ConfigError(f"{where}.client_secret_hash", "give exactly one of "
                                      "client_secret_hash and public: true"))
        if client.get("app") not in app_ids:
            errors.append(ConfigError(f"{where}.app", f"unknown app {client.get('app')!r}"
                                      f"{near(str(client.get('app')), app_ids)}"))
        uris = [(f"{where}.redirect_uris[{j}]", u) for j, u in enumerate(client["redirect_uris"])]
        uris += [(f"{where}.post_logout_redirect_uris[{j}]", u)
                 for j, u in enumerate(client.get("post_logout_redirect_uris") or [])]
        if client.get("backchannel_logout_uri"):
            uris.append((f"{where}.backchannel_logout_uri", client["backchannel_logout_uri"]))
        for path, uri in uris:
            problem = client_uri_problem(uri)
            if problem:
                errors.append(ConfigError(path, problem))
    return errors


def client_uri_problem(uri: str) -> str | None:
    """Why a broker client's URI is unacceptable: not https (except on loopback), or with a
    fragment (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    if "#" in uri:
        return "must not contain a fragment"
    host = (parts.hostname or "").lower()
    loopback = host == "localhost" or host.endswith(".localhost") or (
        is_address(host) and ipaddress.ip_address(host).is_loopback)
    if parts.scheme != "https" and not loopback:
        return "must be https (plain http only on loopback)"
    return None


def cookie_checks(data: dict[str, Any]) -> list[ConfigError]:
    """The session cookie must reach every app host that signs in, or the browser loops.

    The cookie is set where the sign-in ends: on ``server.public_url``'s host, else on the
    app's own host. Without ``session.domain`` it goes back to that host only; with it, to
    the domain and its subdomains, and a browser refuses it from a host outside the domain.
    """
    domain_text = data["session"].get("domain")
    domain = host_name(domain_text.strip().lstrip(".")) if domain_text else None
    if domain_text and domain is None:
        return [ConfigError("session.domain", f"{domain_text!r} is not a domain name")]
    public = data["server"].get("public_url")
    public_host = host_name(urlsplit(public).hostname or "") if public else None
    hosts = [(f"apps[{i}].hosts[{j}]", name) for i, app in entries(data["apps"])
             if app.get("sso", True) is True for j, host in enumerate(app.get("hosts") or [])
             if (name := host_name(host)) is not None]
    everyone = [public_host] if public_host else []
    everyone += [name for _, name in hosts]
    parent = common_parent(everyone)
    widen = (f"set session.domain: {parent}, the parent of every app host" if parent else
             "put the gateway and the apps under one parent domain and set session.domain "
             "to it")
    errors = []
    if domain:
        if public_host and not within(public_host, domain):
            errors.append(ConfigError("server.public_url", (
                f"host {public_host!r} is outside session.domain {domain!r}: browsers refuse "
                f"a cookie for {domain} from {public_host}, so every sign-in would start "
                f"over; serve the gateway under {domain} (e.g. sso.{domain}) or {widen}")))
        for path, host in hosts:
            if not within(host, domain):
                errors.append(ConfigError(path, (
                    f"{host!r} is outside session.domain {domain!r}: the session cookie "
                    f"never reaches it, so the browser would loop between the app and "
                    f"sign-in; {widen}")))
    elif public_host:
        others = sorted({host for _, host in hosts if host != public_host})
        if others:
            errors.append(ConfigError("server.public_url", (
                f"sign-in ends on {public_host}, and without session.domain the session "
                f"cookie goes back to {public_host} only: {', '.join(others)} would never "
                f"receive it and the browser would loop between the app and sign-in; "
                f"{widen}, or remove server.public_url so each app host signs in itself")))
    return errors


def host_name(text: Any) -> str | None:
    """A host (or ``*.`` pattern) in canonical form, or None when it is not one."""
    try:
        return canonical_pattern(text)
    except ValueError:
        return None


def within(host: str, domain: str) -> bool:
    """Whether a cookie with ``Domain=<domain>`` is sent to ``host`` (or, for ``*.x``, to
    every host it names)."""
    if is_address(host) or is_address(domain):
        return host == domain
    name = host.removeprefix("*.")
    return name == domain or name.endswith("." + domain)


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def common_parent(hosts: list[str]) -> str | None:
    """The longest domain (two labels or more) every host is under: a ``session.domain``
    that would reach them all; None when they share none."""
    if not hosts or any(is_address(h) for h in hosts):
        return None
    labels = [h.removeprefix("*.").split(".")[::-1] for h in hosts]
    shared: list[str] = []
    for column in zip(*labels, strict=False):
        if len(set(column)) != 1:
            break
        shared.append(column[0])
    return ".".join(shared[::-1]) if len(shared) >= 2 else None


def reserved_paths(prefix: str) -> set[str]:
    return {f"{prefix}/{name}" for name in (
        "auth", "login", "callback", "logout", "logged-out", "healthz", "readyz", "metrics",
        "forbidden", "backchannel-logout", "frontchannel-logout", "static", "api")}


def config_warnings(data: dict[str, Any]) -> list[str]:
    """Not errors, but worth an operator's attention (printed by ``ssomw check``)."""
    warnings = []
    section = data["emergency"]
    if section["enabled"] and section.get("path"):
        last = section["path"].rstrip("/").rsplit("/", 1)[-1]
        if len(last) < 16 or last.lower() in GUESSABLE:
            warnings.append(f"emergency.path: {section['path']!r} is easy to guess; use a long "
                            "random segment (e.g. openssl rand -hex 12)")
    if "min_response_time" in section:
        warnings.append("emergency.min_response_time: deprecated and ignored; every answer "
                        "now costs the same work instead of a sleep (remove the setting)")
    if not data["session"]["secure"]:
        warnings.append("session.secure: false sends the session cookie over plain http")
    return warnings


GUESSABLE = frozenset({"emergency", "backdoor", "admin", "login", "break-glass", "breakglass",
                       "rescue", "sos", "local", "bypass"})


def duplicates(section: str, ids: list[tuple[int, Any]]) -> list[ConfigError]:
    seen: set[str] = set()
    errors = []
    for i, value in ids:
        if not isinstance(value, str):
            continue
        if value in seen:
            errors.append(ConfigError(f"{section}[{i}].id", f"duplicate id {value!r}"))
        seen.add(value)
    return errors
