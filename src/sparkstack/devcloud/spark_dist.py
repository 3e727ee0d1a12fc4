"""A Spark binary distribution built from the PyPI pyspark sdist, for tests and the devcloud demo.

Only PyPI is reachable from the test machine, and PyPI has no Spark binary tarball. The pyspark
sdist ships the same ``jars/``, ``bin/`` and ``python/lib/*.zip`` as Apache's
``spark-V-bin-hadoop3.tgz``; this module rearranges them into Apache's layout and adds what the
sdist lacks (``sbin/start-master.sh`` and friends, ``conf/*.template``, ``RELEASE``), so the
product deploys it exactly as it deploys Apache's tarball. The result is NOT an Apache release.

Layout of the cache (mirrors https://archive.apache.org/dist/spark/ so that serving
``dist_root()`` over HTTP gives Apache-shaped URLs)::

    <cache>/pyspark-sdist/pyspark-V.tar.gz
    <cache>/spark-dist/spark-V/spark-V-bin-hadoop3.tgz (+ .sha512 in sha512sum format)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sparkstack import paths
from sparkstack.devcloud.maven import build_lock
from sparkstack.errors import DevcloudError
from sparkstack.services.artifacts import sha512_file

#: The newest pyspark on PyPI when this was written; the product's default Spark version too.
DEFAULT_VERSION = "4.3.0"

_PRELUDE = """#!/usr/bin/env bash
# Added by sparkstack's test build (the pyspark sdist has no such script); same CLI as Apache's.
export SPARK_HOME="${SPARK_HOME:-$(cd "$(dirname "$0")/.."; pwd)}"
. "$SPARK_HOME/sbin/spark-config.sh"
. "$SPARK_HOME/bin/load-spark-env.sh"
"""

#: sbin scripts of Apache's distribution that the sdist lacks: only what standalone mode uses.
_SBIN = {
    "start-master.sh": _PRELUDE
    + """exec "$SPARK_HOME/sbin/spark-daemon.sh" start org.apache.spark.deploy.master.Master 1 \\
  --host "${SPARK_MASTER_HOST:-$(hostname -f)}" --port "${SPARK_MASTER_PORT:-7077}" \\
  --webui-port "${SPARK_MASTER_WEBUI_PORT:-8080}" "$@"
""",
    "stop-master.sh": _PRELUDE
    + """exec "$SPARK_HOME/sbin/spark-daemon.sh" stop org.apache.spark.deploy.master.Master 1
""",
    "start-worker.sh": _PRELUDE
    + """[ $# -ge 1 ] || { echo "usage: start-worker.sh MASTER_URL" >&2; exit 1; }
master=$1; shift
port=(); [ -n "$SPARK_WORKER_PORT" ] && port=(--port "$SPARK_WORKER_PORT")
exec "$SPARK_HOME/sbin/spark-daemon.sh" start org.apache.spark.deploy.worker.Worker 1 \\
  --webui-port "${SPARK_WORKER_WEBUI_PORT:-8081}" "${port[@]}" "$master" "$@"
""",
    "stop-worker.sh": _PRELUDE
    + """exec "$SPARK_HOME/sbin/spark-daemon.sh" stop org.apache.spark.deploy.worker.Worker 1
""",
}

_CONF_TEMPLATES = {
    "spark-env.sh.template": "# Sourced by bin/ and sbin/ scripts: SPARK_LOCAL_IP, ...\n",
    "spark-defaults.conf.template": "# spark.master  spark://master:7077\n",
    "workers.template": "localhost\n",
}


@dataclass(frozen=True)
class SparkDist:
    """A built tarball and its SHA-512 (hex)."""

    tarball: Path
    sha512: str

    @property
    def sha512_file(self) -> Path:
        return self.tarball.with_name(self.tarball.name + ".sha512")


def dist_root(cache: Path | None = None) -> Path:
    """Directory to serve over HTTP: ``spark-V/spark-V-bin-hadoop3.tgz`` below it."""
    return (cache or paths.cache_dir()) / "spark-dist"


def tarball_name(version: str) -> str:
    return f"spark-{version}-bin-hadoop3.tgz"


def build_spark_dist(version: str = DEFAULT_VERSION, cache: Path | None = None) -> SparkDist:
    """Return the cached tarball for ``version``, building it from the PyPI sdist when missing."""
    cache = cache or paths.cache_dir()
    tarball = dist_root(cache) / f"spark-{version}" / tarball_name(version)
    cached = _cached(tarball)
    if cached is not None:
        return cached
    with build_lock(tarball.parent):  # the test lanes may ask at once: one builds
        return _cached(tarball) or _build(version, cache, tarball)


def _cached(tarball: Path) -> SparkDist | None:
    """The tarball built before, if its ``.sha512`` (written last) says it is complete."""
    dist = SparkDist(tarball, "")
    if tarball.exists() and dist.sha512_file.exists():
        return SparkDist(tarball, dist.sha512_file.read_text().split()[0])
    return None


def _build(version: str, cache: Path, tarball: Path) -> SparkDist:
    dist = SparkDist(tarball, "")
    sdist = _download_sdist(version, cache / "pyspark-sdist")
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".build-") as work:
        root = _assemble(sdist, Path(work), version)
        part = tarball.with_suffix(".part")
        # Level 1: the jars inside are zip files already, a higher level buys little and costs CPU.
        with tarfile.open(part, "w:gz", compresslevel=1) as out:
            out.add(root, arcname=root.name, filter=_root_owned)
        part.rename(tarball)
    digest = sha512_file(tarball)
    dist.sha512_file.write_text(f"{digest}  {tarball.name}\n")
    return SparkDist(tarball, digest)


def _download_sdist(version: str, into: Path) -> Path:
    sdist = into / f"pyspark-{version}.tar.gz"
    if sdist.exists():
        return sdist
    into.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "pyspark"]
    result = subprocess.run(
        [*cmd, "-d", str(into), f"pyspark=={version}"], capture_output=True, text=True
    )
    if result.returncode != 0 or not sdist.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise DevcloudError(f"pip could not download the pyspark {version} sdist: {tail}")
    return sdist


def _assemble(sdist: Path, work: Path, version: str) -> Path:
    """Unpack the sdist under ``work`` and arrange it as ``spark-V-bin-hadoop3/``."""
    with tarfile.open(sdist) as src:
        src.extractall(work, filter="tar")
    source = work / f"pyspark-{version}"
    dest = work / f"spark-{version}-bin-hadoop3"
    deps = source / "deps"
    (dest / "examples" / "src" / "main").mkdir(parents=True)
    (dest / "python").mkdir()
    (dest / "conf").mkdir()
    for name in ("bin", "sbin", "jars", "data", "licenses"):
        shutil.move(deps / name, dest / name)
    shutil.move(deps / "examples", dest / "examples" / "src" / "main" / "python")
    shutil.move(source / "lib", dest / "python" / "lib")  # pyspark.zip, py4j: executors need them
    shutil.move(source / "pyspark", dest / "python" / "pyspark")
    for name in ("LICENSE", "NOTICE", "README.md"):
        shutil.copy(source / name, dest / name)
    for name, text in _SBIN.items():
        (dest / "sbin" / name).write_text(text)
    for name, text in _CONF_TEMPLATES.items():
        (dest / "conf" / name).write_text(text)
    log4j = _default_log4j2(dest / "jars")
    if log4j:
        (dest / "conf" / "log4j2.properties.template").write_bytes(log4j)
    (dest / "RELEASE").write_text(
        f"Spark {version} built for Hadoop 3\n"
        f"Rebuilt by sparkstack from the PyPI sdist pyspark-{version}; NOT an Apache release.\n"
    )
    for script in [*(dest / "bin").iterdir(), *(dest / "sbin").iterdir()]:
        script.chmod(0o755)
    return dest


def _default_log4j2(jars: Path) -> bytes | None:
    """Spark's own default log4j2 file (spark-common-utils in 4.x, spark-core in 3.x)."""
    for jar in sorted(jars.glob("spark-common-utils*.jar")) + sorted(jars.glob("spark-core_*.jar")):
        with zipfile.ZipFile(jar) as archive:
            try:
                return archive.read("org/apache/spark/log4j2-defaults.properties")
            except KeyError:
                continue
    return None


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def main() -> None:
    """``python -m sparkstack.devcloud.spark_dist [VERSION]``: build and print the tarball path."""
    version = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_VERSION
    dist = build_spark_dist(version)
    print(dist.tarball)


if __name__ == "__main__":
    main()
