#!/usr/bin/env bash
# Backup throughput and CPU against the AWS CLI, same S3 server, same bytes, same run: `unity-ai backup run` of an
# appliance whose Ollama models directory holds one model of SIZE_MIB (random weights behind a GGUF header, so
# nothing compresses), against `aws s3 cp` of that very blob file. Rounds alternate which goes first; each upload
# goes to a fresh prefix (a backup finds no blob already stored). Wall time and CPU seconds (user + sys of the
# process and its children, from wait4) per upload; the medians and their ratios. Then SigV4 signing time per
# request (`unity-ai-bench sigv4`). Prints JSON lines and the Markdown for docs/benchmarks.md.
#
#   deploy/bench-backup.sh [SIZE_MIB] [ROUNDS]     (defaults: 1024, 3)
#
# Needs the S3 server of deploy/start-seaweedfs.sh (source DIR/s3.env: UNITY_AI_TEST_S3_ENDPOINT, _ACCESS_KEY,
# _SECRET_KEY, UNITY_AI_TEST_AWS_CLI) and a PostgreSQL with pgvector (UNITY_AI_TEST_DATABASE_URL, as deploy/test.sh
# exports it, and UNITY_AI_PG_BIN for psql): a fresh database is made for the run and dropped after. Release build,
# in UNITY_AI_BUILD_PATH when set (a scratch path of its own, so a debug build in .build can go on meanwhile).
# Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh
require_swift
require_openblas
require_libarchive
size_mib="${1:-1024}"
rounds="${2:-3}"
: "${UNITY_AI_TEST_S3_ENDPOINT:?source the s3.env of deploy/start-seaweedfs.sh}"
: "${UNITY_AI_TEST_DATABASE_URL:?export UNITY_AI_TEST_DATABASE_URL (deploy/test.sh does)}"
aws="${UNITY_AI_TEST_AWS_CLI:-$(tools_directory)/s3-venv/bin/aws}"
psql="${UNITY_AI_PG_BIN:?export UNITY_AI_PG_BIN (the PostgreSQL bin directory)}/psql"

build_path="${UNITY_AI_BUILD_PATH:-.build}"
swift build -c release --scratch-path "$build_path" --product unity-ai >&2
swift build -c release --scratch-path "$build_path" --product unity-ai-bench >&2
bin="$build_path/release"

work=$(mktemp -d "${TMPDIR:-/tmp}/unity-ai-bench-backup.XXXXXX")
database="bench_backup_$$"
admin_url="$UNITY_AI_TEST_DATABASE_URL"
bench_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$admin_url" "$database")
cleanup() {
  "$psql" "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$psql" "$admin_url" -qc "CREATE DATABASE $database" >/dev/null

export AWS_ACCESS_KEY_ID="$UNITY_AI_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$UNITY_AI_TEST_S3_SECRET_KEY"
export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL="$UNITY_AI_TEST_S3_ENDPOINT"
printf 'lifecycle:\n  ollama_models_dir: %s\n' "$work/models" > "$work/config.yaml"
export DATABASE_URL="$bench_url" UNITY_AI_CONFIG="$work/config.yaml" UNITY_AI_EMBEDDING_MODEL=local
export UNITY_AI_MIGRATIONS_DIR="$PWD/migrations" LOG_LEVEL=error
unset OLLAMA_HOST OLLAMA_MODELS
bucket="unity-ai-bench-$(date +%s)"
"$aws" --endpoint-url "$UNITY_AI_TEST_S3_ENDPOINT" s3 mb "s3://$bucket" >/dev/null

# One model: SIZE_MIB of weights (incompressible), a config, a manifest, as `ollama pull` writes them.
blob=$(python3 - "$work/models" "$size_mib" <<'PY'
import hashlib, json, os, sys
root, mib = sys.argv[1], int(sys.argv[2])
os.makedirs(root + "/blobs"); os.makedirs(root + "/manifests/registry.ollama.ai/library/bench")
header = b"GGUF" + (3).to_bytes(4, "little") + bytes(16)
digest = hashlib.sha256(); tmp = root + "/blobs/tmp"
with open(tmp, "wb") as f:
    f.write(header); digest.update(header)
    for _ in range(mib):
        chunk = os.urandom(1 << 20); f.write(chunk); digest.update(chunk)
weights = "sha256:" + digest.hexdigest(); size = os.path.getsize(tmp)
os.rename(tmp, root + "/blobs/sha256-" + digest.hexdigest())
config = json.dumps({"model_format": "gguf", "model_family": "llama", "rootfs": {"type": "layers", "diff_ids": [weights]}}).encode()
config_digest = hashlib.sha256(config).hexdigest()
open(root + "/blobs/sha256-" + config_digest, "wb").write(config)
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:" + config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": weights, "size": size}]}
open(root + "/manifests/registry.ollama.ai/library/bench/latest", "w").write(json.dumps(manifest, separators=(",", ":")))
print(root + "/blobs/sha256-" + digest.hexdigest())
PY
)
"$bin/unity-ai" migrate >/dev/null

python3 - "$blob" "$rounds" "$bucket" "$aws" "$bin/unity-ai" <<'PY'
import json, os, resource, statistics, subprocess, sys, time
blob, rounds, bucket, aws, unity_ai = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
size = os.path.getsize(blob)
endpoint = os.environ["UNITY_AI_TEST_S3_ENDPOINT"]

def measure(argv):
    # CPU of the process and everything it waited for: the children's rusage before and after.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.run(argv, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        sys.exit(f"{argv[0]} failed ({process.returncode}): {process.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, process.stdout

results = {"aws": [], "unity-ai": []}
for index in range(rounds):
    order = ["aws", "unity-ai"] if index % 2 == 0 else ["unity-ai", "aws"]
    for tool in order:
        if tool == "aws":
            wall, cpu, _ = measure([aws, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", blob,
                                    f"s3://{bucket}/aws-{index}/blob"])
            uploaded = size
        else:
            wall, cpu, out = measure([unity_ai, "backup", "run", "--json",
                                      "--target", f"s3://{bucket}/unity-ai-{index}"])
            report = json.loads(out)
            assert report["blobsUploaded"] == 2, report
            uploaded = report["bytes"]
        results[tool].append({"wall_s": wall, "cpu_s": cpu, "bytes": uploaded})
        print(json.dumps({"round": index, "tool": tool, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                          "bytes": uploaded, "mib_per_s": round(uploaded / wall / 2**20, 1)}), flush=True)

def med(tool, key):
    return statistics.median(r[key] for r in results[tool])
summary = {}
for tool in results:
    summary[tool] = {"wall_s": round(med(tool, "wall_s"), 3), "cpu_s": round(med(tool, "cpu_s"), 3),
                     "mib_per_s": round(statistics.median(r["bytes"] / r["wall_s"] / 2**20 for r in results[tool]), 1)}
summary["throughput_ratio"] = round(summary["unity-ai"]["mib_per_s"] / summary["aws"]["mib_per_s"], 3)
summary["cpu_ratio"] = round(summary["unity-ai"]["cpu_s"] / summary["aws"]["cpu_s"], 3)
summary["size_bytes"] = size
print(json.dumps({"bench": "backup", **summary}))
print()
print(f"| {size / 2**30:.2f} GiB, {rounds} rounds | wall (median) | throughput | CPU s (user+sys) |")
print("| --- | --- | --- | --- |")
for tool, label in (("aws", "`aws s3 cp`"), ("unity-ai", "`unity-ai backup run`")):
    s = summary[tool]
    print(f"| {label} | {s['wall_s']} s | {s['mib_per_s']} MiB/s | {s['cpu_s']} s |")
print(f"| unity-ai / aws | | **{summary['throughput_ratio']}×** | **{summary['cpu_ratio']}×** |")
PY
"$bin/unity-ai-bench" sigv4
"$aws" --endpoint-url "$UNITY_AI_TEST_S3_ENDPOINT" s3 rb --force "s3://$bucket" >/dev/null 2>&1 || true
