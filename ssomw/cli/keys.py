"""``ssomw keys``: the gateway's own signing keys (identity assertions, jwks.json)."""

from __future__ import annotations

import time

import click

from ssomw.cli.common import CONFIG_OPTION, config_and_store
from ssomw.cli.sessions import store_failed
from ssomw.identity.keys import PUBLISH_AFTER_RETIRED, KeyRing
from ssomw.store.base import StoreUnavailable


@click.group()
def keys() -> None:
    """The gateway's signing keys, kept in the store and shared by every instance."""


def ring(config_file: str | None) -> KeyRing:
    config, store = config_and_store(config_file)
    return KeyRing(store, config["session"]["secret_keys"])


def when(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))


@keys.command("list")
@CONFIG_OPTION
def keys_list(config_file: str | None) -> None:
    """Every key: the active one, those still published and those retired."""
    signing = ring(config_file)
    try:
        found = signing.keys(fresh=True)
        now = time.time()
        for key in reversed(found):
            state = key.state(now)
            if state == "published":
                state = f"published until {when((key.retired or now) + PUBLISH_AFTER_RETIRED)}"
            elif state == "retired":
                state = f"retired since {when((key.retired or now) + PUBLISH_AFTER_RETIRED)}"
            usable = "" if state.startswith("retired") or signing.usable(key) else (
                "  (cannot be opened with session.secret_keys: run `ssomw keys rotate`)")
            click.echo(f"{key.kid:<20} {key.public.get('alg', '?'):<6} created "
                       f"{when(key.created)}  {state}{usable}")
    except StoreUnavailable as exc:
        store_failed(exc, "no keys listed")
    click.echo(f"{len(found)} key(s)")


@keys.command("rotate")
@CONFIG_OPTION
def keys_rotate(config_file: str | None) -> None:
    """Add a new signing key; it signs from now on (every instance within 30 s), and the
    previous one stays published until every token it signed has expired."""
    signing = ring(config_file)
    try:
        previous = signing.keys(fresh=True)
        new = signing.rotate()
    except StoreUnavailable as exc:
        store_failed(exc, "no key was added")
    click.echo(f"new signing key {new.kid}")
    if previous:
        until = when(time.time() + PUBLISH_AFTER_RETIRED)
        click.echo(f"previous key {previous[-1].kid} stays published until {until}")
