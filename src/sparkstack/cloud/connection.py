"""Connect to a cloud exactly as openstackclient does, and turn SDK errors into sparkstack's.

``--cloud NAME`` picks a clouds.yaml entry; without it ``OS_CLOUD`` does, and without that the
``OS_*`` variables (openstacksdk's own resolution, the one openstackclient uses).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Cloud:
    """An open connection and the name it was opened under (used for local key paths)."""

    conn: Connection
    name: str


def cloud_name(cloud: str | None) -> str:
    """The name a cloud goes by locally: the flag, else OS_CLOUD, else ``envvars``."""
    return cloud or os.environ.get("OS_CLOUD") or "envvars"


def connect(cloud: str | None = None) -> Cloud:
    """Open a connection (lazily authenticated: the first request checks the credentials)."""
    with translate_errors("reading the cloud configuration"):
        conn = openstack.connect(cloud=cloud)
    return Cloud(conn=conn, name=cloud_name(cloud))


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0].strip().rstrip(".") if lines else ""


def _http_message(exc: os_exc.HttpException) -> str:
    detail = _first_line(exc.details) or _first_line(exc.message)
    where = exc.url if isinstance(exc.url, str) else "the cloud"
    return f"{detail} ({exc.status_code} from {where})"


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
            f"{action}: the cloud rejected the credentials; check user, password and "
            "project in clouds.yaml or OS_*"
        ) from exc
    except ka_exc.ConnectionError as exc:
        raise CloudError(
            f"{action}: cannot connect to the cloud ({_first_line(exc)}); check that its API "
            "is up and reachable, then retry"
        ) from exc
    except os_exc.HttpException as exc:
        message = f"{action}: {_http_message(exc)}"
        if exc.status_code == 401:
            raise AuthError(f"{message}; check the credentials") from exc
        if exc.status_code in (403, 413) and "quota" in message.lower():
            raise QuotaError(f"{message}; free resources or ask for a larger quota") from exc
        if exc.status_code == 404:
            raise NotFoundError(message) from exc
        if exc.status_code is not None and exc.status_code >= 500:
            raise CloudError(f"{message}; the cloud failed, retry later") from exc
        raise CloudError(message) from exc
    except (os_exc.SDKException, ka_exc.ClientException) as exc:
        raise CloudError(f"{action}: {_first_line(exc)}") from exc
