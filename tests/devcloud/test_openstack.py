"""The devcloud is a real OpenStack: openstacksdk drives compute and network as a user would."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from openstack import exceptions

pytestmark = pytest.mark.devcloud


def _name(kind: str) -> str:
    return f"ssdc-test-{kind}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def member(devcloud: Any) -> Any:
    return devcloud.connect()


@pytest.fixture(scope="module")
def admin(devcloud: Any) -> Any:
    return devcloud.connect(admin=True)


def test_bootstrap_gives_a_usable_cloud(member: Any) -> None:
    flavors = {f.name: f for f in member.compute.flavors()}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"} <= set(flavors)
    assert flavors["m1.small"].ram == 2048 and flavors["m1.small"].vcpus == 1
    assert member.image.find_image("ubuntu-24.04") is not None
    public = member.network.find_network("public")
    assert public.is_router_external
    subnet = next(member.network.subnets(network_id=public.id))
    assert subnet.cidr == "198.19.0.0/24"
    private = member.network.find_network("private")
    assert next(member.network.subnets(network_id=private.id)).cidr == "198.18.10.0/24"
    assert member.network.find_router("router1") is not None


def test_server_create_list_delete(member: Any) -> None:
    image = member.image.find_image("ubuntu-24.04")
    flavor = member.compute.find_flavor("m1.tiny")
    network = member.network.find_network("private")
    server = member.compute.create_server(
        name=_name("server"),
        image_id=image.id,
        flavor_id=flavor.id,
        networks=[{"uuid": network.id}],
    )
    try:
        server = member.compute.wait_for_server(server, wait=120, interval=1)
        assert server.status == "ACTIVE"
        assert server.id in {s.id for s in member.compute.servers()}
        fixed = server.addresses["private"][0]["addr"]
        assert fixed.startswith("198.18.10.")
    finally:
        member.compute.delete_server(server, ignore_missing=True)
    member.compute.wait_for_delete(server, wait=120, interval=1)
    assert server.id not in {s.id for s in member.compute.servers()}


@pytest.fixture
def cleanup(member: Any) -> Iterator[list[tuple[str, Any]]]:
    """Resources to delete after the test, newest first: (kind, resource)."""
    created: list[tuple[str, Any]] = []
    yield created
    net = member.network
    for kind, resource in reversed(created):
        if kind == "router":
            for port in net.ports(device_id=resource.id, device_owner="network:router_interface"):
                net.remove_interface_from_router(resource, port=port.id)
        delete = {
            "keypair": member.compute.delete_keypair,
            "security_group": net.delete_security_group,
            "floating_ip": net.delete_ip,
            "port": net.delete_port,
            "router": net.delete_router,
            "subnet": net.delete_subnet,
            "network": net.delete_network,
        }[kind]
        delete(resource, ignore_missing=True)


def test_network_router_floating_ip_security_group_keypair(
    member: Any, cleanup: list[tuple[str, Any]]
) -> None:
    net = member.network
    network = net.create_network(name=_name("net"))
    cleanup.append(("network", network))
    subnet = net.create_subnet(
        network_id=network.id, ip_version=4, cidr="198.18.77.0/24", is_dhcp_enabled=False
    )
    cleanup.append(("subnet", subnet))
    public = net.find_network("public")
    router = net.create_router(
        name=_name("router"), external_gateway_info={"network_id": public.id}
    )
    cleanup.append(("router", router))
    net.add_interface_to_router(router, subnet=subnet.id)
    port = net.create_port(network_id=network.id)
    cleanup.append(("port", port))
    assert port.fixed_ips[0]["ip_address"].startswith("198.18.77.")

    fip = net.create_ip(floating_network_id=public.id, port_id=port.id)
    cleanup.append(("floating_ip", fip))
    assert fip.floating_ip_address.startswith("198.19.0.")
    assert net.get_ip(fip.id).port_id == port.id

    group = net.create_security_group(name=_name("sg"), description="test")
    cleanup.append(("security_group", group))
    rule = net.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="198.19.0.0/24",
    )
    rules = {r.id for r in net.security_group_rules(security_group_id=group.id)}
    assert rule.id in rules

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    public_key = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    keypair = member.compute.create_keypair(name=_name("key"), public_key=public_key.decode())
    cleanup.append(("keypair", keypair))
    # nova's fingerprint is the MD5 of the key blob, computed here from our own key
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False).hexdigest()
    expected = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    stored = member.compute.find_keypair(keypair.name)
    assert keypair.fingerprint == stored.fingerprint == expected
    assert stored.public_key.split()[:2] == public_key.decode().split()[:2]


@pytest.fixture
def quota_project(devcloud: Any, admin: Any) -> Iterator[Any]:
    """A throwaway project with no room for servers or networks; admin connection scoped to it."""
    project = admin.identity.create_project(name=_name("quota"), domain_id="default")
    user = admin.identity.find_user("admin", domain_id="default")
    role = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, role)
    admin.set_compute_quotas(project.id, instances=0)
    admin.set_network_quotas(project.id, network=0)
    try:
        yield devcloud.connect(admin=True, project_name=project.name)
    finally:
        admin.identity.delete_project(project)


def test_quota_errors_are_clear_exceptions(quota_project: Any) -> None:
    conn = quota_project
    image = conn.image.find_image("ubuntu-24.04")
    flavor = conn.compute.find_flavor("m1.tiny")
    with pytest.raises(exceptions.ForbiddenException) as nova_error:
        conn.compute.create_server(
            name=_name("over"), image_id=image.id, flavor_id=flavor.id, networks="none"
        )
    assert nova_error.value.status_code == 403
    assert "quota" in str(nova_error.value).lower()

    with pytest.raises(exceptions.ConflictException) as neutron_error:
        conn.network.create_network(name=_name("over"))
    assert neutron_error.value.status_code == 409
    assert "quota" in str(neutron_error.value).lower()
