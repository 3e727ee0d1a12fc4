"""Per-cluster SSH keys: an ed25519 key pair generated for each cluster and kept locally.

The private key is the one thing about a cluster that cannot live in the cloud, so it sits in
``paths.cluster_dir(identity, cluster)`` with mode 0600.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sparkstack import paths
from sparkstack.errors import UsageError

PRIVATE_KEY_NAME = "id_ed25519"


def cluster_key_path(identity: str, cluster: str) -> Path:
    """Where the generated private key of ``cluster`` lives (it may not exist yet)."""
    return paths.cluster_path(identity, cluster) / PRIVATE_KEY_NAME


def ensure_cluster_key(identity: str, cluster: str) -> str:
    """Return the cluster's OpenSSH public key line, generating the key pair on first use."""
    private = paths.cluster_dir(identity, cluster) / PRIVATE_KEY_NAME
    public = private.with_suffix(".pub")
    if private.exists() and public.exists():
        return public.read_text().strip()
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(private, 0o600)
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    text = f"{line.decode()} sparkstack-{cluster}"
    public.write_text(text + "\n")
    return text


def read_public_key(file: Path) -> str:
    """The first key line of a public key file, checked to be an OpenSSH public key."""
    try:
        text = file.expanduser().read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read public key {file}: {exc}") from exc
    line = text.splitlines()[0] if text else ""
    try:
        serialization.load_ssh_public_key(line.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError(
            f"{file} is not an OpenSSH public key; pass the .pub file (ssh-ed25519 AAAA...)"
        ) from exc
    return line


def forget_cluster(identity: str, cluster: str) -> None:
    """Remove the cluster's local directory (key, known_hosts) once its servers are gone."""
    shutil.rmtree(paths.cluster_path(identity, cluster), ignore_errors=True)
