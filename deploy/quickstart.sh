#!/usr/bin/env bash
# From a fresh clone to a serving appliance: installs what is missing, builds, starts the server on its embedded
# PostgreSQL, ingests ./ingest, asks a sample question and keeps serving on :8000 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

require_swift
if ! command -v curl >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi
require_openblas
require_libarchive
require_pdftotext
export UNITY_AI_PG_BIN="${UNITY_AI_PG_BIN:-$(deploy/install-postgres.sh | tail -n 1)}"
# The native embedder (all-MiniLM-L6-v2): once its model is installed, the default embedding model (`auto`) is
# `minilm` for every command on this machine; without it, the built-in hashing embedder.
if deploy/install-model.sh >/dev/null; then
  echo "Embedding model: ${UNITY_AI_EMBEDDING_MODEL:-auto (minilm)}"
else
  echo "The MiniLM model could not be installed; embedding with the built-in hashing embedder (local)." >&2
fi

echo "Building unity-ai (release) ..."
swift build -c release --product unity-ai
bin="$PWD/.build/release/unity-ai"
export UNITY_AI_DATA_DIR="${UNITY_AI_DATA_DIR:-$PWD/.unity-ai}"
port="${UNITY_AI_PORT:-8000}"
url="http://127.0.0.1:$port"

if curl -fsS "$url/health" >/dev/null 2>&1; then
  echo "Something already answers on $url: stop it or set UNITY_AI_PORT." >&2
  exit 1
fi

"$bin" serve --port "$port" &
server=$!
stop() { kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null; }
trap 'echo; echo "Stopping ..."; stop; exit 0' INT TERM
trap 'stop' EXIT

for _ in $(seq 1 120); do
  curl -fsS "$url/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "The server exited during start-up (see above)." >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$url/ready" >/dev/null || { echo "The server did not become ready in 60 s." >&2; exit 1; }

echo
"$bin" ingest ingest
question="What is the response time for a SEV1 incident?"
echo
echo "Q: $question"
"$bin" ask "$question"
echo
echo "The same over HTTP:"
curl -fsS -X POST "$url/api/rag/ask" -H 'content-type: application/json' \
  -d "{\"question\": \"$question\", \"top_k\": 5}"
echo
echo
echo "unity-ai is serving on $url (data in $UNITY_AI_DATA_DIR). Press Ctrl-C to stop it and its PostgreSQL."
wait "$server"
