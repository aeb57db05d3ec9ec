#!/usr/bin/env bash
# The reliability suite: load, faults, bad input and leaks against a real `unity-ai serve`, a throwaway PostgreSQL on
# 127.0.0.1 and local fake upstreams (docs/reliability.md). Prints one summary line per part and a last line
# "N passed, N failed"; exits non-zero on any failure. Everything it starts is stopped on exit.
#
# Usage: deploy/reliability.sh [--quick] [--parts load,faults,bad-input,leaks] [--rate N] [--seed N] [--cases N]
#                              [--leak-requests N] [--idle-limit S] [--keep]
#   --quick   about 3-4 minutes (CI): 15 s steady load, 300 fuzz cases per endpoint, 30,000 requests for leaks
#   --keep    keep the work directory (logs, results.json, reliability-report.md); it is always kept on failure
# Environment: UNITY_AI_BINARY (default .build/release/unity-ai if built, else .build/debug/unity-ai, built if missing)
set -euo pipefail

# One function, parsed whole before it runs: editing this file during a run cannot change the run.
main() {
  local script
  script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
  cd "$(dirname "$0")/.."
  source deploy/lib.sh

  keep=0
  args=()
  for a in "$@"; do
    case "$a" in
      --keep) keep=1 ;;
      -h|--help) sed -n '2,10p' "$script"; exit 0 ;;
      *) args+=("$a") ;;
    esac
  done

  binary="${UNITY_AI_BINARY:-}"
  if [ -z "$binary" ]; then
    if [ -x .build/release/unity-ai ]; then binary=.build/release/unity-ai
    elif [ -x .build/debug/unity-ai ]; then binary=.build/debug/unity-ai
    else
      require_swift
      require_openblas
      swift build --product unity-ai >&2
      binary=.build/debug/unity-ai
    fi
  fi
  binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

  pg_bin=$(deploy/install-postgres.sh | tail -n 1)

  if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing wrk ..." >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
    else
      echo "wrk is missing: install it (sudo apt-get install wrk) and retry." >&2
      exit 1
    fi
  fi

  python=python3
  if ! python3 -c "import hypothesis" 2>/dev/null; then
    venv="$(tools_directory)/reliability-venv"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import hypothesis" 2>/dev/null; then
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check 'hypothesis>=6.100' >&2
    fi
    python="$venv/bin/python"
  fi

  work=$(mktemp -d /tmp/unity-ai-reliability.XXXXXX)
  chmod 755 "$work"
  pg_user=$(postgres_user)
  export RELIABILITY_PIDFILE="$work/pids"
  export HYPOTHESIS_STORAGE_DIRECTORY="$work/hypothesis"  # not .hypothesis/ in the checkout
  export RELIABILITY_COMMAND="${UNITY_AI_BINARY:+UNITY_AI_BINARY=$UNITY_AI_BINARY }deploy/reliability.sh${*:+ $*}"
  : > "$RELIABILITY_PIDFILE"
  status=1
  cleanup() {
    # the driver stops everything itself; this is for a driver that was killed: only the process groups it started
    while read -r pgid; do
      [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
    done < "$RELIABILITY_PIDFILE"
    if [ -f "$work/pgdata/postmaster.pid" ]; then
      if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$pg_bin/pg_ctl" -D "$work/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
      else "$pg_bin/pg_ctl" -D "$work/pgdata" -m immediate -w stop >/dev/null 2>&1 || true; fi
    fi
    if [ "$status" = 0 ] && [ "$keep" = 0 ]; then rm -rf "$work"; else echo "Work directory kept: $work" >&2; fi
  }
  trap cleanup EXIT
  # the driver runs in the background so that a signal reaches this script at once: it is passed on to the driver,
  # which stops what it started and prints its summary
  driver=
  trap '[ -n "$driver" ] && kill -TERM "$driver" 2>/dev/null' INT TERM

  set +e
  "$python" Tests/Reliability/suite.py --binary "$binary" --pg-bin "$pg_bin" --pg-user "$pg_user" --work "$work" \
    "${args[@]}" &
  driver=$!
  while :; do
    wait "$driver"
    status=$?
    kill -0 "$driver" 2>/dev/null || break  # wait returned for a trapped signal: the driver is still stopping
  done
  set -e
  exit "$status"
}

main "$@"
