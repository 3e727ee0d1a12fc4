"""``sparkstack devcloud ...``: the one-machine OpenStack for trying and testing sparkstack."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="A real OpenStack on this machine, for trying and testing sparkstack.",
    no_args_is_help=True,
)
