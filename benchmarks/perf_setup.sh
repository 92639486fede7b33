#!/usr/bin/env bash
# Creates .venv-bench (gitignored) for benchmarks/perf.py: torch (pinned CPU wheel), TensorFlow (CPU build),
# Keras 3 and seqae (editable). The project venv .venv is never touched.
#
# Order matters: torch==2.13.0 first (the CPU wheel; an unpinned torch would pull a multi-GB CUDA build), then
# tensorflow-cpu (the CPU-only build of TensorFlow 2.21, a 274 MB wheel, 1.3 GB installed, no CUDA packages; the
# whole .venv-bench is about 2.9 GB). If TensorFlow cannot be installed, perf.py runs seqae alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3.11}"
VENV="${BENCH_VENV:-.venv-bench}"
BIN="$VENV/bin"
TORCH_VERSION="2.13.0"
TF_VERSION="2.21.0"
KERAS_VERSION="3.15.1"

if [ ! -x "$BIN/python" ]; then
    "$PY" -m venv "$VENV" || python3 -m venv "$VENV"
    "$BIN/pip" install -q --upgrade pip
fi
# Checks read installed metadata only: importing TensorFlow to ask would take seconds each time.
have() {  # have DIST [VERSION]: the distribution is installed (at that version, local build tags ignored)
    "$BIN/python" - "$@" <<'PY' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    v = version(sys.argv[1]).split("+")[0]
except PackageNotFoundError:
    sys.exit(1)
sys.exit(len(sys.argv) > 2 and v != sys.argv[2])
PY
}
if ! have torch "$TORCH_VERSION"; then
    "$BIN/pip" install -q "torch==$TORCH_VERSION"
fi
if ! have seqae; then
    "$BIN/pip" install -q -e .
fi
if ! have tensorflow-cpu "$TF_VERSION" || ! have keras "$KERAS_VERSION"; then
    # torch is pinned in the same command so that pip can never swap it for another build.
    "$BIN/pip" install -q "torch==$TORCH_VERSION" "tensorflow-cpu==$TF_VERSION" "keras==$KERAS_VERSION" \
        || echo "perf_setup: TensorFlow/Keras could not be installed; perf.py will run seqae alone" >&2
fi
"$BIN/python" - <<'PY'
from importlib.metadata import PackageNotFoundError, version
for dist in ("torch", "seqae", "tensorflow-cpu", "keras"):
    try:
        print(f"perf_setup: {dist} {version(dist)}")
    except PackageNotFoundError:
        print(f"perf_setup: {dist} not installed")
PY
