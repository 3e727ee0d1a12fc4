#!/usr/bin/env bash
# The demo: install everything, start the development cloud, launch a Spark cluster of one master
# and two workers on it, submit a PySpark job and print its result. Safe to run again: an existing
# demo cluster is reused (and re-configured), a running devcloud is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >/dev/null
ss=.venv/bin/sparkstack

$ss devcloud install
$ss devcloud up
eval "$($ss devcloud env)"

# The devcloud has no way out to Apache's download site: Spark comes from the PyPI pyspark sdist,
# assembled once into an Apache-layout tarball (cached).
tarball=$(.venv/bin/python -m sparkstack.devcloud.spark_dist)

if $ss describe demo >/dev/null 2>&1; then
  echo "demo cluster exists: re-configuring it"
  $ss configure demo --spark-tarball "$tarball"
else
  $ss launch demo --masters 1 --workers 2 --spark-tarball "$tarball"
fi
$ss describe demo
$ss submit demo examples/pi.py -- 12

cat <<EOT

The demo cluster is running on the development cloud. Next:
  eval "\$($ss devcloud env)"
  $ss ui demo                    # Spark master UI through an SSH tunnel (Ctrl-C closes it)
  $ss login demo                 # a shell on the master
  $ss destroy demo --yes         # remove the cluster and everything it made
  $ss devcloud down              # stop the development cloud
EOT
