"""``ssomw nginx``: the proxy configuration for the configured apps.

What it prints passes ``nginx -t`` as it is, in a conf.d file (http context), once the snippet
files it includes are where it says: it refuses to print ``server {}`` blocks without a way to
listen (certificate and key for HTTPS, or ``--http`` for plain HTTP) rather than print a file
nginx would reject.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click
from click.core import ParameterSource

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.config import config_path
from ssomw.integration.nginx import DEFAULT_SNIPPET_DIR, SNIPPETS, full_config, snippet_files

NO_LISTEN = ("the printed server {} blocks need a way to listen: --tls-cert FILE --tls-key FILE "
             "(HTTPS), or --http [ADDRESS] (plain HTTP, for tests and development)")


@click.command()
@CONFIG_OPTION
@click.option("--app", "app_ids", multiple=True, metavar="ID",
              help="only these apps (the output is still a whole file: do not combine two)")
@click.option("--tls-cert", metavar="FILE", help="certificate (chain) for HTTPS")
@click.option("--tls-key", metavar="FILE", help="private key for HTTPS")
@click.option("--listen", default=None, metavar="ADDRESS",
              help="where the HTTPS servers listen  [default: 443]")
@click.option("--http", "plain", is_flag=False, flag_value="80", default=None,
              metavar="[ADDRESS]", help="plain HTTP on ADDRESS (default 80): tests and "
                                        "development only")
@click.option("--gateway", default="127.0.0.1:4180", show_default=True,
              help="where the gateway listens")
@click.option("--cache-path", default="/var/cache/nginx/ssomw", show_default=True,
              help="the decision cache's directory (keep it on tmpfs)")
@click.option("--no-cache", is_flag=True, help="do not cache auth decisions in nginx")
@click.option("--snippets", "snippet_dir", default=DEFAULT_SNIPPET_DIR, show_default=True,
              metavar="DIR", help="where the printed file includes the snippet files from")
@click.option("--write-snippets", "write_dir", default=None, metavar="DIR",
              help="write the snippet files for this config into DIR (and include them from "
                   "there); alone, only writes them")
@click.option("--inline", is_flag=True, help="one file, the snippets printed inline")
def nginx(config_file: str | None, app_ids: tuple[str, ...], tls_cert: str | None,
          tls_key: str | None, listen: str | None, plain: str | None, gateway: str,
          cache_path: str, no_cache: bool, snippet_dir: str, write_dir: str | None,
          inline: bool) -> None:
    """Print the nginx configuration (a conf.d file) for the configured apps."""
    config = load_or_exit(config_file)
    unknown = set(app_ids) - {a["id"] for a in config["apps"]}
    if unknown:
        raise click.UsageError(f"unknown app id(s): {', '.join(sorted(unknown))}")
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_cert and plain:
        raise click.UsageError("--http is plain HTTP: drop it, or drop --tls-cert/--tls-key")
    if listen and plain:
        raise click.UsageError("with --http, give the address there: --http ADDRESS")
    if write_dir:
        target = Path(write_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name, text in snippet_files(config).items():
            (target / name).write_text(text)
        click.echo(f"wrote {', '.join(SNIPPETS)} into {target}", err=True)
        snippet_dir = str(target.resolve())
        if not (tls_cert or plain):
            return
    if not (tls_cert or plain):
        raise click.UsageError(NO_LISTEN)
    if plain and config["session"]["secure"]:
        click.echo("note: session.secure is true, so browsers send the session cookie over "
                   "HTTPS only; plain HTTP needs session.secure: false", err=True)
    tls = (os.path.abspath(tls_cert), os.path.abspath(tls_key)) if tls_cert and tls_key else None
    click.echo(full_config(config, gateway=gateway,
                           listen=f"{listen or 443} ssl" if tls else str(plain),
                           cache_path=cache_path, snippet_dir=None if inline else snippet_dir,
                           cache=not no_cache, app_ids=app_ids or None, tls=tls,
                           command=command_line(config_file)), nl=False)


def command_line(config_file: str | None) -> str:
    """This very command, as the printed file's header tells how to make it again."""
    ctx = click.get_current_context()
    args = ["ssomw", "nginx", "-c", str(config_path(config_file).resolve())]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if (param.name == "config_file" or not isinstance(param, click.Option)
                or ctx.get_parameter_source(param.name or "") == ParameterSource.DEFAULT):
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            args += [flag] if value else []
        else:
            args += [part for item in (value if param.multiple else [value])
                     for part in (flag, str(item))]
    return shlex.join(args)
