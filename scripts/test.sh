#!/usr/bin/env bash
# The whole test suite: installs what it needs (venv, devcloud, apt packages, Spark test tarball),
# then runs pytest. Fixtures start the devcloud and SSH test hosts and stop what they started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
