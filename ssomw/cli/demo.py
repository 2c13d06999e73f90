"""``ssomw demo``: the whole stack on loopback."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--port", type=int, default=8080, show_default=True, help="nginx port")
@click.option("--workdir", type=click.Path(path_type=Path), default=None)
def demo(port: int, workdir: Path | None) -> None:
    """Run the whole stack on loopback and print what to try."""
    from ssomw.demo import run_demo

    run_demo(port=port, workdir=workdir)
