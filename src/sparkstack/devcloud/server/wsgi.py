"""gunicorn entry point for every OpenStack API: ``gunicorn ssdc.wsgi:application``.

``SSDC_WSGI_APP`` names the module whose ``application`` to serve (e.g. ``keystone.wsgi.api``).
keystone, neutron and others parse ``sys.argv`` with oslo.config when imported and fail on
gunicorn's own options ("unrecognized arguments"), so the import sees only the program name.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    application: Any = importlib.import_module(os.environ["SSDC_WSGI_APP"]).application
finally:
    sys.argv = _argv
