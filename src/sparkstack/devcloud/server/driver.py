"""nova virt driver of the devcloud data plane: every server is a real SSH host (hosts.py).

DataplaneDriver is nova's FakeDriverWithoutFakeNodes (the hypervisor bookkeeping, with a stable
node UUID so nova-compute can restart; plain FakeDriver makes a new one per process and refuses a
second start) plus, per server: a network namespace ``vm-<uuid>`` with a default-deny nft table
(the reconciler replaces it with the security groups), one veth per VIF with the port's MAC, IP
and MTU on the network's bridge, and a namespace host booted with the instance's key, hostname
and user_data. Power off, power on, reboot and delete act on the host's processes.

State lives in ``$SSDC_HOSTS_DIR/<uuid>`` and records the compute host that owns the server, so
two computes can share the directory and each re-adopts only its own servers after a restart.
nova 34 runs nova-compute with native threads: several spawns run at once, hence net.net_lock().

Test-bed fault hook, a slow sshd: server metadata ``ssdc_sshd_delay`` makes the server's sshd
start that many seconds late while the server goes ACTIVE on time (as a real VM is ACTIVE, its
console already showing the host keys, before sshd listens). The value is a comma-separated list
of ``SECONDS`` (this server) or ``NAME=SECONDS`` (only the server of that name or hostname; wins
over a bare number), e.g. ``--metadata ssdc_sshd_delay=demo-worker-2=30`` on ``sparkstack
launch``, which sets it on every server, slows exactly demo-worker-2. It acts at boot: the
metadata given at create for the first boot; the server's metadata of the moment (e.g. after
``set_server_metadata``) at every later start or reboot. Seconds from 0 to 3600; a value that
does not parse is ignored with a warning in the nova-compute log.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import time
from pathlib import Path
from typing import Any

from nova import exception
from nova.compute import power_state, task_states
from nova.image import glance
from nova.virt import fake, hardware
from oslo_log import log as logging

from . import disks, hosts, net

LOG = logging.getLogger(__name__)
BOOT_TIMEOUT = 120.0  # 20+ servers booting at once on 2 cores
IMAGE_USER = os.environ.get("SSDC_IMAGE_USER", "ubuntu")
SSHD_DELAY_KEY = "ssdc_sshd_delay"

# Until the reconciler has applied the port's security groups (about 1 s), drop new inbound
# connections, as a real cloud filters a port from its first packet. Applied right after the
# namespace is made, before any NIC: applied later it could overwrite the reconciler's rules.
DEFAULT_DENY = net.nft_table(
    "inet",
    "ssdc-sg",
    "  chain input {\n    type filter hook input priority 0; policy drop;\n"
    '    ct state established,related accept\n    iifname "lo" accept\n  }\n',
)


class DataplaneDriver(fake.FakeDriverWithoutFakeNodes):  # type: ignore[misc]
    """FakeDriver bookkeeping plus a namespace host per server."""

    def __init__(self, virtapi: Any, read_only: bool = False) -> None:
        super().__init__(virtapi, read_only)
        self._images = glance.API()

    def init_host(self, host: str) -> None:
        super().init_host(host)
        net.hosts_dir().mkdir(parents=True, exist_ok=True)
        # FakeDriver keeps instances in memory only: after a restart, adopt this compute's
        # servers so nova's power-state sync does not find them missing.
        for state in sorted(net.hosts_dir().iterdir()):
            meta = _read_meta(state)
            if meta is None or meta.get("compute_host") != host:
                continue
            running = hosts.running_pid(state) is not None
            pstate = power_state.RUNNING if running else power_state.SHUTDOWN
            self.instances[state.name] = fake.FakeInstance(meta["name"], pstate, state.name)
            self.resources.claim(vcpus=meta["vcpus"], mem=meta["memory_mb"], disk=meta["root_gb"])
            LOG.info(
                "adopted server %s (%s, %s)",
                meta["name"],
                state.name,
                "running" if running else "stopped",
            )

    def spawn(
        self,
        context: Any,
        instance: Any,
        image_meta: Any,
        injected_files: Any,
        admin_password: Any,
        allocations: Any,
        network_info: Any = None,
        block_device_info: Any = None,
        power_on: bool = True,
        accel_info: Any = None,
    ) -> None:
        super().spawn(
            context,
            instance,
            image_meta,
            injected_files,
            admin_password,
            allocations,
            network_info=network_info,
            block_device_info=block_device_info,
            power_on=power_on,
            accel_info=accel_info,
        )
        started = time.monotonic()
        try:
            layers = self._image_layers(context, image_meta)
            cfg = self._wire(instance, image_meta, network_info or [], layers)
            if power_on:
                hosts.start_host(cfg, timeout=BOOT_TIMEOUT)
        except Exception:
            LOG.exception("data plane boot failed", instance=instance)
            _teardown(instance.uuid)
            raise
        LOG.info("data plane host up in %.2fs", time.monotonic() - started, instance=instance)

    def _image_layers(self, context: Any, image_meta: Any) -> list[str]:
        """The disk layers of a snapshot image (none for a plain image), fetched once."""
        image_id = getattr(image_meta, "id", None)
        if not image_id:
            return []
        meta = self._images.get(context, image_id)
        if not disks.is_layered(meta.get("properties") or {}):
            return []
        return disks.layers_of(
            image_id, lambda path: self._images.download(context, image_id, dest_path=str(path))
        )

    def snapshot(self, context: Any, instance: Any, image_id: str, update_task_state: Any) -> None:
        """Upload the server's disk, its own layer over its image's, as the image's data; a
        server booted from it has the files this one had."""
        if instance.uuid not in self.instances:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        state = _state_dir(instance.uuid)
        layers = [state / "upper", *map(Path, hosts.load_config(state).layers)]
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        out = disks.cache_dir() / "snapshots" / f"{image_id}.tar"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            disks.pack(layers, out)
            update_task_state(
                task_state=task_states.IMAGE_UPLOADING,
                expected_state=task_states.IMAGE_PENDING_UPLOAD,
            )
            metadata = {
                "disk_format": "raw",
                "container_format": "bare",
                "properties": {disks.PROPERTY: disks.LAYERS, "image_location": "snapshot"},
            }
            with out.open("rb") as data:
                self._images.update(context, image_id, metadata, data, purge_props=False)
        finally:
            out.unlink(missing_ok=True)
        LOG.info("snapshot %s: %d layers", image_id, len(layers), instance=instance)

    def _wire(
        self, instance: Any, image_meta: Any, network_info: Any, layers: list[str]
    ) -> hosts.HostConfig:
        """Make the server's namespace and NICs; record its metadata and host config."""
        uuid = instance.uuid
        state = _state_dir(uuid)
        ns = net.vm_netns(uuid)
        hostname = instance.hostname or instance.name
        bridges: list[str] = []
        meta = {
            "name": instance.name,
            "compute_host": self._host,
            "bridges": bridges,
            "vcpus": instance.flavor.vcpus,
            "memory_mb": instance.flavor.memory_mb,
            "root_gb": instance.flavor.root_gb,
        }
        state.mkdir(parents=True, exist_ok=True)
        _write_meta(state, meta)
        net.netns_delete(ns)  # a leftover of a crashed attempt
        net.netns_add(ns)
        net.nft_apply(ns, DEFAULT_DENY)
        addresses: list[str] = []
        for idx, vif in enumerate(network_info):
            network = vif["network"]
            bridge = net.bridge_name(network["id"])
            mtu = int((network.get("meta") or {}).get("mtu") or 1500)
            ifname = f"eth{idx}"
            bridges.append(bridge)
            _write_meta(state, meta)  # before plugging: teardown must find the bridge to GC
            net.plug_veth(ns, ifname, net.tap_name(vif["id"]), bridge, vif["address"], mtu)
            for subnet in network["subnets"]:
                if subnet["version"] != 4:
                    continue
                cidr = ipaddress.ip_network(subnet["cidr"])
                net.check_allowed(str(cidr))
                for ip in subnet["ips"]:
                    net.run(
                        "ip",
                        "-n",
                        ns,
                        "addr",
                        "add",
                        f"{ip['address']}/{cidr.prefixlen}",
                        "dev",
                        ifname,
                    )
                    addresses.append(ip["address"])
                gateway = (subnet.get("gateway") or {}).get("address")
                if idx == 0 and gateway:  # like DHCP: the default route from the first NIC
                    net.run("ip", "-n", ns, "route", "add", "default", "via", gateway)
        user_data = base64.b64decode(instance.user_data) if instance.user_data else None
        cfg = hosts.HostConfig(
            name=instance.name,
            hostname=hostname,
            netns=ns,
            state_dir=state,
            user=_image_user(image_meta),
            authorized_keys=[instance.key_data] if instance.key_data else [],
            user_data=user_data,
            etc_hosts={hostname: addresses[0]} if addresses else None,
            sshd_delay=_sshd_delay(instance),
            layers=layers,
        )
        hosts.save_config(cfg)
        return cfg

    def destroy(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_device_info: Any = None,
        destroy_disks: bool = True,
        destroy_secrets: bool = True,
    ) -> None:
        _teardown(instance.uuid)
        super().destroy(
            context,
            instance,
            network_info,
            block_device_info=block_device_info,
            destroy_disks=destroy_disks,
            destroy_secrets=destroy_secrets,
        )

    def power_off(self, instance: Any, timeout: int = 0, retry_interval: int = 0) -> None:
        super().power_off(instance, timeout=timeout, retry_interval=retry_interval)
        hosts.stop_host(_state_dir(instance.uuid))

    def power_on(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_device_info: Any = None,
        accel_info: Any = None,
        share_info: Any = None,
    ) -> None:
        self._boot_again(instance, restart=False)
        super().power_on(
            context,
            instance,
            network_info,
            block_device_info=block_device_info,
            accel_info=accel_info,
            share_info=share_info,
        )

    def reboot(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        reboot_type: str,
        block_device_info: Any = None,
        bad_volumes_callback: Any = None,
        accel_info: Any = None,
        share_info: Any = None,
    ) -> None:
        self._boot_again(instance, restart=True)
        if instance.uuid in self.instances:
            self.instances[instance.uuid].state = power_state.RUNNING

    def resume_state_on_host_boot(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        share_info: Any,
        block_device_info: Any = None,
    ) -> None:
        self._boot_again(instance, restart=False)

    def _boot_again(self, instance: Any, restart: bool) -> None:
        """Boot the server's host from its kept disk (stopping it first when restart)."""
        state = _state_dir(instance.uuid)
        if not (state / "host.json").exists():
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        if restart:
            hosts.stop_host(state)
        if hosts.running_pid(state) is None:
            cfg = hosts.load_config(state)
            delay = _sshd_delay(instance)
            if delay != cfg.sshd_delay:
                cfg.sshd_delay = delay
                hosts.save_config(cfg)
            hosts.start_host(cfg, timeout=BOOT_TIMEOUT)

    def get_info(self, instance: Any, use_cache: bool = True) -> Any:
        """The power state as the host's processes show it (a killed host reads as shut down)."""
        info = super().get_info(instance, use_cache=use_cache)
        if info.state == power_state.RUNNING and hosts.running_pid(_state_dir(instance.uuid)):
            return info
        return hardware.InstanceInfo(state=power_state.SHUTDOWN)

    def get_console_output(self, context: Any, instance: Any) -> str:
        return hosts.console_log(_state_dir(instance.uuid))


def _state_dir(uuid: str) -> Path:
    return net.hosts_dir() / uuid


def _sshd_delay(instance: Any) -> float:
    """The seconds of ``ssdc_sshd_delay`` the server's metadata asks of it (0: none)."""
    try:
        value = (instance.metadata or {}).get(SSHD_DELAY_KEY)
    except Exception:  # metadata is loaded lazily through the conductor
        LOG.warning("cannot read the server's metadata", exc_info=True, instance=instance)
        return 0.0
    if not value:
        return 0.0
    names = [n for n in (instance.display_name, instance.hostname) if n]
    try:
        delay = hosts.parse_sshd_delay(str(value), names)
    except ValueError as exc:
        LOG.warning("metadata %s ignored: %s", SSHD_DELAY_KEY, exc, instance=instance)
        return 0.0
    if delay:
        LOG.info("sshd starts %.1fs late (metadata %s)", delay, SSHD_DELAY_KEY, instance=instance)
    return delay


def _image_user(image_meta: Any) -> str:
    """The image's default user: its os_admin_user property, else SSDC_IMAGE_USER."""
    props = getattr(image_meta, "properties", None)
    user = props.get("os_admin_user", None) if props is not None else None
    return str(user) if user else IMAGE_USER


def _read_meta(state: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state / "instance.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def _write_meta(state: Path, meta: dict[str, Any]) -> None:
    tmp = state / "instance.json.tmp"
    tmp.write_text(json.dumps(meta))
    tmp.replace(state / "instance.json")


def _teardown(uuid: str) -> None:
    """Stop the host, delete its NICs, namespace and disk, GC its bridges. Idempotent."""
    state = _state_dir(uuid)
    meta = _read_meta(state) or {}
    hosts.stop_host(state)
    net.netns_delete(net.vm_netns(uuid))
    with net.net_lock():
        for bridge in meta.get("bridges", []):
            net.gc_bridge(bridge)
    hosts.delete_host(state)
