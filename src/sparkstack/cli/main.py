"""Entry point of the ``sparkstack`` command: builds the Typer app and maps errors to exit codes.

No traceback reaches the user without ``--debug``: a sparkstack error is one line with its exit
code, anything unexpected is one line that says how to get the details.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from sparkstack import logs
from sparkstack._version import __version__
from sparkstack.cli.output import err_console, error_line
from sparkstack.errors import SparkstackError, UsageError

app = typer.Typer(
    name="sparkstack",
    help="Launch, run and tear down Apache Spark clusters on OpenStack clouds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

#: Exit code of an error sparkstack did not expect (a bug): one line, details with --debug.
INTERNAL_ERROR = 70
_debug = False


def _version_callback(value: bool) -> None:
    if value:
        print(f"sparkstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Log API requests and SSH commands (secrets redacted)."),
    ] = False,
    log_file: Annotated[
        Path | None, typer.Option("--log-file", help="Write that debug log to this file.")
    ] = None,
) -> None:
    """Launch, run and tear down Apache Spark clusters on OpenStack clouds."""
    global _debug
    _debug = debug
    try:
        logs.setup(debug, log_file)
    except OSError as exc:
        raise UsageError(f"--log-file {log_file}: cannot write there ({exc.strerror})") from None


def _register_commands() -> None:
    """Attach every command group; each module adds its own commands to ``app``."""
    from sparkstack.cli import clusters, data, devcloud, expiry, images, nodes, power, resize

    app.add_typer(devcloud.app, name="devcloud")
    app.add_typer(images.app, name="image")
    app.add_typer(data.app, name="data")
    clusters.register(app)
    expiry.register(app)
    nodes.register(app)
    power.register(app)
    resize.register(app)


def main() -> None:
    """Run the CLI; an error becomes one red line and its exit code."""
    _register_commands()
    try:
        # outside standalone mode, a command's typer.Exit(code) comes back as the return value
        code = app(standalone_mode=False)
    except SparkstackError as exc:
        if _debug:
            traceback.print_exc()
        error_line(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        error_line("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors of typer's vendored click
        # typer checks values with pydantic, whose "Value error, " prefix means nothing here
        message = exc.format_message().replace("Value error, ", "")
        ctx = getattr(exc, "ctx", None)
        where = f"`{ctx.command_path} --help`" if ctx is not None else "`sparkstack --help`"
        error_line(f"{message.rstrip('.')}; see {where}")
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:  # a bug: one line, the traceback with --debug
        if _debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        error_line(
            f"internal error ({type(exc).__name__}: {first[:200]}); rerun with --debug for the "
            "traceback and report it"
        )
        sys.exit(INTERNAL_ERROR)
    sys.exit(code if isinstance(code, int) else 0)
