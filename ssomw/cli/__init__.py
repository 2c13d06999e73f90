"""The ``ssomw`` command (contract §1): one module per group of subcommands.

Each module defines its commands; this package only assembles them, so importing a module
never binds a command over a submodule's name.
"""

from __future__ import annotations

import click

from ssomw.cli import (
    broker,
    check,
    config,
    demo,
    emergency,
    keys,
    ldap,
    proxy,
    serve,
    sessions,
    users,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ssomw", prog_name="ssomw", message="%(prog)s %(version)s")
def main() -> None:
    """ssomw: single sign-on gateway for nginx auth_request."""


for command in (serve.serve, check.check, proxy.nginx, proxy.proxy, emergency.hash_password,
                demo.demo, sessions.sessions, users.groups, users.users, ldap.ldap,
                emergency.emergency, config.config, config.token, keys.keys, broker.broker):
    main.add_command(command)
