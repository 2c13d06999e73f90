"""``ssomw ldap sync [--dry-run]``: one directory sync run from the command line.

Registered by ``ssomw/cli.py`` (``main.add_command(ldap)``). Exit codes: 0 done, 1 directory
or store unreachable, 2 no ``directory.ldap`` configured (or invalid config), 3 skipped
because another run holds the lock.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ssomw.directory.ldap import Directory, DirectoryUnavailable, DirectoryUser
from ssomw.directory.sync import Handler, render_progress, run_sync
from ssomw.store.base import Store, StoreUnavailable

LOCK_TTL = 600.0  # renewed during the run; after a crash the next run waits at most this long


def build_handler(config: Any, store: Store, dry_run: bool) -> Handler:
    """The per-user step: apply the groups pipeline (§4.6) to the store.

    Placeholder until the lead wires the groups pipeline: it changes nothing, so a run only
    reports what the directory holds.
    """

    def handle(user: DirectoryUser) -> tuple[int, int]:
        return 0, 0

    return handle


@click.group()
def ldap() -> None:
    """The LDAP directory."""


@ldap.command()
@click.option("-c", "--config", "config_file", metavar="FILE",
              help="config file (default: $SSOMW_CONFIG, else conf/ssomw.yaml)")
@click.option("--dry-run", is_flag=True, help="report what would change; change nothing")
def sync(config_file: str | None, dry_run: bool) -> None:
    """Run one directory sync: users' groups from LDAP into the store."""
    from ssomw.cli_common import load_or_exit
    from ssomw.store import open_store

    config = load_or_exit(config_file)
    settings = (config.data.get("directory") or {}).get("ldap")
    if not settings:
        click.echo("no directory.ldap section in the configuration", err=True)
        sys.exit(2)
    directory = Directory(settings)
    store = open_store(config["store"])
    bar = render_progress()
    try:
        report = run_sync(directory, store, build_handler(config, store, dry_run),
                          dry_run=dry_run, progress=bar, lock_ttl=LOCK_TTL)
    except (DirectoryUnavailable, StoreUnavailable) as exc:
        if bar:
            bar.close()
        click.echo(f"directory sync failed: {exc}", err=True)
        sys.exit(1)
    finally:
        directory.close()
        store.close()
    if bar:
        bar.close()
    click.echo(("dry run: " if dry_run else "") + report.summary())
    if report.skipped_because_locked:
        sys.exit(3)
