#!/usr/bin/env bash
# Installs everything the test suite needs on Debian 12: the real components (nginx, redis,
# slapd, chromium, wrk), the project's venv and the node modules of the test OpenID provider
# and of axe-core (tests/a11y).
# Idempotent and non-interactive; fast when everything is already there. Works from any cwd.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
PROVIDER_DIR="$REPO/tests/oidc-provider"
export DEBIAN_FRONTEND=noninteractive

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

fingerprint() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# Run a noisy command quietly; show its output only when it fails.
quietly() {
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        rm -f "$log"
        die "failed: $*"
    fi
    rm -f "$log"
}

# --- Debian packages ---------------------------------------------------------------------
# "path package" pairs: a package is installed only when its path is missing.
REQUIRED=(
    "/usr/sbin/nginx nginx"
    "/usr/bin/redis-server redis-server"
    "/usr/sbin/slapd slapd"
    "/usr/bin/ldapsearch ldap-utils"
    "/usr/bin/chromium chromium"
    "/usr/share/fonts/truetype/liberation fonts-liberation"
    "/usr/bin/wrk wrk"
    "/usr/bin/node nodejs"
    "/usr/bin/npm npm"
    "/usr/bin/caddy caddy"
    "/usr/sbin/apache2 apache2"
    "/usr/lib/apache2/modules/mod_auth_openidc.so libapache2-mod-auth-openidc"
)

missing=()
for pair in "${REQUIRED[@]}"; do
    read -r path package <<<"$pair"
    [ -e "$path" ] || missing+=("$package")
done

# The services these packages start would hold the default ports; tests run their own
# instances on free ports, so keep the system ones stopped.
stop_system_services() {
    for service in nginx redis-server slapd caddy apache2; do
        as_root service "$service" stop >/dev/null 2>&1 || true
        as_root systemctl disable "$service" >/dev/null 2>&1 || true
    done
}

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    # slapd asks questions on install; answer them up front (throw-away values: tests run
    # their own slapd with its own config directory).
    as_root debconf-set-selections <<'EOF'
slapd slapd/domain string ssomw.test
slapd shared/organization string ssomw
slapd slapd/password1 password ssomw-admin
slapd slapd/password2 password ssomw-admin
EOF
    # Keep package scripts from starting services (removed again below, if we added it).
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod +x /usr/sbin/policy-rc.d
        added_policy=1
        trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$added_policy" ]; then
        as_root rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
else
    say "Debian packages present"
fi
# Stop system instances started by package installs or by a boot (they use their pid files,
# so our own test instances are never touched).
for pidfile in /run/nginx.pid /run/redis/redis-server.pid /run/slapd/slapd.pid; do
    if [ -s "$pidfile" ]; then
        say "stopping the system services"
        stop_system_services
        break
    fi
done

nginx -V 2>&1 | grep -q with-http_auth_request_module \
    || die "this nginx lacks the auth_request module (install Debian's 'nginx' package)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js >= 20 needed for oidc-provider 9 (found $(node -v))"

# --- Python venv -------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    python="$(command -v python3.11 || command -v python3)"
    "$python" -c 'import sys; assert sys.version_info >= (3, 11)' \
        || die "Python >= 3.11 needed (found $("$python" -V))"
    if ! "$python" -c 'import ensurepip' 2>/dev/null; then
        say "installing python3-venv"
        as_root apt-get update -qq && as_root apt-get install -y -qq python3-venv >/dev/null
    fi
    say "creating venv at $VENV"
    "$python" -m venv "$VENV"
fi

stamp="$VENV/.ssomw-install.sha256"
wanted="$(fingerprint "$REPO/setup.cfg" "$REPO/pyproject.toml")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] || [ ! -x "$VENV/bin/ssomw" ]; then
    say "pip install -e '.[test]'"
    quietly "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO[test]"
    echo "$wanted" >"$stamp"
else
    say "venv up to date"
fi

# --- node packages: the test OpenID provider, axe-core for the accessibility checks ----------
for NODE_DIR in "$PROVIDER_DIR" "$REPO/tests/a11y"; do
    stamp="$NODE_DIR/node_modules/.ssomw-install.sha256"
    wanted="$(fingerprint "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        say "npm install in ${NODE_DIR#"$REPO"/}"
        (
            cd "$NODE_DIR"
            if [ -f package-lock.json ]; then
                quietly npm ci --no-audit --no-fund --loglevel=error
            else
                quietly npm install --no-audit --no-fund --loglevel=error
            fi
        )
        # package-lock.json may have just been written: fingerprint what is there now.
        fingerprint "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" >"$stamp"
    else
        say "${NODE_DIR#"$REPO"/} node modules up to date"
    fi
done

mkdir -p "$REPO/tests/artifacts"
say "ready"
