"""ClusterSpec: what the user asks for, from a YAML cluster file overridden by CLI flags.

Validated once here, before any network call, so every later phase can trust it: every string
that will reach a node, a shell, a config file or the cloud is checked against the rule for its
kind (see :mod:`sparkstack.validation`). Errors name the file, line and column, the field, the
bad value and what would be valid.

A cluster is made of named node groups, each with a count, a flavor, an optional image and the
service roles it hosts. ``masters:`` and ``workers:`` (and the ``--masters``/``--workers`` flags)
are shorthands for the groups ``master`` (role spark-master) and ``worker`` (role spark-worker).
"""

from __future__ import annotations

import datetime
import difflib
import typing
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sparkstack import keys
from sparkstack import validation as v
from sparkstack.cluster import Role
from sparkstack.errors import SpecError, UsageError
from sparkstack.maven import MAVEN_CENTRAL
from sparkstack.specfile import Location, SpecFile, read_spec_file

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
MAX_GROUP_NODES = 500
MAX_NODES = 1000
MAX_METADATA_ITEMS = 100
#: The groups the masters:/workers: shorthands stand for, and the roles they host.
SHORTHANDS = {"masters": ("master", Role.SPARK_MASTER), "workers": ("worker", Role.SPARK_WORKER)}
#: Set by sparkstack itself for every cluster: a user value would weaken or break it.
RESERVED_SPARK_CONF = {"spark.authenticate.secret"}


def _scalar_text(value: Any) -> Any:
    """YAML numbers and booleans given where a string is meant: written as Spark/shell expect."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _one_line(value: str) -> str:
    return v.no_control(value)


CloudText = Annotated[str, AfterValidator(v.cloud_text)]
Cidr = Annotated[str, AfterValidator(v.cidr)]
#: Numbers are numbers: YAML's ``yes`` or ``"3"`` is not a count, a port or a size.
Port = Annotated[int, Strict(), AfterValidator(v.port)]
GroupName = Annotated[str, AfterValidator(v.group_name)]
ConfValue = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_one_line)]
LocalPath = Annotated[Path, AfterValidator(v.local_path)]


class SettingError(ValueError):
    """A check across settings failed: the message names the setting, the error line points
    at where ``loc`` is in the file."""

    def __init__(self, loc: Location, message: str):
        super().__init__(message)
        self.loc = loc


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _checked_file(value: Path | None, info: ValidationInfo) -> Path | None:
    """Local files must exist when the value comes from the user (not from a manifest)."""
    if value is None or (info.context or {}).get("check_files") is False:
        return value
    return v.existing_file(value)


class ServerGroupPolicy(StrEnum):
    ANTI_AFFINITY = "anti-affinity"
    SOFT_ANTI_AFFINITY = "soft-anti-affinity"
    NONE = "none"


class GroupSpec(_Model):
    """One node group: ``count`` servers of one flavor (and image) hosting ``roles``."""

    count: int = Field(default=1, ge=0, le=MAX_GROUP_NODES, strict=True)
    flavor: CloudText = "m1.small"
    image: CloudText | None = None
    roles: tuple[Role, ...] = Field(min_length=1)
    #: A floating IP on each node; default: for groups that host a client-facing role.
    floating_ip: bool | None = None

    @field_validator("roles")
    @classmethod
    def _distinct(cls, value: tuple[Role, ...]) -> tuple[Role, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a role is listed twice")
        return value


class NetworkSpec(_Model):
    """An existing network (by name or id), or one made for the cluster when ``create`` is set.

    With neither, the project's only tenant network is used (preflight says when there are
    several to choose from).
    """

    name: CloudText | None = None
    create: bool = False
    cidr: Cidr = "198.18.64.0/24"
    dns_nameservers: list[Annotated[str, AfterValidator(v.ip_address)]] = Field(
        default_factory=list, max_length=8
    )


class KeySpec(_Model):
    """An existing keypair, a local public key to import, or else a generated per-cluster key."""

    keypair: CloudText | None = None
    public_key_file: LocalPath | None = None
    #: Its path is kept in server metadata, so it must fit nova's 255 characters.
    private_key_file: LocalPath | None = None

    _files = field_validator("public_key_file", "private_key_file")(_checked_file)

    @field_validator("public_key_file")
    @classmethod
    def _public_key(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """Read here, not when the cloud is about to import it."""
        if value is not None and (info.context or {}).get("check_files") is not False:
            try:
                keys.read_public_key(value)
            except UsageError:
                raise ValueError(
                    "not an OpenSSH public key; give the .pub file (ssh-ed25519 AAAA...)"
                ) from None
        return value

    @field_validator("private_key_file")
    @classmethod
    def _fits_metadata(cls, value: Path | None) -> Path | None:
        if value is not None:
            v.metadata_value(str(value.absolute()))
        return value


class SoftwareSpec(_Model):
    """Where a service's tarball comes from: a release (Apache's archive, checked against its
    published SHA-512), a URL, or a local file; ``sha512`` pins it."""

    version: Annotated[str, AfterValidator(v.version)]
    url: Annotated[str, AfterValidator(v.url)] | None = None
    sha512: Annotated[str, AfterValidator(v.sha512)] | None = None
    tarball: LocalPath | None = None

    _tarball = field_validator("tarball")(_checked_file)

    @field_validator("url", "tarball")
    @classmethod
    def _tarball_name(cls, value: str | Path | None) -> str | Path | None:
        """The tarball keeps its name (the URL's last part) on the nodes, in paths there."""
        if value is not None:
            v.tarball_name(
                value.name if isinstance(value, Path) else Path(urlsplit(value).path).name
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SoftwareSpec:
        if self.url and self.tarball:
            raise ValueError("give url or tarball, not both")
        return self


class SparkSpec(SoftwareSpec):
    """Which Spark to install and how; ``conf`` and ``env`` override sparkstack's choices."""

    version: Annotated[str, AfterValidator(v.version)] = "4.3.0"  # also the newest on PyPI
    hadoop: Annotated[str, AfterValidator(v.hadoop_profile)] = "3"
    conf: dict[Annotated[str, AfterValidator(v.spark_conf_key)], ConfValue] = Field(
        default_factory=dict, max_length=500
    )
    env: dict[Annotated[str, AfterValidator(v.shell_identifier)], ConfValue] = Field(
        default_factory=dict, max_length=200
    )

    @field_validator("conf")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key in RESERVED_SPARK_CONF:
                raise ValueError(f"{key} is set by sparkstack (a secret per cluster)")
        return value


class ZooKeeperSpec(SoftwareSpec):
    """The ZooKeeper ensemble that several Spark masters elect their leader with.

    ``session_timeout_ms`` is the longest session the servers grant: a dead leader's lock
    lives that long after its last word, so it bounds how soon a standby master takes over
    (Spark asks for 60 s sessions and cannot be told otherwise; the server caps them here).
    """

    version: Annotated[str, AfterValidator(v.version)] = "3.9.5"
    tick_ms: int = Field(default=1000, ge=100, le=10_000, strict=True)
    session_timeout_ms: int = Field(default=6000, ge=1000, le=120_000, strict=True)
    heap_mb: int = Field(default=128, ge=32, le=65_536, strict=True)

    @model_validator(mode="after")
    def _sessions_fit_ticks(self) -> ZooKeeperSpec:
        if self.session_timeout_ms < 2 * self.tick_ms:
            raise ValueError(
                "session_timeout_ms must be at least 2 x tick_ms (ZooKeeper's shortest session)"
            )
        return self


class HdfsSpec(SoftwareSpec):
    """HDFS: a NameNode on the first node of role hdfs-namenode, DataNodes on the nodes of role
    hdfs-datanode. ``enabled`` (``--hdfs``) puts those roles on the master and worker groups.
    ``conf`` overrides hdfs-site.xml; ``data_dir`` holds the NameNode's and DataNodes' data."""

    version: Annotated[str, AfterValidator(v.version)] = "3.5.0"  # what Spark 4.3.0 bundles
    enabled: bool = False
    replication: int = Field(default=2, ge=1, le=32, strict=True)
    data_dir: Annotated[str, AfterValidator(v.node_dir)] = "/var/lib/hadoop/hdfs"
    conf: dict[Annotated[str, AfterValidator(v.hadoop_conf_key)], ConfValue] = Field(
        default_factory=dict, max_length=500
    )


#: The cluster's secrets that hold the EC2 credential made for it at launch (access, secret
#: and the credential's id in Keystone): launch writes them, object storage reads them.
S3_ACCESS_SECRET, S3_KEY_SECRET, S3_CREDENTIAL = "s3.access", "s3.secret", "s3.credential"


class ObjectStorageSpec(_Model):
    """Spark jobs on the cloud's object storage through s3a (``--object-storage``).

    The s3a jars come from ``maven_repo`` (Maven Central by default; the AWS SDK bundle thinned
    to what s3a uses) or, when ``jars`` names local jar files, from those alone. ``endpoint`` and
    ``region`` default to the cloud catalog's ``s3`` service (set at launch); EC2 credentials
    are made for the cluster and deleted with it. ``event_log`` (s3a://container/prefix) keeps
    Spark's event logs there and runs a History Server on the first master."""

    enabled: bool = False
    maven_repo: Annotated[str, AfterValidator(v.url)] = MAVEN_CENTRAL
    jars: list[LocalPath] = Field(default_factory=list, max_length=50)
    endpoint: Annotated[str, AfterValidator(v.url)] | None = None
    region: CloudText | None = None
    event_log: Annotated[str, AfterValidator(v.s3a_url)] | None = None

    @field_validator("jars")
    @classmethod
    def _jar_files(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        for path in value:
            _checked_file(path, info)
            if not path.name.endswith(".jar"):
                raise ValueError(f"{path}: give jar files (name.jar)")
            v.tarball_name(path.name)
        return value

    @model_validator(mode="before")
    @classmethod
    def _event_log_enables(cls, data: Any) -> Any:
        """Event logs in a container need the rest: ``event_log`` alone turns it on."""
        if isinstance(data, dict) and data.get("event_log") and "enabled" not in data:
            return {**data, "enabled": True}
        return data

    @model_validator(mode="after")
    def _event_log_needs_it(self) -> ObjectStorageSpec:
        if self.event_log and not self.enabled:
            raise ValueError("event_log needs object storage: remove enabled: false")
        return self


class OnExpiry(StrEnum):
    DELETE = "delete"
    STOP = "stop"


Duration = Annotated[str, AfterValidator(v.duration)]


class ExpirySpec(_Model):
    """Scheduled deletion: a reaper on the first master deletes (or stops) the cluster once it
    is ``max_age`` old or no application has run for ``idle_timeout``, whichever comes first,
    even when no client is left. Durations such as ``8h`` or ``1h30m``, from 1m to 30d."""

    max_age: Duration | None = None
    idle_timeout: Duration | None = None
    on_expiry: OnExpiry = OnExpiry.DELETE

    @model_validator(mode="after")
    def _some_deadline(self) -> ExpirySpec:
        if self.max_age is None and self.idle_timeout is None:
            raise ValueError("give max_age, idle_timeout or both (e.g. {max_age: 8h})")
        return self

    @property
    def max_age_seconds(self) -> int | None:
        return v.duration_seconds(self.max_age) if self.max_age else None

    @property
    def idle_timeout_seconds(self) -> int | None:
        return v.duration_seconds(self.idle_timeout) if self.idle_timeout else None


def _with_hdfs_roles(data: Any) -> Any:
    """``hdfs.enabled`` puts the NameNode on the first group of masters and DataNodes on the
    groups of workers; a group that hosts an HDFS role by itself sets ``enabled``."""
    if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
        return data
    hdfs = data.get("hdfs")
    if hdfs is not None and not isinstance(hdfs, dict):
        return data  # not a mapping: the field's own check says so
    groups = {n: g for n, g in data["groups"].items() if isinstance(g, dict)}

    def roles(group: dict[str, Any]) -> list[Any]:
        found = group.get("roles")
        return list(found) if isinstance(found, list | tuple) else []

    hosted = {str(r) for g in groups.values() for r in roles(g)}
    hdfs_roles = {Role.HDFS_NAMENODE.value, Role.HDFS_DATANODE.value}
    if hosted & hdfs_roles:
        return {**data, "hdfs": {**(hdfs or {}), "enabled": True}}
    if (hdfs or {}).get("enabled") is not True:
        return data
    new = dict(data["groups"])
    masters = [n for n, g in groups.items() if Role.SPARK_MASTER.value in map(str, roles(g))]
    for name in masters[:1]:
        new[name] = {**groups[name], "roles": [*roles(groups[name]), Role.HDFS_NAMENODE]}
    for name, group in groups.items():
        if Role.SPARK_WORKER.value in map(str, roles(group)):
            new[name] = {**new[name], "roles": [*roles(new[name]), Role.HDFS_DATANODE]}
    return {**data, "groups": new}


def _roles_of(shorthand: str, values: dict[str, Any]) -> list[Role]:
    """The roles a shorthand's group hosts: several masters also run the ZooKeeper ensemble
    they elect their leader with."""
    _group, role = SHORTHANDS[shorthand]
    count = values.get("count")
    several = isinstance(count, int) and not isinstance(count, bool) and count > 1
    return [role, Role.ZOOKEEPER] if role is Role.SPARK_MASTER and several else [role]


def _expand_shorthands(data: Any) -> Any:
    """``masters:``/``workers:`` become (or update) the groups ``master`` and ``worker``."""
    if not isinstance(data, dict):
        return data
    explicit = data.get("groups")
    if explicit is not None and not isinstance(explicit, dict):
        return data  # not a mapping: the field's own check says so
    data = dict(data)
    groups: dict[str, Any] = dict(explicit or {})
    for key, (group, _role) in SHORTHANDS.items():
        short = data.pop(key, None)
        if short is None:
            continue
        if not isinstance(short, dict):
            raise SettingError(
                (key,), f"{key}: give a mapping such as {{count: 2, flavor: m1.small}}"
            )
        if explicit is not None and group not in groups:
            raise SettingError(
                (key,),
                f"{key} sets the group '{group}', which groups: does not define; set the count "
                "and flavor under groups: instead",
            )
        found = groups.get(group)
        base: dict[str, Any] = (
            found if isinstance(found, dict) else {"roles": _roles_of(key, short)}
        )
        groups[group] = {**base, **short}
    if explicit is None:
        groups.setdefault("master", {"count": 1, "roles": [Role.SPARK_MASTER]})
        groups.setdefault("worker", {"count": 2, "roles": [Role.SPARK_WORKER]})
        groups = {name: groups[name] for name in ("master", "worker")}
    data["groups"] = groups
    return data


class ClusterSpec(_Model):
    """A whole cluster as the user described it."""

    name: Annotated[str, AfterValidator(v.cluster_name)]
    cloud: CloudText | None = None
    image: CloudText = "ubuntu-24.04"
    ssh_user: Annotated[str, AfterValidator(v.posix_user)] | None = None
    groups: dict[GroupName, GroupSpec] = Field(min_length=1, max_length=20)
    network: NetworkSpec = NetworkSpec()
    floating_ip_pool: CloudText | None = "public"
    use_floating_ips: bool = True
    security_groups: list[CloudText] = Field(default_factory=list, max_length=20)
    #: Who may reach SSH. None: the client's own address as the cloud sees it (narrowed on
    #: first contact); 0.0.0.0/0 only when given, with a warning.
    ssh_cidr: Cidr | None = None
    key: KeySpec = KeySpec()
    availability_zone: CloudText | None = None
    server_group_policy: ServerGroupPolicy = ServerGroupPolicy.NONE
    boot_volume_gb: int | None = Field(default=None, ge=1, le=65536, strict=True)
    metadata: dict[
        Annotated[str, AfterValidator(v.metadata_key)],
        Annotated[str, BeforeValidator(_scalar_text), AfterValidator(v.metadata_value)],
    ] = Field(default_factory=dict, max_length=MAX_METADATA_ITEMS)
    #: Extra ingress rules (port, CIDR) the cluster's security group opens, e.g. for a UI.
    open_ports: list[tuple[Port, Cidr]] = Field(default_factory=list, max_length=50)
    timeout_seconds: int = Field(default=900, ge=10, le=86400, strict=True)
    #: Accept a node's first SSH host key when its console log never shows one.
    trust_first_host_key: bool = False
    spark: SparkSpec = SparkSpec()
    zookeeper: ZooKeeperSpec = ZooKeeperSpec()
    hdfs: HdfsSpec = HdfsSpec()
    object_storage: ObjectStorageSpec = ObjectStorageSpec()
    expiry: ExpirySpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        return _with_hdfs_roles(_expand_shorthands(data))

    @model_validator(mode="after")
    def _consistent(self) -> ClusterSpec:
        if self.network.name and self.network.create:
            raise SettingError(
                ("network",), "network: give an existing network name or create one, not both"
            )
        if self.key.keypair and self.key.public_key_file:
            raise SettingError(
                ("key",), "key: give an existing keypair or a public key file, not both"
            )
        if self.key.keypair == f"sparkstack-{self.name}":
            raise SettingError(
                ("key", "keypair"),
                f"key.keypair: 'sparkstack-{self.name}' is the name sparkstack gives the keypair "
                "it makes for this cluster; leave keypair unset or rename yours",
            )
        if sum(g.count for g in self.groups.values()) > MAX_NODES:
            raise SettingError(("groups",), f"groups: at most {MAX_NODES} nodes in one cluster")
        if not self.count(Role.SPARK_MASTER):
            raise SettingError(
                ("groups",), "groups: a cluster needs at least one node with role spark-master"
            )
        self._check_quorum()
        self._check_hdfs()
        self._check_expiry()
        return self

    def _check_expiry(self) -> None:
        """A reaper that deletes cannot delete the network its own server sits on: it goes
        with that server, and nothing is left to remove the network after it."""
        if self.expiry and self.expiry.on_expiry is OnExpiry.DELETE and self.network.create:
            raise SettingError(
                ("expiry", "on_expiry"),
                "expiry: a cluster that deletes itself cannot remove a network of its own "
                "(its reaper goes with its last server); use an existing network or "
                "on_expiry: stop",
            )

    def _check_hdfs(self) -> None:
        namenodes, datanodes = self.count(Role.HDFS_NAMENODE), self.count(Role.HDFS_DATANODE)
        if (namenodes or datanodes) and not (namenodes and datanodes):
            missing = "hdfs-namenode" if datanodes else "hdfs-datanode"
            raise SettingError(
                ("groups",), f"groups: HDFS needs a node with role {missing} too (or use --hdfs)"
            )
        if namenodes and datanodes < self.hdfs.replication:
            raise SettingError(
                ("hdfs", "replication"),
                f"hdfs.replication {self.hdfs.replication} needs as many DataNodes, the groups "
                f"have {datanodes}; lower it or add workers",
            )

    def _check_quorum(self) -> None:
        """Several masters need a ZooKeeper ensemble that survives the loss of one node."""
        masters, peers = self.count(Role.SPARK_MASTER), self.count(Role.ZOOKEEPER)
        where = ("masters",) if "master" in self.groups else ("groups",)
        if masters > 1 and peers == 0:
            raise SettingError(
                where,
                f"{masters} spark masters need a ZooKeeper ensemble to elect their leader: add "
                "zookeeper to the roles of 3 nodes (e.g. roles: [spark-master, zookeeper])",
            )
        if masters > 1 and peers < 3:
            raise SettingError(
                where,
                f"{masters} masters: a ZooKeeper ensemble of {peers} has no quorum that survives "
                f"losing a node (a majority of {peers} is {peers // 2 + 1}); use 3 masters (or "
                "1), or a group that puts zookeeper on a third node",
            )
        if masters > 1 and peers % 2 == 0:
            raise SettingError(
                where,
                f"{peers} ZooKeeper nodes: an even ensemble survives no more losses than one "
                "node fewer; use an odd count (3 or 5 masters, or zookeeper nodes)",
            )
        recovery = self.spark.conf.get("spark.deploy.recoveryMode")
        if masters > 1 and recovery not in (None, "ZOOKEEPER"):
            raise SettingError(
                ("spark", "conf", "spark.deploy.recoveryMode"),
                f"spark.deploy.recoveryMode {recovery} with {masters} masters would run two "
                "leaders at once; leave it unset (sparkstack uses ZOOKEEPER)",
            )

    def count(self, role: Role) -> int:
        """How many nodes host ``role``."""
        return sum(g.count for g in self.groups.values() if role in g.roles)

    def image_of(self, group: str) -> str:
        return self.groups[group].image or self.image

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


# ---- loading and error lines ------------------------------------------------------------------


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


def _paths(data: Any, prefix: Location = ()) -> set[Location]:
    """Every location in nested data (to tell flags' values from the file's)."""
    found = {prefix}
    if isinstance(data, dict):
        for key, value in data.items():
            found |= _paths(value, (*prefix, key))
    return found


def _file_location(loc: Location, data: dict[str, Any]) -> Location:
    """Map an error location inside an expanded shorthand back to where the file wrote it."""
    if len(loc) >= 2 and loc[0] == "groups":
        for key, (group, _role) in SHORTHANDS.items():
            if loc[1] == group and key in data:
                return (key, *loc[2:])
    return loc


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, the values of a dict, or the model of an Optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    candidates = args[1:] if typing.get_origin(annotation) is dict else args
    for arg in candidates:
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _field_names(loc: Location) -> list[str]:
    """The settings valid where ``loc`` points (for 'did you mean' on unknown keys)."""
    current: type[BaseModel] | None = ClusterSpec
    parts = list(loc[:-1])
    while parts and current is not None:
        part = parts.pop(0)
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _model_of(field.annotation)
        if current is not None and typing.get_origin(field.annotation) is dict:
            parts = parts[1:]  # skip the dict key (a group name)
    if current is None:
        return []
    return list(current.model_fields) + (list(SHORTHANDS) if current is ClusterSpec else [])


def _message(error: Any) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        valid = _field_names(loc)
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown setting{hint} (valid here: {', '.join(valid)})" if valid else "unknown"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind not in ("missing",) and "input" in error and not isinstance(error["input"], dict):
        return f"{_written(error['input'])}: {message}"
    return message


def _written(value: Any) -> str:
    """A value for an error line as the user wrote it (a date or a path not as Python's repr)."""
    if isinstance(value, datetime.date):  # YAML reads 2030-01-01 as a date
        return value.isoformat()
    return v.shown(str(value) if isinstance(value, Path) else value)


def _field_path(loc: Location) -> str:
    """``spark.conf.spark.a``; a key that is long or unprintable is shown quoted and cut."""
    return ".".join(
        str(p) if isinstance(p, int) or (p.isprintable() and len(p) <= 40) else v.shown(p, 40)
        for p in loc
    )


def spec_error(
    exc: ValidationError, data: dict[str, Any], source: SpecFile | None, flags: set[Location]
) -> SpecError:
    """One line for the first problem: where, which field, the bad value, what is valid."""
    errors = exc.errors()
    first = errors[0]
    setting = first.get("ctx", {}).get("error")
    raw = setting.loc if isinstance(setting, SettingError) else first["loc"]
    loc = _file_location(tuple(p for p in raw if p != "[key]"), data)
    field = _field_path(loc) or "cluster"
    where = source.where(loc) if source is not None and loc not in flags else "command line"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if isinstance(setting, SettingError):  # its message names the setting itself
        return SpecError(f"{where}: {setting}{more}")
    prefix = f"{where}: {field}: " if loc else f"{where}: "
    return SpecError(f"{prefix}{_message(first)}{more}")


def load_spec(
    file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    base: dict[str, Any] | None = None,
) -> ClusterSpec:
    """A ClusterSpec from an optional YAML file (else ``base``, e.g. a manifest's), with CLI
    ``overrides`` (nested dicts; None means unset) on top. Local files named by the file or
    the flags must exist; those only in ``base`` need not (they were checked at launch)."""
    source = read_spec_file(file) if file is not None else None
    data: dict[str, Any] = source.data if source else dict(base or {})
    flags = _without_none(overrides or {})
    if source is not None and "name" in data and "name" in flags:
        _check_replaced_name(source)
    merged = _deep_merge(data, flags)
    flag_paths = _paths(flags) - {()}
    try:
        spec = ClusterSpec.model_validate(merged, context={"check_files": base is None})
    except ValidationError as exc:
        raise spec_error(exc, data, source, flag_paths) from None
    if base is not None:
        _check_flag_files(spec, flag_paths)
    return spec


def _check_replaced_name(source: SpecFile) -> None:
    """The file's name is checked though the command line's replaces it: a file with a bad
    value is refused whatever flags come with it."""
    value = source.data["name"]
    try:
        v.cluster_name(str(value))
    except ValueError as exc:
        raise SpecError(f"{source.where(('name',))}: name: {_written(value)}: {exc}") from None


#: Local files a spec names; a manifest's may be gone, the user's own must exist.
FILE_FIELDS: tuple[Location, ...] = (
    ("spark", "tarball"),
    ("key", "public_key_file"),
    ("key", "private_key_file"),
)


def _check_flag_files(spec: ClusterSpec, flag_paths: set[Location]) -> None:
    for loc in FILE_FIELDS:
        if loc not in flag_paths:
            continue
        value: Any = spec
        for part in loc:
            value = getattr(value, str(part))
        try:
            v.existing_file(value)
        except ValueError as exc:
            raise SpecError(f"command line: {'.'.join(map(str, loc))}: {exc}") from None
