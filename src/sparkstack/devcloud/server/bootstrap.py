"""Fill a fresh devcloud with what a user expects of a cloud; idempotent, openstacksdk as admin.

``python -m ssdc.bootstrap identity``: projects, users, roles and the service catalog.
``python -m ssdc.bootstrap catalog``: the service catalog only (its public URLs changed).
``python -m ssdc.bootstrap resources``: computes discovered, flavors, image, networks, quotas.
``python -m ssdc.bootstrap computes``: computes discovered only (computes added to a running cloud).
``python -m ssdc.bootstrap object-storage``: Swift's ``object-store`` and ``s3`` endpoints and the
ResellerAdmin role (``up --object-storage``); endpoints of an old URL are replaced.

Configuration comes from the environment so that no password appears on a command line:
OS_CLIENT_CONFIG_FILE, SSDC_ADMIN_CLOUD, SSDC_SERVICE_USER, SSDC_SERVICE_PASSWORD,
SSDC_DEMO_PASSWORD, SSDC_ENDPOINTS and SSDC_PUBLIC_ENDPOINTS (``type=url,...``), SSDC_COMPUTES,
SSDC_COMPUTE_HOSTS (names, optional), SSDC_SINCE (optional), SSDC_DISCOVER (a command); for
object-storage SSDC_OBJECT_STORE_URL, SSDC_S3_URL (public), SSDC_OBJECT_STORE_INTERNAL_URL,
SSDC_S3_INTERNAL_URL and SSDC_OBJECT_STORE_ADMIN_URL.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import openstack

SERVICE_NAMES = {
    "identity": "keystone",
    "compute": "nova",
    "placement": "placement",
    "network": "neutron",
    "image": "glance",
}
# name, RAM MiB, vCPUs, disk GiB: the classic OpenStack sizes
FLAVORS = [
    ("m1.tiny", 512, 1, 1),
    ("m1.small", 2048, 1, 20),
    ("m1.medium", 4096, 2, 40),
    ("m1.large", 8192, 4, 80),
    ("m1.xlarge", 16384, 8, 160),
]
IMAGE = "ubuntu-24.04"
PUBLIC_CIDR, PUBLIC_GATEWAY = "198.19.0.0/24", "198.19.0.1"
PUBLIC_POOL = {"start": "198.19.0.10", "end": "198.19.0.250"}
PRIVATE_CIDR = "198.18.10.0/24"


def log(message: str) -> None:
    print(f"[bootstrap] {message}", flush=True)


def identity(conn: Any) -> None:
    """Projects service and demo, the service and demo users, and the catalog."""
    idm = conn.identity
    domain = idm.find_domain("default")
    roles = {role.name: role for role in idm.roles()}
    projects = {
        name: idm.find_project(name, domain_id=domain.id)
        or idm.create_project(name=name, domain_id=domain.id)
        for name in ("service", "demo")
    }
    users = {
        os.environ["SSDC_SERVICE_USER"]: ("service", ["admin", "service"], "SSDC_SERVICE_PASSWORD"),
        "demo": ("demo", ["member", "reader"], "SSDC_DEMO_PASSWORD"),
    }
    for name, (project, role_names, password_var) in users.items():
        user = idm.find_user(name, domain_id=domain.id)
        if user is None:
            user = idm.create_user(
                name=name,
                password=os.environ[password_var],
                domain_id=domain.id,
                default_project_id=projects[project].id,
            )
        for role in role_names:
            idm.assign_project_role_to_user(projects[project], user, roles[role])
    catalog(conn)
    log("identity: projects, users")


def catalog(conn: Any) -> None:
    """Every API's endpoints: internal and admin on loopback, public where SSDC_PUBLIC_ENDPOINTS
    says (on the data plane, the external network's gateway for what servers must reach)."""
    public = dict(item.split("=", 1) for item in os.environ["SSDC_PUBLIC_ENDPOINTS"].split(","))
    for item in os.environ["SSDC_ENDPOINTS"].split(","):
        service_type, url = item.split("=", 1)
        urls = {"public": public.get(service_type, url), "internal": url, "admin": url}
        ensure_endpoints(conn, service_type, SERVICE_NAMES[service_type], urls)
    log(f"catalog: public {', '.join(f'{k} {v}' for k, v in public.items())}")


def wait(what: str, check: Callable[[], bool], timeout: float = 90, interval: float = 0.5) -> None:
    """Poll ``check`` until true; errors count as not yet (services may still be starting)."""
    start = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - start < timeout:
        try:
            if check():
                log(f"{what}: ok after {time.monotonic() - start:.1f}s")
                return
        except Exception as exc:  # the API may not answer yet
            last = exc
        time.sleep(interval)
    raise SystemExit(f"timeout waiting for {what} (last error: {last})")


def computes(conn: Any) -> None:
    """Wait for every nova-compute, map it into the cell, and wait for its placement inventory.

    With SSDC_COMPUTE_HOSTS (their host names) each named compute must be up, mapped and in
    placement: when computes are added to a running cloud the old ones would already make the
    count. With SSDC_SINCE (epoch seconds) a service counts as up only with a heartbeat from
    then on: a compute that ran before left records that look up for a minute.
    """
    hosts = set(os.environ.get("SSDC_COMPUTE_HOSTS", "").split())
    since = float(os.environ.get("SSDC_SINCE") or 0)
    count = max(int(os.environ["SSDC_COMPUTES"]), len(hosts))
    discover = shlex.split(os.environ["SSDC_DISCOVER"])

    def enough(found: set[str]) -> bool:
        return hosts <= found if hosts else len(found) >= count

    def services_up() -> bool:
        return enough(
            {
                s.host
                for s in conn.compute.services()
                if s.binary == "nova-compute" and s.state == "up" and _beat(s) >= since - 2
            }
        )

    def discovered() -> bool:
        # nova lists a hypervisor only once its host is mapped into a cell (HostMapping), so
        # discover_hosts runs until every compute node it waits for is listed
        result = subprocess.run(discover, capture_output=True, text=True, check=True)
        if "Creating host mapping" in result.stdout:
            log(" ".join(result.stdout.split())[-300:])
        return enough({h.name for h in conn.compute.hypervisors()})

    def inventory() -> bool:
        providers = [
            rp for rp in conn.placement.resource_providers() if not hosts or rp.name in hosts
        ]
        return enough({rp.name for rp in providers}) and all(
            list(conn.placement.resource_provider_inventories(rp)) for rp in providers
        )

    what = " ".join(sorted(hosts)) if hosts else f"{count} nova-compute service(s)"
    wait(f"{what} up", services_up)
    wait("hypervisors discovered", discovered, interval=1)
    wait("placement inventory", inventory)


def _beat(service: Any) -> float:
    """The epoch time of a nova service's last heartbeat (nova gives UTC without a zone)."""
    if not service.updated_at:
        return 0.0
    stamp = datetime.fromisoformat(service.updated_at.rstrip("Z"))
    return stamp.replace(tzinfo=stamp.tzinfo or UTC).timestamp()


def flavors_and_image(conn: Any) -> None:
    have = {flavor.name for flavor in conn.compute.flavors()}
    for name, ram, vcpus, disk in FLAVORS:
        if name not in have:
            conn.compute.create_flavor(name=name, ram=ram, vcpus=vcpus, disk=disk, is_public=True)
    if not conn.image.find_image(IMAGE):
        # Neither driver reads the bits: 1 MiB of zeros is a valid raw image.
        conn.image.create_image(
            name=IMAGE,
            data=b"\0" * (1 << 20),
            disk_format="raw",
            container_format="bare",
            visibility="public",
            validate_checksum=False,
            os_distro="ubuntu",
            os_version="24.04",
            os_admin_user="ubuntu",
        )
    log(f"flavors m1.tiny..m1.xlarge, image {IMAGE}")


def networks(conn: Any, demo: Any) -> None:
    """``public`` (external, flat) and demo's ``private`` with ``router1``; DHCP off (no agent)."""
    net = conn.network
    public = net.find_network("public")
    if public is None:
        public = net.create_network(
            name="public",
            is_router_external=True,
            provider_network_type="flat",
            provider_physical_network="public",
        )
        net.create_subnet(
            name="public-subnet",
            network_id=public.id,
            ip_version=4,
            cidr=PUBLIC_CIDR,
            gateway_ip=PUBLIC_GATEWAY,
            is_dhcp_enabled=False,
            allocation_pools=[PUBLIC_POOL],
        )
    if net.find_network("private", project_id=demo.id) is None:
        private = net.create_network(name="private", project_id=demo.id)
        subnet = net.create_subnet(
            name="private-subnet",
            network_id=private.id,
            ip_version=4,
            cidr=PRIVATE_CIDR,
            project_id=demo.id,
            is_dhcp_enabled=False,
            dns_nameservers=[],
        )
        router = net.create_router(
            name="router1", project_id=demo.id, external_gateway_info={"network_id": public.id}
        )
        net.add_interface_to_router(router, subnet_id=subnet.id)
    log(f"networks: public {PUBLIC_CIDR}, private {PRIVATE_CIDR}, router1")


def quotas(conn: Any, demo: Any) -> None:
    """Generous quotas for demo; tests that want a quota error lower their own."""
    conn.set_compute_quotas(
        demo.id,
        instances=200,
        cores=2000,
        ram=4096000,
        key_pairs=1000,
        server_groups=100,
        server_group_members=200,
    )
    conn.set_network_quotas(
        demo.id,
        port=1000,
        network=100,
        subnet=100,
        router=50,
        floatingip=200,
        security_group=100,
        security_group_rule=1000,
    )
    log("quotas for demo")


def ensure_endpoints(conn: Any, service_type: str, name: str, urls: dict[str, str]) -> None:
    """Service ``service_type`` with exactly these URLs per interface in RegionOne."""
    idm = conn.identity
    service = next(iter(idm.services(type=service_type)), None) or idm.create_service(
        name=name, type=service_type, is_enabled=True
    )
    have = {endpoint.interface: endpoint for endpoint in idm.endpoints(service_id=service.id)}
    for interface, url in urls.items():
        old = have.get(interface)
        if old is not None and old.url != url:
            idm.delete_endpoint(old)
            old = None
        if old is None:
            idm.create_endpoint(
                service_id=service.id, interface=interface, url=url, region_id="RegionOne"
            )


def object_storage(conn: Any) -> None:
    """Swift in the catalog: the Swift API as ``object-store``, the S3 API as ``s3``."""
    swift, s3 = os.environ["SSDC_OBJECT_STORE_URL"], os.environ["SSDC_S3_URL"]
    ensure_endpoints(
        conn,
        "object-store",
        "swift",
        {
            "public": swift,
            "internal": os.environ["SSDC_OBJECT_STORE_INTERNAL_URL"],
            "admin": os.environ["SSDC_OBJECT_STORE_ADMIN_URL"],
        },
    )
    inside = os.environ["SSDC_S3_INTERNAL_URL"]
    ensure_endpoints(conn, "s3", "swift-s3", {"public": s3, "internal": inside, "admin": inside})
    # keystoneauth's reseller_admin_role: may act on every project's account
    if conn.identity.find_role("ResellerAdmin") is None:
        conn.identity.create_role(name="ResellerAdmin")
    log(f"object storage: object-store {swift}, s3 {s3}")


def resources(conn: Any) -> None:
    computes(conn)
    flavors_and_image(conn)
    demo = conn.identity.find_project("demo")
    networks(conn, demo)
    quotas(conn, demo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    phases: dict[str, Callable[[Any], None]] = {
        "identity": identity,
        "catalog": catalog,
        "resources": resources,
        "computes": computes,
        "object-storage": object_storage,
    }
    parser.add_argument("phase", choices=list(phases))
    args = parser.parse_args()
    conn = openstack.connect(cloud=os.environ["SSDC_ADMIN_CLOUD"])
    phases[args.phase](conn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
