#!/usr/bin/env bash
# The whole test suite: installs what it needs (venv, devcloud, apt packages, Spark test tarball),
# then runs pytest. Fixtures start the devcloud and SSH test hosts and stop what they started.
#
# Without arguments the suite runs as lanes at once on one devcloud (scripts/lanes.py says which
# and why); each lane's output is printed when it ends and kept in .lanes/. With arguments, one
# pytest run gets them (pick tests as with pytest itself).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python scripts/lanes.py
