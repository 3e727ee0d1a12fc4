"""The README's cluster files and its flavor-only example are valid as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", README.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("index", range(len(yaml_blocks())))
def test_readme_cluster_files_load(index: int, tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text(yaml_blocks()[index])
    spec = load_spec(file)
    assert spec.groups and spec.count(next(iter(spec.groups["master"].roles))) >= 1


def test_readme_has_a_node_group_file() -> None:
    assert any("groups:" in block for block in yaml_blocks())


def test_readme_flavor_only_launch_passes_validation() -> None:
    """The README's own example, up to the first network call (the cloud does not exist)."""
    done = subprocess.run(
        [sys.executable, "-m", "sparkstack", "launch", "mycluster", "--cloud", "nosuchcloud",
         "--image", "ubuntu-24.04", "--workers", "4", "--master-flavor", "m1.large",
         "--worker-flavor", "m1.xlarge"],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "OS_CLIENT_CONFIG_FILE": "/dev/null"},
    )  # fmt: skip
    assert done.returncode != 0  # there is no such cloud...
    assert "Field required" not in done.stderr and "masters" not in done.stderr  # ...but valid
    assert "nosuchcloud" in done.stderr
