"""One exception hierarchy for the whole library.

Every message is one line that says what went wrong and what to do about it; the CLI prints
``error: <message>`` and exits with the class's ``exit_code``.
"""

from __future__ import annotations


class SparkstackError(Exception):
    """Base of every error sparkstack raises on purpose."""

    exit_code = 1


class UsageError(SparkstackError):
    """The user asked for something that cannot be: a bad flag, value or cluster file."""

    exit_code = 2


class SpecError(UsageError):
    """The cluster file or flags do not describe a valid cluster."""


class CloudError(SparkstackError):
    """An OpenStack API call failed."""

    exit_code = 3


class AuthError(CloudError):
    """Credentials are missing or rejected."""


class NotFoundError(CloudError):
    """A named cloud resource (image, flavor, network, cluster...) does not exist."""


class QuotaError(CloudError):
    """The project's quota has no room for what was asked."""


class PreflightError(CloudError):
    """One or more checks failed before anything was created."""


class ServerFaultError(CloudError):
    """A server went to ERROR; the message carries nova's fault."""


class CloudTimeoutError(CloudError):
    """Resources did not reach the wanted state in time."""


class NodeError(SparkstackError):
    """A node could not be reached or a command on it failed."""

    exit_code = 4


class ServiceError(SparkstackError):
    """A service (Spark, HDFS, ZooKeeper) failed to install, start or become healthy."""

    exit_code = 5


class DevcloudError(SparkstackError):
    """The development cloud could not be installed, started or stopped."""

    exit_code = 6


class Interrupted(SparkstackError):
    """The user pressed Ctrl-C; whatever was being created has been rolled back."""

    exit_code = 130
