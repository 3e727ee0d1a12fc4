"""Options shared by several commands, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sparkstack import validation
from sparkstack.cli.output import OutputFormat
from sparkstack.errors import UsageError


def _cloud(value: str | None) -> str | None:
    """A clouds.yaml entry is one printable line: checked before any verb looks it up."""
    if value is not None:
        try:
            validation.cloud_text(value)
        except ValueError as exc:
            raise typer.BadParameter(f"{validation.shown(value)}: {exc}") from None
    return value


CloudOpt = Annotated[
    str | None,
    typer.Option(
        "--cloud",
        callback=_cloud,
        help="clouds.yaml entry (default: OS_CLOUD, else the OS_* variables).",
    ),
]
OutputOpt = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="table for people, json/yaml for scripts.")
]
FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="Cluster file (YAML).")]
SparkTarballOpt = Annotated[
    Path | None, typer.Option("--spark-tarball", help="Install this local Spark tarball.")
]
SparkVersionOpt = Annotated[
    str | None, typer.Option("--spark-version", help="Spark release to install.")
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="A Spark property KEY=VALUE (repeatable).", metavar="K=V"),
]
TrustFirstOpt = Annotated[
    bool,
    typer.Option(
        "--trust-first-host-key",
        help="Accept a node's first SSH host key when its console log shows none.",
    ),
]
NameArg = Annotated[str, typer.Argument(help="Cluster name.")]


def pairs(option: str, values: list[str] | None) -> dict[str, str] | None:
    """``KEY=VALUE`` flags as a dict (None when none were given)."""
    if not values:
        return None
    parsed = {}
    for pair in values:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {pair!r}: write it as KEY=VALUE")
        parsed[key] = value
    return parsed


def spark_overrides(
    tarball: Path | None, version: str | None, conf: list[str] | None
) -> dict[str, Any]:
    """The ``spark`` part of the spec overrides from the --spark-* flags."""
    spark: dict[str, Any] = {"tarball": tarball, "version": version}
    spark["conf"] = pairs("--spark-conf", conf)
    spark = {k: v for k, v in spark.items() if v is not None}
    return {"spark": spark} if spark else {}
