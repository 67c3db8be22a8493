#!/usr/bin/env bash
# For the day a GPU is available: builds qk-gpu-check, records the machine (nvidia-smi), then
# checks every CUDA variant of qk against the CPU reference and times it against cuBLASLt's int8
# GEMM (docs/bench.md, "GPU"). Everything goes to OUT_DIR/gpu-check.txt as well as the terminal;
# the cubins are compiled once into OUT_DIR/kernels.db, so a rerun starts at once.
#
#   bench/gpu/run.sh [OUT_DIR] [-- qk-gpu-check options, e.g. --quick or --device 1]
#   (BUILD=build by default; the build needs only the CUDA toolkit)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD:-build}
out=gpu-check
if [[ $# -gt 0 && $1 != -- ]]; then
  out=$1
  shift
fi
[[ $# -gt 0 && $1 == -- ]] && shift
mkdir -p "$out"

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" --target qk-gpu-check

{
  echo "qk $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
  # Clocks and power state decide the times: record them (locking clocks, `nvidia-smi -lgc`,
  # needs root and is left to the operator).
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,pstate,clocks.sm,clocks.max.sm,clocks.mem,power.limit \
      --format=csv
  else
    echo "nvidia-smi: not installed"
  fi
  "$build/tools/qk-gpu-check" --cache "$out/kernels.db" "$@"
} 2>&1 | tee "$out/gpu-check.txt"
