"""Rendering of results: rich tables for people, stable JSON/YAML for scripts.

Rich markup, emoji codes and highlighting are off on both consoles: names, values and messages
come from users, files and the cloud, and a ``[/x]`` in one of them is text, not a style. The
CLI's own styles are applied with :class:`rich.text.Text` pieces instead.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

console = Console(markup=False, emoji=False, highlight=False)
err_console = Console(stderr=True, markup=False, emoji=False, highlight=False)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def emit_data(data: Any, fmt: OutputFormat) -> bool:
    """Print ``data`` as JSON or YAML; return False when the caller should draw a table."""
    if fmt is OutputFormat.JSON:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
        return True
    if fmt is OutputFormat.YAML:
        print(yaml.safe_dump(data, sort_keys=True, default_flow_style=False), end="")
        return True
    return False


def styled(style: str, text: str, rest: str = "") -> Text:
    """``text`` in ``style`` followed by plain ``rest`` (neither is read as markup)."""
    return Text.assemble((text, style), rest)


def one_line(message: str) -> str:
    """``message`` with newlines and other unprintable characters escaped (``\\n``): it may
    carry a path or a value as the user gave it, and it must stay one line of plain text."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def error_line(message: str) -> None:
    """``error: <message>`` on stderr, one line, never wrapped."""
    err_console.print(styled("red", "error:", f" {one_line(message)}"), soft_wrap=True)


def warning_line(message: str) -> None:
    err_console.print(styled("yellow", "warning:", f" {one_line(message)}"), soft_wrap=True)


def new_table(*headers: str) -> Table:
    table = Table()
    for header in headers:
        table.add_column(header, no_wrap=True)
    return table


def print_table(table: Table) -> None:
    """Print whole cells when output goes to a file or pipe (names and IPs get copied)."""
    if console.is_terminal:
        console.print(table)
        return
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    wide = Console(file=sys.stdout, width=max(console.width, needed), markup=False, emoji=False)
    wide.print(table)
