"""Pure logic of baked images: what an image says it holds, which tarballs a launch on it skips,
how a node's install is checked, and the one-server spec a bake runs."""

import json
from types import SimpleNamespace
from typing import Any

import pytest

from sparkstack.api.images import bake_cluster, bake_spec
from sparkstack.api.lifecycle import group_requests, mark_baked
from sparkstack.cloud.images import BAKED_FLAG, BAKED_SOFTWARE, baked_software
from sparkstack.cluster import Role
from sparkstack.services.artifacts import Artifact
from sparkstack.services.base import NodeFacts, template
from sparkstack.services.pipeline import services_for
from sparkstack.services.spark import SparkStandalone
from sparkstack.services.staging import INSTALL_MARKER
from sparkstack.services.tarball import TarballService
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit

SHA = "ab" * 64
OTHER = "cd" * 64


def _image(**properties: Any) -> SimpleNamespace:
    return SimpleNamespace(properties=properties)


def _spark(version: str = "4.3.0") -> SparkStandalone:
    return SparkStandalone(load_spec(overrides={"name": "demo", "spark": {"version": version}}))


def test_a_baked_image_says_what_it_holds() -> None:
    record = _spark().baked_record(SHA)
    image = _image(**{BAKED_FLAG: "true", BAKED_SOFTWARE: json.dumps({"spark": record})})
    assert baked_software(image) == {"spark": record}
    assert record == {
        "version": "4.3.0",
        "sha512": SHA,
        "install_dir": f"/opt/sparkstack/spark-4.3.0-{SHA[:12]}",
    }


@pytest.mark.parametrize(
    "properties",
    [
        {},
        {BAKED_SOFTWARE: json.dumps({"spark": {"version": "4.3.0"}})},  # not flagged
        {BAKED_FLAG: "true", BAKED_SOFTWARE: "{not json"},
        {BAKED_FLAG: "true", BAKED_SOFTWARE: "[1, 2]"},
        {BAKED_FLAG: "true"},
    ],
)
def test_any_other_image_holds_nothing(properties: dict[str, str]) -> None:
    assert baked_software(_image(**properties)) == {}


def test_values_that_are_not_text_are_dropped() -> None:
    held = {"spark": {"version": 4, "sha512": SHA}, "odd": "text"}
    image = _image(**{BAKED_FLAG: "True", BAKED_SOFTWARE: json.dumps(held)})
    assert baked_software(image) == {"spark": {"sha512": SHA}}


def test_only_the_same_release_and_tarball_count_as_baked() -> None:
    spark = _spark()
    record = spark.baked_record(SHA)
    assert spark.baked_in(record, SHA)
    assert not spark.baked_in(record, OTHER)
    assert not _spark("4.2.0").baked_in(record, SHA)
    assert not spark.baked_in(None, SHA)


def _artifact(sha512: str = SHA) -> Artifact:
    return Artifact("spark", "spark-4.3.0-bin-hadoop3.tgz", sha512, "file")


def _plan() -> tuple[list[Any], list[Any]]:
    spec = load_spec(overrides={"name": "demo", "groups": None})
    services = services_for(spec)
    groups = group_requests(spec, services)
    return services, groups


def test_launch_skips_what_every_group_image_holds() -> None:
    services, groups = _plan()
    record = {"spark": _spark().baked_record(SHA)}
    artifacts = {"spark": _artifact()}
    mark_baked(services, artifacts, groups, {"master": record, "worker": record})
    assert artifacts["spark"].baked


@pytest.mark.parametrize(
    "held",
    [
        {"master": {"spark": {"version": "4.3.0", "sha512": SHA}}},  # the workers' image: vanilla
        {
            "master": {"spark": {"version": "4.3.0", "sha512": OTHER}},
            "worker": {"spark": {"version": "4.3.0", "sha512": OTHER}},
        },
        {},
    ],
)
def test_a_mismatch_anywhere_falls_back_to_the_normal_install(
    held: dict[str, dict[str, dict[str, str]]],
) -> None:
    services, groups = _plan()
    artifacts = {"spark": _artifact()}
    mark_baked(services, artifacts, groups, held)
    assert not artifacts["spark"].baked


def _facts(link: str, marker: str) -> NodeFacts:
    return NodeFacts({"spark": link, "spark_sha512": marker})


def test_a_baked_install_is_checked_against_its_marker() -> None:
    spark = _spark()
    here = f"spark-4.3.0-{SHA[:12]}"
    baked = _artifact()
    baked.baked = True
    assert spark.holds(_facts(here, SHA), baked)
    assert not spark.holds(_facts(here, ""), baked)  # the directory, but no marker: reinstall
    assert not spark.holds(_facts(here, OTHER), baked)
    assert not spark.holds(_facts("spark-4.3.0-000000000000", SHA), baked)
    # an install by an older sparkstack (no marker) still counts when nothing claims a bake
    assert spark.holds(_facts(here, ""), _artifact())


def test_every_install_writes_the_marker_and_preparation_reads_it() -> None:
    script = template("install.sh.j2").render(
        tgz="/t.tgz", fetch_url="", checked=True, sha512=SHA, install_dir="/opt/sparkstack/x",
        link="/opt/spark", owned=[], owner="u:g", marker=INSTALL_MARKER,
    )  # fmt: skip
    assert f"printf '%s\\n' {SHA} | sudo_ tee \"$dir.part\"/{INSTALL_MARKER}" in script
    prepare = template("prepare.sh.j2").render(
        java_major=17, links={"spark": "/opt/spark"}, marker=INSTALL_MARKER
    )
    assert f"FACT spark_sha512=$(head -c 200 /opt/spark/{INSTALL_MARKER}" in prepare


@pytest.mark.parametrize(
    ("image", "cluster"),
    [("spark-4.3", "bake-spark-4-3"), ("Ubuntu 24.04 + Spark", "bake-ubuntu-24-04-spark")],
)
def test_the_bake_runs_as_a_cluster_named_after_the_image(image: str, cluster: str) -> None:
    assert bake_cluster(image) == cluster
    assert len(bake_cluster("x" * 200)) <= 40


def test_an_image_name_of_no_name_characters_still_gives_a_cluster_name() -> None:
    assert bake_cluster("+++") == "bake"


def test_a_bake_puts_every_asked_service_on_its_one_server() -> None:
    spec = bake_spec("img", hdfs=True, zookeeper=True, software={"spark": {"version": "4.2.0"}})
    (group,) = spec.groups.values()
    assert group.count == 1
    assert set(group.roles) == {
        Role.SPARK_MASTER, Role.SPARK_WORKER, Role.ZOOKEEPER,
        Role.HDFS_NAMENODE, Role.HDFS_DATANODE,
    }  # fmt: skip
    assert spec.hdfs.replication == 1 and spec.spark.version == "4.2.0"
    names = [s.name for s in services_for(spec) if isinstance(s, TarballService)]
    assert sorted(names) == ["hdfs", "spark", "zookeeper"]


def test_a_plain_bake_is_spark_alone() -> None:
    spec = bake_spec("img", software={"zookeeper": {"version": "3.9.5"}, "hdfs": {}})
    assert [s.name for s in services_for(spec)] == ["spark"]
    assert spec.name == "bake-img"
