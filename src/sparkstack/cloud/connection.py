"""Connect to a cloud exactly as openstackclient does, and turn SDK errors into sparkstack's.

``--cloud NAME`` picks a clouds.yaml entry; without it ``OS_CLOUD`` does, and without that the
``OS_*`` variables (openstacksdk's own resolution, the one openstackclient uses).

A cloud is known locally by its identity (auth URL and project id), not by the name the client
used: ``--cloud devcloud`` and the same credentials in ``OS_*`` variables reach the same
cluster files (key, known_hosts).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

import openstack
from keystoneauth1 import exceptions as ka_exc
from openstack import exceptions as os_exc
from openstack.connection import Connection

from sparkstack.errors import (
    AuthError,
    CloudError,
    NotFoundError,
    QuotaError,
    SparkstackError,
    UsageError,
)

#: Seconds one API request may take before it counts as failed (a hung API must not hang us).
API_TIMEOUT = 60


@dataclass(frozen=True)
class Cloud:
    """An open connection and the name it was opened under (for messages)."""

    conn: Connection
    name: str

    @cached_property
    def project_id(self) -> str:
        """The project of the credentials (authenticates on first use)."""
        with translate_errors("authenticating"):
            self.conn.authorize()
            return str(self.conn.current_project_id)

    @cached_property
    def identity(self) -> str:
        """A short stable key for this cloud and project: where local cluster files live."""
        auth = self.conn.config.get_auth_args() or {}
        return cloud_identity(str(auth.get("auth_url") or ""), self.project_id)


def cloud_identity(auth_url: str, project_id: str) -> str:
    """``<host>-<hash>``: the same for every spelling of the same auth URL and project."""
    parts = urlsplit(auth_url.strip())
    host = (parts.hostname or "cloud").lower()
    path = parts.path.rstrip("/").removesuffix("/v3").removesuffix("/v2.0").rstrip("/")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    key = f"{parts.scheme.lower()}://{host}:{port}{path}|{project_id}"
    return f"{host}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def cloud_name(cloud: str | None) -> str:
    """The name a cloud goes by in messages: the flag, else OS_CLOUD, else ``envvars``."""
    return cloud or os.environ.get("OS_CLOUD") or "envvars"


def connect(cloud: str | None = None) -> Cloud:
    """Open a connection (lazily authenticated: the first request checks the credentials)."""
    with translate_errors("reading the cloud configuration"):
        conn = openstack.connect(cloud=cloud, api_timeout=API_TIMEOUT)
    return Cloud(conn=conn, name=cloud_name(cloud))


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0].strip().rstrip(".") if lines else ""


def _service_of(url: object) -> str:
    """Which API answered, for the message: its host:port, without paths or query strings."""
    if not isinstance(url, str):
        return "the cloud"
    parts = urlsplit(url)
    return parts.netloc or "the cloud"


def _http_error(action: str, exc: os_exc.HttpException) -> CloudError:
    detail = _first_line(exc.details) or _first_line(exc.message)
    status = exc.status_code
    request = getattr(exc, "request_id", None)
    where = f"{status} from {_service_of(exc.url)}" + (f", request {request}" if request else "")
    message = f"{action}: {detail} ({where})"
    kind: type[CloudError] = CloudError
    if status == 401:
        kind, message = AuthError, f"{message}; check the credentials"
    elif status in (403, 413) and "quota" in message.lower():
        kind, message = QuotaError, f"{message}; free resources or ask for a larger quota"
    elif status == 404:
        kind = NotFoundError
    elif status is not None and status >= 500:
        message = f"{message}; the cloud failed, retry later"
    return kind(message, status_code=status, request_id=request)


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Re-raise openstacksdk and keystoneauth errors as one-line sparkstack errors."""
    try:
        yield
    except SparkstackError:
        raise
    except os_exc.ConfigException as exc:
        raise UsageError(
            f"{action}: {_first_line(exc)}; pass --cloud NAME (an entry of clouds.yaml, see "
            "OS_CLIENT_CONFIG_FILE) or set OS_CLOUD or the OS_* variables"
        ) from exc
    except (ka_exc.MissingRequiredOptions, ka_exc.MissingAuthPlugin) as exc:
        raise AuthError(
            f"{action}: no usable credentials ({_first_line(exc)}); pass --cloud NAME or "
            "source your openrc"
        ) from exc
    except ka_exc.Unauthorized as exc:
        raise AuthError(
            f"{action}: the cloud rejected the credentials (or the token expired); check "
            "user, password and project in clouds.yaml or OS_*",
            status_code=401,
        ) from exc
    except ka_exc.ConnectionError as exc:  # refused, unreachable, or no answer in API_TIMEOUT
        raise CloudError(
            f"{action}: cannot connect to the cloud ({_first_line(exc)}); check that its API "
            "is up and reachable, then retry"
        ) from exc
    except os_exc.HttpException as exc:
        raise _http_error(action, exc) from exc
    except (os_exc.SDKException, ka_exc.ClientException) as exc:
        raise CloudError(f"{action}: {_first_line(exc) or type(exc).__name__}") from exc
