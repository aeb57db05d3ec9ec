#!/usr/bin/env bash
# Throughput of the native `minilm` embedder against the numpy reference
# (../shared/reference/minilm_reference.py), on the same 256-token texts, in one session.
# Usage: deploy/bench-minilm.sh [TEXTS] [BATCH]   (defaults: 64 texts, batch 32). Run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh
require_swift
require_openblas
require_libarchive
require_pdftotext
count="${1:-64}"
batch="${2:-32}"
reference="${UNITY_AI_SHARED_DIR:-$PWD/../shared}/reference/minilm_reference.py"
[ -f "$reference" ] || { echo "The numpy reference is missing at $reference (set UNITY_AI_SHARED_DIR)." >&2; exit 1; }
model_dir=$(deploy/install-model.sh | tail -n 1)

venv="$(tools_directory)/bench-venv"
if ! "$venv/bin/python" -c "import numpy, scipy, safetensors, tokenizers" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check numpy scipy safetensors tokenizers >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Texts of at least 256 model tokens (the model truncates there): windows of the sample knowledge.
python3 - "$count" "$work/texts.json" <<'PY'
import glob, json, re, sys
count, out = int(sys.argv[1]), sys.argv[2]
words = []
for path in sorted(glob.glob("ingest/**/*.md", recursive=True)):
    words += re.sub(r"[#*|`>-]+", " ", open(path, encoding="utf-8").read()).split()
texts = [" ".join(words[(i * 97) % (len(words) - 400):][:300]) for i in range(count)]
json.dump(texts, open(out, "w"))
PY

swift build -c release --product unity-ai-bench >&2
echo "== native (Swift, OpenBLAS)"
/usr/bin/time -f "peak memory %M KB, %e s wall" .build/release/unity-ai-bench minilm "$work/texts.json" --batch "$batch"
echo "== numpy reference"
/usr/bin/time -f "peak memory %M KB, %e s wall" "$venv/bin/python" - "$reference" "$model_dir" "$work/texts.json" "$batch" <<'PY'
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("reference", sys.argv[1])
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)
model = reference.MiniLM(sys.argv[2])
texts = json.load(open(sys.argv[3]))
batch = int(sys.argv[4])
model.encode(texts[:batch], batch_size=batch)  # warm-up
rates = []
for _ in range(3):
    start = time.perf_counter()
    model.encode(texts, batch_size=batch)
    rates.append(round(len(texts) / (time.perf_counter() - start), 1))
print(json.dumps({"embedder": "numpy-reference", "texts": len(texts), "batch": batch, "texts_per_second": rates}))
PY
