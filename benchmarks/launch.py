"""Provisioning 1 master + 19 workers: sparkstack vs a plain openstacksdk script vs a CLI loop.

Prints, from one run: wall time of each way to get 20 ACTIVE servers, the API requests each
made, sparkstack's peak resident memory, and the core count. Asserts nothing.

    OS_CLIENT_CONFIG_FILE=... .venv/bin/python benchmarks/launch.py [--cloud devcloud]

Each way runs in its own child process, so its request count (a hook on requests' HTTP adapter)
and peak RSS (getrusage of the child) are its own. The CLI loop counts the requests that
``openstack --debug`` logs. Every server made here is deleted before the next way starts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

SERVERS = 20
FLAVOR = "m1.tiny"
IMAGE = "ubuntu-24.04"
NETWORK = "private"

#: Installs a counter of HTTP requests in a child process; the count is printed at exit.
COUNTER = """
import atexit, json, sys, requests.adapters
_count = [0]
_send = requests.adapters.HTTPAdapter.send
def _counting(self, *a, **k):
    _count[0] += 1
    return _send(self, *a, **k)
requests.adapters.HTTPAdapter.send = _counting
def _report(**extra):
    print("RESULT " + json.dumps({"requests": _count[0], **extra}), flush=True)
"""

SPARKSTACK = (
    COUNTER
    + """
import time
from sparkstack.api import clusters
from sparkstack.spec import load_spec
spec = load_spec(None, {"name": "bench-ss", "cloud": CLOUD, "image": IMAGE,
    "masters": {"count": 1, "flavor": FLAVOR}, "workers": {"count": SERVERS - 1, "flavor": FLAVOR},
    "network": {"name": NETWORK}})
start = time.monotonic()
cluster = clusters.launch(spec, provision_only=True)
elapsed = time.monotonic() - start
_report(seconds=elapsed, active=sum(n.status == "ACTIVE" for n in cluster.nodes))
"""
)

PLAIN = (
    COUNTER
    + """
import time, openstack
start = time.monotonic()
conn = openstack.connect(cloud=CLOUD)
image = conn.image.find_image(IMAGE)
flavor = conn.compute.find_flavor(FLAVOR)
network = conn.network.find_network(NETWORK)
servers = [
    conn.compute.create_server(name=f"bench-plain-{i}", image_id=image.id, flavor_id=flavor.id,
                               networks=[{"uuid": network.id}])
    for i in range(1, SERVERS + 1)
]
servers = [conn.compute.wait_for_server(s, wait=900) for s in servers]
elapsed = time.monotonic() - start
_report(seconds=elapsed, active=sum(s.status == "ACTIVE" for s in servers))
"""
)


def run_child(code: str, cloud: str) -> tuple[dict[str, float], int]:
    """Run ``code`` in a child Python; return its RESULT line and its peak RSS in KiB."""
    prelude = f"CLOUD={cloud!r}; IMAGE={IMAGE!r}; FLAVOR={FLAVOR!r}; NETWORK={NETWORK!r}\n"
    prelude += f"SERVERS={SERVERS}\n"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, check=False
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :]), max(peak, before)


def openstack_cli() -> str:
    found = shutil.which("openstack")
    if found:
        return found
    from sparkstack.devcloud.config import DevcloudConfig

    return str(DevcloudConfig.load().bin / "openstack")


def cli_loop(command: str, cloud: str) -> tuple[float, int]:
    """``openstack server create --wait``, one server after another, as users script it."""
    requests = 0
    start = time.monotonic()
    for i in range(1, SERVERS + 1):
        done = subprocess.run(
            [
                command, "--os-cloud", cloud, "--debug", "server", "create",
                "--image", IMAGE, "--flavor", FLAVOR, "--network", NETWORK,
                "--wait", f"bench-loop-{i}",
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"openstack server create failed:\n{done.stderr[-2000:]}")
        requests += done.stderr.count("REQ: curl")
    return time.monotonic() - start, requests


def delete_servers(cloud: str, prefix: str) -> None:
    """Remove the benchmark's plain servers and wait until they are gone."""
    import openstack

    conn = openstack.connect(cloud=cloud)
    servers = [s for s in conn.compute.servers() if s.name.startswith(prefix)]
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", default=os.environ.get("OS_CLOUD", "devcloud"))
    parser.add_argument("--skip-loop", action="store_true", help="skip the slow CLI loop")
    args = parser.parse_args()
    if "OS_CLIENT_CONFIG_FILE" not in os.environ:
        from sparkstack.devcloud.config import DevcloudConfig

        os.environ["OS_CLIENT_CONFIG_FILE"] = str(DevcloudConfig.load().clouds_yaml)
    loop_command = openstack_cli()
    os.environ["SPARKSTACK_DATA_DIR"] = tempfile.mkdtemp(prefix="sparkstack-bench-")

    print(f"cores: {os.cpu_count()}  servers: {SERVERS} ({FLAVOR}, 1 master + {SERVERS - 1})")
    ours, rss_kib = run_child(SPARKSTACK, args.cloud)
    row("sparkstack launch --provision-only", ours["seconds"], int(ours["requests"]))
    print(f"  sparkstack peak resident memory: {rss_kib / 1024:.0f} MiB")
    from sparkstack.api import clusters

    start = time.monotonic()
    clusters.destroy("bench-ss", args.cloud)
    print(f"  sparkstack destroy of the {SERVERS} servers: {time.monotonic() - start:.1f} s")

    plain, _ = run_child(PLAIN, args.cloud)
    delete_servers(args.cloud, "bench-plain-")
    row("plain openstacksdk script", plain["seconds"], int(plain["requests"]))
    print(
        f"  sparkstack / plain script: {ours['seconds'] / plain['seconds']:.2f}x (target <= 1.1x)"
    )

    if not args.skip_loop:
        try:
            loop_seconds, loop_requests = cli_loop(loop_command, args.cloud)
        finally:
            delete_servers(args.cloud, "bench-loop-")
        row("loop of `openstack server create --wait`", loop_seconds, loop_requests)
        print(f"  loop / sparkstack: {loop_seconds / ours['seconds']:.1f}x (target >= 8x)")


def row(label: str, seconds: float, requests: int) -> None:
    print(f"{label:<42} {seconds:8.1f} s  {requests:6d} API requests", flush=True)


if __name__ == "__main__":
    main()
