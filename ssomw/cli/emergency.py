"""``ssomw hash-password`` and ``ssomw emergency``: the emergency login's credentials, its second
factor (``enrol``, ``reset-factor``) and bans."""

from __future__ import annotations

import sys
import time

import click
import segno
from argon2 import PasswordHasher

from ssomw.cli.common import CONFIG_OPTION, config_and_store, load_or_exit
from ssomw.cli.sessions import store_failed
from ssomw.config import Config
from ssomw.core.throttle import Throttle, ThrottleSettings
from ssomw.identity.second_factor import AlreadyEnrolled, SecondFactors
from ssomw.store import open_store
from ssomw.store.base import Store, StoreUnavailable
from ssomw.telemetry import audit


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
    """The emergency login: its second factor, and lockouts (list, lift)."""


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


def second_factors(config: Config, store: Store) -> SecondFactors:
    brand = (config["templates"].get("brand") or {}).get("name")
    return SecondFactors(store, config["session"]["secret_keys"],
                         issuer=f"{brand} (emergency)" if brand else "ssomw emergency")


@emergency.command("enrol")
@CONFIG_OPTION
@click.argument("user")
def emergency_enrol(config_file: str | None, user: str) -> None:
    """Give USER a TOTP second factor: prints the otpauth:// URI and its QR code for an
    authenticator app, and ten one-time recovery codes. Shown once; only hashes of the
    recovery codes are kept."""
    config, store = config_and_store(config_file)
    section = config["emergency"]
    if section["credentials"] == "local" and user.strip() not in {
            u["username"] for u in section["local_users"]}:
        raise click.UsageError(f"{user!r} is not in emergency.local_users")
    try:
        enrolment = second_factors(config, store).enrol(user)
    except AlreadyEnrolled:
        click.echo(f"ssomw: {user} already has a second factor; `ssomw emergency reset-factor "
                   f"{user}` first to replace it", err=True)
        sys.exit(1)
    except StoreUnavailable as exc:
        store_failed(exc, "nothing was enrolled")
    audit.record(store, "emergency_factor", user=user, outcome="enrolled")
    click.echo(f"Second factor for {user} (emergency login). Add it to an authenticator app,")
    click.echo("by scanning this code or entering the URI; it is not shown again.\n")
    segno.make(enrolment.uri, error="m").terminal(out=sys.stdout, compact=True)
    click.echo(f"\n{enrolment.uri}\n")
    click.echo("Recovery codes, each usable once in place of a code (keep them apart from "
               "the device):")
    for code in enrolment.recovery_codes:
        click.echo(f"  {code}")
    if section["second_factor"] != "totp":
        click.echo("\nNote: emergency.second_factor is not totp yet: the code is asked for "
                   "once it is.")


@emergency.command("reset-factor")
@CONFIG_OPTION
@click.argument("user")
def emergency_reset_factor(config_file: str | None, user: str) -> None:
    """Forget USER's second factor (a lost device): enrol again afterwards. Until then,
    with emergency.second_factor: totp, USER cannot use the emergency login."""
    config, store = config_and_store(config_file)
    try:
        found = second_factors(config, store).reset(user)
    except StoreUnavailable as exc:
        store_failed(exc, "nothing was reset")
    if not found:
        click.echo(f"{user} has no second factor")
        return
    audit.record(store, "emergency_factor", user=user, outcome="reset")
    click.echo(f"second factor of {user} removed; `ssomw emergency enrol {user}` to set a "
               "new one")
