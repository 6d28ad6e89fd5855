#!/usr/bin/env bash
# Thread scaling on a many-core machine: the issue's large case (H = 16,
# D = 128, N = 65536, W = 512) at 1, 2, 4, 8, 16... threads, each thread
# count in its own process and REPS times over, then a best-of table and
# bench/results/.../gflops_vs_threads.png from bench/plot.py.
#
#   bash bench/run_scaling.sh
#
# Why separate processes, several times: on a shared VM the FMA peak of
# many threads moves by up to 2x from one second to the next (other guests
# take cores). Each process measures the peak of its thread count right
# before it times the kernel; plot.py --scaling then gives, per thread
# count, the best kernel rate over the best peak of all processes, and the
# median of each process's rate over its own peak.
#
# Environment:
#   BUILD_DIR     the build folder (default: build); built (Release) if it
#                 has no bench/swattn_bench yet and SWATTN_BENCH is unset
#   SWATTN_BENCH  the command that runs swattn_bench, split on spaces
#                 (default: BUILD_DIR/bench/swattn_bench); lets a copied
#                 binary run with its own loader and libraries
#   OUT_DIR       where the JSON files go (default: bench/results/scaling)
#   REPS          processes per thread count (default: 5)
#
# Writes to OUT_DIR: scaling_<rep>_<threads>.json, machine.txt, context.txt
# (Google Benchmark's view of the machine), table.md, gflops_vs_threads.png.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
build_dir="${BUILD_DIR:-build}"
out_dir="${OUT_DIR:-bench/results/scaling}"
reps="${REPS:-5}"

if [[ -z "${SWATTN_BENCH:-}" && ! -x "${build_dir}/bench/swattn_bench" ]]; then
  cmake -S . -B "${build_dir}" -DCMAKE_BUILD_TYPE=Release
  cmake --build "${build_dir}" -j"$(nproc)" --target swattn_bench
fi
read -r -a bench <<< "${SWATTN_BENCH:-${build_dir}/bench/swattn_bench}"

mkdir -p "${out_dir}"
rm -f "${out_dir}"/scaling_*.json
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm)"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "# nproc: $(nproc)"
} > "${out_dir}/machine.txt"

threads=()
for ((t = 1; t <= $(nproc); t *= 2)); do threads+=("${t}"); done
if [[ "${threads[-1]}" != "$(nproc)" ]]; then threads+=("$(nproc)"); fi

for ((rep = 1; rep <= reps; ++rep)); do
  for t in "${threads[@]}"; do
    # The context goes to stderr: keep the last copy, show it on failure.
    if ! "${bench[@]}" --benchmark_filter="^scaling/.*/T:${t}/" \
        --benchmark_out="${out_dir}/scaling_${rep}_${t}.json" \
        --benchmark_out_format=json 2> "${out_dir}/context.txt" |
        grep '^scaling/'; then
      cat "${out_dir}/context.txt" >&2
      exit 1
    fi
  done
done

if /usr/bin/python3 -c 'import matplotlib' 2> /dev/null; then
  /usr/bin/python3 bench/plot.py --scaling "${out_dir}"/scaling_*.json \
    --outdir "${out_dir}" --table "${out_dir}/table.md"
else
  echo "no matplotlib for /usr/bin/python3: run" \
    "bench/plot.py --scaling ${out_dir}/scaling_*.json elsewhere"
fi
