"""``ssomw sessions``: list and revoke SSO sessions, on every instance sharing the store."""

from __future__ import annotations

import json
import sys
import time
from typing import NoReturn

import click

from ssomw.cli.common import CONFIG_OPTION, config_and_store
from ssomw.store.base import StoreUnavailable
from ssomw.telemetry import audit


def store_failed(exc: StoreUnavailable, consequence: str) -> NoReturn:
    """One line on stderr, exit 1: what failed, and what it means for what was asked."""
    click.echo(f"ssomw: the store is unavailable ({exc}); {consequence}", err=True)
    sys.exit(1)


@click.group()
def sessions() -> None:
    """List and revoke SSO sessions (force logout)."""


@sessions.command("list")
@CONFIG_OPTION
@click.option("--user", metavar="U", help="only this user's sessions")
@click.option("--json", "as_json", is_flag=True,
              help="one JSON object per line, with the admin API's field names")
def sessions_list(config_file: str | None, user: str | None, as_json: bool) -> None:
    """Show live sessions: id, user, provider, the provider's sid, sign-in time, last
    activity and when the session expires (idle or absolute, whichever comes first)."""
    config, store = config_and_store(config_file)
    try:
        records = sorted(store.sessions_by_user(user) if user else store.all_sessions(),
                         key=lambda r: r.created)
    except StoreUnavailable as exc:
        store_failed(exc, "no sessions listed")
    idle = config["session"]["idle_timeout"]
    stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))  # noqa: E731
    if not as_json:
        click.echo(f"{'ID':<44} {'USER':<24} {'PROVIDER':<12} {'SID':<24} {'SIGNED IN':<19} "
                   f"{'LAST SEEN':<19} EXPIRES")
    for r in records:
        if as_json:
            click.echo(json.dumps({"id": r.id, "user": r.user, "provider": r.provider,
                                   "sid": r.sid,
                                   "created": r.created, "last_seen": r.last_seen,
                                   "expires": r.deadline(idle),
                                   "auth_method": r.data.get("auth_method")}))
        else:
            click.echo(f"{r.id:<44} {r.user:<24} {r.provider:<12} {r.sid or '-':<24} "
                       f"{stamp(r.created)} {stamp(r.last_seen)} {stamp(r.deadline(idle))}")
    if not as_json:
        click.echo(f"{len(records)} session(s)")


@sessions.command("revoke")
@CONFIG_OPTION
@click.option("--user", metavar="U", help="every session of this user")
@click.option("--id", "session_id", metavar="ID", help="one session")
@click.option("--all", "everyone", is_flag=True, help="every session of every user")
def sessions_revoke(config_file: str | None, user: str | None, session_id: str | None,
                    everyone: bool) -> None:
    """End sessions at once, on every gateway instance sharing the store."""
    if sum(map(bool, (user, session_id, everyone))) != 1:
        raise click.UsageError("give exactly one of --user, --id, --all")
    _, store = config_and_store(config_file)
    try:
        if session_id:
            ended = int(store.delete_session(session_id))
        else:
            records = store.sessions_by_user(user) if user else store.all_sessions()
            ended = store.delete_sessions(r.id for r in records)
    except StoreUnavailable as exc:
        store_failed(exc, "nothing was revoked: the sessions are still valid")
    audit.record(store, "sessions_revoked", author="cli", user=user,
                 session=session_id[:8] if session_id else None, all=everyone, ended=ended)
    click.echo(f"revoked {ended} session(s)")
    if session_id and not ended:
        sys.exit(1)
