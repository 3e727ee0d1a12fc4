"""Entry point of the ``sparkstack`` command: builds the Typer app and maps errors to exit codes."""

from __future__ import annotations

import sys

import typer

from sparkstack import __version__
from sparkstack.cli.output import err_console
from sparkstack.errors import SparkstackError

app = typer.Typer(
    name="sparkstack",
    help="Launch, run and tear down Apache Spark clusters on OpenStack clouds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        print(f"sparkstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Launch, run and tear down Apache Spark clusters on OpenStack clouds."""


def _register_commands() -> None:
    """Attach every command group; each module adds its own commands to ``app``."""
    from sparkstack.cli import clusters, devcloud, nodes

    app.add_typer(devcloud.app, name="devcloud")
    clusters.register(app)
    nodes.register(app)


def main() -> None:
    """Run the CLI; a SparkstackError becomes one red line and its exit code."""
    _register_commands()
    try:
        # outside standalone mode, a command's typer.Exit(code) comes back as the return value
        code = app(standalone_mode=False)
    except SparkstackError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[red]error:[/red] interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors of typer's vendored click
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
