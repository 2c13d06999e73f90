"""The ``ssomw`` command (contract §1)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .cli_common import CONFIG_OPTION, load_or_exit
from .config import config_path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ssomw: single sign-on gateway for nginx auth_request."""


@main.command()
@CONFIG_OPTION
@click.option("--bind", default="127.0.0.1:4180", show_default=True, metavar="HOST:PORT")
@click.option("--workers", type=int, default=None, help="default: number of CPU cores")
def serve(config_file: str | None, bind: str, workers: int | None) -> None:
    """Run the gateway under gunicorn."""
    from .serve import run

    config = load_or_exit(config_file)
    assert config.source is not None
    os.environ["SSOMW_CONFIG"] = str(config.source.resolve())
    run(bind=bind, workers=workers)


@main.command()
@CONFIG_OPTION
def check(config_file: str | None) -> None:
    """Validate a config: print every error with its path; exit 0 valid, 2 invalid."""
    from .config.validate import config_warnings, shown
    from .registration import registration

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


@main.command()
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
    from .nginxconf import full_config, protect_snippet, server_snippet

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


@main.command("hash-password")
def hash_password() -> None:
    """Read a password (twice on a terminal) and print its argon2 hash for emergency.local_users."""
    from argon2 import PasswordHasher

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise click.UsageError("use at least 12 characters for an emergency password")
    click.echo(PasswordHasher().hash(password))


@main.command()
@click.option("--port", type=int, default=8080, show_default=True, help="nginx port")
@click.option("--workdir", type=click.Path(path_type=Path), default=None)
def demo(port: int, workdir: Path | None) -> None:
    """Run the whole stack on loopback and print what to try."""
    from .demo import run_demo

    run_demo(port=port, workdir=workdir)


def register_subcommands() -> None:
    from .cli_config import config, token
    from .cli_users import emergency, groups, sessions, users
    from .directory.cli import ldap

    for command in (sessions, groups, users, ldap, emergency, config, token):
        main.add_command(command)


register_subcommands()

if __name__ == "__main__":
    main()
