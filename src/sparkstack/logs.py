"""``--debug`` and ``--log-file``: what sparkstack does, told in full, with the secrets cut out.

The log has openstacksdk's and keystoneauth's request lines and every command sparkstack runs
over SSH. Tokens, passwords and the secrets sparkstack makes are replaced by ``<redacted>``
before any line is written: auth headers and JSON password/token fields by pattern, the
cluster's own secrets by value (they are registered with :func:`redact` as they are read).
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

_SECRETS: set[str] = set()
#: Headers and fields that carry credentials in openstacksdk/keystoneauth debug output.
_PATTERNS = [
    re.compile(r"(?i)(x-auth-token|x-subject-token|x-service-token|authorization)(\s*[:=]\s*)\S+"),
    re.compile(r'(?i)("(?:password|secret|token|id_token|credential|access)"\s*:\s*)"[^"]*"'),
    re.compile(r"(?i)(password|secret)(=)\S+"),
]
REDACTED = "<redacted>"


def redact(secret: str) -> None:
    """Never write ``secret`` to a log (for values known only at run time)."""
    if len(secret) >= 8:
        _SECRETS.add(secret)


def scrub(text: str) -> str:
    """``text`` with every known secret and credential pattern replaced."""
    for secret in _SECRETS:
        text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _PATTERNS[1].sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


class _Scrubbed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup(debug: bool, log_file: Path | None) -> None:
    """Send sparkstack's, openstacksdk's and keystoneauth's debug logs to stderr (``debug``)
    and/or ``log_file``; without either, nothing is logged."""
    handlers: list[logging.Handler] = []
    if debug:
        handlers.append(logging.StreamHandler(sys.stderr))
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    if not handlers:
        return
    formatter = _Scrubbed("%(asctime)s %(name)s %(levelname)s %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
    for name in ("sparkstack", "openstack", "keystoneauth"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        for handler in handlers:
            logger.addHandler(handler)
        logger.propagate = False
