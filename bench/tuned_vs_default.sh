#!/usr/bin/env bash
# Tunes qk-bench's W8A8 shape grid on this machine into a scratch cache, then times the tuned and
# the default tiles side by side in one qk-bench run and prints the per-shape ratio and its
# geometric mean (docs/bench.md, "Tuned vs default"). The cache file makes a rerun resume.
#
#   bench/tuned_vs_default.sh [OUT_DIR]        (after `make`; BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
out=${1:-tuned-vs-default}
mkdir -p "$out"
cache="$out/kernels.db"

"$build/tools/qk-tune" --cpu examples/plans/qk_bench_grid_w8a8.json --cache "$cache" \
  --buckets 1,16,128,512,2048 --report "$out/tune.json" | tee "$out/tune.txt"
QK_CACHE="$cache" "$build/tools/qk-bench" gemm --target cpu \
  --competitors qk-w8a8,qk-w8a8-default --rotate-weights-always --interleave --json "$out/bench.json" \
  | tee "$out/bench.txt"

python3 - "$out/bench.json" <<'PY'
import json, math, sys
rows = json.load(open(sys.argv[1]))["rows"]
by = {}
for r in rows:
    if "median_ns" in r:
        by.setdefault((r["m"], r["n"], r["k"]), {})[r["competitor"]] = r
ratios = []
print(f"{'shape':>18}  {'default ms':>10}  {'tuned ms':>9}  {'speedup':>7}")
for shape, c in sorted(by.items()):
    if "qk-w8a8" in c and "qk-w8a8-default" in c:
        d, t = c["qk-w8a8-default"]["median_ns"], c["qk-w8a8"]["median_ns"]
        ratios.append(d / t)
        print(f"{'x'.join(map(str, shape)):>18}  {d * 1e-6:10.3f}  {t * 1e-6:9.3f}  {d / t:6.2f}x")
if ratios:
    g = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"geometric mean speedup of tuned over default: {g:.3f}x over {len(ratios)} shapes")
PY
