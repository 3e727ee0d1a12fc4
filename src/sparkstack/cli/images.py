"""``sparkstack image upload | bake | list``.

With ``--output json``: upload and bake give one image, list a list of them:
``{"id", "name", "status", "size", "disk_format", "created", "visibility", "origin", "sha512"}``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

import sparkstack
from sparkstack.cli.options import (
    CloudOpt,
    HadoopTarballOpt,
    HadoopVersionOpt,
    OutputOpt,
    SparkTarballOpt,
    ZooKeeperTarballOpt,
    ZooKeeperVersionOpt,
    software_overrides,
)
from sparkstack.cli.output import OutputFormat, console, emit_data
from sparkstack.cli.progress import ProgressReporter
from sparkstack.cloud.images import ImageInfo

app = typer.Typer(help="Images clusters boot from.", no_args_is_help=True, rich_markup_mode=None)


def _data(image: ImageInfo) -> dict[str, Any]:
    data = dataclasses.asdict(image)
    data["created"] = image.created.isoformat() if image.created else None
    return data


def _age(created: datetime | None) -> str:
    if created is None:
        return "-"
    hours = (datetime.now(UTC) - created).total_seconds() / 3600
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"


@app.command()
def upload(
    file: Annotated[Path, typer.Argument(help="The image file (qcow2, raw...).")],
    name: Annotated[str, typer.Option("--name", help="The image's name in the cloud.")],
    disk_format: Annotated[
        str | None, typer.Option("--disk-format", help="Default: from the file's suffix.")
    ] = None,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Upload an image with progress; its SHA-512 is checked against Glance's. A failed or
    interrupted upload leaves no image."""
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        image = sparkstack.upload_image(
            file, name, disk_format=disk_format, cloud=cloud, report=report
        )
    if not emit_data(_data(image), output):
        console.print(
            f"image {image.name} ({image.id}) active, {image.size} bytes, sha512 "
            f"{image.sha512[:16]}... checked",
            markup=False,
            highlight=False,
        )


@app.command()
def bake(
    name: Annotated[str, typer.Argument(help="The new image's name.")],
    from_image: Annotated[
        str | None, typer.Option("--from", help="The image to start from (default: launch's).")
    ] = None,
    spark_version: Annotated[
        str | None, typer.Option("--spark", "--spark-version", help="Spark release to install.")
    ] = None,
    spark_tarball: SparkTarballOpt = None,
    hdfs: Annotated[bool, typer.Option("--hdfs", help="Hadoop (HDFS) too.")] = False,
    hadoop_version: HadoopVersionOpt = None,
    hadoop_tarball: HadoopTarballOpt = None,
    zookeeper: Annotated[bool, typer.Option("--zookeeper", help="ZooKeeper too.")] = False,
    zookeeper_version: ZooKeeperVersionOpt = None,
    zookeeper_tarball: ZooKeeperTarballOpt = None,
    flavor: Annotated[str | None, typer.Option(help="Flavor of the bake's server.")] = None,
    network: Annotated[str | None, typer.Option(help="Existing network name or id.")] = None,
    ssh_user: Annotated[str | None, typer.Option(help="Login user (default: per image).")] = None,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Bake an image with Java and the software installed as launch does it; launches from
    it skip the download and unpacking. The bake's server is deleted afterwards."""
    software = software_overrides(
        spark_tarball, spark_version, None, zookeeper_tarball, zookeeper_version,
        hadoop_tarball=hadoop_tarball, hadoop_version=hadoop_version,
    )  # fmt: skip
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        image = sparkstack.bake_image(
            name, from_image=from_image, flavor=flavor, network=network, ssh_user=ssh_user,
            software=software, hdfs=hdfs, zookeeper=zookeeper, cloud=cloud, report=report,
        )  # fmt: skip
    if not emit_data(_data(image), output):
        console.print(
            f"image {image.name} ({image.id}) active, {image.size} bytes, baked; "
            f"`sparkstack launch NAME --image {image.name}` uses it",
            markup=False,
            highlight=False,
        )


@app.command("list")
def list_(cloud: CloudOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """The images the project can boot from: size, age, and whether sparkstack made them."""
    found = sparkstack.list_images(cloud)
    if emit_data([_data(i) for i in found], output):
        return
    for image in found:
        console.print(
            f"{image.name:<32} {image.size / 2**20:>9.1f} MiB {_age(image.created):>5} "
            f"{image.disk_format:<6} {image.origin or '-':<8} {image.id}",
            markup=False,
            highlight=False,
        )
