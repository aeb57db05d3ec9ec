#!/usr/bin/env bash
# Router overhead: the same chat request to a zero-latency local upstream, sent directly by the provider client
# and through the router, in alternating phases of one run (sequential, concurrency 16 and 64), plus the router's
# CPU time per call against an in-process upstream. Prints the JSON and a Markdown table for docs/benchmarks.md.
# Usage: deploy/bench-router.sh [REQUESTS_PER_PHASE] [ROUNDS]   (defaults: 15000, 8). Run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh
require_swift
require_openblas
require_libarchive
require_pdftotext
requests="${1:-15000}"
rounds="${2:-8}"
swift build -c release --product unity-ai-bench >&2
result=$(.build/release/unity-ai-bench router --requests "$requests" --rounds "$rounds" 2>/dev/null)
echo "$result"
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print()
print("| concurrency | p50 direct | p50 routed | added p50 | p99 direct | p99 routed | added p99 | throughput direct | throughput routed | routed/direct |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for c in ("c1", "c16", "c64"):
    x = r[c]
    print(f"| {c[1:]} | {x['p50_direct_ms']} ms | {x['p50_routed_ms']} ms | {x['p50_added_ms']} ms | {x['p99_direct_ms']} ms | "
          f"{x['p99_routed_ms']} ms | {x['p99_added_ms']} ms | {x['throughput_direct_rps']:.0f}/s | {x['throughput_routed_rps']:.0f}/s | {x['throughput_ratio']} |")
p = r["in_process"]
print()
print(f"In-process upstream, {p['requests']} sequential calls: direct {p['direct_us']} µs, routed {p['routed_us']} µs per call "
      f"(router: {p['added_us']} µs).")
PY
