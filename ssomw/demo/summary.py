"""What the demo prints once it is up: where everything is, who can sign in, what to try."""

from __future__ import annotations

import sys
from pathlib import Path

from ssomw.demo.stack import (
    ADMINS,
    AGENTS,
    APPS,
    BRAND,
    CORP_USERS,
    DOMAIN,
    EMERGENCY_USER,
    PARTNER_USERS,
    TEAM,
    DemoInfo,
)

READY_LINE = "Press Ctrl-C to stop."


def ssomw_command() -> str:
    """How to call this installation's `ssomw` (the venv's, which a bare `ssomw` may not be)."""
    beside = Path(sys.executable).parent / "ssomw"
    return str(beside) if beside.exists() else "ssomw"


def _table(rows: list[tuple[str, ...]], indent: str = "    ") -> str:
    """Rows as left-aligned columns (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        indent + "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)),
                            row[-1]])
        for row in rows)


def summary(info: DemoInfo, keep: bool) -> str:
    a, p = info.urls["app-a"], info.ports
    apps = _table([
        ("A", a, f"the staff wiki: any {BRAND} user; /public/ is open to all"),
        ("B", info.urls["app-b"], f"{TEAM} only: a 403 page for everyone else"),
        ("desk", info.urls["desk"], f"{AGENTS} get SSO; others pass through without identity"),
    ])
    users = _table([
        (f"{BRAND} login", "alice / " + CORP_USERS["alice"]["password"],
         f"{TEAM}; in LDAP: engineering, department 42"),
        (f"{BRAND} login", "bob / " + CORP_USERS["bob"]["password"], f"not in {TEAM}"),
        ("Partner login", "carol / " + PARTNER_USERS["carol"]["password"],
         f"{AGENTS}; known as carol@partner.example"),
        ("Emergency login", f"{EMERGENCY_USER} / {info.emergency_password}",
         f"local group {ADMINS}"),
    ])
    backends = ", ".join(f"127.0.0.1:{p[name]}" for name in APPS)
    where = "kept after exit" if keep else "removed at exit"
    return f"""
ssomw demo is up: nginx on 127.0.0.1:{info.port}, plain http (cookies use `secure: false`).

  Apps (one sign-in for all of *.{DOMAIN}):
{apps}

  Users (provider, user / password):
{users}

  Things to try:
  1. Open A and sign in as alice: the page lists the X-Auth-Request-* headers it got, with
     Department 42 from LDAP and the LDAP group engineering mapped to developers.
  2. Open B: alice is in already (one cookie). Open the desk: she passes through, but with no
     identity headers, as she is not an agent.
  3. Sign out (a link on each page; confirm at the provider): every app asks again.
  4. Open the desk: the branded choice page lists both providers. Pick "Partner login" and
     sign in as carol: the desk gets her identity. A, company-only, sends her to its provider.
  5. Sign out, then sign in at B as bob: the 403 page, with the support contact. Let him in
     (in force at once, no new sign-in), then reload B:
       {ssomw_command()} groups add bob {TEAM} -c {info.config_path}
  6. The emergency login needs no provider; sign in as {EMERGENCY_USER} at
       {info.emergency_url}
     Afterwards A's own login page {a}login opens (SSO users are sent to sign-in).
  7. Forged headers are overwritten by nginx; the app never sees "admin":
       curl -H 'X-Auth-Request-User: admin' {a}public/
  8. Where alice's groups come from (after step 1):
       {ssomw_command()} groups show alice -c {info.config_path}
  9. The providers' discovery documents:
       {info.discovery['corp']}
       {info.discovery['partner']}

  Behind the scenes: gateway 127.0.0.1:{p['gateway']}, LDAP ldap://127.0.0.1:{p['ldap']},
    apps {backends}.
  Files and logs: {info.workdir} ({where}).
  {READY_LINE}
"""
