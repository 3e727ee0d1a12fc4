#!/usr/bin/env bash
# Make the project's own virtual environment (.venv at the repo root) and install sparkstack into it
# with its development tools. Idempotent; safe to run on a fresh Debian 12 machine as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${SPARKSTACK_PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "sparkstack needs Python 3.11 or newer as '$PY' (set SPARKSTACK_PYTHON)" >&2
  exit 1
fi
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip 2>/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
  | grep -v -i -E 'warning|^\s*$' || true
.venv/bin/sparkstack --version
