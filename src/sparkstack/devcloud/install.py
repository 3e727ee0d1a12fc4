"""``sparkstack devcloud install``: Debian packages and the server virtualenv; idempotent.

The OpenStack server packages pin old libraries, so they live in their own venv under the data
dir. A marker file records what was installed; a re-run with the same pins does nothing.

``--object-storage`` adds Swift in a venv of its own (``swift-venv``, with its own marker) and
memcached (apt): the server venv and its fingerprint stay as they are, so a devcloud without
Swift installs and starts as fast as before, and adding Swift never reinstalls the rest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

from sparkstack.devcloud.config import DevcloudConfig
from sparkstack.devcloud.configs import render
from sparkstack.devcloud.maven import build_lock
from sparkstack.errors import DevcloudError
from sparkstack.events import Phase, Reporter, silent

#: What a namespace host (a devcloud server, an SSH test host) needs of this machine to boot:
#: sshd and ssh-keygen, sudo, tini as PID 1, nft for its firewall, ip for its namespace, mount
#: and useradd in host_init.sh (the rest it uses is Essential in Debian).
HOST_PACKAGES = ("openssh-server", "sudo", "tini", "nftables", "iproute2", "mount", "passwd")
#: What the software on a node needs. A node is an overlay of this machine's root with no way
#: out to a package mirror, so its own ``apt-get install`` cannot work: whatever node preparation
#: (services/templates/prepare.sh.j2: Java 17+, python3) would install must be here already.
#: Spark's sbin scripts use ps (procps); tests and users fetch with curl. tar, gzip and
#: sha512sum (install.sh.j2) are Essential.
NODE_PACKAGES = ("openjdk-17-jre-headless", "python3", "curl", "procps")
APT_PACKAGES = ("rabbitmq-server", "mariadb-server", *HOST_PACKAGES, *NODE_PACKAGES)
SERVER_PACKAGES = (
    "keystone",
    "nova",
    "neutron",
    "glance",
    "openstack-placement",
    "openstacksdk",
    "python-openstackclient",
    "gunicorn",
    "PyMySQL",
    "pyroute2",  # neutron 29 imports it but its wheel does not declare it
)
#: Swift's venv: the servers, the proxy's authtoken filter (keystonemiddleware), and boto3 to
#: check the S3 API with. Versions: swift-constraints.txt, then constraints.txt.
SWIFT_PACKAGES = ("swift", "keystonemiddleware", "boto3")
#: s3token's cache of EC2 secrets (see templates/swift-proxy-server.conf.j2)
SWIFT_APT_PACKAGES = ("memcached",)
MECH_NAME = "ssdc_bind_any"
MECH_TARGET = "ssdc.mech:BindAnyMechanismDriver"
MECH_VERSION = "1.0.0"


def constraints_text() -> str:
    return resources.files("sparkstack.devcloud").joinpath("constraints.txt").read_text()


def swift_constraints_text() -> str:
    return resources.files("sparkstack.devcloud").joinpath("swift-constraints.txt").read_text()


def install_fingerprint() -> str:
    """Changes whenever what ``install`` would put into the venv changes."""
    parts = [constraints_text(), *SERVER_PACKAGES, MECH_NAME, MECH_TARGET, MECH_VERSION]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def swift_fingerprint() -> str:
    """Changes whenever what ``install --object-storage`` puts into Swift's venv changes."""
    parts = [swift_constraints_text(), constraints_text(), *SWIFT_PACKAGES]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def marker(cfg: DevcloudConfig) -> Path:
    return cfg.venv / ".sparkstack-devcloud-installed"


def swift_marker(cfg: DevcloudConfig) -> Path:
    return cfg.swift_venv / ".sparkstack-swift-installed"


def is_installed(cfg: DevcloudConfig) -> bool:
    """True when the venv holds exactly what this version of sparkstack installs."""
    try:
        return marker(cfg).read_text().strip() == install_fingerprint()
    except FileNotFoundError:
        return False


def is_swift_installed(cfg: DevcloudConfig) -> bool:
    """True when Swift's venv holds exactly what this version of sparkstack installs there and
    memcached is on this machine."""
    try:
        venv_ok = swift_marker(cfg).read_text().strip() == swift_fingerprint()
    except FileNotFoundError:
        return False
    return venv_ok and shutil.which("memcached", path=MEMCACHED_PATH) is not None


MEMCACHED_PATH = "/usr/bin:/usr/local/bin"


def install(
    cfg: DevcloudConfig | None = None,
    *,
    object_storage: bool = False,
    report: Reporter = silent,
) -> None:
    """Install apt packages when missing and the server venv when out of date; with
    ``object_storage`` also memcached and Swift's venv."""
    cfg = cfg or DevcloudConfig.load()
    if os.geteuid() != 0:
        raise DevcloudError(
            "devcloud install needs root (apt packages, namespaces): run it as root"
        )
    total = 3 + (2 if object_storage else 0)
    with Phase(report, "install", total=total, text="devcloud install") as phase:
        wanted = [*APT_PACKAGES, *(SWIFT_APT_PACKAGES if object_storage else ())]
        missing = missing_apt_packages(wanted)
        if missing:
            phase.message(f"apt-get install {' '.join(missing)}")
            apt_install(missing, cfg.data_dir / "install-apt.log")
        phase.advance("apt packages present")
        if is_installed(cfg):
            phase.advance("server venv up to date", by=2)
        else:
            check_pypi()
            make_venv(cfg)
            phase.advance(f"venv {cfg.venv}")
            phase.message("pip install keystone nova neutron glance placement (about a minute)")
            pip_install(cfg)
            marker(cfg).write_text(install_fingerprint() + "\n")
            phase.advance("server packages installed")
        if not object_storage:
            return
        if is_swift_installed(cfg):
            phase.advance("Swift venv up to date", by=2)
            return
        check_pypi()
        make_venv(cfg, cfg.swift_venv)
        phase.advance(f"venv {cfg.swift_venv}")
        phase.message("pip install swift keystonemiddleware boto3 (about 15 s)")
        pip_install_swift(cfg)
        swift_marker(cfg).write_text(swift_fingerprint() + "\n")
        phase.advance("Swift installed")


DPKG_FORMAT = "${Package}\\t${db:Status-Status}\\n"


def missing_apt_packages(packages: tuple[str, ...] | list[str] = APT_PACKAGES) -> list[str]:
    """The Debian packages of ``packages`` that dpkg does not list as installed, in order."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", f"-f={DPKG_FORMAT}", *packages],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise DevcloudError("no dpkg-query here: the devcloud needs Debian (12)") from None
    # exit status 1 just means some package is unknown to dpkg: it is missing then
    return missing_from_dpkg(packages, result.stdout)


def missing_from_dpkg(packages: tuple[str, ...] | list[str], output: str) -> list[str]:
    """Which of ``packages`` a ``dpkg-query -W -f=DPKG_FORMAT`` output shows not installed.

    A package dpkg never heard of has no line; one removed but not purged is ``config-files``,
    one half installed ``unpacked`` or ``half-configured``; a multi-arch one has a line per
    architecture and counts as installed when one of them is.
    """
    installed = set()
    for line in output.splitlines():
        name, _, state = line.partition("\t")
        if state.strip() == "installed":
            installed.add(name.strip().split(":", 1)[0])
    return [name for name in dict.fromkeys(packages) if name not in installed]


#: Where the lock of :func:`apt_install` is (root's: apt needs root).
APT_LOCK_DIR = Path("/run/lock/sparkstack")


def apt_install(packages: list[str], log: Path) -> None:
    """apt-get install, keeping Debian from starting the daemons it installs (policy-rc.d):
    the devcloud runs its own MariaDB and RabbitMQ on private data dirs and fixed ports, and the
    hosts their own sshd. The log goes to ``log``. One install at a time (the test lanes run
    at once): another waits for it, then finds what it installed."""
    with build_lock(APT_LOCK_DIR):
        missing = missing_apt_packages(packages)
        if missing:
            _apt_get_install(missing, log)


def _apt_get_install(packages: list[str], log: Path) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# sparkstack devcloud install: start no daemon\nexit 101\n")
        policy.chmod(0o755)
    try:
        for argv in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        ):
            run_logged(argv, log, env, f"apt-get could not install {' '.join(packages)}")
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)


def check_pypi() -> None:
    """Fail early and clearly when PyPI cannot be reached."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        urllib.request.urlopen(f"{index}/pip/", timeout=15).close()
    except (urllib.error.URLError, OSError) as exc:
        raise DevcloudError(
            f"cannot reach the package index {index} ({exc}): check the network or proxy,"
            " then run `sparkstack devcloud install` again"
        ) from exc


def make_venv(cfg: DevcloudConfig, venv: Path | None = None) -> None:
    """Create ``venv`` (default: the server venv) unless it has a python already."""
    venv = venv or cfg.venv
    if not (venv / "bin" / "python").exists():
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        run_logged(
            [base, "-m", "venv", str(venv)],
            cfg.data_dir / "install-pip.log",
            None,
            f"could not create the virtualenv {venv} (is python3-venv installed?)",
        )


def pip_install(cfg: DevcloudConfig) -> None:
    """The pinned OpenStack packages, then the entry point of the ML2 driver."""
    log = cfg.data_dir / "install-pip.log"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [str(cfg.python), "-m", "pip", "install", "-q"]
    run_logged([*pip, "-U", "pip", "wheel", "setuptools"], log, env, "could not update pip")
    with tempfile.TemporaryDirectory(prefix="ssdc-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(constraints_text())
        run_logged(
            [*pip, "-c", str(constraints), *SERVER_PACKAGES],
            log,
            env,
            "pip could not install the OpenStack server packages",
        )
        mech = Path(tmp) / "mech"
        mech.mkdir()
        (mech / "pyproject.toml").write_text(
            render(
                "mech-pyproject.toml.j2", name=MECH_NAME, target=MECH_TARGET, version=MECH_VERSION
            )
        )
        run_logged(
            [*pip, "--no-deps", "--no-build-isolation", str(mech)],
            log,
            env,
            "could not register the ML2 mechanism driver",
        )


def pip_install_swift(cfg: DevcloudConfig) -> None:
    """Swift and what its proxy and the S3 check need, pinned by both constraints files."""
    log = cfg.data_dir / "install-pip.log"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [str(cfg.swift_venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    run_logged([*pip, "-U", "pip", "wheel"], log, env, "could not update pip in Swift's venv")
    with tempfile.TemporaryDirectory(prefix="ssdc-") as tmp:
        server_pins = Path(tmp) / "constraints.txt"
        server_pins.write_text(constraints_text())
        swift_pins = Path(tmp) / "swift-constraints.txt"
        swift_pins.write_text(swift_constraints_text())
        run_logged(
            [*pip, "-c", str(swift_pins), "-c", str(server_pins), *SWIFT_PACKAGES],
            log,
            env,
            "pip could not install Swift",
        )


def run_logged(argv: list[str], log: Path, env: dict[str, str] | None, what: str) -> None:
    """Run a command, appending its output to ``log``; on failure one line naming the cause."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        try:
            result = subprocess.run(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
            )
        except FileNotFoundError as exc:
            raise DevcloudError(f"{what}: {exc.filename} not found") from exc
        out.write(result.stdout)
    if result.returncode != 0:
        raise DevcloudError(f"{what}: {last_error_line(result.stdout)} (full log: {log})")


def last_error_line(output: str) -> str:
    """The most telling line of a failed pip/apt run: its last ERROR/E: line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR:", "E:", "error:"))]
    picked = errors[-1] if errors else (lines[-1] if lines else "no output")
    return picked[:300]


def remove_venv(cfg: DevcloudConfig) -> None:
    """Delete the server venv and Swift's (``down --purge-install``)."""
    shutil.rmtree(cfg.venv, ignore_errors=True)
    shutil.rmtree(cfg.swift_venv, ignore_errors=True)
