"""Object storage for Spark jobs: s3a to the cloud's S3 API (``--object-storage``).

No daemon of its own: it puts the s3a jars (see :mod:`sparkstack.services.s3a_jars`) on every
Spark node through the same staging as any tarball, and writes a ``core-site.xml`` with the s3a
settings and the cluster's EC2 credential into a directory of its own (0700, the file 0600,
owned by the login user Spark runs as). Spark puts that directory and the jars on its drivers',
executors' and daemons' class path (the ``object_storage.classpath`` output), where Hadoop finds
``core-site.xml``: the secret is in no Spark property, no process argument and no metadata.

The endpoint and region come from the cloud's catalog (set in the spec at launch); the EC2
credential is made by the launch for this cluster and kept with the cluster's secrets.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from sparkstack.cluster import Role
from sparkstack.errors import ServiceError
from sparkstack.events import Phase
from sparkstack.nodes.files import FileSpec
from sparkstack.paths import cache_dir
from sparkstack.services import s3a_jars
from sparkstack.services.artifacts import ArtifactSource
from sparkstack.services.base import (
    Deployment,
    Host,
    Port,
    Service,
    ServiceStatus,
    template,
    write_each,
)
from sparkstack.services.staging import install_tarball
from sparkstack.services.tarball import INSTALL_ROOT
from sparkstack.spec import S3_ACCESS_SECRET, S3_KEY_SECRET, ClusterSpec, ObjectStorageSpec

S3A_LINK = "/opt/sparkstack-s3a"
CONF_DIR = "/etc/sparkstack-s3a"
CORE_SITE = f"{CONF_DIR}/core-site.xml"
#: The class path entries Spark adds: the directory holding core-site.xml, then the jars.
CLASSPATH = f"{CONF_DIR}:{S3A_LINK}/jars/*"
SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
_SPARK_ROLES = frozenset({Role.SPARK_MASTER, Role.SPARK_WORKER})


class ObjectStorage(Service):
    """s3a jars and settings on every Spark node; wanted when ``object_storage.enabled``."""

    name: ClassVar[str] = "object-storage"
    roles: ClassVar[tuple[Role, ...]] = ()
    settings_key: ClassVar[str] = "object_storage"
    installed_links: ClassVar[dict[str, str]] = {name: S3A_LINK}

    @classmethod
    def wanted(cls, spec: ClusterSpec) -> bool:
        return spec.object_storage.enabled

    @classmethod
    def carry_over(cls, launched: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        """The endpoint and region found at launch stay unless the file sets others."""
        kept = {k: launched.get(k) for k in ("endpoint", "region") if not wanted.get(k)}
        return {**wanted, **kept}

    @property
    def settings(self) -> ObjectStorageSpec:
        return self.spec.object_storage

    def artifacts(self) -> list[ArtifactSource]:
        """The jars' tarball, built here on first use (a download of ~700 MB, once)."""
        path = s3a_jars.build(self.settings.maven_repo, self.settings.jars, cache_dir())
        hint = "object_storage.maven_repo or object_storage.jars"
        return [ArtifactSource(self.name, path=path, hint=hint)]

    def ports(self) -> list[Port]:
        return []

    def hosts(self, dep: Deployment) -> list[Host]:
        return [h for h in dep.hosts if h.node.roles & _SPARK_ROLES]

    async def install(self, dep: Deployment) -> None:
        artifact = dep.artifact(self.name)
        target = f"{INSTALL_ROOT}/s3a-{artifact.sha512[:12]}"
        wanted = target.rsplit("/", 1)[1]
        missing = [h for h in dep.acting(self.hosts(dep)) if dep.facts[h.name][self.name] != wanted]
        if not missing:
            return
        with Phase(dep.report, "install", total=len(missing), text="install s3a jars") as phase:
            await install_tarball(
                dep, artifact, missing, target, S3A_LINK, owned=[],
                on_done=lambda h: phase.advance(h.name),
            )  # fmt: skip

    def properties(self, dep: Deployment) -> dict[str, str]:
        """core-site.xml: s3a to the cloud's S3 API with the cluster's EC2 credential."""
        endpoint, region = self.settings.endpoint, self.settings.region
        if not endpoint or not region:
            raise ServiceError(
                "object storage has no S3 endpoint or region; set object_storage.endpoint and "
                "object_storage.region (launch takes them from the cloud's catalog)"
            )
        try:
            access, secret = dep.secrets[S3_ACCESS_SECRET], dep.secrets[S3_KEY_SECRET]
        except KeyError:
            raise ServiceError(
                "the cluster has no EC2 credential for object storage; it is made by "
                "`sparkstack launch --object-storage`"
            ) from None
        return {
            "fs.s3a.endpoint": endpoint,
            "fs.s3a.endpoint.region": region,
            "fs.s3a.path.style.access": "true",
            "fs.s3a.connection.ssl.enabled": str(urlsplit(endpoint).scheme == "https").lower(),
            "fs.s3a.aws.credentials.provider": SIMPLE_CREDENTIALS,
            "fs.s3a.access.key": access,
            "fs.s3a.secret.key": secret,
        }

    async def configure(self, dep: Deployment) -> set[str]:
        site = template("hadoop-site.xml.j2").render(properties=self.properties(dep))

        def files(host: Host) -> dict[str, FileSpec]:
            return {CORE_SITE: FileSpec(site, 0o600, dep.facts[host.name]["user"])}

        def dirs(host: Host) -> dict[str, tuple[str, int]]:
            return {CONF_DIR: (dep.facts[host.name]["user"], 0o700)}

        return await write_each(dep, dep.acting(self.hosts(dep)), "s3a", files, dirs)

    async def start(self, dep: Deployment, changed: set[str]) -> None:
        """Nothing runs: each Spark application reads the settings when it starts."""

    async def stop(self, dep: Deployment) -> None:
        """Nothing runs."""

    async def health(self, dep: Deployment, timeout: float) -> None:
        """Nothing runs; a job's first s3a call shows whether the store answers."""

    async def status(self, dep: Deployment) -> ServiceStatus:
        return ServiceStatus(self.name, "healthy", f"s3a to {self.settings.endpoint}")

    def outputs(self, dep: Deployment) -> dict[str, str]:
        return {"object_storage.classpath": CLASSPATH}
