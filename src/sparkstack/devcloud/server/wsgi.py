"""gunicorn entry point for every OpenStack API: ``gunicorn ssdc.wsgi:application``.

``SSDC_WSGI_APP`` names the module whose ``application`` to serve (e.g. ``keystone.wsgi.api``).
keystone, neutron and others parse ``sys.argv`` with oslo.config when imported and fail on
gunicorn's own options ("unrecognized arguments"), so the import sees only the program name.

With ``SSDC_CHANGES_FILE`` (neutron's), every request that may write (not GET, HEAD, OPTIONS)
appends one byte to that file once it is answered: the data plane's reconciler lists neutron
when the file grew, instead of polling it every second.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

_READS = frozenset({"GET", "HEAD", "OPTIONS"})

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def signalling_writes(app: App, changes: str) -> App:
    """``app``, telling ``changes`` (by its size) that a request may have changed something."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        finally:
            if environ.get("REQUEST_METHOD", "GET") not in _READS:
                with open(changes, "ab") as signal:  # O_APPEND: one byte per write, any thread
                    signal.write(b".")

    return wrapped


def _load(module: str) -> Any:
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        app = importlib.import_module(module).application
    finally:
        sys.argv = argv
    changes = os.environ.get("SSDC_CHANGES_FILE")
    return signalling_writes(app, changes) if changes else app


#: What gunicorn serves (None when imported without SSDC_WSGI_APP, e.g. by a test).
application: Any = _load(os.environ["SSDC_WSGI_APP"]) if "SSDC_WSGI_APP" in os.environ else None
