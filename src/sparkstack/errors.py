"""One exception hierarchy for the whole library.

Every message is one line that says what went wrong and what to do about it; the CLI prints
``error: <message>`` and exits with the class's ``exit_code``. Errors keep their structure for
library users: a preflight failure carries its list of problems, a cloud error the HTTP status
and request id, and every translated error chains the exception that caused it.
"""

from __future__ import annotations

from collections.abc import Sequence


class SparkstackError(Exception):
    """Base of every error sparkstack raises on purpose."""

    exit_code = 1


class UsageError(SparkstackError):
    """The user asked for something that cannot be: a bad flag, value or cluster file."""

    exit_code = 2


class SpecError(UsageError):
    """The cluster file or flags do not describe a valid cluster."""


class CloudError(SparkstackError):
    """An OpenStack API call failed; ``status_code`` and ``request_id`` when the cloud answered."""

    exit_code = 3

    def __init__(
        self, message: str, *, status_code: int | None = None, request_id: str | None = None
    ):
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


class AuthError(CloudError):
    """Credentials are missing or rejected."""


class NotFoundError(CloudError):
    """A named cloud resource (image, flavor, network, cluster...) does not exist."""


class QuotaError(CloudError):
    """The project's quota has no room for what was asked."""


class PreflightError(CloudError):
    """One or more checks failed before anything was created; ``problems`` lists them."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class QuotaPreflightError(PreflightError, QuotaError):
    """Preflight found only quota problems."""


class ServerFaultError(CloudError):
    """A server went to ERROR; the message carries nova's fault."""


class CloudTimeoutError(CloudError):
    """Resources did not reach the wanted state in time."""


class NodeError(SparkstackError):
    """A node could not be reached or a command on it failed."""

    exit_code = 4


class HostKeyError(NodeError):
    """A node's SSH host key cannot be verified (console shows none, or it differs)."""


class ServiceError(SparkstackError):
    """A service (Spark, HDFS, ZooKeeper) failed to install, start or become healthy."""

    exit_code = 5


class ArtifactError(ServiceError):
    """A service's software (a tarball) cannot be found, fetched or verified."""


class DevcloudError(SparkstackError):
    """The development cloud could not be installed, started or stopped."""

    exit_code = 6


class Interrupted(SparkstackError):
    """The user pressed Ctrl-C; the message says what was rolled back or what is left."""

    exit_code = 130
