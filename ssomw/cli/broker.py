"""``ssomw broker``: the broker's clients (contract §12).

``client add`` makes a client's secret, prints it once and prints the configuration entry to
add under ``broker.clients`` (with the secret's argon2 hash only: the configuration never
holds the secret). ``client list`` shows the configured clients without their hashes.
"""

from __future__ import annotations

import secrets
import sys

import click
import yaml
from argon2 import PasswordHasher

from ssomw.broker.clients import described
from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.config.checks import client_uri_problem
from ssomw.config.schema import BROKER_SCOPES


@click.group()
def broker() -> None:
    """ssomw as the OpenID provider of apps with their own OIDC client."""


@broker.group()
def client() -> None:
    """The broker's registered clients."""


@client.command("add")
@click.argument("client_id")
@click.option("--app", "app_id", required=True, help="the ssomw app whose policy applies")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="exact redirect URI (repeatable)")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True,
              help="where the client may return after logout (repeatable)")
@click.option("--backchannel-logout-uri", help="the client's back-channel logout URI")
@click.option("--public", is_flag=True, help="no secret; PKCE (S256) required")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(BROKER_SCOPES),
              help="scopes the client may ask for (default: all)")
@CONFIG_OPTION
def client_add(client_id: str, app_id: str, redirect_uris: tuple[str, ...],
               post_logout: tuple[str, ...], backchannel_logout_uri: str | None, public: bool,
               scopes: tuple[str, ...], config_file: str | None) -> None:
    """Make a client: print its secret once, and the entry for broker.clients."""
    config = load_or_exit(config_file)
    problems = []
    if app_id not in {app["id"] for app in config["apps"]}:
        problems.append(f"--app: unknown app {app_id!r}")
    if client_id in {c["client_id"] for c in config["broker"]["clients"]}:
        problems.append(f"{client_id}: a client with this id is already configured")
    uris = [("--redirect-uri", u) for u in redirect_uris]
    uris += [("--post-logout-redirect-uri", u) for u in post_logout]
    uris += [("--backchannel-logout-uri", backchannel_logout_uri)] if backchannel_logout_uri \
        else []
    problems += [f"{flag} {uri}: {why}" for flag, uri in uris
                 if (why := client_uri_problem(uri))]
    if problems:
        for problem in problems:
            click.echo(f"ssomw: {problem}", err=True)
        sys.exit(2)
    entry: dict[str, object] = {"client_id": client_id, "app": app_id,
                                "redirect_uris": list(redirect_uris)}
    secret = None
    if public:
        entry["public"] = True
    else:
        secret = secrets.token_urlsafe(32)
        entry["client_secret_hash"] = PasswordHasher().hash(secret)
    if post_logout:
        entry["post_logout_redirect_uris"] = list(post_logout)
    if backchannel_logout_uri:
        entry["backchannel_logout_uri"] = backchannel_logout_uri
    if scopes:
        entry["scopes"] = list(scopes)
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("(shown once: give it to the app now; only its hash is kept)\n")
    click.echo("# add under broker.clients:")
    click.echo(yaml.safe_dump([entry], sort_keys=False).rstrip())


@client.command("list")
@CONFIG_OPTION
def client_list(config_file: str | None) -> None:
    """The configured clients (no secret hashes)."""
    config = load_or_exit(config_file)
    for entry in config["broker"]["clients"]:
        c = described(entry)
        kind = "public (PKCE)" if c["public"] else "confidential"
        click.echo(f"{c['client_id']:<20} app {c['app']:<16} {kind:<14} "
                   f"{', '.join(c['redirect_uris'])}")
    click.echo(f"{len(config['broker']['clients'])} client(s)")
