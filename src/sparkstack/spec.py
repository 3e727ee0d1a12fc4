"""ClusterSpec: what the user asks for, from a YAML cluster file overridden by CLI flags.

Validated once here, so every later phase can trust it. Errors name the file and the field.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sparkstack.errors import SpecError

CLUSTER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")

#: Login user of common cloud images, by a word found in the image name.
DEFAULT_USERS = {
    "ubuntu": "ubuntu",
    "debian": "debian",
    "centos": "centos",
    "rocky": "rocky",
    "alma": "almalinux",
    "fedora": "fedora",
    "cirros": "cirros",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerGroupPolicy(StrEnum):
    ANTI_AFFINITY = "anti-affinity"
    SOFT_ANTI_AFFINITY = "soft-anti-affinity"
    NONE = "none"


class NodeGroupSpec(_Model):
    """Masters or workers: how many, and on which flavor."""

    count: int = Field(ge=0)
    flavor: str = "m1.small"


class NetworkSpec(_Model):
    """An existing network (by name or id), or one made for the cluster when ``create`` is set.

    With neither, the project's only tenant network is used (preflight says when there are
    several to choose from).
    """

    name: str | None = None
    create: bool = False
    cidr: str = "198.18.64.0/24"
    dns_nameservers: list[str] = Field(default_factory=list)

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        ipaddress.ip_network(value)
        return value


class KeySpec(_Model):
    """An existing keypair, a local public key to import, or else a generated per-cluster key."""

    keypair: str | None = None
    public_key_file: Path | None = None
    private_key_file: Path | None = None


class SparkSpec(_Model):
    """Which Spark to install and how; ``conf`` and ``env`` override sparkstack's choices."""

    version: str = "4.3.0"  # the newest on PyPI too, so the devcloud build matches
    hadoop: str = "3"
    url: str | None = None
    sha512: str | None = None
    tarball: Path | None = None
    conf: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)


class ClusterSpec(_Model):
    """A whole cluster as the user described it."""

    name: str
    cloud: str | None = None
    image: str = "ubuntu-24.04"
    ssh_user: str | None = None
    masters: NodeGroupSpec = NodeGroupSpec(count=1)
    workers: NodeGroupSpec = NodeGroupSpec(count=2)
    network: NetworkSpec = NetworkSpec()
    floating_ip_pool: str | None = "public"
    use_floating_ips: bool = True
    security_groups: list[str] = Field(default_factory=list)
    ssh_cidr: str = "0.0.0.0/0"
    key: KeySpec = KeySpec()
    availability_zone: str | None = None
    server_group_policy: ServerGroupPolicy = ServerGroupPolicy.NONE
    boot_volume_gb: int | None = Field(default=None, ge=1)
    metadata: dict[str, str] = Field(default_factory=dict)
    #: Extra ingress rules (port, CIDR) the cluster's security group opens, e.g. for a UI.
    open_ports: list[tuple[int, str]] = Field(default_factory=list)
    timeout_seconds: int = Field(default=900, ge=10)
    spark: SparkSpec = SparkSpec()

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not CLUSTER_NAME.match(value):
            raise ValueError(
                "must start with a lowercase letter and hold only a-z, 0-9 and '-' (max 40)"
            )
        return value

    @field_validator("metadata")
    @classmethod
    def _user_metadata(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.startswith("sparkstack_"):
                raise ValueError(f"'{key}': keys starting with sparkstack_ are sparkstack's own")
        return value

    @field_validator("ssh_cidr")
    @classmethod
    def _valid_ssh_cidr(cls, value: str) -> str:
        ipaddress.ip_network(value, strict=False)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ClusterSpec:
        if self.network.name and self.network.create:
            raise ValueError("network: give an existing network name or create one, not both")
        if self.key.keypair and self.key.public_key_file:
            raise ValueError("key: give an existing keypair or a public key file, not both")
        if self.key.keypair == f"sparkstack-{self.name}":
            raise ValueError(
                f"key.keypair: 'sparkstack-{self.name}' is the name sparkstack gives the keypair "
                "it makes for this cluster; leave keypair unset or rename yours"
            )
        return self

    @field_validator("masters")
    @classmethod
    def _at_least_one_master(cls, value: NodeGroupSpec) -> NodeGroupSpec:
        if value.count < 1:
            raise ValueError("a cluster needs at least one master")
        return value

    @property
    def login_user(self) -> str:
        """The SSH user: as configured, else the usual one for the image, else ``ubuntu``."""
        if self.ssh_user:
            return self.ssh_user
        lowered = self.image.lower()
        for word, user in DEFAULT_USERS.items():
            if word in lowered:
                return user
        return "ubuntu"


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Drop unset flags (None, at any depth) so they do not override the file."""
    kept: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _without_none(value)
            if not value:
                continue
        if value is not None:
            kept[key] = value
    return kept


def load_spec(file: Path | None = None, overrides: dict[str, Any] | None = None) -> ClusterSpec:
    """Build a ClusterSpec from an optional YAML file, CLI ``overrides`` (nested dicts) on top."""
    data: dict[str, Any] = {}
    source = "command line"
    if file is not None:
        source = str(file)
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except OSError as exc:
            raise SpecError(f"cannot read cluster file {file}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise SpecError(f"{file}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise SpecError(f"{file}: the cluster file must be a mapping of settings")
        data = loaded
    data = _deep_merge(data, _without_none(overrides or {}))
    try:
        return ClusterSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "cluster"
        raise SpecError(f"{source}: {where}: {first['msg']}") from exc
