"""The whole product on the devcloud's data plane: a user's shell, a real cloud, real Spark."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sparkstack import paths
from sparkstack.devcloud.spark_dist import SparkDist, build_spark_dist

#: Read before the tests point SPARKSTACK_CACHE_DIR elsewhere: the tarball build is reused.
_BUILD_CACHE = paths.cache_dir()


@dataclass
class Shell:
    """Runs ``sparkstack`` as a user would, in an environment aimed at the devcloud."""

    env: dict[str, str]

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "sparkstack", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"sparkstack {' '.join(args)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done


@pytest.fixture(scope="session")
def spark_tarball() -> SparkDist:
    return build_spark_dist(cache=_BUILD_CACHE)


@pytest.fixture(scope="module")
def shell(devcloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    if not devcloud.data_plane:
        pytest.fail("the end-to-end tests need the devcloud's data plane")
    base = tmp_path_factory.mktemp("e2e")
    env = {
        **os.environ,
        "OS_CLIENT_CONFIG_FILE": str(devcloud.clouds_yaml),
        "OS_CLOUD": devcloud.cloud,
        "SPARKSTACK_DATA_DIR": str(base / "data"),
        "SPARKSTACK_CACHE_DIR": str(base / "cache"),
        "COLUMNS": "200",
    }
    yield Shell(env)
