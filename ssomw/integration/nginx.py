"""The nginx side of the integration, rendered from the configuration.

Three snippet files, one per nginx context: ``ssomw-http.conf`` (the maps behind the decision
cache key), ``ssomw-server.conf`` (the gateway's pages and the auth subrequest) and
``ssomw-protect.conf`` (one protected location). ``nginx/`` in the repository holds exactly what
these functions render for the default settings (a test keeps them in sync);
``ssomw nginx --write-snippets DIR`` writes them for the actual settings (path prefix, header
and cookie names). ``ssomw nginx`` prints what a user would otherwise write by hand: the
gateway upstream, the cache zone, one ``server {}`` per group of app hosts (and one for
``server.public_url``'s host when no app lives there), including the snippet files.

Decision cache: the internal auth location may cache the gateway's "allow" answers (only
those carry ``X-Accel-Expires``; 401/403/anonymous answers are never cached), keyed by

* the session cookie and the host — one user's decision never serves another;
* the *scope*: empty for apps whose rules ignore the path, else the method and URI — but only
  for URIs one of the app's path rules can match (a per-app ``map $uri``); every other URI
  gets the same decision by construction. Raw URIs that nginx and a servlet container may read
  differently (``;``, ``%``, ``//``, ``/.``) always key by URI. Rules whose regexes use syntax
  beyond the subset PCRE and Python agree on key every URI;
* a per-session time *bucket*: each session gets a phase (a tenth of a second, from the last
  digit of its cookie) and its bucket changes once a second at that phase. An entry can only be
  found until its bucket ends, less than 1 s after it was made — so a revoked session is refused
  by nginx within 1 s — while the refills of different sessions spread over the second instead
  of all arriving at each second boundary. (nginx's cache time has whole-second resolution, so
  expiry times alone could not spread them.) The gateway, told so by the
  ``X-Ssomw-Cache-Bucket`` request header, lets an entry live to the end of the next second;
  with the cache off (``ssomw nginx --no-cache``) nginx sends no such header and the gateway
  marks nothing cacheable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ssomw.config import Config
from ssomw.config.schema import identity_header_names as configured_header_names
from ssomw.config.schema import profile_header

HTTP_SNIPPET, SERVER_SNIPPET, PROTECT_SNIPPET = SNIPPETS = (
    "ssomw-http.conf", "ssomw-server.conf", "ssomw-protect.conf")
DEFAULT_SNIPPET_DIR = "/etc/nginx/ssomw"
# The header family the gateway's answers use; a client's member of it that no snippet
# overwrites is refused by the gateway (it cannot be cleared by name in nginx).
IDENTITY_FAMILY = "x-auth-request-"


def identity_header_names(config: Config) -> list[str]:
    """The headers the gateway sets on an allow: ``headers:``, one per profile attribute and
    the signed assertion (``headers.assertion``, when set)."""
    profile = [profile_header(name, s) for name, s in config["profile"].items()]
    assertion = config["headers"].get("assertion")
    return (list(configured_header_names(config["headers"]).values()) + profile
            + ([assertion] if assertion else []))


def strip_header_names(config: Config) -> list[str]:
    """``headers.strip`` less the names the gateway sets (those are overwritten anyway)."""
    set_here = {h.lower() for h in identity_header_names(config)}
    return [h for h in config["headers"]["strip"] if h.lower() not in set_here]


def overwritten_headers(config: Config) -> frozenset[str]:
    """Lower-case names of every request header ``ssomw-protect.conf`` overwrites or clears
    for this config: a client may send these (the app never sees its value), no other
    ``X-Auth-Request-*``."""
    return frozenset(h.lower() for h in [*identity_header_names(config),
                                         *config["headers"]["strip"]])


def variable(header: str) -> str:
    return header.lower().replace("-", "_")


def http_snippet(config: Config) -> str:
    """Http context: the maps behind the decision cache key (nothing a user chooses)."""
    return f"""\
# ssomw: include once at http level (http context), beside your `upstream ssomw {{ ... }}`,
# a `proxy_cache_path ... keys_zone=ssomw_auth:10m ...` and `map $host $ssomw_nocache {{ ... }}`
# (see the README, "Protect one app in five minutes", or what `ssomw nginx` prints).
# These maps make the decision cache's key; nothing here is meant to be edited.

# Sent to the gateway only while the cache is on: only then does it mark an answer cacheable.
map $ssomw_nocache $ssomw_cache_bucket {{
    "1" "";
    default "1";
}}

# $ssomw_bucket: the session's current second-long time bucket (its last digit).
{bucket_maps(config["session"]["name"])}"""


def server_snippet(config: Config) -> str:
    """Server context: the gateway's pages, the internal auth subrequest, 401/403 handling."""
    prefix = config.prefix
    cookie = config["session"]["name"]
    key = (f"$cookie_{cookie}|$http_authorization|$host|$ssomw_app|$ssomw_cache_scope"
           "|$ssomw_bucket")
    return f"""\
# ssomw: include inside every server {{}} that protects an app (server context).
# Needs, at http level: `upstream ssomw {{ ... }}`, a `proxy_cache_path` with
# `keys_zone=ssomw_auth:10m`, `map $host $ssomw_nocache {{ ... }}` and ssomw-http.conf
# (see the README, "Protect one app in five minutes", or what `ssomw nginx` prints).

# The gateway's own pages: sign-in, callback, logout, error pages. The forwarded headers are
# nginx's own, never the client's: the gateway believes them from nginx.
location ^~ {prefix}/ {{
    proxy_pass http://ssomw;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Request-Id $request_id;
}}

# The auth endpoint is for nginx only; browsers never reach it directly (nor the other
# proxies' endpoints, which would judge a URL of the client's choosing).
location = {prefix}/auth {{
    return 404;
}}
location = {prefix}/forward-auth {{
    return 404;
}}
location ^~ {prefix}/ext-authz/ {{
    return 404;
}}

# The subrequest made by `auth_request` for every protected request.
location = /_ssomw/auth {{
    internal;
    proxy_pass http://ssomw{prefix}/auth;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    proxy_set_header X-Original-Method $request_method;
    # The host nginx routed to (the request line's, when it names one) and the app of the
    # location: the gateway refuses a request whose URL names another.
    proxy_set_header X-Ssomw-Host $host;
    proxy_set_header X-Ssomw-App $ssomw_app;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Request-Id $request_id;
    # The decision cache: the gateway marks an answer cacheable only when the cookie in the
    # key is the one it judged.
    proxy_set_header X-Ssomw-Cache-Bucket $ssomw_cache_bucket;
    proxy_set_header X-Ssomw-Cache-Cookie $cookie_{cookie};

    proxy_cache ssomw_auth;
    # A request with an Authorization header never finds an entry: the gateway marks no
    # answer to one cacheable, and the header is part of the key.
    proxy_cache_key "{key}";
    proxy_cache_methods GET HEAD;
    proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;
    proxy_cache_lock off;
    proxy_no_cache $ssomw_nocache;
    proxy_cache_bypass $ssomw_nocache;
}}

# 401 from the gateway: send navigations to sign-in, answer API calls with a bare 401 (the
# auth_request module passes the gateway's WWW-Authenticate on, RFC 6750).
location @ssomw_signin {{
    if ($ssomw_location) {{
        return 302 $ssomw_location;
    }}
    return 401;
}}

# The gateway unreachable or its store down (the subrequest failed): fail closed with a 503.
location = /_ssomw/unavailable {{
    internal;
    default_type text/plain;
    return 503 "Sign-in is temporarily unavailable. Please try again in a minute.\n";
}}

# 403 from the gateway: its "not allowed" page, keeping the 403 status.
location = /_ssomw/forbidden {{
    internal;
    proxy_pass http://ssomw{prefix}/forbidden;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_method GET;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Request-Id $request_id;
    # A 403 for a token without the needed scope keeps the gateway's WWW-Authenticate.
    add_header WWW-Authenticate $ssomw_www_authenticate always;
}}
"""


def protect_snippet(config: Config) -> str:
    """Location context: require the gateway's decision and pass identity headers upstream."""
    lines = [
        "# ssomw: include inside each protected location (location context), before proxy_pass.",
        "# proxy_set_header here replaces inherited ones, so the usual ones are set here too.",
        "auth_request /_ssomw/auth;",
        "auth_request_set $ssomw_location $upstream_http_location;",
        "auth_request_set $ssomw_www_authenticate $upstream_http_www_authenticate;",
        "error_page 401 = @ssomw_signin;",
        "error_page 403 /_ssomw/forbidden;",
        "error_page 500 =503 /_ssomw/unavailable;",
        "",
        "# The app this location serves (`ssomw nginx` sets it after this include); the",
        "# gateway refuses requests it would judge for another app.",
        'set $ssomw_app "";',
        "",
        "# Decision cache scope: method and URI by default; `ssomw nginx` narrows it to the",
        "# whole app (set $ssomw_cache_scope \"\";) when the app's rules ignore paths and methods.",
        'set $ssomw_cache_scope "$request_method $request_uri";',
        "",
        "# Identity headers: always overwritten, so a client can never supply its own.",
    ]
    for header in identity_header_names(config):
        lines.append(f"auth_request_set $ssomw_{variable(header)} "
                     f"$upstream_http_{variable(header)};")
    for header in identity_header_names(config):
        lines.append(f"proxy_set_header {header} $ssomw_{variable(header)};")
    lines += [
        "",
        "# Identity-like headers the gateway does not set (headers.strip): cleared, so an app",
        "# that believes one never gets a client's. The gateway refuses (403) a request with",
        "# any other X-Auth-Request-* header.",
        *(f'proxy_set_header {header} "";' for header in strip_header_names(config)),
        "",
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Host $http_host;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-Id $request_id;",
    ]
    return "\n".join(lines) + "\n"


def snippet_files(config: Config) -> dict[str, str]:
    """The three snippet files for this config, by file name."""
    return {HTTP_SNIPPET: http_snippet(config), SERVER_SNIPPET: server_snippet(config),
            PROTECT_SNIPPET: protect_snippet(config)}


PASS_HEADERS = """\
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
"""


def http_block(config: Config, gateway: str | Sequence[str], cache_path: str,
               cache: bool = True, snippet_dir: str | None = None) -> str:
    """Http context: the gateway instance(s), the decision cache zone, the switch that turns
    it off, the key maps (``ssomw-http.conf``, included or inline) and the apps' scope maps."""
    servers = "".join(f"    server {g};\n" for g in ([gateway] if isinstance(gateway, str)
                                                       else gateway))
    maps = (f"include {snippet_dir}/{HTTP_SNIPPET};\n" if snippet_dir
            else http_snippet(config))
    return f"""\
upstream ssomw {{
{servers}    keepalive 32;
}}

# The decision cache (allow answers only, each used for under a second). Keep it on tmpfs
# (e.g. /dev/shm/ssomw or a tmpfs /var/cache/nginx): a disk-backed cache of many small entries
# is I/O-bound.
proxy_cache_path {cache_path} levels=1:2 keys_zone=ssomw_auth:10m
                 max_size=64m inactive=10s use_temp_path=off;
map $host $ssomw_nocache {{
    default "{0 if cache else 1}";  # "1" turns the decision cache off
}}
{maps}{scope_maps(config)}"""


def bucket_maps(cookie: str) -> str:
    """``$ssomw_bucket``: the last digit of the session's current second-long bucket.

    nginx has no arithmetic, so the phase (last digit of the cookie), the last digit of the
    current second and its tenth are combined through one exact-match map: the bucket is the
    second's digit before the phase and the next digit from the phase on.
    """
    entries = "".join(f'    "{p}{d}{t}" {d if t < p else (d + 1) % 10};\n'
                      for p in range(10) for d in range(10) for t in range(10))
    return (f'map $cookie_{cookie} $ssomw_phase {{\n    "~(\\d)[^\\d]*$" $1;\n'
            f"    default 0;\n}}\n"
            'map $msec $ssomw_second_tenth {\n    "~(\\d)\\.(\\d)" "$1$2";\n}\n'
            'map "$ssomw_phase$ssomw_second_tenth" $ssomw_bucket {\n    default x;\n'
            f"{entries}}}\n")


# Regex syntax PCRE (nginx) and Python's re read identically; anything else keys every URI.
PORTABLE_REGEX = re.compile(r"^(?:[A-Za-z0-9/_.^$*+?|()\[\]-]|\\[./dws-])*$")
ODD_URI = '"~[;%]|//|/\\."'


def scope_maps(config: Config) -> str:
    """Per app with path rules: ``$ssomw_scope_<app>`` = the method and URI for URIs a path
    rule can match (or odd raw URIs), else the app-wide scope."""
    out = []
    for app in config.policy.apps:
        plan = scope_plan(app)
        if plan is None:
            continue
        name = variable(app.id)
        base = '"$request_method"' if any(r.methods is not None for r in app.rules) else '""'
        patterns = "".join(f'    "~{p}" "$request_method $request_uri";\n' for p in plan)
        out.append(f"# Decision cache scope of app {app.id}: the URI only where its path rules "
                   f"look.\nmap $uri $ssomw_scope_{name}_uri {{\n    default {base};\n"
                   f"{patterns}}}\n"
                   f"map $request_uri $ssomw_scope_{name} {{\n"
                   f'    default $ssomw_scope_{name}_uri;\n'
                   f'    {ODD_URI} "$request_method $request_uri";\n}}\n')
    return "".join(out)


def scope_plan(app: Any) -> list[str] | None:
    """The path regexes that need the URI in the cache key, or None when the app either needs
    no URI at all (app scope) or must key every URI (non-portable regexes, local login pages:
    the snippet's default)."""
    if app.cache_scope != "url" or app.local_login_paths:
        return None
    patterns = [p.pattern for rule in app.rules for p in rule.paths]
    if not all(PORTABLE_REGEX.match(p) and '"' not in p for p in patterns):
        return None
    return patterns


def nginx_host(pattern: str) -> str:
    return pattern  # nginx server_name accepts exact names and "*.example.com" as-is


def host_covered(host: str, patterns: Iterable[str]) -> bool:
    """Whether a ``server_name`` list (exact names, ``*.`` wildcards) serves ``host``."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def public_host(config: Config) -> str | None:
    url = config["server"].get("public_url")
    return (urlsplit(url).hostname or None) if url else None


def server_head(names: str, listen: str, tls: tuple[str, str] | None) -> str:
    certificate = (f"    ssl_certificate {tls[0]};\n    ssl_certificate_key {tls[1]};\n"
                   if tls else "")
    return f"server {{\n    listen {listen};\n    server_name {names};\n{certificate}"


def server_blocks(config: Config, listen: str, snippet_dir: str | None,
                  app_ids: Iterable[str] | None = None,
                  tls: tuple[str, str] | None = None) -> str:
    """One server {} per distinct host list, one protected location per app, and one for
    ``server.public_url``'s host when no printed server covers it."""
    wanted = set(app_ids) if app_ids else None
    all_app_headers = sorted({h for app in config["apps"] for h in app["headers"]})
    # A server {} per set of hosts that serve the same apps: apps sharing only some of their
    # hosts must not produce two servers with one server_name (nginx would use the first).
    by_host: dict[str, list[Any]] = {}
    for app_config, app in zip(config["apps"], config.policy.apps, strict=True):
        if wanted is None or app.id in wanted:
            for host in app_config["hosts"]:
                by_host.setdefault(host.lower(), []).append((app_config, app))
    groups: dict[tuple[str, ...], list[Any]] = {}
    hosts_of: dict[tuple[str, ...], list[str]] = {}
    for host, apps in by_host.items():
        key = tuple(app.id for _, app in apps)
        groups.setdefault(key, apps)
        hosts_of.setdefault(key, []).append(host)
    server_include = (f"    include {snippet_dir}/{SERVER_SNIPPET};" if snippet_dir
                      else indent(server_snippet(config), 4))
    out = []
    for key, apps in groups.items():
        hosts = hosts_of[key]
        locations = []
        for app_config, app in apps:
            protect = (f"        include {snippet_dir}/{PROTECT_SNIPPET};" if snippet_dir
                       else indent(protect_snippet(config), 8))
            if app.cache_scope == "app":
                scope = '        set $ssomw_cache_scope "";\n'
            elif scope_plan(app) is not None:
                scope = f"        set $ssomw_cache_scope $ssomw_scope_{variable(app.id)};\n"
            else:
                scope = ""
            upstream = app_config.get("upstream")
            body = (f"        proxy_pass {upstream};\n" if upstream else
                    "        proxy_pass http://127.0.0.1:8080;  # set apps[].upstream\n")
            where = f"    location {app_config['path_prefix']} {{"
            if not app_config["sso"]:
                # No sign-in and no identity, but a client still can't forge one.
                cleared = "".join(f"        proxy_set_header {h} \"\";\n"
                                  for h in [*identity_header_names(config), *all_app_headers,
                                            *strip_header_names(config)])
                locations.append(f"{where}  # {app.id}: SSO off\n{PASS_HEADERS}{cleared}"
                                 f"{body}    }}\n")
                continue
            extra = "".join(
                f"        auth_request_set $ssomw_{variable(h)} $upstream_http_{variable(h)};\n"
                f"        proxy_set_header {h} $ssomw_{variable(h)};\n"
                for h in app_config["headers"])
            # Another app's identity header is cleared here too: never forgeable anywhere.
            extra += "".join(f'        proxy_set_header {h} "";\n' for h in all_app_headers
                             if h not in app_config["headers"])
            declared = f'        set $ssomw_app "{app.id}";\n'
            locations.append(f"{where}  # app {app.id}\n{protect}\n{declared}{extra}{scope}"
                             f"{body}    }}\n")
        names = " ".join(map(nginx_host, hosts))
        out.append(server_head(names, listen, tls) + f"{server_include}\n\n"
                   + "\n".join(locations) + "}\n")
    host = public_host(config)
    if host and not host_covered(host, by_host):
        out.append(f"# server.public_url: sign-in happens on {host}; the gateway's pages only.\n"
                   + server_head(host, listen, tls) + f"{server_include}\n\n"
                   "    location / {\n        return 404;\n    }\n}\n")
    return "\n".join(out)


def indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def preamble(command: str | None, snippet_dir: str | None) -> str:
    """What the printed file is and how to make it again (it is generated, not sacred)."""
    again = command or "ssomw nginx -c FILE ..."
    lines = ["# ssomw: the nginx side of the gateway's configuration (http context: a conf.d "
             "file).",
             "# Made by `ssomw nginx`; after changing apps, hosts, the path prefix, the cookie or",
             "# header names in the gateway's configuration, make it again:",
             f"#   {again}",
             "# In nginx.conf's main context (top level, outside http {}), also set",
             "# `pcre_jit on;`: the decision cache's key maps run regexes on every protected",
             "# request."]
    if snippet_dir:
        lines += [f"# It includes the snippet files in {snippet_dir}; `--write-snippets DIR` "
                  "writes them",
                  "# for this configuration (the files in the repository's nginx/ are for the "
                  "defaults)."]
    return "\n".join(lines) + "\n\n"


def full_config(config: Config, *, gateway: str | Sequence[str], listen: str, cache_path: str,
                snippet_dir: str | None, cache: bool = True,
                app_ids: Iterable[str] | None = None, tls: tuple[str, str] | None = None,
                command: str | None = None) -> str:
    """The whole conf.d file: the http-level part, then the server blocks."""
    return (preamble(command, snippet_dir)
            + http_block(config, gateway, cache_path, cache, snippet_dir) + "\n"
            + server_blocks(config, listen, snippet_dir, app_ids, tls))
