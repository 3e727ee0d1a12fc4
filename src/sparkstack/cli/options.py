"""Options shared by several commands, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sparkstack.cli.output import OutputFormat

CloudOpt = Annotated[
    str | None,
    typer.Option("--cloud", help="clouds.yaml entry (default: OS_CLOUD, else the OS_* variables)."),
]
OutputOpt = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="table for people, json/yaml for scripts.")
]
SparkTarballOpt = Annotated[
    Path | None, typer.Option("--spark-tarball", help="Install this local Spark tarball.")
]
SparkVersionOpt = Annotated[
    str | None, typer.Option("--spark-version", help="Spark release to install.")
]


def spark_overrides(tarball: Path | None, version: str | None) -> dict[str, Any]:
    """The ``spark`` part of the spec overrides from ``--spark-tarball`` / ``--spark-version``."""
    spark = {k: v for k, v in {"tarball": tarball, "version": version}.items() if v is not None}
    return {"spark": spark} if spark else {}
