"""Where sparkstack keeps its local files: per-cluster keys and known_hosts, caches.

Nothing here is cluster *state*: a cluster is always read back from the cloud. These are only
secrets and caches that cannot live in the cloud. ``SPARKSTACK_DATA_DIR`` overrides the base.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir


def data_dir() -> Path:
    """Base directory for keys and known_hosts (``SPARKSTACK_DATA_DIR`` or the user data dir)."""
    override = os.environ.get("SPARKSTACK_DATA_DIR")
    return Path(override) if override else Path(user_data_dir("sparkstack"))


def cache_dir() -> Path:
    """Downloads shared by all clusters, e.g. Spark tarballs (``SPARKSTACK_CACHE_DIR``)."""
    override = os.environ.get("SPARKSTACK_CACHE_DIR")
    return Path(override) if override else Path(user_cache_dir("sparkstack"))


def cluster_dir(cloud: str, cluster: str) -> Path:
    """Private directory of one cluster, created with mode 0700."""
    path = data_dir() / "clusters" / cloud / cluster
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
