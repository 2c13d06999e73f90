"""``ssomw check``: validate a config, say whether it is the one in force, and what to
register at each provider."""

from __future__ import annotations

from pathlib import Path

import click

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.config import Config, config_path
from ssomw.config.checks import config_warnings
from ssomw.config.validate import shown
from ssomw.config.versions import ConfigVersions
from ssomw.integration.registration import registration
from ssomw.store import open_store
from ssomw.store.base import StoreUnavailable


@click.command()
@CONFIG_OPTION
def check(config_file: str | None) -> None:
    """Validate a config: print every error with its path; exit 0 valid, 2 invalid."""
    path = config_path(config_file)

    config = load_or_exit(config_file)
    click.echo(f"{path}: OK")
    for warning in config_warnings(config.data):
        click.echo(f"warning: {warning}", err=True)
    standing = against_the_store(config, path)
    if standing:
        click.echo(standing, err=True)
    for provider_id, entry in registration(config).items():
        click.echo(f"\nRegister at provider {provider_id!r} (client {entry.pop('client_id')}):")
        for key, value in entry.items():
            for item in value if isinstance(value, list) else [value]:
                text = str(item).lower() if isinstance(item, bool) else shown(item)
                click.echo(f"  {key}: {text}")


def against_the_store(config: Config, path: Path) -> str | None:
    """With ``config_source: store``, whether ``ssomw serve`` will run this file: the same
    rule as at start (:meth:`ConfigVersions.sync_file`), read-only. A store that was never
    created (a SQLite file that does not exist yet) is left alone: the file will seed it."""
    if config["admin"]["config_source"] != "store" or config.raw is None:
        return None
    settings = config["store"]
    if settings["backend"] == "sqlite" and not Path(settings["path"]).exists():
        return None
    store = open_store(settings)
    try:
        state = ConfigVersions(store).file_state(config.raw)
    except StoreUnavailable as exc:
        return f"note: could not compare with the store's active configuration ({exc})"
    finally:
        store.close()
    if state.status == "new":
        return (f"note: {path} differs from the active configuration version {state.active}; "
                f"`ssomw serve` applies it as a new version at start (now: ssomw config "
                f"import {path})")
    if state.status == "superseded":
        return (f"warning: {path} differs from the active configuration version "
                f"{state.active}, which stays in force at the next start: the file is version "
                f"{state.match}, changed since through the API, the CLI or a rollback. To "
                f"apply the file: ssomw config import {path}")
    return None
