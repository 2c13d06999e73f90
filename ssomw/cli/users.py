"""``ssomw groups`` and ``ssomw users``: local group assignments and user records."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from ssomw.cli.common import CONFIG_OPTION, config_and_store
from ssomw.identity.users import Identities, load_user, local_groups, migrate_identities
from ssomw.store.base import StoreUnavailable


@click.group()
def groups() -> None:
    """Local group assignments and why a user has each group."""


@groups.command("show")
@CONFIG_OPTION
@click.argument("user")
def groups_show(config_file: str | None, user: str) -> None:
    """The user's groups as last resolved, each with its source and how it was derived."""
    _, store = config_and_store(config_file)
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
    assign(config_file, user, lambda current: list(names))


@groups.command("add")
@CONFIG_OPTION
@click.argument("user")
@click.argument("names", nargs=-1, required=True)
def groups_add(config_file: str | None, user: str, names: tuple[str, ...]) -> None:
    """Add local groups to the user."""
    assign(config_file, user, lambda current: [*current, *names])


@groups.command("remove")
@CONFIG_OPTION
@click.argument("user")
@click.argument("names", nargs=-1, required=True)
def groups_remove(config_file: str | None, user: str, names: tuple[str, ...]) -> None:
    """Remove local groups from the user."""
    assign(config_file, user, lambda current: [g for g in current if g not in names])


def assign(config_file: str | None, user: str,
           change: Callable[[list[str]], list[str]]) -> None:
    """Change the user's local groups and put them in force in the live sessions at once."""
    config, store = config_and_store(config_file)
    identities = Identities(config.data, store)
    try:
        result = identities.assign_local(user, change(local_groups(store, user)))
    except StoreUnavailable as exc:
        click.echo(f"store unavailable: {exc}", err=True)
        sys.exit(1)
    finally:
        store.close()
    click.echo(f"{user}: local groups: {', '.join(result.local) or 'none'}")
    if result.groups is None and not result.sessions:
        click.echo(f"{user} has not signed in yet: in force at the first sign-in")
        return
    if result.groups is not None:
        click.echo(f"{user}: groups now: {', '.join(result.groups) or 'none'}")
    click.echo(f"in force now: {result.sessions} live session(s) updated "
               "(at nginx within 1 s)")


@click.group()
def users() -> None:
    """Users known to the gateway."""


@users.command("migrate")
@CONFIG_OPTION
@click.option("--dry-run", is_flag=True, help="only say what would change")
def users_migrate(config_file: str | None, dry_run: bool) -> None:
    """Move users of providers not authoritative for usernames to <sub>@<provider>."""
    config, store = config_and_store(config_file)
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
