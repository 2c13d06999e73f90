"""``ssomw hash-password`` and ``ssomw emergency``: the emergency login's credentials and bans."""

from __future__ import annotations

import sys
import time

import click
from argon2 import PasswordHasher

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.core.throttle import Throttle, ThrottleSettings
from ssomw.store import open_store


@click.command("hash-password")
def hash_password() -> None:
    """Read a password (twice on a terminal) and print its argon2 hash for emergency.local_users."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise click.UsageError("use at least 12 characters for an emergency password")
    click.echo(PasswordHasher().hash(password))


@click.group()
def emergency() -> None:
    """Emergency-login throttling: list and lift lockouts."""


def emergency_throttle(config_file: str | None):
    config = load_or_exit(config_file)
    settings = ThrottleSettings.from_config(config["emergency"]["throttle"])
    return Throttle(open_store(config["store"]), settings, time.time)


@emergency.command("bans")
@CONFIG_OPTION
def emergency_bans(config_file: str | None) -> None:
    """Usernames and client addresses locked out right now."""
    bans = emergency_throttle(config_file).bans()
    for key, info in bans:
        until = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["until"]))
        click.echo(f"{key:<48} until {until}  ({info['failures']} failures)")
    click.echo(f"{len(bans)} lockout(s)")


@emergency.command("unban")
@CONFIG_OPTION
@click.option("--user", metavar="U")
@click.option("--address", metavar="A")
@click.option("--all", "everyone", is_flag=True)
def emergency_unban(config_file: str | None, user: str | None, address: str | None,
                    everyone: bool) -> None:
    """Lift lockouts (and failure counts) of a user, an address, or everyone."""
    if sum(map(bool, (user, address, everyone))) != 1:
        raise click.UsageError("give exactly one of --user, --address, --all")
    prefix = "" if everyone else (f"user:{user.strip().lower()}" if user else f"addr:{address}")
    cleared = emergency_throttle(config_file).clear(prefix)
    click.echo(f"lifted {cleared} lockout(s)")
