"""``ssomw check``: validate a config and say what to register at each provider."""

from __future__ import annotations

import click

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.config import config_path
from ssomw.config.validate import config_warnings, shown
from ssomw.integration.registration import registration


@click.command()
@CONFIG_OPTION
def check(config_file: str | None) -> None:
    """Validate a config: print every error with its path; exit 0 valid, 2 invalid."""
    path = config_path(config_file)

    config = load_or_exit(config_file)
    click.echo(f"{path}: OK")
    for warning in config_warnings(config.data):
        click.echo(f"warning: {warning}", err=True)
    for provider_id, entry in registration(config).items():
        click.echo(f"\nRegister at provider {provider_id!r} (client {entry.pop('client_id')}):")
        for key, value in entry.items():
            for item in value if isinstance(value, list) else [value]:
                click.echo(f"  {key}: {shown(item)}")
