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
ZooKeeperTarballOpt = Annotated[
    Path | None,
    typer.Option(
        "--zookeeper-tarball", help="Install this local ZooKeeper tarball (several masters)."
    ),
]
ZooKeeperVersionOpt = Annotated[
    str | None, typer.Option("--zookeeper-version", help="ZooKeeper release to install.")
]
HadoopTarballOpt = Annotated[
    Path | None,
    typer.Option("--hadoop-tarball", help="Install this local Hadoop tarball (HDFS)."),
]
HadoopVersionOpt = Annotated[
    str | None, typer.Option("--hadoop-version", help="Hadoop release to install (HDFS).")
]
ReplicationOpt = Annotated[
    int | None,
    typer.Option("--hdfs-replication", help="Replicas HDFS keeps of each block.", min=1),
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


def software_overrides(
    spark_tarball: Path | None,
    spark_version: str | None,
    spark_conf: list[str] | None,
    zookeeper_tarball: Path | None = None,
    zookeeper_version: str | None = None,
    *,
    hadoop_tarball: Path | None = None,
    hadoop_version: str | None = None,
    hdfs_replication: int | None = None,
    hdfs: bool = False,
) -> dict[str, Any]:
    """The ``spark``, ``zookeeper`` and ``hdfs`` parts of the spec overrides from their flags."""
    sections: dict[str, dict[str, Any]] = {
        "spark": {
            "tarball": spark_tarball,
            "version": spark_version,
            "conf": pairs("--spark-conf", spark_conf),
        },
        "zookeeper": {"tarball": zookeeper_tarball, "version": zookeeper_version},
        "hdfs": {
            "enabled": hdfs or None,
            "tarball": hadoop_tarball,
            "version": hadoop_version,
            "replication": hdfs_replication,
        },
    }
    picked = {
        key: {k: v for k, v in values.items() if v is not None} for key, values in sections.items()
    }
    return {key: values for key, values in picked.items() if values}
