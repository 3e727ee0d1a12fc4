"""Spark deployed over SSH on real sshd hosts: 1 master + 2 workers, jobs, node commands, faults.

The tests share one deployed cluster and run in file order: the fault that breaks the workers
comes last and repairs them.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from spark_bed import bed_access, bed_cluster

from sparkstack import Selection, SparkStatus
from sparkstack.api import _sync
from sparkstack.api.deploy import DeployReport, deploy_services
from sparkstack.api.describe import describe_nodes
from sparkstack.api.jobs import submit_on
from sparkstack.api.shell import copy_file_on, run_command_on, ui_tunnel
from sparkstack.cluster import Cluster, Role
from sparkstack.devcloud.spark_dist import SparkDist
from sparkstack.devcloud.testhosts import TestBed
from sparkstack.errors import ArtifactError, NodeError, ServiceError
from sparkstack.nodes.runner import Result
from sparkstack.spec import ClusterSpec, load_spec

WORKERS = Selection(frozenset({Role.SPARK_WORKER}))

pytestmark = pytest.mark.testhosts

JOB = Path(__file__).parent / "jobs" / "cluster_check.py"
PIDS = "cat /var/lib/spark/run/*.pid"


@pytest.fixture(scope="module")
def known_hosts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kh") / "known_hosts"


@pytest.fixture(scope="module")
def deployed(
    bed: TestBed, spark_url: str, known_hosts: Path
) -> tuple[Cluster, ClusterSpec, DeployReport]:
    """The cluster after a first deploy from an Apache-shaped URL (served on the loopback)."""
    spec = spark_spec({"version": "4.3.0", "url": spark_url})
    cluster = bed_cluster(bed, "spk")
    report = deploy_services(cluster, spec, access=bed_access(bed, known_hosts), health_timeout=120)
    return cluster, spec, report


def spark_spec(spark: dict[str, Any]) -> ClusterSpec:
    return load_spec(None, {"name": "spk", "spark": spark})


def _outputs(results: dict[str, Result | NodeError]) -> dict[str, str]:
    return {n: r.stdout.strip() for n, r in results.items() if isinstance(r, Result) and r.ok}


def test_deploy_makes_every_worker_alive(deployed: Any, bed: TestBed, known_hosts: Path) -> None:
    cluster, _spec, report = deployed
    assert report.outputs["spark.master_url"] == f"spark://{bed.hosts[0].ip}:7077"
    assert report.changed_nodes == sorted(h.name for h in bed.hosts)
    assert report.connections == {h.name: 1 for h in bed.hosts}  # one SSH connection per node
    assert report.fetched_bytes > 400e6  # the tarball came from the source once, not per node
    described = describe_nodes(cluster, bed_access(bed, known_hosts))
    spark = described.service("spark")
    assert isinstance(spark, SparkStatus), described.unreachable
    assert (spark.status, spark.alive_workers, spark.cores, spark.state) == (
        "ALIVE",
        2,
        4,
        "healthy",
    )
    assert described.manifest is not None and described.manifest.services == ["spark"]
    # pinned on first contact, and the keys are the ones the consoles printed
    pinned = known_hosts.read_text().splitlines()
    assert sorted(pinned) == sorted(f"{h.ip} {h.host_key}" for h in bed.hosts)


def test_pyspark_job_runs_on_both_workers(deployed: Any, bed: TestBed, known_hosts: Path) -> None:
    cluster, _spec, _report = deployed
    lines: list[str] = []
    code = submit_on(
        cluster,
        bed_access(bed, known_hosts),
        JOB,
        args=["6"],
        on_line=lambda _node, line: lines.append(line),
    )
    assert code == 0, "\n".join(lines[-30:])
    result = json.loads(next(line for line in lines if line.startswith("RESULT "))[7:])
    n = 100_000
    assert result["sum_squares"] == n * (n + 1) * (2 * n + 1) // 6
    assert result["counts"] == {"a": 3000, "b": 2000, "c": 1000}
    assert result["hosts"] == sorted(h.name for h in bed.hosts[1:])


def test_failing_job_exit_code_comes_back(
    deployed: Any, bed: TestBed, known_hosts: Path, tmp_path: Path
) -> None:
    cluster, _spec, _report = deployed
    app = tmp_path / "fails.py"
    app.write_text("import sys\nprint('about to fail')\nsys.exit(3)\n")
    lines: list[str] = []
    code = submit_on(
        cluster, bed_access(bed, known_hosts), app, on_line=lambda _n, line: lines.append(line)
    )
    assert code == 3
    assert "about to fail" in lines


def test_run_command_and_copy_file(
    deployed: Any, bed: TestBed, known_hosts: Path, tmp_path: Path
) -> None:
    cluster, _spec, _report = deployed
    access = bed_access(bed, known_hosts)
    everywhere = run_command_on(cluster, access, "hostname")
    assert _outputs(everywhere) == {h.name: h.name for h in bed.hosts}
    workers = run_command_on(cluster, access, "hostname", on=WORKERS)
    assert sorted(workers) == [h.name for h in bed.hosts[1:]]
    mixed = run_command_on(cluster, access, f"test $(hostname) != {bed.hosts[1].name}")
    assert [n for n, r in mixed.items() if isinstance(r, Result) and not r.ok] == [
        bed.hosts[1].name
    ]

    local = tmp_path / "note.txt"
    local.write_text("hello from the client\n")
    copied = copy_file_on(cluster, access, local, "/tmp/note.txt", on=WORKERS)
    assert copied == {h.name: None for h in bed.hosts[1:]}
    read = run_command_on(cluster, access, "cat /tmp/note.txt", on=WORKERS)
    assert set(_outputs(read).values()) == {"hello from the client"}


def test_ui_tunnel_reaches_the_master_ui(deployed: Any, bed: TestBed, known_hosts: Path) -> None:
    cluster, _spec, _report = deployed

    async def fetch() -> dict[str, Any]:
        async with ui_tunnel(cluster, bed_access(bed, known_hosts)) as url:
            assert url.startswith("http://127.0.0.1:")
            body = await asyncio.to_thread(
                lambda: urllib.request.urlopen(url + "json/", timeout=10).read()
            )
            return dict(json.loads(body))

    status = _sync.run(fetch())
    assert (status["status"], status["aliveworkers"]) == ("ALIVE", 2)


def test_configure_twice_changes_nothing(deployed: Any, bed: TestBed, known_hosts: Path) -> None:
    cluster, spec, _report = deployed
    access = bed_access(bed, known_hosts)
    before = _outputs(run_command_on(cluster, access, PIDS))
    again = deploy_services(cluster, spec, access=access, health_timeout=60)
    assert again.changed_nodes == []
    assert again.fetched_bytes == 0  # cached: the source is not asked again
    assert _outputs(run_command_on(cluster, access, PIDS)) == before  # no restart


def test_unreachable_host_is_named(deployed: Any, bed: TestBed, known_hosts: Path) -> None:
    cluster, spec, _report = deployed
    ghost = replace(
        cluster.with_role(Role.SPARK_WORKER)[0], name="ghost-worker", fixed_ip="198.18.252.99"
    )
    broken = replace(cluster, nodes=(*cluster.nodes, ghost))
    access = bed_access(bed, known_hosts, ready_timeout=3)
    with pytest.raises(NodeError, match=r"ghost-worker \(ubuntu@198\.18\.252\.99 via sspk-h1\)"):
        deploy_services(broken, spec, access=access)


def test_wrong_checksum_is_refused_before_installing(
    deployed: Any, bed: TestBed, known_hosts: Path, spark_dist: SparkDist, spark_url: str
) -> None:
    cluster, _spec, _report = deployed
    access = bed_access(bed, known_hosts)
    listing = "ls /opt/sparkstack /var/tmp/sparkstack 2>&1"
    before = _outputs(run_command_on(cluster, access, listing))
    wrong = "0" * 128
    sources: list[dict[str, Any]] = [
        {"version": "4.3.0", "url": spark_url, "sha512": wrong},
        {"version": "4.3.0", "tarball": str(spark_dist.tarball), "sha512": wrong},
    ]
    for spark in sources:
        with pytest.raises(ArtifactError, match=r"SHA-512.*nothing was (installed|created)"):
            deploy_services(cluster, spark_spec(spark), access=access)
    assert _outputs(run_command_on(cluster, access, listing)) == before


def test_worker_that_dies_at_start_shows_its_log(
    deployed: Any, bed: TestBed, known_hosts: Path
) -> None:
    cluster, spec, _report = deployed
    access = bed_access(bed, known_hosts)
    # a typo in the cluster file: the worker JVM cannot parse its memory and exits at start
    bad = spark_spec(
        {**spec.spark.model_dump(mode="json"), "env": {"SPARK_WORKER_MEMORY": "two-gigs"}}
    )
    with pytest.raises(ServiceError) as caught:
        deploy_services(cluster, bad, access=access)
    message = str(caught.value)
    assert all(h.name in message for h in bed.hosts[1:]), message
    assert "two-gigs" in message  # the worker's complaint, from its log
    # the good settings again: the changed nodes restart, and every worker comes back
    repaired = deploy_services(cluster, spec, access=access, health_timeout=120)
    assert {h.name for h in bed.hosts[1:]} <= set(repaired.changed_nodes)


#: spark.conf values that would end a properties line, start an escape or a separator, or run
#: in a shell. Spark trims the blanks around every value it reads from spark-defaults.conf
#: (Utils.trimExceptCRLF, after Properties.load): an escaped leading space cannot survive that.
HOSTILE_CONF = {
    "spark.sparkstack.hv.subst": "$(touch /tmp/pwned-conf) `touch /tmp/pwned-conf` ;touch x",
    "spark.sparkstack.hv.backslashes": "C:\\temp\\new \\\\share\\ \\n \\t \\u0041 end\\",
    "spark.sparkstack.hv.quotes": "'single' \"double\" # not a comment = not a key",
    "spark.sparkstack.hv.separator": "=starts like a separator : =",
    "spark.sparkstack.hv.colon": ":x\\",
    "spark.sparkstack.hv.lead": " leading space $(touch /tmp/pwned-conf)",
    "spark.sparkstack.hv.unicode": "é € !# \\\\\\",
}
HOSTILE_ENV = "$(touch /tmp/pwned-conf) `touch /tmp/pwned-conf` 'q' \"d\" ; \\ # = * é €"

CONF_JOB = """
import json, os, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("sparkstack-hostile-conf").getOrCreate()
keys = json.loads(sys.argv[1])
print("CONF " + json.dumps({k: spark.conf.get(k) for k in keys}), flush=True)
print("ENV " + json.dumps(os.environ.get("SPARKSTACK_HV")), flush=True)
spark.stop()
"""


def _printed(lines: list[str], tag: str) -> Any:
    return json.loads(next(line for line in lines if line.startswith(tag + " "))[len(tag) + 1 :])


def test_hostile_spark_conf_and_env_arrive_intact(
    deployed: Any, bed: TestBed, known_hosts: Path, tmp_path: Path
) -> None:
    cluster, spec, _report = deployed
    access = bed_access(bed, known_hosts)
    hostile = spark_spec(
        {
            **spec.spark.model_dump(mode="json"),
            "conf": HOSTILE_CONF,
            "env": {"SPARKSTACK_HV": HOSTILE_ENV},
        }
    )
    deploy_services(cluster, hostile, access=access, health_timeout=120)
    app = tmp_path / "conf_check.py"
    app.write_text(CONF_JOB)
    lines: list[str] = []
    code = submit_on(
        cluster,
        access,
        app,
        args=[json.dumps(sorted(HOSTILE_CONF))],
        on_line=lambda _n, line: lines.append(line),
    )
    assert code == 0, "\n".join(lines[-30:])
    expected = {
        **HOSTILE_CONF,
        "spark.sparkstack.hv.lead": HOSTILE_CONF["spark.sparkstack.hv.lead"].strip(),
    }
    assert _printed(lines, "CONF") == expected
    assert _printed(lines, "ENV") == HOSTILE_ENV  # spark-env.sh, sourced by spark-submit
    clean = run_command_on(cluster, access, "test ! -e /tmp/pwned-conf && test ! -e x")
    assert all(isinstance(r, Result) and r.ok for r in clean.values()), clean
    # the cluster as before, for whatever runs next
    again = deploy_services(cluster, spec, access=access, health_timeout=120)
    assert again.changed_nodes == sorted(h.name for h in bed.hosts)


def test_app_with_hostile_file_name_and_args(
    deployed: Any, bed: TestBed, known_hosts: Path, tmp_path: Path
) -> None:
    cluster, _spec, _report = deployed
    access = bed_access(bed, known_hosts)
    app = tmp_path / "job $(touch x) 'q'.py"
    app.write_text('import json, sys\nprint("ARGV " + json.dumps(sys.argv[1:]), flush=True)\n')
    args = ["$(touch x)", "`touch x`", "a b", "'q'", '"d"', ";", "\\", "#", "=", "*", "é€", ""]
    args += [
        "--conf",
        "spark.x=y",
        "-v",
        "~",
        "$HOME",
    ]  # after the app: its own, not spark-submit's
    lines: list[str] = []
    code = submit_on(cluster, access, app, args=args, on_line=lambda _n, line: lines.append(line))
    assert code == 0, "\n".join(lines[-30:])
    assert _printed(lines, "ARGV") == args
    listed = run_command_on(
        cluster,
        access,
        "python3 -c 'import json, os; print(json.dumps(os.listdir(\"sparkstack-apps\")))'",
        on=Selection(frozenset({Role.SPARK_MASTER})),
    )
    assert app.name in json.loads(_outputs(listed)[bed.hosts[0].name])
    clean = run_command_on(cluster, access, "test ! -e x && test ! -e sparkstack-apps/x")
    assert all(isinstance(r, Result) and r.ok for r in clean.values()), clean
