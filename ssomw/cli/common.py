"""What every ``ssomw`` subcommand shares: the config option and loading it or exiting 2."""

from __future__ import annotations

import sys

import click

from ssomw.config import Config, ConfigInvalid, config_path, load_config
from ssomw.store import open_store
from ssomw.store.base import Store

CONFIG_OPTION = click.option("-c", "--config", "config_file", metavar="FILE",
                             help="config file (default: $SSOMW_CONFIG, else conf/ssomw.yaml)")


def load_or_exit(config_file: str | None) -> Config:
    path = config_path(config_file)
    try:
        return load_config(path)
    except ConfigInvalid as exc:
        click.echo(f"{path}: configuration is invalid:", err=True)
        for error in exc.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(2)


def config_and_store(config_file: str | None) -> tuple[Config, Store]:
    """The config and its store, for commands that work on the store directly (they hold on
    every gateway instance sharing it)."""
    config = load_or_exit(config_file)
    return config, open_store(config["store"])
