"""`up --computes N` on a running devcloud adds the missing computes and never removes any.

The session fixture (tests/conftest.py) calls ``up(computes=2)``: on a devcloud that ran with one
compute (e.g. started by scripts/demo.sh) that call is the add under test, and its result is
``devcloud.up``. Nothing here tears anything down: the devcloud may be shared. Prints the time the
add took.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from sparkstack import devcloud as dc
from sparkstack.cli.devcloud import app
from sparkstack.devcloud.configs import compute_config, compute_host
from sparkstack.devcloud.control import State

pytestmark = pytest.mark.devcloud

COMPUTES = 2  # what tests/conftest.py asks for


def _hosts(devcloud: Any) -> set[str]:
    state = State.read(devcloud.cfg)
    assert state is not None
    return {compute_host(index) for index in range(1, state.computes + 1)}


def test_session_up_added_the_missing_computes(devcloud: Any) -> None:
    result = devcloud.up
    if not result.computes_added:
        pytest.skip(
            f"the session's up found {result.computes} computes running (or started the"
            " devcloud with them): proving the add would take a third nova-compute, which would"
            " stay on a shared devcloud; run this against a devcloud with one compute"
        )
    print(f"\nFIGURE up added {result.computes_added} compute(s) in {result.seconds:.1f}s")
    assert result.already_running and result.computes == COMPUTES == result.computes_requested
    state = State.read(devcloud.cfg)
    assert state is not None and state.computes == COMPUTES
    for index in range(COMPUTES - result.computes_added + 1, COMPUTES + 1):
        assert compute_config(devcloud.cfg, index).stat().st_mode & 0o777 == 0o600
    names = {s.name: s for s in dc.status(devcloud.cfg)}
    assert all(names[f"nova-compute-{i}"].healthy for i in range(1, COMPUTES + 1))


def test_every_compute_is_up_mapped_and_in_placement(devcloud: Any) -> None:
    hosts = _hosts(devcloud)
    assert len(hosts) >= COMPUTES
    admin = devcloud.connect(admin=True)
    up = {
        s.host
        for s in admin.compute.services()
        if s.binary == "nova-compute" and s.state == "up" and s.status == "enabled"
    }
    assert hosts <= up
    assert hosts <= {h.name for h in admin.compute.hypervisors()}
    providers = [rp for rp in admin.placement.resource_providers() if rp.name in hosts]
    assert {rp.name for rp in providers} == hosts
    assert all(list(admin.placement.resource_provider_inventories(rp)) for rp in providers)


def test_anti_affinity_pair_lands_on_two_hosts(devcloud: Any) -> None:
    """What the extra compute is for: with one (or an unmapped second) this is NoValidHost."""
    conn, admin = devcloud.connect(), devcloud.connect(admin=True)
    tag = f"ssdc-test-aa-{uuid.uuid4().hex[:6]}"
    group = conn.compute.create_server_group(name=tag, policy="anti-affinity")
    image = conn.image.find_image("ubuntu-24.04")
    flavor = conn.compute.find_flavor("m1.tiny")
    private = conn.network.find_network("private")
    servers = []
    try:
        for i in (1, 2):
            servers.append(
                conn.compute.create_server(
                    name=f"{tag}-{i}",
                    image_id=image.id,
                    flavor_id=flavor.id,
                    networks=[{"uuid": private.id}],
                    scheduler_hints={"group": group.id},
                )
            )
        servers = [conn.compute.wait_for_server(s, interval=0.5, wait=180) for s in servers]
        placed = {admin.compute.get_server(s.id).compute_host for s in servers}
        assert len(placed) == 2 and placed <= _hosts(devcloud)
    finally:
        for server in servers:
            conn.compute.delete_server(server, ignore_missing=True)
        for server in servers:
            conn.compute.wait_for_delete(server, interval=0.5, wait=120)
        conn.compute.delete_server_group(group, ignore_missing=True)


def test_fewer_computes_than_running_are_left_and_said(devcloud: Any) -> None:
    before = State.read(devcloud.cfg)
    assert before is not None and before.computes >= COMPUTES
    result = dc.up(devcloud.cfg, computes=1)
    assert result.already_running and not result.computes_added
    assert (result.computes, result.computes_requested) == (before.computes, 1)
    assert State.read(devcloud.cfg) == before
    args = ["up", "--computes", "1", "--data-dir", str(devcloud.cfg.data_dir)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())  # rich wraps long lines
    assert f"asked for 1: computes are never removed, left at {before.computes}" in said
    assert State.read(devcloud.cfg) == before
