"""Where sparkstack keeps its local files: per-cluster keys and known_hosts, caches.

Nothing here is cluster *state*: a cluster is always read back from the cloud (and from its own
masters). These are only what cannot live in the cloud: the cluster's private key and the host
keys pinned on first contact. They are filed under the cloud's identity (auth URL and project),
so every way of giving the same credentials finds them. ``SPARKSTACK_DATA_DIR`` overrides the
base.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

from sparkstack import validation

_IDENTITY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def data_dir() -> Path:
    """Base directory for keys and known_hosts (``SPARKSTACK_DATA_DIR`` or the user data dir)."""
    override = os.environ.get("SPARKSTACK_DATA_DIR")
    return Path(override) if override else Path(user_data_dir("sparkstack"))


def cache_dir() -> Path:
    """Downloads shared by all clusters, e.g. Spark tarballs (``SPARKSTACK_CACHE_DIR``)."""
    override = os.environ.get("SPARKSTACK_CACHE_DIR")
    return Path(override) if override else Path(user_cache_dir("sparkstack"))


def cluster_path(identity: str, cluster: str) -> Path:
    """The private directory of one cluster (not created). Both parts are checked: a path is
    never built from an unchecked name (``..`` or ``""`` would reach other clusters' keys)."""
    if not _IDENTITY.match(identity) or identity in (".", ".."):
        raise ValueError(f"cloud identity {identity!r} is not a plain name")
    return data_dir() / "clusters" / identity / validation.cluster_name(cluster)


def cluster_dir(identity: str, cluster: str) -> Path:
    """:func:`cluster_path`, created with mode 0700."""
    path = cluster_path(identity, cluster)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
