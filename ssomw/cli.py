"""The ``ssomw`` command (contract §1)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .config import ConfigInvalid, config_path, load_config

CONFIG_OPTION = click.option("-c", "--config", "config_file", metavar="FILE",
                             help="config file (default: $SSOMW_CONFIG, else conf/ssomw.yaml)")


def load_or_exit(config_file: str | None):
    path = config_path(config_file)
    try:
        return load_config(path)
    except ConfigInvalid as exc:
        click.echo(f"{path}: configuration is invalid:", err=True)
        for error in exc.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(2)


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
    from .registration import registration

    path = config_path(config_file)
    config = load_or_exit(config_file)
    click.echo(f"{path}: OK")
    for provider_id, entry in registration(config).items():
        click.echo(f"\nRegister at provider {provider_id!r} (client {entry.pop('client_id')}):")
        for key, value in entry.items():
            for item in value if isinstance(value, list) else [value]:
                click.echo(f"  {key}: {item}")


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
def nginx(config_file: str | None, app_ids: tuple[str, ...], listen: str, gateway: str,
          cache_path: str, no_cache: bool, snippet_dir: str | None) -> None:
    """Print the nginx configuration for the configured apps."""
    from .nginxconf import full_config

    config = load_or_exit(config_file)
    unknown = set(app_ids) - {a["id"] for a in config["apps"]}
    if unknown:
        raise click.UsageError(f"unknown app id(s): {', '.join(sorted(unknown))}")
    click.echo(full_config(config, gateway=gateway, listen=listen, cache_path=cache_path,
                           snippet_dir=snippet_dir, cache=not no_cache,
                           app_ids=app_ids or None), nl=False)


@main.group()
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
    import json
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
    click.echo(f"revoked {ended} session(s)")
    if session_id and not ended:
        sys.exit(1)


@main.command()
@click.option("--port", type=int, default=8080, show_default=True, help="nginx port")
@click.option("--workdir", type=click.Path(path_type=Path), default=None)
def demo(port: int, workdir: Path | None) -> None:
    """Run the whole stack on loopback and print what to try."""
    from .demo import run_demo

    run_demo(port=port, workdir=workdir)


if __name__ == "__main__":
    main()
