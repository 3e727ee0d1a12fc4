"""Rendering of results: rich tables for people, stable JSON/YAML for scripts."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


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
