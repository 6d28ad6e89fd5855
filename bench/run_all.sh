#!/usr/bin/env bash
# Runs everything bench/RESULTS.md reports, in one go, and draws the plots.
#
#   bash bench/run_all.sh [extra swattn_bench arguments...]
#
# Environment:
#   BUILD_DIR  the build folder (default: build); built (Release) if it has
#              no bench/swattn_bench yet
#   OUT_DIR    where the results go (default: bench/results)
#
# Writes to OUT_DIR:
#   bench.json, bench.txt   swattn_bench: every family (fma_peak, table,
#                           small, decode, sweep_window, sweep_seq,
#                           compare, scaling, peaked, layout, membw)
#   demo.txt                swattn_demo, the headline demonstration
#   peak_memory.txt         swattn_peak_memory at N = 1048576, H = 4, D = 64
#   gflops_vs_window.png, gflops_vs_seq.png, table.md   from bench/plot.py
# Works from any directory. Takes a few minutes on a 2-core machine.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
build_dir="${BUILD_DIR:-build}"
out_dir="${OUT_DIR:-bench/results}"
mkdir -p "${out_dir}"

if [[ ! -x "${build_dir}/bench/swattn_bench" ]]; then
  cmake -S . -B "${build_dir}" -DCMAKE_BUILD_TYPE=Release
  cmake --build "${build_dir}" -j"$(nproc)" \
    --target swattn_bench swattn_demo swattn_peak_memory
fi

{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm)"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "# nproc: $(nproc)"
} > "${out_dir}/machine.txt"

"${build_dir}/bench/swattn_demo" | tee "${out_dir}/demo.txt"
"${build_dir}/bench/swattn_peak_memory" | tee "${out_dir}/peak_memory.txt"
"${build_dir}/bench/swattn_bench" \
  --benchmark_out="${out_dir}/bench.json" --benchmark_out_format=json \
  "$@" | tee "${out_dir}/bench.txt"

/usr/bin/python3 bench/plot.py "${out_dir}/bench.json" --outdir "${out_dir}" \
  --table "${out_dir}/table.md"
