"""``ssomw sessions`` and ``ssomw groups``: session and local-group administration.

The same operations the admin API exposes, working directly on the configured store, so they
hold on every gateway instance sharing it.
"""

from __future__ import annotations

import json
import sys

import click

from .cli_common import CONFIG_OPTION, load_or_exit


@click.group()
def sessions() -> None:
    """List and revoke SSO sessions (force logout)."""


def session_store(config_file: str | None):
    from .store import open_store

    config = load_or_exit(config_file)
    return config, open_store(config["store"])


@sessions.command("list")
@CONFIG_OPTION
@click.option("--user", metavar="U", help="only this user's sessions")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def sessions_list(config_file: str | None, user: str | None, as_json: bool) -> None:
    """Show live sessions: id, user, provider, sign-in time, last activity, end of life."""
    import time

    config, store = session_store(config_file)
    records = store.sessions_by_user(user) if user else store.all_sessions()
    idle = config["session"]["idle_timeout"]
    stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))  # noqa: E731
    if not as_json:
        click.echo(f"{'ID':<44} {'USER':<24} {'PROVIDER':<12} {'SIGNED IN':<19} "
                   f"{'LAST SEEN':<19} ENDS")
    for r in records:
        if as_json:
            click.echo(json.dumps({"id": r.id, "user": r.user, "provider": r.provider,
                                   "sid": r.sid,
                                   "created": r.created, "last_seen": r.last_seen,
                                   "ends": r.deadline(idle),
                                   "auth_method": r.data.get("auth_method")}))
        else:
            click.echo(f"{r.id:<44} {r.user:<24} {r.provider:<12} {stamp(r.created)} "
                       f"{stamp(r.last_seen)} {stamp(r.deadline(idle))}")
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
    _, store = session_store(config_file)
    if session_id:
        ended = int(store.delete_session(session_id))
    else:
        records = store.sessions_by_user(user) if user else store.all_sessions()
        ended = store.delete_sessions(r.id for r in records)
    from . import audit

    audit.record(store, "sessions_revoked", author="cli", user=user,
                 session=session_id[:8] if session_id else None, all=everyone, ended=ended)
    click.echo(f"revoked {ended} session(s)")
    if session_id and not ended:
        sys.exit(1)




@click.group()
def groups() -> None:
    """Local group assignments and why a user has each group."""


@groups.command("show")
@CONFIG_OPTION
@click.argument("user")
def groups_show(config_file: str | None, user: str) -> None:
    """The user's groups as last resolved, each with its source and how it was derived."""
    from .users import load_user, local_groups

    _, store = session_store(config_file)
    record = load_user(store, user)
    local = local_groups(store, user)
    if record is None:
        click.echo(f"{user}: not seen yet (local groups: {', '.join(local) or 'none'})")
        return
    click.echo(f"{user}: {len(record.grants)} group(s)")
    for grant in sorted(record.grants, key=lambda g: g.name):
        click.echo(f"  {grant.name:<32} {grant.source:<9} {' -> '.join(grant.via)}")
    click.echo(f"local assignments: {', '.join(local) or 'none'}")


@groups.command("set")
@CONFIG_OPTION
@click.argument("user")
@click.argument("names", nargs=-1)
def groups_set(config_file: str | None, user: str, names: tuple[str, ...]) -> None:
    """Replace the user's local groups (none given: remove them all)."""
    from .users import set_local_groups

    _, store = session_store(config_file)
    result = set_local_groups(store, user, names)
    click.echo(f"{user}: local groups: {', '.join(result) or 'none'}")
    click.echo("in force at the user's next sign-in or directory sync")


@groups.command("add")
@CONFIG_OPTION
@click.argument("user")
@click.argument("names", nargs=-1, required=True)
def groups_add(config_file: str | None, user: str, names: tuple[str, ...]) -> None:
    """Add local groups to the user."""
    from .users import local_groups, set_local_groups

    _, store = session_store(config_file)
    current = local_groups(store, user)
    result = set_local_groups(store, user, [*current, *names])
    click.echo(f"{user}: local groups: {', '.join(result)}")


@groups.command("remove")
@CONFIG_OPTION
@click.argument("user")
@click.argument("names", nargs=-1, required=True)
def groups_remove(config_file: str | None, user: str, names: tuple[str, ...]) -> None:
    """Remove local groups from the user."""
    from .users import local_groups, set_local_groups

    _, store = session_store(config_file)
    result = set_local_groups(store, user,
                              [g for g in local_groups(store, user) if g not in names])
    click.echo(f"{user}: local groups: {', '.join(result) or 'none'}")


@click.group()
def emergency() -> None:
    """Emergency-login throttling: list and lift lockouts."""


def emergency_throttle(config_file: str | None):
    import time

    from .core.throttle import Throttle, ThrottleSettings
    from .store import open_store

    config = load_or_exit(config_file)
    settings = ThrottleSettings.from_config(config["emergency"]["throttle"])
    return Throttle(open_store(config["store"]), settings, time.time)


@emergency.command("bans")
@CONFIG_OPTION
def emergency_bans(config_file: str | None) -> None:
    """Usernames and client addresses locked out right now."""
    import time

    bans = emergency_throttle(config_file).bans()
    for key, info in bans:
        until = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["until"]))
        click.echo(f"{key:<48} until {until}  ({info['failures']} failures)")
    click.echo(f"{len(bans)} lockout(s)")


@emergency.command("unban")
@CONFIG_OPTION
@click.option("--user", metavar="U")
@click.option("--address", metavar="A")
@click.option("--all", "everyone", is_flag=True)
def emergency_unban(config_file: str | None, user: str | None, address: str | None,
                    everyone: bool) -> None:
    """Lift lockouts (and failure counts) of a user, an address, or everyone."""
    if sum(map(bool, (user, address, everyone))) != 1:
        raise click.UsageError("give exactly one of --user, --address, --all")
    prefix = "" if everyone else (f"user:{user.strip().lower()}" if user else f"addr:{address}")
    cleared = emergency_throttle(config_file).clear(prefix)
    click.echo(f"lifted {cleared} lockout(s)")


@click.group()
def users() -> None:
    """Users known to the gateway."""


@users.command("migrate")
@CONFIG_OPTION
@click.option("--dry-run", is_flag=True, help="only say what would change")
def users_migrate(config_file: str | None, dry_run: bool) -> None:
    """Move users of providers not authoritative for usernames to <sub>@<provider>."""
    from .users import migrate_identities

    config, store = session_store(config_file)
    authoritative = {p["id"]: "username" in p["authoritative"] for p in config["providers"]}
    result = migrate_identities(store, authoritative, dry_run=dry_run)
    verb = "would move" if dry_run else "moved"
    for old, new in sorted(result.renames.items()):
        click.echo(f"{verb} {old} -> {new}")
    click.echo(f"{len(result.renames)} user(s) {verb}; {len(result.sessions)} session(s) "
               f"{'would end' if dry_run else 'ended'} (they sign in again under the new name)")
    for name in result.unmapped:
        click.echo(f"unmapped: {name} (no live session tells its provider subject; re-assign "
                   "its local groups by hand if needed)")
