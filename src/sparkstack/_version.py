"""The installed version of sparkstack (in its own module: every layer reads it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sparkstack")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
