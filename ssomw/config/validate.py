"""Validation: every problem with its path, and no side effects.

Three passes over plain data: the JSON Schema (types, unknown keys), then defaults and
normalisation (durations to seconds), then cross-references the schema cannot express
(unique ids, provider references, regexes and networks compiled by the policy builder).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema

from ssomw.config.errors import ConfigError
from ssomw.config.schema import RESERVED_AUTH_PARAMS, config_schema, identity_header_names
from ssomw.core.networks import parse_networks
from ssomw.core.policy import Policy, PolicyError
from ssomw.core.routing import Routing, RoutingError
from ssomw.core.url_secrets import redact_url
from ssomw.pages.templating import validate_templates

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


@lru_cache(maxsize=1)
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(config_schema())


def format_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_errors(data: Any) -> list[ConfigError]:
    """Schema problems, phrased for an operator rather than as JSON Schema jargon."""
    errors = []
    for err in validator().iter_errors(data):
        path = format_path(err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = err.schema.get("properties", {})
            for key in err.instance:
                if key not in allowed:
                    where = f"{path}.{key}" if err.absolute_path else str(key)
                    known = ", ".join(sorted(allowed)) or "none in this version"
                    errors.append(ConfigError(where, f"unknown key (known keys: {known})"))
        elif err.validator == "required":
            missing = err.message.split("'")[1]
            where = f"{path}.{missing}" if err.absolute_path else missing
            errors.append(ConfigError(where, "is required"))
        elif err.validator == "oneOf":
            errors.append(ConfigError(path, "must be a duration: seconds, or 90s, 30m, 12h, 7d"))
        elif err.validator == "pattern":
            errors.append(ConfigError(path, f"{shown(err.instance)!r} has an invalid format"))
        else:
            errors.append(ConfigError(path, without_url_secrets(err.message, err.instance)))
    return errors


def shown(value: Any) -> Any:
    """A value as an error message may quote it: a URL without its credentials (the message
    reaches ``ssomw check``, logs and the admin API)."""
    return redact_url(value) if isinstance(value, str) else value


def without_url_secrets(message: str, instance: Any) -> str:
    """``message`` with every URL found in ``instance`` (nested too) quoted as :func:`shown`."""
    if isinstance(instance, dict):
        instance = list(instance.values())
    if isinstance(instance, list):
        for item in instance:
            message = without_url_secrets(message, item)
    elif isinstance(instance, str) and shown(instance) != instance:
        for form in (instance, repr(instance)[1:-1]):
            message = message.replace(form, redact_url(form))
    return message


def fill_defaults(data: Any, schema: dict[str, Any]) -> Any:
    """Return a copy of ``data`` with the schema's defaults filled in, recursively."""
    if isinstance(data, dict) and "properties" in schema:
        out = dict(data)
        for key, sub in schema["properties"].items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = fill_defaults(out[key], sub)
        return out
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [fill_defaults(item, schema["items"]) for item in data]
    return data


def section_defaults(name: str, partial: dict[str, Any] | None = None) -> dict[str, Any]:
    """One config section with the schema's defaults filled in (durations as given): for
    tools and tests that build a single part without a whole configuration."""
    return fill_defaults(dict(partial or {}), config_schema()["properties"][name])


def to_seconds(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    match = DURATION_TEXT.match(str(value))
    assert match, "schema guarantees the duration format"
    return float(match.group(1)) * UNITS[match.group(2)]


def normalise(data: dict[str, Any]) -> None:
    """Turn durations into seconds in place (on a private copy)."""
    for section, key in (("session", "idle_timeout"), ("session", "max_lifetime"),
                         ("store", "outage_log_interval")):
        data[section][key] = to_seconds(data[section][key])
    emergency = data["emergency"]
    emergency["max_lifetime"] = to_seconds(emergency["max_lifetime"])
    for key in ("window", "lockout"):
        emergency["throttle"][key] = to_seconds(emergency["throttle"][key])
    if "ldap" in data["directory"]:
        ldap = data["directory"]["ldap"]
        ldap["sync_interval"] = to_seconds(ldap["sync_interval"])
    for provider in data["providers"]:
        provider["leeway"] = to_seconds(provider["leeway"])


@dataclass(frozen=True)
class Validated:
    """A valid configuration and the rules compiled while checking it (used as they are)."""

    data: dict[str, Any]
    policy: Policy
    routing: Routing


def cross_checks(data: dict[str, Any]) -> tuple[list[ConfigError], Policy | None, Routing | None]:
    """Checks across sections; also returns the compiled policy and routing when they built."""
    errors: list[ConfigError] = []
    policy: Policy | None = None
    routing: Routing | None = None
    provider_ids = [p["id"] for p in data["providers"]]
    errors += duplicates("providers", provider_ids)
    errors += duplicates("apps", [a["id"] for a in data["apps"]])
    known = set(provider_ids)
    for i, app in enumerate(data["apps"]):
        for j, ref in enumerate(app.get("providers", [])):
            if ref not in known:
                errors.append(ConfigError(f"apps[{i}].providers[{j}]", f"unknown provider {ref!r}"))
        bearer = app.get("api", {}).get("bearer", {})
        for j, ref in enumerate(bearer.get("providers", [])):
            if ref not in known:
                errors.append(ConfigError(f"apps[{i}].api.bearer.providers[{j}]",
                                          f"unknown provider {ref!r}"))
    try:
        routing = Routing.build(data["routing"], known, [a["id"] for a in data["apps"]])
    except RoutingError as exc:
        errors += [ConfigError(path, message) for path, message in exc.errors]
    for i, app in enumerate(data["apps"]):
        for param in sorted(set(app["auth_params"]) & RESERVED_AUTH_PARAMS):
            errors.append(ConfigError(f"apps[{i}].auth_params.{param}",
                                      "is set by the gateway and cannot be configured"))
    session = data["session"]
    if session["samesite"] == "None" and not session["secure"]:
        errors.append(ConfigError("session.samesite", "None requires session.secure: true"))
    if session["idle_timeout"] <= 0 or session["max_lifetime"] <= 0:
        errors.append(ConfigError("session", "idle_timeout and max_lifetime must be positive"))
    for i, provider in enumerate(data["providers"]):
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
    errors += profile_checks(data)
    errors += app_header_checks(data)
    errors += emergency_checks(data)
    for where in ("server.trusted_proxies", "admin.allow_from", "metrics.allow_from"):
        section, key = where.split(".")
        try:
            parse_networks(data[section][key])
        except ValueError as exc:
            errors.append(ConfigError(where, str(exc)))
    try:
        policy = Policy.build(data["apps"])
    except PolicyError as exc:
        errors += [ConfigError(path, message) for path, message in exc.errors]
    errors += [ConfigError(path, message) for path, message in
               validate_templates(data["templates"], [a["id"] for a in data["apps"]])]
    return errors, policy, routing


def profile_header(name: str, settings: dict[str, Any]) -> str:
    """``X-Auth-Request-Department`` for ``department`` unless a header is configured."""
    return settings.get("header") or "X-Auth-Request-" + "-".join(
        part.capitalize() for part in name.split("_"))


def profile_checks(data: dict[str, Any]) -> list[ConfigError]:
    errors = []
    taken = {h.lower() for h in identity_header_names(data["headers"]).values()}
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
        profile_header(n, s).lower() for n, s in data["profile"].items()}
    errors = []
    for i, app in enumerate(data["apps"]):
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


def duplicates(section: str, ids: list[str]) -> list[ConfigError]:
    seen: set[str] = set()
    errors = []
    for i, value in enumerate(ids):
        if value in seen:
            errors.append(ConfigError(f"{section}[{i}].id", f"duplicate id {value!r}"))
        seen.add(value)
    return errors


def validate(data: Any) -> tuple[Validated | None, list[ConfigError]]:
    """Validate resolved data; return (what was built, []) or (None, every error). Changes
    nothing: the data is copied before defaults are filled in."""
    errors = schema_errors(data)
    if errors:
        return None, errors
    full = fill_defaults(data, config_schema())
    normalise(full)
    errors, policy, routing = cross_checks(full)
    if errors or policy is None or routing is None:
        return None, errors
    return Validated(full, policy, routing), []
