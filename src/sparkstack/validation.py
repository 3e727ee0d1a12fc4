"""Rules for every value that comes from a user, a file or the cloud, in one place.

Each check returns the value (normalised) or raises ``ValueError`` with a message that says what
would be valid; the spec uses them as pydantic validators, the API calls them on arguments before
any network call (:func:`cluster_name`), and the cloud layer on what the cloud returns.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

from sparkstack.errors import UsageError

CLUSTER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
#: ``<cluster>-<group>-<index>``.
SERVER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}-[a-z][a-z0-9-]{0,15}-[0-9]{1,6}$")
GROUP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
#: POSIX portable user names, as useradd accepts them (no leading '-', at most 32).
POSIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SHELL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SPARK_CONF_KEY = re.compile(r"^spark\.[A-Za-z0-9_.-]+$")
HADOOP_CONF_KEY = re.compile(r"^[a-z][A-Za-z0-9_.-]{0,200}$")
NODE_DIR = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
#: Release numbers as Apache publishes them: 4.3.0, 3.5.1, 4.0.0-preview2.
VERSION = re.compile(r"^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(-[A-Za-z0-9]{1,20})?$")
HADOOP_PROFILE = re.compile(r"^[0-9]{1,2}(-scala[0-9]\.[0-9]{1,2})?$")
SHA512 = re.compile(r"^[0-9a-f]{128}$")
METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
#: Nova's limit on a metadata value (and on a key).
METADATA_MAX = 255
#: C0 and C1 control characters and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: What a tarball may be called: its name becomes part of paths on the nodes.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")


def no_control(value: str, what: str = "value") -> str:
    """Refuse newlines, NUL and other control characters (tabs, NEL, U+2028 too): they split
    lines, in files on the nodes, in logs and in error lines, or steer a terminal."""
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not contain newlines or control characters")
    return value


def _matches(pattern: re.Pattern[str], value: str, rule: str) -> str:
    if not pattern.match(value):
        raise ValueError(rule)
    return value


def cluster_name(value: str) -> str:
    return _matches(
        CLUSTER_NAME,
        value,
        "a cluster name starts with a lowercase letter and holds only a-z, 0-9 and '-' "
        "(at most 40)",
    )


def group_name(value: str) -> str:
    return _matches(
        GROUP_NAME,
        value,
        "a group name starts with a lowercase letter and holds only a-z, 0-9 and '-' (at most 16)",
    )


def posix_user(value: str) -> str:
    return _matches(
        POSIX_USER, value, "a user name holds a-z, 0-9, '_' and '-', starts with a letter or '_'"
    )


def shell_identifier(value: str) -> str:
    return _matches(
        SHELL_IDENTIFIER, value, "an environment variable name holds A-Z, a-z, 0-9 and '_'"
    )


def spark_conf_key(value: str) -> str:
    return _matches(
        SPARK_CONF_KEY, value, "a Spark property starts with 'spark.' and holds A-Z, 0-9, '.-_'"
    )


def hadoop_conf_key(value: str) -> str:
    return _matches(
        HADOOP_CONF_KEY, value, "a Hadoop property looks like dfs.blocksize (A-Z, 0-9, '.-_')"
    )


def node_dir(value: str) -> str:
    """An absolute directory on the nodes made of plain names (it goes into configs and
    commands)."""
    _matches(NODE_DIR, value, "an absolute path of plain names such as /srv/hdfs")
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError("'.' and '..' are not allowed in the path")
    return value


def version(value: str) -> str:
    return _matches(VERSION, value, "a release number looks like 4.3.0")


def hadoop_profile(value: str) -> str:
    return _matches(HADOOP_PROFILE, value, "a Hadoop profile looks like 3 or 3-scala2.13")


def sha512(value: str) -> str:
    lowered = value.strip().lower()
    return _matches(SHA512, lowered, "a SHA-512 is 128 hexadecimal characters")


def tarball_name(value: str) -> str:
    return _matches(
        FILE_NAME,
        value,
        "a tarball's file name holds only A-Z, 0-9 and '._+-' (like spark-4.3.0-bin-hadoop3.tgz)",
    )


def cloud_text(value: str) -> str:
    """A name or id the cloud will look up (image, flavor, network...): one printable line."""
    if not value or len(value) > 255:
        raise ValueError("must be 1 to 255 characters")
    return no_control(value)


def metadata_value(value: str) -> str:
    if len(value) > METADATA_MAX:
        raise ValueError(f"at most {METADATA_MAX} characters (nova's limit)")
    return no_control(value)


def metadata_key(value: str) -> str:
    if value.startswith("sparkstack_"):
        raise ValueError("keys starting with sparkstack_ are sparkstack's own")
    return _matches(METADATA_KEY, value, "a metadata key holds A-Z, 0-9 and '_.:-' (at most 255)")


def url(value: str) -> str:
    """An http(s) URL of one line."""
    no_control(value, "a URL")
    if len(value) > 2048 or " " in value:
        raise ValueError("must be one http(s) URL without spaces (at most 2048 characters)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_OBJECT_PREFIX = re.compile(r"^[A-Za-z0-9._/-]{0,512}$")


def s3a_url(value: str) -> str:
    """``s3a://container[/prefix]``: an S3 bucket name (3-63 of a-z, 0-9, '.', '-') and a
    prefix of plain names; it goes into Spark's configuration and into commands."""
    no_control(value, "an s3a URL")
    parts = urlsplit(value)
    prefix = parts.path.strip("/")
    if parts.scheme != "s3a" or not _BUCKET.match(parts.netloc) or parts.query or parts.fragment:
        raise ValueError("must be s3a://container/prefix (container: 3-63 of a-z, 0-9, '.', '-')")
    if not _OBJECT_PREFIX.match(prefix) or any(p in (".", "..") for p in prefix.split("/")):
        raise ValueError("the prefix must be plain names (A-Z, a-z, 0-9, '._-') separated by '/'")
    return f"s3a://{parts.netloc}/{prefix}".rstrip("/")


def cidr(value: str) -> str:
    """An IPv4 or IPv6 network; host bits are cleared (198.51.100.7/24 -> 198.51.100.0/24)."""
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError("must be a network such as 198.51.100.0/24 or 2001:db8::/32") from None


def ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("must be an IP address such as 198.51.100.7") from None


def port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("a port is between 1 and 65535")
    return value


def local_path(value: Path) -> Path:
    """A local path of one line, with ``~`` expanded."""
    no_control(str(value), "a path")
    return value.expanduser()


def existing_file(value: Path) -> Path:
    """A local file that exists and can be read."""
    path = local_path(value)
    if not path.is_file():
        raise ValueError(f"no file {path}")
    return path


def remote_path(value: str) -> str:
    """A path on the nodes, as scp and the shell will get it (quoted by the caller)."""
    no_control(value, "a remote path")
    if not value:
        raise ValueError("the remote path is empty")
    if value == "~" or value.startswith("~/"):  # quoted, ~ would not expand: go relative to home
        value = value[2:] or "."
    # a leading '-' would be read as an option by the remote scp
    return f"./{value}" if value.startswith("-") else value


#: Swift's limits (bytes of UTF-8): a container name, an object name.
CONTAINER_MAX = 256
OBJECT_MAX = 1024
BYTE_SIZE = re.compile(r"^([0-9]+)\s*([KMGT]i?B?|B)?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def container_name(value: str) -> str:
    """A Swift container: 1 to 256 bytes, no '/' and no control characters."""
    if not value or len(value.encode()) > CONTAINER_MAX:
        raise ValueError(f"a container name is 1 to {CONTAINER_MAX} bytes")
    if "/" in value:
        raise ValueError("a container name has no '/'")
    return no_control(value, "a container name")


def object_name(value: str) -> str:
    """A Swift object name: 1 to 1024 bytes, no control characters."""
    if not value or len(value.encode()) > OBJECT_MAX:
        raise ValueError(f"an object name is 1 to {OBJECT_MAX} bytes")
    return no_control(value, "an object name")


def byte_size(value: str) -> int:
    """``1GiB``, ``64M``, ``5000000``: a positive number of bytes (K, M, G, T are powers of 2)."""
    found = BYTE_SIZE.match(value.strip())
    if not found or int(found.group(1)) == 0:
        raise ValueError("a size is a positive number of bytes, or one with K, M, G or T (64MiB)")
    return int(found.group(1)) * _UNITS[(found.group(2) or "")[:1].lower()]


#: ``8h``, ``90m``, ``1d12h``: one to four parts, largest unit first.
DURATION = re.compile(r"^(?:(\d{1,5})d)?(?:(\d{1,5})h)?(?:(\d{1,5})m)?(?:(\d{1,5})s)?$")
DURATION_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
#: Scheduled deletion: sooner than a minute is a typo; later than 30 days is not "scheduled".
MIN_DURATION, MAX_DURATION = 60, 30 * 86400


def duration_seconds(value: str) -> int:
    """Seconds in a duration such as ``8h`` or ``1h30m``, between 1 minute and 30 days."""
    match = DURATION.match(value) if value else None
    if not match or not any(match.groups()):
        raise ValueError("give a duration such as 90m, 8h, 2d or 1h30m")
    parts = zip(match.groups(), DURATION_UNITS, strict=True)
    seconds = sum(int(n or 0) * size for n, (_, size) in parts)
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        raise ValueError("give a duration between 1m and 30d")
    return seconds


def duration(value: str) -> str:
    """A duration, checked and written the one way (``90m`` becomes ``1h30m``)."""
    left, parts = duration_seconds(value), []
    for unit, size in DURATION_UNITS:
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts)


def check_cluster_name(value: str) -> str:
    """:func:`cluster_name` for a verb's argument: a UsageError naming the bad value."""
    try:
        return cluster_name(value)
    except ValueError as exc:
        raise UsageError(f"cluster name {shown(value)}: {exc}") from None


def shown(value: object, limit: int = 60) -> str:
    """A value as it may appear in an error line: repr'd (no raw control characters), cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"
