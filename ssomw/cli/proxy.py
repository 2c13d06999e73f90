"""``ssomw nginx``: the proxy configuration for the configured apps."""

from __future__ import annotations

from pathlib import Path

import click

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.integration.nginx import full_config, protect_snippet, server_snippet


@click.command()
@CONFIG_OPTION
@click.option("--app", "app_ids", multiple=True, metavar="ID", help="only these apps")
@click.option("--listen", default="443 ssl", show_default=True, help="nginx listen parameters")
@click.option("--gateway", default="127.0.0.1:4180", show_default=True,
              help="where the gateway listens")
@click.option("--cache-path", default="/var/cache/nginx/ssomw", show_default=True)
@click.option("--no-cache", is_flag=True, help="do not cache auth decisions in nginx")
@click.option("--snippets", "snippet_dir", default=None, metavar="DIR",
              help="include snippet files from DIR instead of printing them inline")
@click.option("--write-snippets", "write_dir", default=None, metavar="DIR",
              help="write ssomw-server.conf and ssomw-protect.conf for this config into DIR")
def nginx(config_file: str | None, app_ids: tuple[str, ...], listen: str, gateway: str,
          cache_path: str, no_cache: bool, snippet_dir: str | None,
          write_dir: str | None) -> None:
    """Print the nginx configuration for the configured apps."""
    config = load_or_exit(config_file)
    if write_dir:
        target = Path(write_dir)
        target.mkdir(parents=True, exist_ok=True)
        (target / "ssomw-server.conf").write_text(server_snippet(config))
        (target / "ssomw-protect.conf").write_text(protect_snippet(config))
        click.echo(f"wrote {target}/ssomw-server.conf and {target}/ssomw-protect.conf", err=True)
        return
    unknown = set(app_ids) - {a["id"] for a in config["apps"]}
    if unknown:
        raise click.UsageError(f"unknown app id(s): {', '.join(sorted(unknown))}")
    click.echo(full_config(config, gateway=gateway, listen=listen, cache_path=cache_path,
                           snippet_dir=snippet_dir, cache=not no_cache,
                           app_ids=app_ids or None), nl=False)
