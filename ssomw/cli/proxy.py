"""``ssomw proxy (nginx|caddy|...)`` and ``ssomw nginx``: the proxy configuration for the
configured apps (contract §8).

``ssomw nginx`` (also ``ssomw proxy nginx``) prints what passes ``nginx -t`` as it is, in a
conf.d file (http context), once the snippet files it includes are where it says: it refuses
to print ``server {}`` blocks without a way to listen (certificate and key for HTTPS, or
``--http`` for plain HTTP) rather than print a file nginx would reject. The other proxies'
forms print a whole file for that proxy; options only choose addresses (listen, gateway,
upstreams), never what is stripped or copied.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click
from click.core import ParameterSource

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.config import Config, config_path
from ssomw.integration.caddy import caddyfile
from ssomw.integration.envoy import envoy_config
from ssomw.integration.ingress_nginx import ingress_nginx_config
from ssomw.integration.nginx import DEFAULT_SNIPPET_DIR, SNIPPETS, full_config, snippet_files
from ssomw.integration.traefik import traefik_config

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


def command_line(config_file: str | None, words: tuple[str, ...] = ("nginx",)) -> str:
    """This very command, as the printed file's header tells how to make it again."""
    ctx = click.get_current_context()
    args = ["ssomw", *words, "-c", str(config_path(config_file).resolve())]
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


APP_OPTION = click.option("--app", "app_ids", multiple=True, metavar="ID",
                          help="only these apps (the output is still a whole file)")
GATEWAY_OPTION = click.option("--gateway", default="127.0.0.1:4180", show_default=True,
                              metavar="HOST:PORT", help="where the gateway listens")
UPSTREAM_OPTION = click.option("--upstream", "upstream_pairs", multiple=True,
                               metavar="APP=URL", help="where an app's traffic goes "
                               "(default: apps[].upstream)")


def checked(config_file: str | None, app_ids: tuple[str, ...],
            upstream_pairs: tuple[str, ...] = ()) -> tuple[Config, dict[str, str]]:
    """The config, with ``--app`` and ``--upstream`` checked against it (usage error else)."""
    config = load_or_exit(config_file)
    known = {a["id"] for a in config["apps"]}
    unknown = set(app_ids) - known
    upstreams = {}
    for pair in upstream_pairs:
        app_id, sep, url = pair.partition("=")
        if not sep or not url:
            raise click.UsageError(f"--upstream {pair!r}: give APP=URL")
        if app_id not in known:
            unknown.add(app_id)
        upstreams[app_id] = url
    if unknown:
        raise click.UsageError(f"unknown app id(s): {', '.join(sorted(unknown))}")
    return config, upstreams


@click.group()
def proxy() -> None:
    """Print the configuration of a reverse proxy for the configured apps."""


proxy.add_command(nginx)


@proxy.command()
@CONFIG_OPTION
@APP_OPTION
@GATEWAY_OPTION
@UPSTREAM_OPTION
@click.option("--http", "http_port", metavar="PORT", help="plain HTTP sites on PORT (tests and "
              "development); default: HTTPS with Caddy's automatic certificates")
@click.option("--listen", "https_port", metavar="PORT", help="the HTTPS port [default: 443]")
@click.option("--admin", metavar="ADDRESS|off", help="Caddy's admin endpoint (global option)")
def caddy(config_file: str | None, app_ids: tuple[str, ...], gateway: str,
          upstream_pairs: tuple[str, ...], http_port: str | None, https_port: str | None,
          admin: str | None) -> None:
    """Print a Caddyfile: forward_auth to /sso/forward-auth for each app."""
    config, upstreams = checked(config_file, app_ids, upstream_pairs)
    if http_port and https_port:
        raise click.UsageError("--http PORT is plain HTTP: drop --listen")
    if http_port and config["session"]["secure"]:
        click.echo("note: session.secure is true, so browsers send the session cookie over "
                   "HTTPS only; plain HTTP needs session.secure: false", err=True)
    click.echo(caddyfile(config, gateway=gateway, http_port=http_port, https_port=https_port,
                         app_ids=app_ids or None, upstreams=upstreams, admin=admin,
                         command=command_line(config_file, ("proxy", "caddy"))), nl=False)


@proxy.command()
@CONFIG_OPTION
@APP_OPTION
@GATEWAY_OPTION
@UPSTREAM_OPTION
@click.option("--entrypoint", metavar="NAME", help="the routers' entry point [default: all]")
def traefik(config_file: str | None, app_ids: tuple[str, ...], gateway: str,
            upstream_pairs: tuple[str, ...], entrypoint: str | None) -> None:
    """Print Traefik's dynamic configuration: forwardAuth to /sso/forward-auth."""
    config, upstreams = checked(config_file, app_ids, upstream_pairs)
    click.echo(traefik_config(config, gateway=gateway, app_ids=app_ids or None,
                              upstreams=upstreams, entrypoint=entrypoint,
                              command=command_line(config_file, ("proxy", "traefik"))),
               nl=False)


@proxy.command()
@CONFIG_OPTION
@APP_OPTION
@GATEWAY_OPTION
@UPSTREAM_OPTION
@click.option("--listen", default="0.0.0.0:8080", show_default=True, metavar="ADDRESS:PORT",
              help="Envoy's listener")
def envoy(config_file: str | None, app_ids: tuple[str, ...], gateway: str,
          upstream_pairs: tuple[str, ...], listen: str) -> None:
    """Print an Envoy bootstrap: the HTTP ext_authz filter with path_prefix /sso/ext-authz."""
    config, upstreams = checked(config_file, app_ids, upstream_pairs)
    if not listen.rpartition(":")[2].isdigit():
        raise click.UsageError(f"--listen {listen!r}: give ADDRESS:PORT")
    click.echo(envoy_config(config, gateway=gateway, listen=listen, app_ids=app_ids or None,
                            upstreams=upstreams,
                            command=command_line(config_file, ("proxy", "envoy"))), nl=False)


@proxy.command("ingress-nginx")
@CONFIG_OPTION
@APP_OPTION
@click.option("--gateway", default="ssomw.ssomw.svc.cluster.local:4180", show_default=True,
              metavar="HOST:PORT", help="the gateway's Service, as the controller reaches it")
@UPSTREAM_OPTION
@click.option("--namespace", default="default", show_default=True,
              help="the apps' namespace (their Ingresses and Services)")
@click.option("--gateway-namespace", default="ssomw", show_default=True,
              help="the gateway's namespace (its pages' Ingress, the NetworkPolicy)")
@click.option("--controller-namespace", default="ingress-nginx", show_default=True,
              help="the ingress controller's namespace (the only one let in)")
@click.option("--ingress-class", default="nginx", show_default=True)
def ingress_nginx(config_file: str | None, app_ids: tuple[str, ...], gateway: str,
                  upstream_pairs: tuple[str, ...], namespace: str, gateway_namespace: str,
                  controller_namespace: str, ingress_class: str) -> None:
    """Print Ingress objects for ingress-nginx (auth-url: /sso/auth) and a NetworkPolicy."""
    config, upstreams = checked(config_file, app_ids, upstream_pairs)
    click.echo(ingress_nginx_config(
        config, gateway=gateway, namespace=namespace, gateway_namespace=gateway_namespace,
        ingress_class=ingress_class, controller_namespace=controller_namespace,
        app_ids=app_ids or None, upstreams=upstreams,
        command=command_line(config_file, ("proxy", "ingress-nginx"))), nl=False)
