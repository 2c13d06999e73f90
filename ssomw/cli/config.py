"""``ssomw config`` and ``ssomw token``: configuration backup, restore and history; API tokens.

The same rules as the admin API (:mod:`ssomw.admin.service`), working on the configured store,
so a change made here is in force on every gateway instance sharing it within a second or two.
Exit codes: 0 done, 1 refused or failed (unknown version, file-authoritative config, wrong
passphrase, store down), 2 invalid configuration (every error printed with its path).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml

from ssomw.admin.readable import diff_lines, impact_lines
from ssomw.admin.service import AdminError, ConfigService
from ssomw.admin.tokens import Tokens, config_entry
from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.store import open_store
from ssomw.store.base import StoreUnavailable
from ssomw.telemetry import audit

PASSPHRASE_ENV = "SSOMW_EXPORT_PASSPHRASE"


@contextmanager
def service(config_file: str | None) -> Iterator[Any]:
    """The ConfigService for the configured store; AdminError and store outages → exit."""
    config = load_or_exit(config_file)
    store = open_store(config["store"])
    try:
        yield ConfigService.for_config(config, store, via="cli")
    except AdminError as exc:
        click.echo(f"error: {exc.message}", err=True)
        for error in exc.errors:
            click.echo(f"  {error.path}: {error.message}", err=True)
        sys.exit(2 if exc.status == 422 else 1)
    except StoreUnavailable as exc:
        click.echo(f"error: the store is unreachable ({exc})", err=True)
        sys.exit(1)
    finally:
        store.close()


def author() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def stamp(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "-"


def passphrase(confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise click.UsageError(f"set ${PASSPHRASE_ENV} (no terminal to ask for a passphrase)")
    return click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)


def show_diff(changes: list[dict[str, Any]]) -> None:
    """The changes one line per changed path (``~ apps[0].rules[1].policy: 'deny' ->
    'bypass'``), secrets as ``***``. ``changes`` is the unredacted version diff: a secret
    that changed must still show as a change."""
    for line in diff_lines(changes):
        click.echo(line)


# --- ssomw config ------------------------------------------------------------------------------

@click.group()
def config() -> None:
    """Configuration backup, restore and history (same rules as the admin API)."""


@config.command("export")
@CONFIG_OPTION
@click.option("--secrets", "mode", type=click.Choice(["redact", "encrypt"]), default="redact",
              show_default=True, help="redact secrets, or encrypt the whole configuration")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="write to FILE (mode 0600) instead of standard output")
def export_command(config_file: str | None, mode: str, output: Path | None) -> None:
    """Write the active configuration as a backup file (JSON)."""
    secret = passphrase(confirm=True) if mode == "encrypt" else None
    with service(config_file) as svc:
        doc = svc.export(mode, secret)
        audit.record(svc.store, "config_exported", author=author(), secrets=mode,
                     version=doc["version"], via="cli")
    text = json.dumps(doc, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    click.echo(f"wrote {output} (version {doc['version']}, secrets {doc['secrets']})",
               err=True)


@config.command("import")
@CONFIG_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="validate, show the diff and who would gain or "
              "lose access (which live sessions would end or change); change nothing")
def import_command(config_file: str | None, file: Path, dry_run: bool) -> None:
    """Validate a backup (or a configuration file) and make it the active version."""
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        click.echo(f"error: cannot read {file}: {exc}", err=True)
        sys.exit(2)
    secret = passphrase(confirm=False) if isinstance(doc, dict) and "encrypted" in doc \
        else None
    with service(config_file) as svc:
        if dry_run:
            data, may_restore = svc.read_backup(doc, secret)
            found = svc.preview(data, keep_redacted=may_restore)
        else:
            change = svc.import_document(doc, passphrase=secret, author=author())
    lines = diff_lines(found.diff if dry_run else change.diff)
    for line in lines:
        click.echo(line)
    if dry_run:
        for line in impact_lines(found.body()):
            click.echo(line)
        click.echo(f"dry run: valid; {len(lines)} change(s) against version {found.version}")
    else:
        click.echo(f"version {change.version} is active ({len(lines)} change(s))")


@config.command("versions")
@CONFIG_OPTION
def versions_command(config_file: str | None) -> None:
    """The configuration history; * marks the active version."""
    with service(config_file) as svc:
        history = svc.history()
    if history["config_source"] == "file":
        click.echo("admin.config_source is file: the YAML file is authoritative", err=True)
    click.echo(f"  {'N':>4}  {'TIME':<19}  {'AUTHOR':<24}  {'CHANGES':>7}  COMMENT")
    for meta in history["versions"]:
        mark = "*" if meta["number"] == history["active"] else " "
        click.echo(f"{mark} {meta['number']:>4}  {stamp(meta['time'])}  {meta['author']:<24}  "
                   f"{meta['changes']:>7}  {meta['comment']}")


@config.command("rollback")
@CONFIG_OPTION
@click.argument("number", type=int)
def rollback_command(config_file: str | None, number: int) -> None:
    """Make version N's configuration active again (as a new version)."""
    with service(config_file) as svc:
        change = svc.rollback(number, author=author())
    show_diff(change.diff)
    click.echo(f"version {change.version} is active (the data of version {number})")


# --- ssomw token -------------------------------------------------------------------------------

@click.group()
def token() -> None:
    """Admin API tokens: create (shown once), list, revoke."""


@contextmanager
def tokens(config_file: str | None) -> Iterator[Any]:
    with service(config_file) as svc:
        _, data = svc.current()
        yield Tokens(svc.store, (data.get("admin") or {}).get("tokens") or [])


@token.command("create")
@CONFIG_OPTION
@click.option("--name", required=True, help="a unique name (shown in the audit log)")
@click.option("--scopes", required=True, help="comma-separated: config:read,config:write,...")
@click.option("--for-config", is_flag=True,
              help="don't store it: print an admin.tokens entry for the config file instead")
def token_create(config_file: str | None, name: str, scopes: str, for_config: bool) -> None:
    """Make a token and print it once; only its hash is kept."""
    wanted = scopes.split(",")
    try:
        if for_config:
            secret, entry = config_entry(name, wanted)
            click.echo(secret)
            click.echo("add under admin.tokens:\n" + yaml.safe_dump([entry], sort_keys=False),
                       err=True)
            return
        with tokens(config_file) as store_tokens:
            secret, record = store_tokens.create(name, wanted)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(secret)
    click.echo(f"token {record['name']!r} created with {', '.join(record['scopes'])}; "
               "it is shown only now", err=True)


@token.command("list")
@CONFIG_OPTION
def token_list(config_file: str | None) -> None:
    """Tokens with their scopes, creation and last use (never the secrets)."""
    with tokens(config_file) as store_tokens:
        rows = store_tokens.list()
    click.echo(f"{'NAME':<24} {'SOURCE':<7} {'CREATED':<19} {'LAST USED':<19} SCOPES")
    for row in rows:
        click.echo(f"{row['name']:<24} {row['source']:<7} {stamp(row['created']):<19} "
                   f"{stamp(row['last_used']):<19} {','.join(row['scopes'])}")


@token.command("revoke")
@CONFIG_OPTION
@click.argument("name")
def token_revoke(config_file: str | None, name: str) -> None:
    """Delete a stored token: it stops working at once on every instance."""
    with tokens(config_file) as store_tokens:
        revoked = store_tokens.revoke(name)
        in_config = any(t["name"] == name for t in store_tokens.config_tokens)
    if revoked:
        click.echo(f"revoked {name}")
        return
    hint = "; it is defined in the config file: remove it there" if in_config else ""
    click.echo(f"no stored token named {name!r}{hint}", err=True)
    sys.exit(1)
