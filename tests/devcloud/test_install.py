"""What `devcloud install` and the SSH test hosts find missing on this machine (dpkg's view)."""

from __future__ import annotations

import importlib
import subprocess
from typing import Any

import pytest

from sparkstack.devcloud import testhosts
from sparkstack.services.prepare import JAVA_MAJOR

install = importlib.import_module("sparkstack.devcloud.install")  # the package exports a function

pytestmark = pytest.mark.unit

WANT = ("openjdk-17-jre-headless", "python3", "curl", "tini", "libfoo")


def test_missing_from_dpkg_reads_each_state() -> None:
    output = (
        "openjdk-17-jre-headless\tinstalled\n"
        "python3\tconfig-files\n"  # removed, not purged
        "curl\thalf-configured\n"
        "libfoo\tnot-installed\n"
        "libfoo\tinstalled\n"  # multi-arch: one line per architecture, one is enough
    )  # tini: dpkg never heard of it, so no line at all
    assert install.missing_from_dpkg(WANT, output) == ["python3", "curl", "tini"]
    assert install.missing_from_dpkg(WANT, "") == list(WANT)
    assert install.missing_from_dpkg(["curl", "curl"], "") == ["curl"]
    everything = "".join(f"{name}\tinstalled\n" for name in WANT)
    assert install.missing_from_dpkg(WANT, everything) == []


def test_missing_apt_packages_asks_dpkg_once_and_keeps_unknown_ones(monkeypatch: Any) -> None:
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        # what dpkg-query prints when one name is unknown: the others, and exit status 1
        return subprocess.CompletedProcess(argv, 1, "curl\tinstalled\npython3\tinstalled\n", "")

    monkeypatch.setattr(install.subprocess, "run", fake_run)
    assert install.missing_apt_packages(("curl", "nonesuch", "python3")) == ["nonesuch"]
    assert len(calls) == 1 and calls[0][:2] == ["dpkg-query", "-W"]
    assert calls[0][-3:] == ["curl", "nonesuch", "python3"]


def test_real_dpkg_query_format_and_an_unknown_package() -> None:
    """This machine's dpkg: the format string works; a name it never heard of is missing."""
    assert install.missing_apt_packages(("dpkg", "ssdc-no-such-package")) == [
        "ssdc-no-such-package"
    ]


def test_nodes_get_what_node_preparation_would_install() -> None:
    """prepare.sh.j2 installs Java and python3 on a node that lacks them; a devcloud server or
    test host cannot (no way out), so the host must carry them, for the devcloud and test hosts.
    """
    node = {f"openjdk-{JAVA_MAJOR}-jre-headless", "python3", "curl", "procps"}
    assert node <= set(install.NODE_PACKAGES)
    assert node <= set(install.APT_PACKAGES)
    assert node <= set(testhosts.PACKAGES)
    boot = {"openssh-server", "sudo", "tini", "nftables", "iproute2"}
    assert boot <= set(install.APT_PACKAGES) and boot <= set(testhosts.PACKAGES)
