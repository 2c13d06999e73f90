"""``ssomw ldap sync [--dry-run]``: one directory sync run from the command line.

Each directory user goes through the same group pipeline as a sign-in
(:meth:`ssomw.identity.users.Identities.from_directory`). Exit codes: 0 done, 1 directory or store
unreachable, 2 no ``directory.ldap`` configured (or an invalid config), 3 skipped because
another run holds the lock.
"""

from __future__ import annotations

import sys

import click

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.directory.ldap import DirectoryUnavailable, DirectoryUser
from ssomw.directory.sync import render_progress, run_sync
from ssomw.identity.users import Identities
from ssomw.store import open_store
from ssomw.store.base import StoreUnavailable

LOCK_TTL = 600.0  # renewed during the run; after a crash the next run waits at most this long


@click.group()
def ldap() -> None:
    """The LDAP directory."""


@ldap.command()
@CONFIG_OPTION
@click.option("--dry-run", is_flag=True, help="report what would change; change nothing")
def sync(config_file: str | None, dry_run: bool) -> None:
    """Run one directory sync: users' groups and profile from LDAP into the store."""
    config = load_or_exit(config_file)
    store = open_store(config["store"])
    identities = Identities(config.data, store)
    directory = identities.directory
    if directory is None:
        click.echo("no directory.ldap section in the configuration", err=True)
        sys.exit(2)

    def handle(user: DirectoryUser) -> tuple[int, int]:
        return identities.from_directory(user, dry_run=dry_run)

    bar = render_progress()
    try:
        report = run_sync(directory, store, handle, dry_run=dry_run, progress=bar,
                          lock_ttl=LOCK_TTL)
    except (DirectoryUnavailable, StoreUnavailable) as exc:
        click.echo(f"directory sync failed: {exc}", err=True)
        sys.exit(1)
    finally:
        if bar:
            bar.close()
        directory.close()
        store.close()
    click.echo(("dry run: " if dry_run else "") + report.summary())
    if report.skipped_because_locked:
        sys.exit(3)
