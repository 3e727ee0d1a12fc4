"""The s3a jars a cluster's Spark needs, as one tarball built on the client and cached.

Spark 4.3.0 ships Hadoop's client 3.5.0 without s3a: that is ``hadoop-aws`` 3.5.0 and what it
depends on, above all the AWS SDK bundle (686 MB: a client for each of 400 AWS services).
s3a uses only a few of them, so the bundle is thinned here: every
``software/amazon/awssdk/services/<name>/`` except :data:`KEPT_SERVICES` is dropped (the SDK's
core, auth, regions, HTTP clients and shaded third-party code stay). The result, with the other
jars, is packed deterministically (sorted entries, fixed times and owners), so the same inputs
give the same tarball and SHA-512 on every client, and cached under a key made of the jars'
published SHA-1s and the thinning rule: a second launch reuses it without touching the network
beyond those ``.sha1`` files (none when the jars are cached).

Users who bring their own jars (``object_storage.jars``) get exactly those, packed the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import tempfile
import zipfile
from pathlib import Path

from sparkstack.maven import MavenJar, fetch_jars, part_file, published_sha1, sha1_file
from sparkstack.services.artifacts import sha512_file

#: hadoop-aws for Spark 4.3.0's Hadoop, and its runtime dependencies (hadoop-aws's pom).
S3A_JARS = tuple(
    MavenJar.parse(c)
    for c in (
        "org.apache.hadoop:hadoop-aws:3.5.0",
        "software.amazon.awssdk:bundle:2.35.4",
        "software.amazon.s3.analyticsaccelerator:analyticsaccelerator-s3:1.3.1",
        "org.wildfly.openssl:wildfly-openssl:2.2.5.Final",
    )
)
#: The AWS SDK's bundle: the jar thinned.
SDK_BUNDLE = ("software.amazon.awssdk", "bundle")
#: Service clients of the bundle that s3a (and its credential providers) use.
KEPT_SERVICES = frozenset({"s3", "s3control", "sts", "sso", "ssooidc", "kms"})
#: Changes when the thinning rule or the packing does (part of the cache key).
FORMAT = "services-v1/pack-v2"
_SERVICES = ("software", "amazon", "awssdk", "services")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def kept(name: str) -> bool:
    """Whether the bundle's entry ``name`` stays in the thinned jar."""
    parts = name.split("/")
    return not (tuple(parts[:4]) == _SERVICES and len(parts) > 5 and parts[4] not in KEPT_SERVICES)


def thin_bundle(source: Path, dest: Path) -> None:
    """``source`` without the service clients s3a does not use, entries in the same order
    with fixed times (the same input gives the same bytes)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            if not kept(info.filename):
                continue
            entry = zipfile.ZipInfo(info.filename, date_time=_EPOCH)
            entry.external_attr = info.external_attr
            entry.compress_type = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
            out.writestr(entry, src.read(info), compresslevel=6)


def build(repo_url: str, own_jars: list[Path], cache: Path) -> Path:
    """The tarball of s3a jars (``s3a-jars-<key>/jars/*.jar``), built once per key in
    ``cache`` (with a ``.sha512`` beside it): ``own_jars`` when given, else :data:`S3A_JARS`
    from ``repo_url`` with the SDK bundle thinned."""
    maven = cache / "maven"
    if own_jars:
        inputs = [f"{p.name}:{sha1_file(p)}" for p in own_jars] + [FORMAT]
    else:
        inputs = [f"{j}:{published_sha1(j, maven, repo_url)}" for j in S3A_JARS] + [FORMAT]
    key = hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]
    top = f"s3a-jars-{key}"
    dest = cache / "s3a-jars" / f"{top}.tar.gz"
    sidecar = dest.with_name(dest.name + ".sha512")
    if dest.exists() and sidecar.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".build-") as work:
        jars = own_jars or _fetched(repo_url, maven, Path(work))
        part = part_file(dest)
        try:
            _pack(top, jars, part)
            part.rename(dest)
        finally:
            part.unlink(missing_ok=True)
    sidecar.write_text(f"{sha512_file(dest)}  {dest.name}\n")
    return dest


def _fetched(repo_url: str, maven: Path, work: Path) -> list[Path]:
    """The Maven jars, the bundle replaced by its thinned copy in ``work``."""
    files = fetch_jars(S3A_JARS, maven, repo_url)
    jars = []
    for jar, path in zip(S3A_JARS, files, strict=True):
        if (jar.group, jar.artifact) == SDK_BUNDLE:
            thin = work / f"{jar.artifact}-{jar.version}-s3a.jar"
            thin_bundle(path, thin)
            path = thin
        jars.append(path)
    return jars


def _pack(top: str, jars: list[Path], dest: Path) -> None:
    """``jars`` under ``top/jars/`` as a .tar.gz that depends on nothing but their bytes."""
    with (
        dest.open("wb") as raw,
        gzip.GzipFile("", "wb", 1, raw, mtime=0) as gz,  # no name, no time
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in (top, f"{top}/jars"):
            tar.addfile(_info(name, tarfile.DIRTYPE, 0o755))
        for jar in sorted(jars, key=lambda p: p.name):
            info = _info(f"{top}/jars/{jar.name}", tarfile.REGTYPE, 0o644)
            info.size = jar.stat().st_size
            with jar.open("rb") as handle:
                tar.addfile(info, handle)


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
