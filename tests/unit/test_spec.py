"""The cluster file and flags: node groups, the masters:/workers: shorthands, and the order in
which a cluster's services run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from sparkstack.cluster import Role
from sparkstack.errors import SpecError
from sparkstack.services.base import Deployment, Port, Service, ServiceStatus
from sparkstack.services.hdfs import Hdfs
from sparkstack.services.pipeline import in_dependency_order, services_for
from sparkstack.services.spark import SparkStandalone
from sparkstack.services.tarball import TarballService
from sparkstack.services.zookeeper import ZooKeeper
from sparkstack.spec import ClusterSpec, load_spec

pytestmark = pytest.mark.unit


def groups(spec: ClusterSpec) -> dict[str, tuple[int, str, list[str]]]:
    return {n: (g.count, g.flavor, [r.value for r in g.roles]) for n, g in spec.groups.items()}


def test_flags_override_file(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: demo\nworkers: {count: 3, flavor: m1.large}\nimage: debian-12\n")
    spec = load_spec(file, {"workers": {"count": 5}})
    assert groups(spec)["worker"] == (5, "m1.large", ["spark-worker"])
    assert spec.login_user == "debian"


def test_defaults_are_one_master_and_two_workers() -> None:
    assert groups(load_spec(None, {"name": "demo"})) == {
        "master": (1, "m1.small", ["spark-master"]),
        "worker": (2, "m1.small", ["spark-worker"]),
    }


def test_readme_flavor_only_example_keeps_default_counts() -> None:
    # sparkstack launch mycluster --workers 4 --master-flavor m1.large --worker-flavor m1.xlarge
    spec = load_spec(
        None,
        {
            "name": "mycluster",
            "masters": {"count": None, "flavor": "m1.large"},
            "workers": {"count": 4, "flavor": "m1.xlarge"},
        },
    )
    assert groups(spec) == {
        "master": (1, "m1.large", ["spark-master"]),
        "worker": (4, "m1.xlarge", ["spark-worker"]),
    }


def test_groups_file_with_three_groups(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text(
        "name: mixed\n"
        "groups:\n"
        "  master: {count: 1, flavor: m1.small, roles: [spark-master]}\n"
        "  small: {count: 2, flavor: m1.small, roles: [spark-worker]}\n"
        "  big: {count: 1, flavor: m1.medium, image: debian-12, roles: [spark-worker]}\n"
    )
    spec = load_spec(file)
    assert list(spec.groups) == ["master", "small", "big"]
    assert spec.count(Role.SPARK_WORKER) == 3
    assert spec.image_of("big") == "debian-12" and spec.image_of("small") == spec.image
    # the shorthand flags set the groups they stand for, when the file defines them
    assert groups(load_spec(file, {"masters": {"flavor": "m1.large"}}))["master"][1] == "m1.large"


def test_shorthand_for_a_group_the_file_does_not_define(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: g\ngroups:\n  head: {count: 1, roles: [spark-master, spark-worker]}\n")
    with pytest.raises(SpecError, match="workers sets the group 'worker'"):
        load_spec(file, {"workers": {"count": 3}})


def test_a_cluster_needs_a_spark_master(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: demo\nmasters: {count: 0}\n")
    with pytest.raises(SpecError, match=r"cluster.yaml:1:1: groups: .*role spark-master"):
        load_spec(file)


def test_bad_value_names_file_line_column_field_and_value(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: demo\nworkers:\n  count: many\n")
    with pytest.raises(SpecError, match=r"cluster.yaml:3:10: workers.count: 'many': .*integer"):
        load_spec(file)


def test_bad_name_rejected() -> None:
    with pytest.raises(SpecError, match="command line: name: 'Bad_Name'"):
        load_spec(None, {"name": "Bad_Name"})


def test_conf_numbers_and_booleans_become_strings(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: demo\nspark:\n  conf: {spark.a: true, spark.b: 3, spark.c: 0.5}\n")
    assert load_spec(file).spark.conf == {"spark.a": "true", "spark.b": "3", "spark.c": "0.5"}


def test_manifest_base_need_not_have_its_files_here(tmp_path: Path) -> None:
    base = load_spec(None, {"name": "demo"}).model_dump(mode="json")
    base["spark"]["tarball"] = str(tmp_path / "gone.tgz")
    assert load_spec(base=base).spark.tarball == tmp_path / "gone.tgz"
    with pytest.raises(SpecError, match="no file"):
        load_spec(None, {"name": "demo", "spark": {"tarball": str(tmp_path / "gone.tgz")}})


class _Stub(Service):
    """A service with no behaviour: only its name and dependencies matter here."""

    roles: ClassVar[tuple[Role, ...]] = ()
    after: tuple[str, ...] = ()

    def depends_on(self) -> tuple[str, ...]:
        return self.after

    def ports(self) -> list[Port]:
        return []

    async def install(self, dep: Deployment) -> None: ...
    async def configure(self, dep: Deployment) -> set[str]:
        return set()

    async def start(self, dep: Deployment, changed: set[str]) -> None: ...
    async def stop(self, dep: Deployment) -> None: ...

    async def health(self, dep: Deployment, timeout: float) -> None: ...
    async def status(self, dep: Deployment) -> ServiceStatus:
        return ServiceStatus(self.name, "healthy", "")


def _stub(name: str, *after: str) -> Service:
    kind: Any = type(name, (_Stub,), {"name": name, "after": after})
    return kind(load_spec(None, {"name": "demo"}))  # type: ignore[no-any-return]


def test_services_run_after_what_they_depend_on() -> None:
    hdfs, zk, spark = _stub("hdfs"), _stub("zookeeper"), _stub("spark", "zookeeper", "hdfs")
    assert [s.name for s in in_dependency_order([spark, zk, hdfs])] == [
        "zookeeper",
        "hdfs",
        "spark",
    ]
    assert [s.name for s in in_dependency_order([zk, hdfs])] == ["zookeeper", "hdfs"]


def test_circular_dependencies_are_refused() -> None:
    with pytest.raises(SpecError, match="circle"):
        in_dependency_order([_stub("a", "b"), _stub("b", "a")])


def test_a_spec_runs_the_services_its_roles_need() -> None:
    assert [s.name for s in services_for(load_spec(None, {"name": "demo"}))] == ["spark"]


@pytest.mark.parametrize("service", [SparkStandalone, ZooKeeper, Hdfs])
def test_configure_keeps_the_launched_tarball_of_the_same_release(
    service: type[TarballService],
) -> None:
    launched = {"version": "4.3.0", "hadoop": "3", "url": None, "tarball": "/t.tgz", "sha512": None}
    conf_only = {**launched, "tarball": None, "conf": {"a": "1"}}
    kept = service.carry_over(launched, conf_only)
    assert kept["tarball"] == "/t.tgz" and kept["conf"] == {"a": "1"}
    # another release through a flag drops the old tarball: the new one is downloaded
    newer = service.carry_over(launched, {**launched, "version": "4.4.0"})
    assert newer["tarball"] is None and newer["version"] == "4.4.0"
    # a source the user names is theirs
    named = {**launched, "url": "https://mirror.example/x.tgz", "tarball": None}
    assert service.carry_over(launched, named) == named
