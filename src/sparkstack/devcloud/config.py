"""Where the devcloud keeps its files, which ports it uses, and its generated passwords.

Layout of the data directory (``SPARKSTACK_DEVCLOUD_DIR``, default ``<data dir>/devcloud``)::

    venv/          the server virtualenv (OpenStack pins must not leak into sparkstack's own venv)
    secrets.json   passwords, generated once, mode 0600
    clouds.yaml    clouds ``devcloud`` and ``devcloud-admin``, mode 0600
    state.json     how the running devcloud was started (computes, data plane)
    object-storage.json  present while Swift is part of the devcloud (``up --object-storage``)
    swift-venv/    Swift's own virtualenv (``install --object-storage``)
    etc/ logs/ pids/ lib/ lock/   configs, logs, pid files, service state, locks
    pylib/         holds ``ssdc``, the alias of server/ that every server process imports
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sparkstack import paths

HOST = "127.0.0.1"
PORTS = {
    "mariadb": 3306,
    "epmd": 4369,
    "rabbitmq": 5672,
    "rabbitmq-dist": 25672,
    "keystone": 5000,
    "placement": 8778,
    "glance": 9292,
    "neutron-api": 9696,
    "nova-api": 8774,
}
#: Swift's ports (``up --object-storage``): apart from PORTS, which a plain ``up`` needs free
SWIFT_PORTS = {
    "swift-proxy": 8090,  # Swift API and S3 API; not 8080, the Spark master UI's port
    "swift-object": 6200,
    "swift-container": 6201,
    "swift-account": 6202,
    "memcached": 11211,
}
#: The external network's gateway, this machine's address on the data plane's external bridge
#: (server/net.py EX_ADDRESS): where servers reach the APIs below through their router.
PUBLIC_HOST = "198.19.0.1"
#: The APIs servers need (s3a executors: object storage; a cluster's reaper: identity, compute,
#: network). On the data plane their public endpoints are at PUBLIC_HOST, as on a real cloud.
TENANT_REACHABLE = ("keystone", "nova-api", "neutron-api", "swift-proxy")
#: ``swift_hash`` salts Swift's object paths: it must never change while objects are stored
PASSWORD_NAMES = ("db", "rabbit", "admin", "demo", "service", "swift_hash")
CLOUD = "devcloud"
ADMIN_CLOUD = "devcloud-admin"
SERVICE_USER = "ssdc-service"
DEFAULT_HOSTS_DIR = Path("/tmp/sparkstack-devcloud/hosts")


def default_data_dir() -> Path:
    """``SPARKSTACK_DEVCLOUD_DIR`` or ``<sparkstack data dir>/devcloud``."""
    override = os.environ.get("SPARKSTACK_DEVCLOUD_DIR")
    return Path(override) if override else paths.data_dir() / "devcloud"


@dataclass(frozen=True)
class DevcloudConfig:
    """Every path of one devcloud; cheap to build, creates nothing until asked."""

    data_dir: Path

    @classmethod
    def load(cls, data_dir: Path | None = None) -> DevcloudConfig:
        """The config for ``data_dir`` (default: :func:`default_data_dir`)."""
        return cls((data_dir or default_data_dir()).absolute())

    @property
    def neutron_writes(self) -> Path:
        """Grows by a byte per write request neutron-api answered: the reconciler's cue."""
        return self.lib / "neutron-writes"

    @property
    def hosts_dir(self) -> Path:
        """State of the data plane's server hosts: under /tmp (an overlay root cannot sit under
        /root, /var...), and one per data dir so that one devcloud never touches another's."""
        if self.data_dir == (paths.data_dir() / "devcloud").absolute():
            return DEFAULT_HOSTS_DIR
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:8]
        return Path(f"/tmp/sparkstack-devcloud-{digest}/hosts")

    @property
    def venv(self) -> Path:
        return self.data_dir / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def swift_venv(self) -> Path:
        """Swift's virtualenv: its eventlet servers and pins stay out of the server venv."""
        return self.data_dir / "swift-venv"

    @property
    def swift_bin(self) -> Path:
        return self.swift_venv / "bin"

    @property
    def swift_etc(self) -> Path:
        """swift.conf, the servers' configs, the ring builders and rings."""
        return self.etc / "swift"

    @property
    def swift_devices(self) -> Path:
        """Swift's ``devices`` dir: one device ``d1``, a plain directory (mount_check off)."""
        return self.lib / "swift" / "node"

    @property
    def object_storage_file(self) -> Path:
        """Present while Swift belongs to the devcloud; apart from state.json, whose readers
        take any unknown key for a broken file."""
        return self.data_dir / "object-storage.json"

    @property
    def etc(self) -> Path:
        return self.data_dir / "etc"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pids(self) -> Path:
        return self.data_dir / "pids"

    @property
    def lib(self) -> Path:
        """Service state: database files, rabbit's mnesia, images, nova state, fernet keys."""
        return self.data_dir / "lib"

    @property
    def lock(self) -> Path:
        return self.data_dir / "lock"

    @property
    def pylib(self) -> Path:
        """On PYTHONPATH of every server process; holds the ``ssdc`` alias of server/."""
        return self.data_dir / "pylib"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    @property
    def mysql_socket(self) -> Path:
        return self.lib / "mysql" / "mysql.sock"

    def passwords(self) -> dict[str, str]:
        """The devcloud's passwords, generated on first use and kept 0600 in the data dir."""
        try:
            stored: dict[str, str] = json.loads(self.secrets_file.read_text())
        except FileNotFoundError:
            stored = {}
        if all(name in stored for name in PASSWORD_NAMES):
            return stored
        for name in PASSWORD_NAMES:
            stored.setdefault(name, secrets.token_urlsafe(18))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_private(self.secrets_file, json.dumps(stored, indent=2) + "\n")
        return stored

    def url(self, service: str) -> str:
        """Base URL of an API service on loopback."""
        return f"http://{HOST}:{port_of(service)}"

    def public_url(self, service: str, data_plane: bool) -> str:
        """Base URL of an API's public endpoint: where servers reach it, on the data plane."""
        if data_plane and service in TENANT_REACHABLE:
            return f"http://{PUBLIC_HOST}:{port_of(service)}"
        return self.url(service)


def port_of(service: str) -> int:
    return PORTS.get(service) or SWIFT_PORTS[service]


def tenant_reachable_ports() -> list[int]:
    """The ports the data plane forwards from the external network to loopback."""
    return sorted(port_of(service) for service in TENANT_REACHABLE)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
