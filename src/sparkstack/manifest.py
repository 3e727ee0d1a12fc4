"""The manifest: what a cluster runs, carried by the cluster itself.

It holds the launched spec (groups, services, versions, conf, env) and the artifacts with their
checksums. It lives on the cluster's masters (``/var/lib/sparkstack/manifest.json``, readable
by the login user only) with its digest in their server metadata, so ``configure NAME`` alone
re-applies exactly what was launched, from any machine that has the cluster's key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sparkstack._version import __version__
from sparkstack.errors import SparkstackError
from sparkstack.spec import ClusterSpec, load_spec


class ArtifactRecord(BaseModel):
    """One installed tarball: its file name, SHA-512 and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str
    sha512: str = Field(pattern=r"^[0-9a-f]{128}$")
    source: str


class Manifest(BaseModel):
    """What a cluster runs; read back from the cluster, so it is validated like any input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    cluster: str
    sparkstack_version: str = __version__
    created: datetime
    updated: datetime
    spec: dict[str, Any]
    services: list[str]
    artifacts: dict[str, ArtifactRecord] = Field(default_factory=dict)

    @classmethod
    def new(
        cls, spec: ClusterSpec, services: list[str], artifacts: dict[str, ArtifactRecord]
    ) -> Manifest:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(
            cluster=spec.name,
            created=now,
            updated=now,
            spec=spec.model_dump(mode="json", exclude={"cloud"}),
            services=services,
            artifacts=artifacts,
        )

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise SparkstackError(f"the manifest on {where} cannot be read ({first})") from None

    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON (what server metadata records)."""
        return "sha256:" + hashlib.sha256(self.to_json().encode()).hexdigest()

    def cluster_spec(self, cloud: str | None = None) -> ClusterSpec:
        """The launched spec (local files it names need not exist here any more)."""
        return load_spec(base={**self.spec, "cloud": cloud, "name": self.cluster})

    def updated_with(
        self, spec: ClusterSpec, artifacts: dict[str, ArtifactRecord], keys: tuple[str, ...]
    ) -> Manifest:
        """This manifest with ``spec``'s settings under ``keys`` (the services' sections) and
        new artifacts."""
        new_spec = dict(self.spec)
        dumped = spec.model_dump(mode="json")
        for key in keys:
            new_spec[key] = dumped[key]
        return self.model_copy(
            update={
                "spec": new_spec,
                "artifacts": {**self.artifacts, **artifacts},
                "updated": datetime.now(UTC).replace(microsecond=0),
                "sparkstack_version": __version__,
            }
        )

    def with_counts(self, counts: dict[str, int]) -> Manifest:
        """This manifest with the groups of ``counts`` holding that many nodes now."""
        groups = {
            name: {**group, "count": counts.get(name, group["count"])}
            for name, group in self.spec["groups"].items()
        }
        return self.model_copy(
            update={
                "spec": {**self.spec, "groups": groups},
                "updated": datetime.now(UTC).replace(microsecond=0),
            }
        )


def differences(before: Any, after: Any, prefix: str = "") -> list[str]:
    """``path: old -> new`` for every leaf that differs between two JSON-like values."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            lines += differences(before.get(key), after.get(key), where)
        return lines
    if before == after:
        return []
    return [f"{prefix}: {_show(before)} -> {_show(after)}"]


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."
