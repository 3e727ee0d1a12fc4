"""Pure logic of object storage: the cluster-file keys, the bundle's thinning and packing, the
files rendered for s3a and the Spark settings and History Server that follow from them."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from pathlib import Path

import pytest

from sparkstack.cluster import Node, Role
from sparkstack.errors import ServiceError, SpecError
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.nodes.runner import Fleet
from sparkstack.services import pipeline, s3a_jars
from sparkstack.services.base import Deployment, Host, NodeFacts
from sparkstack.services.object_storage import CLASSPATH, CORE_SITE, ObjectStorage
from sparkstack.services.spark import HISTORY_PORT, SparkStandalone
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit

STORE = {"enabled": True, "endpoint": "http://198.19.0.1:8090", "region": "RegionOne"}


def test_event_log_turns_object_storage_on_and_is_checked() -> None:
    spec = load_spec(None, {"name": "c", "object_storage": {"event_log": "s3a://logs/spark/"}})
    assert spec.object_storage.enabled and spec.object_storage.event_log == "s3a://logs/spark"
    for bad in ("s3a://Logs/x", "s3://logs/x", "s3a://logs/a/../b", "s3a://logs/x y", "s3a://l"):
        with pytest.raises(SpecError, match=r"object_storage\.event_log"):
            load_spec(None, {"name": "c", "object_storage": {"event_log": bad}})
    with pytest.raises(SpecError, match="event_log needs object storage"):
        load_spec(
            None,
            {"name": "c", "object_storage": {"enabled": False, "event_log": "s3a://logs/x"}},
        )


def test_object_storage_is_a_service_spark_depends_on_only_when_asked() -> None:
    plain = [s.name for s in pipeline.services_for(load_spec(None, {"name": "c"}))]
    assert plain == ["spark"]
    spec = load_spec(None, {"name": "c", "object_storage": {"enabled": True}})
    assert [s.name for s in pipeline.services_for(spec)] == ["object-storage", "spark"]


def test_thinning_drops_unused_service_clients_and_is_deterministic(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.jar"
    with zipfile.ZipFile(bundle, "w") as jar:
        for name in (
            "META-INF/MANIFEST.MF",
            "software/amazon/awssdk/core/Sdk.class",
            "software/amazon/awssdk/services/",
            "software/amazon/awssdk/services/s3/S3Client.class",
            "software/amazon/awssdk/services/sts/StsClient.class",
            "software/amazon/awssdk/services/dynamodb/DynamoDbClient.class",
            "software/amazon/awssdk/services/ec2/model/Instance.class",
        ):
            jar.writestr(name, b"" if name.endswith("/") else name.encode() * 50)
    one, two = tmp_path / "one.jar", tmp_path / "two.jar"
    s3a_jars.thin_bundle(bundle, one)
    s3a_jars.thin_bundle(bundle, two)
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as jar:
        names = jar.namelist()
        assert jar.read("software/amazon/awssdk/core/Sdk.class").startswith(b"software")
    assert "software/amazon/awssdk/services/s3/S3Client.class" in names
    assert "software/amazon/awssdk/services/sts/StsClient.class" in names
    assert not [n for n in names if "dynamodb" in n or "/ec2/" in n]


def test_own_jars_are_packed_once_and_the_same_way(tmp_path: Path) -> None:
    jars = []
    for name in ("b.jar", "a.jar"):
        path = tmp_path / name
        path.write_bytes(name.encode() * 100)
        jars.append(path)
    built = s3a_jars.build("https://unused.invalid/maven", jars, tmp_path / "cache")
    again = s3a_jars.build("https://unused.invalid/maven", jars, tmp_path / "cache")
    assert built == again
    (tmp_path / "other").mkdir()
    elsewhere = s3a_jars.build("https://unused.invalid/maven", jars, tmp_path / "other")
    assert (
        hashlib.sha512(built.read_bytes()).digest()
        == hashlib.sha512(elsewhere.read_bytes()).digest()
    )
    with tarfile.open(built) as tar:
        members = tar.getmembers()
    top = built.name.removesuffix(".tar.gz")
    assert [m.name for m in members] == [
        top,
        f"{top}/jars",
        f"{top}/jars/a.jar",
        f"{top}/jars/b.jar",
    ]
    assert all(m.uid == 0 and m.mtime == 0 for m in members)


def _deployment(store: dict[str, object]) -> tuple[ObjectStorage, SparkStandalone, Deployment]:
    def node(name: str, roles: set[Role], ip: str) -> Node:
        return Node(name, name.split("-")[1], frozenset(roles), 1, name, "ACTIVE", "m1.small",
                    2, 2048, fixed_ip=ip)  # fmt: skip

    nodes = [
        node("c-master-1", {Role.SPARK_MASTER}, "198.18.64.10"),
        node("c-worker-1", {Role.SPARK_WORKER}, "198.18.64.11"),
    ]
    hosts = [Host(n, Target(n.name, n.fixed_ip or "", "ubuntu")) for n in nodes]
    access = SSHAccess(Path("/nonexistent"), HostKeyStore(Path("/nonexistent")))
    facts = NodeFacts(
        {"user": "ubuntu", "group": "ubuntu", "java_home": "/usr/lib/jvm/j17", "systemd": "1"}
    )
    dep = Deployment("c", hosts, Fleet(access), facts={h.name: facts for h in hosts})
    dep.secrets = {"spark": "x", "s3.access": "AK", "s3.secret": "SK<&>"}
    spec = load_spec(None, {"name": "c", "object_storage": store})
    storage = ObjectStorage(spec)
    dep.outputs.update(storage.outputs(dep))
    return storage, SparkStandalone(spec), dep


def test_s3a_settings_hold_the_credential_in_core_site_and_spark_gets_the_class_path() -> None:
    storage, spark, dep = _deployment(STORE)
    props = storage.properties(dep)
    assert props["fs.s3a.endpoint"] == "http://198.19.0.1:8090"
    assert props["fs.s3a.endpoint.region"] == "RegionOne"
    assert props["fs.s3a.connection.ssl.enabled"] == "false"
    assert props["fs.s3a.path.style.access"] == "true"
    conf = spark.defaults_conf(dep)
    assert conf["spark.driver.extraClassPath"] == CLASSPATH
    assert conf["spark.executor.extraClassPath"] == CLASSPATH
    assert not [v for v in conf.values() if "SK" in v or v == "AK"]  # the secret stays out
    env = spark.render(dep, dep.hosts[0])["/opt/spark/conf/spark-env.sh"].content
    assert f"SPARK_DAEMON_CLASSPATH='{CLASSPATH}'" in env
    assert "spark.eventLog.enabled" not in conf
    assert CORE_SITE.startswith("/etc/")


def test_event_log_sets_spark_and_a_history_server_on_the_first_master() -> None:
    _storage, spark, dep = _deployment({**STORE, "event_log": "s3a://logs/ev"})
    conf = spark.defaults_conf(dep)
    assert conf["spark.eventLog.dir"] == conf["spark.history.fs.logDirectory"] == "s3a://logs/ev"
    assert spark.daemons(dep, dep.hosts[0]) == ["master", "history-server"]
    assert spark.daemons(dep, dep.hosts[1]) == ["worker"]
    files = spark.render(dep, dep.hosts[0])
    unit = files["/etc/systemd/system/sparkstack-spark-history-server.service"].content
    assert "ExecStart=/opt/spark/sbin/start-history-server.sh\n" in unit
    assert HISTORY_PORT in [p.first for p in spark.ports()]
    assert pipeline.web_ui("spark", "history") == (SparkStandalone, HISTORY_PORT)


def test_without_endpoint_or_credential_one_line_says_what_to_do() -> None:
    storage, _spark, dep = _deployment({"enabled": True})
    with pytest.raises(ServiceError, match=r"object_storage\.endpoint"):
        storage.properties(dep)
    storage, _spark, dep = _deployment(STORE)
    dep.secrets = {}
    with pytest.raises(ServiceError, match="launch --object-storage"):
        storage.properties(dep)


def test_configure_keeps_the_endpoint_found_at_launch() -> None:
    launched = {**STORE, "event_log": None}
    kept = ObjectStorage.carry_over(launched, {"enabled": True, "endpoint": None, "region": None})
    assert (kept["endpoint"], kept["region"]) == (STORE["endpoint"], STORE["region"])
