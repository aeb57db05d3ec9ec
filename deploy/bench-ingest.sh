#!/usr/bin/env bash
# Ingest throughput, each against its ceiling in the same run (docs/benchmarks.md, "Ingest pipeline"):
#  1. with a fake OpenAI-compatible embeddings endpoint (deploy/fake_embeddings.py) that takes LATENCY_MS per batch
#     whatever its size: chunks embedded per second against the ceiling batch × in-flight ÷ latency, over the whole
#     run and over the pipeline alone (less the summary's index_seconds, the index build after a first ingest);
#  2. with the built-in minilm (when deploy/install-model.sh has installed it): against `unity-ai embed`'s raw rate
#     on the same texts (those the first run's endpoint received for the first MINILM_FILES files), both measured
#     as the wall-clock time of N texts minus that of one, so process start and model loading cancel out.
# Needs a PostgreSQL with pgvector: DATABASE_URL or UNITY_AI_TEST_DATABASE_URL (a fresh database is created and
# dropped per run). UNITY_AI_BIN picks a built binary (default: a release build of unity-ai).
# BENCH_SKIP_MINILM=1 skips the second part; BENCH_WRITE_CONCURRENCY sets the first run's --write-concurrency. BENCH_PG_DATA (the server's data directory, when it runs on this machine)
# adds the CPU seconds PostgreSQL spent during the first run (its postmaster's own and its reaped children's).
# Usage: deploy/bench-ingest.sh [FILES] [BATCH] [IN_FLIGHT] [LATENCY_MS] [MINILM_FILES]
#        (defaults: 3000 files, batch 64, 4 in flight, 50 ms, 150 files).
set -euo pipefail
cd "$(dirname "$0")/.."
files="${1:-3000}"
batch="${2:-64}"
in_flight="${3:-4}"
latency="${4:-50}"
minilm_files="${5:-150}"
server_url="${DATABASE_URL:-${UNITY_AI_TEST_DATABASE_URL:?set DATABASE_URL or UNITY_AI_TEST_DATABASE_URL}}"
if [ -z "${UNITY_AI_BIN:-}" ]; then
  swift build -c release --product unity-ai >&2
  UNITY_AI_BIN=.build/release/unity-ai
fi
bin="$UNITY_AI_BIN"

work=$(mktemp -d)
server_pid=""
databases=()
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  for db in "${databases[@]}"; do psql -q "$server_url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fresh_database() {
  local name="bench_ingest_$$_$1"
  psql -q "$server_url" -c "CREATE DATABASE $name" >/dev/null
  databases+=("$name")
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$server_url" "$name"
}

# A corpus of Markdown files, each a title and a few sections of distinct sentences (deterministic).
python3 - "$work/corpus" "$files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(13)
words = ("pump valve shift dock gate fuse cable shelf crew hall rack sensor backup replica disk volume tenant "
         "index query vector chunk model batch latency route quota budget alert host window metric trend").split()
for i in range(count):
    folder = os.path.join(root, f"part{i % 20:02d}")
    os.makedirs(folder, exist_ok=True)
    sections = []
    for s in range(4):
        sentences = [" ".join(rng.choice(words) for _ in range(14)).capitalize() + f" (doc {i}, part {s}, line {k})."
                     for k in range(8)]
        sections.append(f"## Section {s}\n\n" + " ".join(sentences))
    with open(os.path.join(folder, f"note{i:05d}.md"), "w") as f:
        f.write(f"# Note {i}\n\n" + "\n\n".join(sections) + "\n")
PY
mkdir -p "$work/one"
cp "$work/corpus/part00/note00000.md" "$work/one/"

python3 deploy/fake_embeddings.py 64 "$latency" "$work/texts.log" > "$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -n 1 "$work/port")
cat > "$work/routing.yaml" <<YAML
providers:
  fake:
    type: openai
    endpoints:
      - url: http://127.0.0.1:$port/v1
        max_concurrency: 64
models:
  fake/bench-embed: {embedding_dimensions: 64}
embeddings:
  model: fake/bench-embed
YAML

# CPU seconds of the PostgreSQL server: its postmaster's and every child's it has reaped (backends end with the
# ingest's connections), so a difference spans one run; 0 when BENCH_PG_DATA is not set.
pg_cpu() {
  local pid
  if [ -z "${BENCH_PG_DATA:-}" ] || ! pid=$(head -n 1 "$BENCH_PG_DATA/postmaster.pid" 2>/dev/null); then echo 0; return; fi
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / hz}' "/proc/$pid/stat"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
export UNITY_AI_CONFIG="$work/routing.yaml" OPENAI_API_KEY=bench LOG_LEVEL=error
http_database=$(fresh_database http)
pg_before=$(pg_cpu)
http_json=$(DATABASE_URL="$http_database" "$bin" ingest --json --embedding-model fake/bench-embed \
  --batch-size "$batch" --embedding-concurrency "$in_flight" --concurrency 256 --chunk-tokens 64 \
  ${BENCH_WRITE_CONCURRENCY:+--write-concurrency "$BENCH_WRITE_CONCURRENCY"} "$work/corpus" || true)
sleep 1  # the ingest's backends exit and are reaped
pg_after=$(pg_cpu)
stats=$(curl -s "http://127.0.0.1:$port/stats")
# The same run with the write path of before grouped transactions (one document per transaction, up to 16 at
# once): the baseline of the write change, on a fresh database, in the same invocation.
single_database=$(fresh_database single)
single_pg_before=$(pg_cpu)
single_json=$(DATABASE_URL="$single_database" "$bin" ingest --json --embedding-model fake/bench-embed \
  --batch-size "$batch" --embedding-concurrency "$in_flight" --concurrency 256 --chunk-tokens 64 \
  --documents-per-transaction 1 --write-concurrency 16 "$work/corpus" || true)
sleep 1
single_pg_after=$(pg_cpu)

minilm_json="{}"
if [ "${BENCH_SKIP_MINILM:-0}" != 1 ] && "$bin" embed --model minilm "probe" >/dev/null 2>&1; then
  # The exact texts ingest embeds for the first MINILM_FILES files: from the fake endpoint's log of a small run.
  mkdir -p "$work/subset"
  find "$work/corpus" -name '*.md' | sort | sed -n "1,${minilm_files}p" | xargs -I{} cp {} "$work/subset/"
  : > "$work/texts.log"
  DATABASE_URL=$(fresh_database texts) "$bin" ingest --json --embedding-model fake/bench-embed --chunk-tokens 64 \
    "$work/subset" >/dev/null
  minilm_json=$(python3 - "$bin" "$work" "$server_url" <<'PY'
import json, os, subprocess, sys, time, urllib.parse as u
bin, work, server = sys.argv[1:4]
texts = [json.loads(line) for line in open(os.path.join(work, "texts.log"))]
def wall(args, env=None):
    start = time.monotonic()
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    return time.monotonic() - start, out.stdout
embed_one, _ = wall([bin, "embed", "--model", "minilm", texts[0]])
embed_all, _ = wall([bin, "embed", "--model", "minilm", *texts])
def database(name):
    subprocess.run(["psql", "-q", server, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    p = u.urlsplit(server)
    return u.urlunsplit(p._replace(path="/" + name))
results = {}
for label, folder in (("one", "one"), ("all", "subset")):
    name = f"bench_ingest_{os.getpid()}_minilm_{label}"
    env = dict(os.environ, DATABASE_URL=database(name))
    try:
        results[label] = wall([bin, "ingest", "--json", "--embedding-model", "minilm", "--chunk-tokens", "64",
                               os.path.join(work, folder)], env)
    finally:
        subprocess.run(["psql", "-q", server, "-c", f"DROP DATABASE IF EXISTS {name}"], capture_output=True)
summary_all = json.loads(results["all"][1])
summary_one = json.loads(results["one"][1])
raw_rate = (len(texts) - 1) / (embed_all - embed_one)
chunks = summary_all["chunks_embedded"] - summary_one["chunks_embedded"]
ingest_rate = chunks / (results["all"][0] - results["one"][0])
print(json.dumps({"texts": len(texts), "embed_wall_s": round(embed_all, 2), "embed_one_wall_s": round(embed_one, 2),
                  "raw_rate": round(raw_rate, 1), "ingest_wall_s": round(results["all"][0], 2),
                  "ingest_one_wall_s": round(results["one"][0], 2), "ingest_chunks": summary_all["chunks_embedded"],
                  "ingest_seconds": summary_all["seconds"], "ingest_rate": round(ingest_rate, 1),
                  "fraction": round(ingest_rate / raw_rate, 3)}))
PY
)
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$http_json" "$stats" "$minilm_json" "$batch" "$in_flight" "$latency" "$load_before" "$load_after" \
  "$pg_before" "$pg_after" "$single_json" "$single_pg_before" "$single_pg_after" <<'PY'
import json, os, sys
http, stats, minilm = json.loads(sys.argv[1] or "{}"), json.loads(sys.argv[2] or "{}"), json.loads(sys.argv[3])
batch, in_flight, latency = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
ceiling = batch * in_flight / (latency / 1000) if latency > 0 else float("inf")
rate = http.get("chunks_embedded", 0) / http["seconds"] if http.get("seconds") else 0
# The pipeline alone: the summary's seconds less the index build that follows a model's first writes.
pipeline_seconds = (http.get("seconds") or 0) - (http.get("index_seconds") or 0)
pipeline_rate = http.get("chunks_embedded", 0) / pipeline_seconds if pipeline_seconds > 0 else 0
result = {"http": {"files": http.get("added"), "failed": http.get("failed"), "chunks": http.get("chunks_embedded"),
                   "seconds": http.get("seconds"), "rate": round(rate, 1), "ceiling": ceiling,
                   "fraction": round(rate / ceiling, 3) if latency > 0 else None,
                   "index_seconds": http.get("index_seconds"), "pipeline_rate": round(pipeline_rate, 1),
                   "pipeline_fraction": round(pipeline_rate / ceiling, 3) if latency > 0 else None,
                   "endpoint": stats},
          "minilm": minilm, "cores": os.cpu_count(), "load_before": sys.argv[7], "load_after": sys.argv[8]}
pg_seconds = float(sys.argv[10]) - float(sys.argv[9])
if pg_seconds > 0 and http.get("chunks_embedded"):
    result["http"]["postgres_cpu_s"] = round(pg_seconds, 1)
    result["http"]["postgres_cpu_ms_per_chunk"] = round(1000 * pg_seconds / http["chunks_embedded"], 3)
single = json.loads(sys.argv[11] or "{}")
if single.get("seconds"):
    single_rate = single.get("chunks_embedded", 0) / single["seconds"]
    result["one_document_per_transaction"] = {"chunks": single.get("chunks_embedded"), "seconds": single["seconds"],
                                              "rate": round(single_rate, 1)}
    single_pg = float(sys.argv[13]) - float(sys.argv[12])
    if single_pg > 0 and single.get("chunks_embedded"):
        result["one_document_per_transaction"]["postgres_cpu_ms_per_chunk"] = round(
            1000 * single_pg / single["chunks_embedded"], 3)
    result["http"]["against_one_document_per_transaction"] = round(rate / single_rate, 3) if single_rate else None
print(json.dumps(result))
print()
print(f"| run | texts | seconds | rate | ceiling | fraction |")
print(f"| --- | --- | --- | --- | --- | --- |")
print(f"| fake HTTP embedder, {latency} ms/batch, batch {batch} × {in_flight} in flight | {http.get('chunks_embedded')} | "
      f"{http.get('seconds', 0):.2f} | {rate:.0f}/s | {ceiling:.0f}/s | {rate / ceiling:.2f} |")
print(f"| the same without the index build ({http.get('index_seconds') or 0:.2f} s) | {http.get('chunks_embedded')} | "
      f"{pipeline_seconds:.2f} | {pipeline_rate:.0f}/s | {ceiling:.0f}/s | {pipeline_rate / ceiling:.2f} |")
if minilm:
    print(f"| minilm ingest vs `unity-ai embed` | {minilm['texts']} | {minilm['ingest_wall_s']} (embed {minilm['embed_wall_s']}) | "
          f"{minilm['ingest_rate']}/s | {minilm['raw_rate']}/s | {minilm['fraction']} |")
print(f"\nLoad average before {sys.argv[7]}, after {sys.argv[8]}, {os.cpu_count()} cores.")
PY
