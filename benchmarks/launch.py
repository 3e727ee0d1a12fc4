"""Provisioning 1 master + 19 workers: sparkstack vs a plain openstacksdk script vs a CLI loop.

Prints, from one run: wall time of each way to get the servers ACTIVE, the API requests each
made, sparkstack's peak resident memory, and the core count. Asserts nothing.

    eval "$(.venv/bin/sparkstack devcloud env)"
    .venv/bin/python benchmarks/launch.py [--servers 20] [--skip-loop] [--cloud devcloud]

Each way runs in its own child process, so its request count (a hook on requests' HTTP adapter)
and peak RSS (getrusage of that child, read by itself) are its own. The CLI loop counts the
requests that ``openstack --debug`` logs. Every server made here is deleted before the next way
starts. sparkstack's way is ``launch(spec, provision_only=True)``: its figure includes the
floating IP of the master and reading every console's SSH host keys, which the others skip.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import sparkstack

FLAVOR = "m1.tiny"
IMAGE = "ubuntu-24.04"
NETWORK = "private"
#: Cluster name of sparkstack's way; the other ways name their servers bench-plain-N, bench-loop-N.
NAME = "bench-ss"

#: Installs a counter of HTTP requests in a child process; the count is printed at exit.
COUNTER = """
import json, resource, requests.adapters
_count = [0]
_send = requests.adapters.HTTPAdapter.send
def _counting(self, *a, **k):
    _count[0] += 1
    return _send(self, *a, **k)
requests.adapters.HTTPAdapter.send = _counting
def _report(**extra):
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT " + json.dumps({"requests": _count[0], "rss_kib": rss_kib, **extra}), flush=True)
"""

SPARKSTACK = (
    COUNTER
    + """
import time
import sparkstack
spec = sparkstack.load_spec(None, {"name": NAME, "cloud": CLOUD, "image": IMAGE,
    "masters": {"count": 1, "flavor": FLAVOR}, "workers": {"count": SERVERS - 1, "flavor": FLAVOR},
    "network": {"name": NETWORK}})
start = time.monotonic()
cluster = sparkstack.launch(spec, provision_only=True)
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


def run_child(code: str, cloud: str, servers: int) -> dict[str, float]:
    """Run ``code`` in a child Python; return its RESULT line (seconds, requests, rss_kib...)."""
    prelude = f"CLOUD={cloud!r}; IMAGE={IMAGE!r}; FLAVOR={FLAVOR!r}; NETWORK={NETWORK!r}\n"
    prelude += f"SERVERS={servers}; NAME={NAME!r}\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(lines[-1][len("RESULT ") :])
    return result


def openstack_cli() -> str:
    found = shutil.which("openstack")
    if found:
        return found
    from sparkstack.devcloud.config import DevcloudConfig

    return str(DevcloudConfig.load().bin / "openstack")


def cli_loop(command: str, cloud: str, servers: int) -> tuple[float, int]:
    """``openstack server create --wait``, one server after another, as users script it."""
    requests = 0
    start = time.monotonic()
    for i in range(1, servers + 1):
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


def row(label: str, seconds: float, requests: int, active: str) -> None:
    line = f"{label:<42} {seconds:8.1f} s  {requests:6d} API requests  {active}"
    print(line.rstrip(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", default=os.environ.get("OS_CLOUD", "devcloud"))
    parser.add_argument("--servers", type=int, default=20, help="1 master + N-1 workers")
    parser.add_argument("--skip-loop", action="store_true", help="skip the slow CLI loop")
    args = parser.parse_args()
    if args.servers < 2:
        parser.error("--servers: at least 2 (1 master + 1 worker)")
    servers: int = args.servers
    if "OS_CLIENT_CONFIG_FILE" not in os.environ:
        from sparkstack.devcloud.config import DevcloudConfig

        os.environ["OS_CLIENT_CONFIG_FILE"] = str(DevcloudConfig.load().clouds_yaml)
    loop_command = openstack_cli()
    os.environ["SPARKSTACK_DATA_DIR"] = tempfile.mkdtemp(prefix="sparkstack-bench-")

    print(f"cores: {os.cpu_count()}  servers: {servers} ({FLAVOR}, 1 master + {servers - 1})")
    try:
        ours = run_child(SPARKSTACK, args.cloud, servers)
    finally:
        start = time.monotonic()
        sparkstack.destroy(NAME, args.cloud)
        destroy_seconds = time.monotonic() - start
    active = f"{int(ours['active'])}/{servers} ACTIVE"
    row("sparkstack launch --provision-only", ours["seconds"], int(ours["requests"]), active)
    print(f"  sparkstack peak resident memory: {ours['rss_kib'] / 1024:.0f} MiB")
    print(f"  sparkstack destroy of the {servers} servers: {destroy_seconds:.1f} s")

    try:
        plain = run_child(PLAIN, args.cloud, servers)
    finally:
        delete_servers(args.cloud, "bench-plain-")
    active = f"{int(plain['active'])}/{servers} ACTIVE"
    row("plain openstacksdk script", plain["seconds"], int(plain["requests"]), active)
    print(
        f"  sparkstack / plain script: {ours['seconds'] / plain['seconds']:.2f}x (target <= 1.1x)"
    )

    if not args.skip_loop:
        try:
            loop_seconds, loop_requests = cli_loop(loop_command, args.cloud, servers)
        finally:
            delete_servers(args.cloud, "bench-loop-")
        row("loop of `openstack server create --wait`", loop_seconds, loop_requests, "")
        print(f"  loop / sparkstack: {loop_seconds / ours['seconds']:.1f}x (target >= 8x)")


if __name__ == "__main__":
    main()
