"""The configuration schema: one JSON Schema, published as-is at ``/sso/api/v1/schema``.

Each section is a small function returning its schema with defaults beside the keys, so the
documentation (``conf/ssomw.example.yaml``), validation and default-filling share one source.
Sections that later work fills in are declared empty: any key there is an error rather than a
setting that silently does nothing.
"""

from __future__ import annotations

from typing import Any

from ssomw.pages.templating import TEMPLATES_SCHEMA

DURATION = {
    "description": "seconds, or a number with a unit: 90s, 30m, 12h, 7d",
    "oneOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[smhd]?\s*$"},
    ],
}
ID = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"}
HEADER_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$"}
URL = {"type": "string", "pattern": r"^https?://[^\s/?#]+[^\s]*$"}
STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
AUTH_PARAMS = {"type": "object", "additionalProperties": {"type": "string"}, "default": {}}

# Authorization request parameters the gateway sets itself; auth_params may not override them.
RESERVED_AUTH_PARAMS = frozenset({
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "request", "request_uri",
})

ADMIN_SCOPES = ("config:read", "config:write", "config:secrets", "sessions:admin",
                "directory:sync", "audit:read")

# Keys whose values are secrets: redacted on export, never logged.
SECRET_KEYS = frozenset({"client_secret", "secret_keys", "bind_password", "password", "hash",
                         "client_secret_hash"})
BROKER_SCOPES = ("openid", "email", "profile", "groups")


def obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object schema that rejects unknown keys (a typo must never be ignored)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def server() -> dict[str, Any]:
    return obj({
        "path_prefix": {"type": "string", "pattern": r"^/[A-Za-z0-9._~-]+$", "default": "/sso"},
        "public_url": {**URL, "description": "the gateway's own external base URL; "
                       "when unset, built from the host of the request being signed in"},
        "trusted_proxies": {**STRINGS, "default": []},
        "allowed_redirect_hosts": {**STRINGS, "default": []},
    })


def store() -> dict[str, Any]:
    return obj({
        "backend": {"enum": ["sqlite", "redis"], "default": "sqlite"},
        "path": {"type": "string", "default": "/var/lib/ssomw/ssomw.db"},
        "url": {"type": "string", "pattern": r"^(redis|rediss|unix|redis\+sentinel|rediss?\+cluster)://"},
        "key_prefix": {"type": "string", "default": "ssomw:"},
        "socket_timeout": {"type": "number", "exclusiveMinimum": 0, "default": 0.5},
        "outage_log_interval": {**DURATION, "default": 30},
    })


def session() -> dict[str, Any]:
    return obj({
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$", "default": "ssomw_session"},
        "domain": {"type": "string"},
        "secure": {"type": "boolean", "default": True},
        "samesite": {"enum": ["Lax", "Strict", "None"], "default": "Lax"},
        "idle_timeout": {**DURATION, "default": "1h"},
        "max_lifetime": {**DURATION, "default": "12h"},
        "secret_keys": {
            "type": "array", "minItems": 1,
            "items": {"type": "string", "minLength": 32},
            "description": "first signs, all verify (rotation)",
        },
        "refresh_tokens": {"type": "boolean", "default": False},
    }, required=("secret_keys",))


# Identity-like request headers the gateway does not set but some app may believe (other SSO
# proxies' names, app servers' remote-user conventions): cleared in every location the nginx
# snippets generate, so no client can send its own. `headers.strip` replaces the list.
STRIP_DEFAULT = [
    "Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name",
    "X-Remote-User", "X-Remote-Email", "X-Remote-Groups",
    "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username",
    "X-Forwarded-Groups", "X-Forwarded-Access-Token", "X-Webauth-User",
    "X-Auth-Request-Access-Token", "X-Auth-Request-Id-Token", "X-Auth-Request-Jwt",
    "X-Auth-Request-Department", "X-Auth-Request-Phone", "X-Auth-Request-Title",
    "X-Auth-Request-Roles",
]


def headers() -> dict[str, Any]:
    names = {
        "user": "X-Auth-Request-User",
        "email": "X-Auth-Request-Email",
        "preferred_username": "X-Auth-Request-Preferred-Username",
        "name": "X-Auth-Request-Name",
        "groups": "X-Auth-Request-Groups",
        "provider": "X-Auth-Request-Provider",
        "auth_method": "X-Auth-Request-Auth-Method",
    }
    return obj({
        **{key: {**HEADER_NAME, "default": value} for key, value in names.items()},
        "assertion": {**HEADER_NAME, "description": "a JWT the gateway signs with the user's "
                      "identity for each app (off when unset; e.g. X-Auth-Request-Jwt)"},
        "strip": {"type": "array", "items": HEADER_NAME, "uniqueItems": True,
                  "default": STRIP_DEFAULT,
                  "description": "request headers cleared before every app (the list "
                                 "replaces the default one)"},
    })


def identity_header_names(section: dict[str, Any]) -> dict[str, str]:
    """``headers:`` as attribute -> header name: everything but the ``strip`` list and the
    ``assertion`` (a header the gateway signs, not an attribute's value)."""
    return {key: value for key, value in section.items() if key not in ("strip", "assertion")}


def profile_header(name: str, settings: dict[str, Any]) -> str:
    """``X-Auth-Request-Department`` for ``department`` unless a header is configured."""
    return settings.get("header") or "X-Auth-Request-" + "-".join(
        part.capitalize() for part in name.split("_"))


def provider() -> dict[str, Any]:
    endpoint = {**URL}
    return obj({
        "id": ID,
        "name": {"type": "string"},
        "issuer": URL,
        "authorization_endpoint": endpoint,
        "token_endpoint": endpoint,
        "userinfo_endpoint": endpoint,
        "jwks_uri": endpoint,
        "end_session_endpoint": endpoint,
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string"},
        "token_auth": {"enum": ["client_secret_basic", "client_secret_post"],
                       "default": "client_secret_basic"},
        "scopes": {**STRINGS, "default": ["openid", "email", "profile"]},
        "pkce": {"type": "boolean", "default": True},
        "auth_params": AUTH_PARAMS,
        "response_mode": {"enum": ["query", "form_post"], "default": "query"},
        "acr_essential": {"type": "boolean", "default": False,
                          "description": "refuse sign-ins whose acr is not one of acr_values"},
        "authoritative": {
            "type": "array", "uniqueItems": True, "default": [],
            "items": {"enum": ["username", "email"]},
            "description": "what this provider may decide: its username claim becomes the "
                           "user name (else <sub>@<id>); its e-mail counts without "
                           "email_verified"},
        "claims": {**obj({
            "username": {"type": "string", "default": "preferred_username"},
            "email": {"type": "string", "default": "email"},
            "name": {"type": "string", "default": "name"},
            "groups": {"type": "string", "default": "groups"},
        }), "default": {}},
        "logout": {**obj({
            "rp_initiated": {"type": "boolean", "default": True},
            "backchannel": {"type": "boolean", "default": True},
            "frontchannel": {"type": "boolean", "default": False},
        }), "default": {}},
        "id_token_signed_response_alg": {
            "enum": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                     "ES512", "EdDSA", "HS256", "HS384", "HS512"]},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 5},
        "leeway": {**DURATION, "default": 60},
    }, required=("id", "issuer", "client_id"))


def routing() -> dict[str, Any]:
    one_or_more = {"oneOf": [{"type": "string", "minLength": 1}, {**STRINGS, "minItems": 1}]}
    match = {
        "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
        "properties": {key: one_or_more for key in ("host", "email_domain", "app", "network")},
    }
    return obj({
        "rules": {"type": "array", "default": [],
                  "items": obj({"match": match, "provider": ID}, required=("match", "provider"))},
        "default": {"type": "string", "minLength": 1,
                    "description": "a provider id, or 'choose' for the provider-choice page"},
        "allowed_email_domains": {**STRINGS, "default": []},
    })


def rule() -> dict[str, Any]:
    return obj({
        "paths": STRINGS,
        "methods": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Z]+$"}},
        "networks": STRINGS,
        "policy": {"enum": ["bypass", "authenticated", "deny"]},
        "groups": STRINGS,
        "max_age": DURATION,  # step-up: the sign-in must be no older than this (>= 5s)
        "acr": {**STRINGS, "minItems": 1, "description": "step-up: the sign-in's acr must be "
                "one of these here"},
    }, required=("policy",))


def api() -> dict[str, Any]:
    """apps[].api (contract §7): non-browser clients of the app."""
    return obj({
        "paths": {**STRINGS, "default": [],
                  "description": "regexes: a request here without credentials is an API call "
                  "(401 with WWW-Authenticate, never a redirect to sign in)"},
        "bearer": obj({
            "providers": {**STRINGS, "minItems": 1},
            "audiences": {**STRINGS, "minItems": 1,
                          "description": "accepted aud values (default: the provider's "
                          "client_id)"},
            "scopes": {**STRINGS, "default": []},
            "introspection": {"type": "boolean", "default": False},
        }, required=("providers",)),
        "passthrough": {"type": "array", "items": {"enum": ["basic", "token"]},
                        "uniqueItems": True, "default": []},
        "cors_preflight": {"type": "boolean", "default": False},
    })


def app() -> dict[str, Any]:
    return obj({
        "id": ID,
        "name": {"type": "string"},
        "hosts": {**STRINGS, "minItems": 1},
        "path_prefix": {"type": "string", "pattern": r"^/", "default": "/"},
        "sso": {"type": "boolean", "default": True},
        "providers": STRINGS,
        "allowed_groups": {**STRINGS, "default": []},
        "denied_action": {"enum": ["forbidden", "passthrough"], "default": "forbidden"},
        "rules": {"type": "array", "items": rule(), "default": []},
        "local_login_paths": {**STRINGS, "default": [],
                              "description": "the app's own login page(s), hidden while SSO "
                              "is enforced; reachable after an emergency login"},
        "auth_params": {**AUTH_PARAMS, "description": "override the provider's auth_params "
                        "for sign-ins to this app"},
        "headers": {"type": "object", "default": {},
                    "propertyNames": HEADER_NAME,
                    "additionalProperties": {"type": "string", "minLength": 1},
                    "description": "extra identity headers for this app: header name -> "
                    "attribute (user, email, name, preferred_username, groups, provider, "
                    "auth_method, or a profile attribute)"},
        "api": api(),
        "upstream": {**URL, "description": "where nginx sends the app's traffic "
                     "(used only by `ssomw nginx` to print a ready server block)"},
    }, required=("id", "hosts"))


def groups() -> dict[str, Any]:
    return obj({
        "sources": {"type": "array", "items": {"enum": ["idp", "ldap", "local"]},
                    "uniqueItems": True, "default": ["idp", "ldap", "local"]},
        "filter": {**obj({
            "mode": {"enum": ["all", "none", "include"], "default": "all"},
            "include": {**STRINGS, "default": []},
            "exclude": {**STRINGS, "default": []},
        }), "default": {}},
        "rewrite": {"type": "array", "default": [],
                    "items": obj({"match": {"type": "string", "minLength": 1},
                                  "replace": {"type": "string"}}, required=("match", "replace"))},
        "map": {"type": "object", "default": {},
                "additionalProperties": {**STRINGS, "minItems": 1}},
        "default_groups": {"type": "array", "default": [], "items": obj({
            "groups": {**STRINGS, "minItems": 1},
            "for": {"enum": ["all", "new"], "default": "all"}}, required=("groups",))},
        "keep_local": {"type": "boolean", "default": True},
        "protected": {**STRINGS, "default": []},
        "update_existing": {"type": "boolean", "default": True},
    })


def directory() -> dict[str, Any]:
    ldap = obj({
        "url": {"oneOf": [{"type": "string", "pattern": r"^ldaps?://"},
                          {"type": "array", "minItems": 1,
                           "items": {"type": "string", "pattern": r"^ldaps?://"}}],
                "description": "one URL or a list tried in order"},
        "start_tls": {"type": "boolean", "default": False},
        "ca_file": {"type": "string"},
        "bind_dn": {"type": "string"},
        "bind_password": {"type": "string"},
        "user_base": {"type": "string", "minLength": 1},
        "user_filter": {"type": "string", "default": "(objectClass=inetOrgPerson)"},
        "username_attr": {"type": "string", "default": "uid"},
        "email_attr": {"type": "string", "default": "mail"},
        "group_base": {"type": "string"},
        "group_filter": {"type": "string", "default": "(objectClass=groupOfNames)"},
        "group_name_attr": {"type": "string", "default": "cn"},
        "group_member_attr": {"type": "string", "default": "member"},
        "member_of": {"type": "boolean", "default": False},
        "nested": {"type": "boolean", "default": True},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 500},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 3},
        "pool_size": {"type": "integer", "minimum": 1, "default": 4},
        "sync_interval": {**DURATION, "default": "1h"},
        "sync_on_sign_in": {"type": "boolean", "default": True},
        "attributes": {**STRINGS, "default": []},
    }, required=("url", "user_base"))
    return obj({"ldap": ldap})


def profile() -> dict[str, Any]:
    attribute = {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {"claim": {"type": "string", "minLength": 1},
                       "ldap": {"type": "string", "minLength": 1},
                       "header": HEADER_NAME},
    }
    return {"type": "object", "default": {},
            "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,39}$"},
            "additionalProperties": attribute}


def emergency() -> dict[str, Any]:
    return obj({
        "enabled": {"type": "boolean", "default": False},
        "path": {"type": "string", "pattern": r"^/[A-Za-z0-9._~/-]+$",
                 "description": "under server.path_prefix; choose it hard to guess"},
        "allowed_groups": {**STRINGS, "default": []},
        "credentials": {"enum": ["ldap", "local"], "default": "ldap"},
        "local_users": {"type": "array", "default": [], "items": obj({
            "username": {"type": "string", "minLength": 1},
            "hash": {"type": "string", "pattern": r"^\$argon2(id|i|d)\$"},
        }, required=("username", "hash"))},
        "max_lifetime": {**DURATION, "default": "1h"},
        "second_factor": {"enum": ["none", "totp"], "default": "none",
                          "description": "totp: a code from an authenticator app (or a "
                          "recovery code) after the password; `ssomw emergency enrol USER`"},
        "min_response_time": {"type": "number", "minimum": 0, "maximum": 10,
                              "deprecated": True,
                              "description": "deprecated and ignored: every answer now costs "
                              "the same work instead of a sleep (ssomw check warns)"},
        "throttle": {**obj({
            "max_failures": {"type": "integer", "minimum": 1, "default": 5},
            "max_failures_per_address": {"type": "integer", "minimum": 1, "default": 3},
            "window": {**DURATION, "default": "15m"},
            "lockout": {**DURATION, "default": "15m"},
            "base_delay": {"type": "number", "minimum": 0, "default": 1},
            "max_delay": {"type": "number", "minimum": 0, "default": 8},
        }), "default": {}},
    })


def admin() -> dict[str, Any]:
    return obj({
        "tokens": {"type": "array", "default": [], "items": obj({
            "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,64}$"},
            "hash": {"type": "string", "minLength": 20},
            "scopes": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"enum": list(ADMIN_SCOPES)}},
        }, required=("name", "hash", "scopes"))},
        "allow_from": {**STRINGS, "default": ["127.0.0.0/8", "::1/128"]},
        "config_source": {"enum": ["store", "file"], "default": "store"},
        "console": {**obj({
            "groups": {**STRINGS, "default": [],
                       "description": "members of these groups may use the web console at "
                       "<prefix>/admin/ (signed in through SSO or the emergency login); "
                       "empty: the console is off"},
        }), "default": {}},
    })


def broker() -> dict[str, Any]:
    """Contract §12: ssomw as the OpenID provider of apps with their own OIDC client."""
    return obj({
        "issuer": {**URL, "description": "the issuer apps see (default: server.public_url "
                   "+ path_prefix)"},
        "signing": {**obj({"alg": {"enum": ["ES256"], "default": "ES256"}}), "default": {}},
        "clients": {"type": "array", "default": [], "items": obj({
            "client_id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"},
            "name": {"type": "string"},
            "client_secret_hash": {"type": "string", "pattern": r"^\$argon2(id|i|d)\$",
                                   "description": "from `ssomw hash-password` or `ssomw "
                                   "broker client add`; never the secret itself"},
            "public": {"type": "boolean", "default": False,
                       "description": "no secret; PKCE (S256) required"},
            "redirect_uris": {"type": "array", "minItems": 1, "items": URL},
            "post_logout_redirect_uris": {"type": "array", "default": [], "items": URL},
            "backchannel_logout_uri": URL,
            "app": ID,
            "scopes": {"type": "array", "uniqueItems": True, "default": list(BROKER_SCOPES),
                       "items": {"enum": list(BROKER_SCOPES)}},
        }, required=("client_id", "redirect_uris", "app"))},
    })


def metrics() -> dict[str, Any]:
    return obj({
        "enabled": {"type": "boolean", "default": True},
        "allow_from": {**STRINGS, "default": ["127.0.0.0/8", "::1/128"]},
    })


def logging_() -> dict[str, Any]:
    return obj({
        "level": {"enum": ["debug", "info", "warning", "error"], "default": "info"},
        "format": {"enum": ["json", "text"], "default": "json"},
    })


def config_schema() -> dict[str, Any]:
    """The whole document: contract §4's top-level keys, nothing else."""
    root = obj({
        "server": {**server(), "default": {}},
        "store": {**store(), "default": {}},
        "session": session(),
        "headers": {**headers(), "default": {}},
        "providers": {"type": "array", "items": provider(), "minItems": 1},
        "routing": {**routing(), "default": {}},
        "apps": {"type": "array", "items": app(), "minItems": 1},
        "groups": {**groups(), "default": {}},
        "directory": {**directory(), "default": {}},
        "profile": profile(),
        "emergency": {**emergency(), "default": {}},
        "templates": {**TEMPLATES_SCHEMA, "default": {}},
        "admin": {**admin(), "default": {}},
        "broker": {**broker(), "default": {}},
        "metrics": {**metrics(), "default": {}},
        "logging": {**logging_(), "default": {}},
    }, required=("session", "providers", "apps"))
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["title"] = "ssomw configuration"
    return root
