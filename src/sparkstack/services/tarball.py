"""What every service installed from a release tarball shares (Spark, ZooKeeper, Hadoop).

The tarball comes from the user's file, a URL, or the project's archive for the release; each
tarball content gets its own directory under ``/opt/sparkstack`` and a stable symlink points at
the one in use, so a changed tarball is a new install and an unchanged one is left alone.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from sparkstack.events import Phase
from sparkstack.services.artifacts import Artifact, ArtifactSource
from sparkstack.services.base import Deployment, Host, NodeFacts, Service
from sparkstack.services.staging import install_tarball
from sparkstack.spec import SoftwareSpec

INSTALL_ROOT = "/opt/sparkstack"
#: Where a tarball comes from, in the service's settings.
SOURCE_KEYS = ("url", "tarball", "sha512")


class TarballService(Service):
    """A service whose software is one verified tarball, linked at :attr:`link`."""

    #: The stable path of the install in use (``/opt/spark``...).
    link: ClassVar[str]
    #: The settings that name a release (another value: another tarball).
    release_keys: ClassVar[tuple[str, ...]] = ("version",)
    #: The settings to fix when the tarball cannot be had (for error lines).
    artifact_hint: ClassVar[str]
    #: The product's name in progress lines.
    label: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "link" in cls.__dict__:
            cls.installed_links = {cls.name: cls.link}

    @property
    @abstractmethod
    def software(self) -> SoftwareSpec:
        """The settings that say which tarball to install."""

    @abstractmethod
    def default_url(self) -> str:
        """The project's archive URL for the release (its .sha512 sits beside it)."""

    @abstractmethod
    def install_hosts(self, dep: Deployment) -> list[Host]:
        """The nodes that need the software."""

    @classmethod
    def carry_over(cls, launched: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        """The same release keeps the tarball it was installed from (a file that only changes
        settings does not mean "download it now"); another release drops the old source."""
        same_release = all(wanted.get(k) == launched.get(k) for k in cls.release_keys)
        if same_release and not (wanted.get("url") or wanted.get("tarball")):
            return {**wanted, **{k: launched.get(k) for k in SOURCE_KEYS}}
        if not same_release and all(wanted.get(k) == launched.get(k) for k in SOURCE_KEYS):
            return {**wanted, **dict.fromkeys(SOURCE_KEYS)}
        return wanted

    def artifacts(self) -> list[ArtifactSource]:
        soft = self.software
        hint = self.artifact_hint
        if soft.tarball is not None:
            return [ArtifactSource(self.name, path=soft.tarball, sha512=soft.sha512, hint=hint)]
        url = soft.url or self.default_url()
        return [ArtifactSource(self.name, url=url, sha512=soft.sha512, hint=hint)]

    def install_dir(self, sha512: str) -> str:
        """One directory per tarball content, so a changed tarball is a new install."""
        return f"{INSTALL_ROOT}/{self.name}-{self.software.version}-{sha512[:12]}"

    def baked_record(self, sha512: str) -> dict[str, str]:
        """What an image baked with this service's tarball says it holds."""
        return {
            "version": self.software.version,
            "sha512": sha512,
            "install_dir": self.install_dir(sha512),
        }

    def baked_in(self, record: Mapping[str, str] | None, sha512: str) -> bool:
        """Whether an image's record (:meth:`baked_record`) is of this release and tarball."""
        return (
            record is not None
            and record.get("version") == self.software.version
            and record.get("sha512") == sha512
        )

    def holds(self, facts: NodeFacts, artifact: Artifact) -> bool:
        """Whether a node (as preparation found it) has this tarball's install in use; for a
        baked one, its marker must also hold the tarball's whole SHA-512."""
        wanted = self.install_dir(artifact.sha512).rsplit("/", 1)[1]
        if facts[self.name] != wanted:
            return False
        return not artifact.baked or facts[f"{self.name}_sha512"] == artifact.sha512

    async def install(self, dep: Deployment) -> None:
        artifact = dep.artifact(self.name)
        target = self.install_dir(artifact.sha512)
        hosts = dep.acting(self.install_hosts(dep))
        missing = [h for h in hosts if not self.holds(dep.facts[h.name], artifact)]
        if artifact.baked:
            _report_baked(dep, self.name, len(hosts), missing)
        if not missing:
            return
        with Phase(
            dep.report, "install", total=len(missing), text=f"install {self.label}"
        ) as phase:
            await install_tarball(
                dep, artifact, missing, target, self.link, owned=self.owned_dirs(),
                on_done=lambda h: phase.advance(h.name),
            )  # fmt: skip

    def owned_dirs(self) -> list[str]:
        """Subdirectories of the install the login user owns (its configuration)."""
        return ["conf"]


def _report_baked(dep: Deployment, name: str, checked: int, missing: list[Host]) -> None:
    """Say that the image holds the install (and on which nodes it was found not to)."""
    text = f"{name}: baked into the image, not downloaded"
    with Phase(dep.report, "baked", total=checked, text=text) as phase:
        phase.set_progress(checked - len(missing), f"{text} (install checked)")
        if missing:
            names = ", ".join(h.name for h in missing)
            phase.message(f"{name}: not found as baked on {names}; installing it there")
