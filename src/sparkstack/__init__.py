"""sparkstack: launch, run and tear down Apache Spark clusters on OpenStack clouds.

The public library API lives in :mod:`sparkstack.api`; the command line in :mod:`sparkstack.cli`
is a thin layer over it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sparkstack")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
