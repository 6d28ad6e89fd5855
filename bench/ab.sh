#!/usr/bin/env bash
# Compares the forward call of two revisions on this machine, in one process
# (bench/ab_forward.cc): how kernel changes are measured on a noisy host.
#
#   bash bench/ab.sh REV_A REV_B [swattn_ab arguments...]
#   bash bench/ab.sh HEAD . --window=16,0 --pairs=30
#
# A revision is anything `git rev-parse` takes, or `.` for the working tree
# as it is now. Each is built once as a shared library (Release) under
# AB_DIR (default: ${TMPDIR:-/tmp}/swattn-ab), commits by their hash; swattn_ab
# itself comes from BUILD_DIR (default: build), built if missing.
set -euo pipefail
shopt -s inherit_errexit  # a failed build inside $(...) stops the script

if (( $# < 2 )); then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
ab_dir="${AB_DIR:-${TMPDIR:-/tmp}/swattn-ab}"
build_dir="${BUILD_DIR:-build}"
jobs="$(nproc 2>/dev/null || echo 2)"

# build_lib REV: prints the path of REV's libswattn.so, building it if needed.
build_lib() {
  local rev="$1" name src
  if [[ "${rev}" == "." ]]; then
    name=worktree
    src="${repo_root}"
  else
    name="$(git rev-parse --verify "${rev}^{commit}")"
    src="${ab_dir}/${name}/src"
    if [[ ! -f "${src}/CMakeLists.txt" ]]; then
      mkdir -p "${src}"
      git archive "${name}" | tar -x -C "${src}"
    fi
  fi
  local build="${ab_dir}/${name}/build"
  # Always rebuilt: cheap when nothing changed, and `.` may have.
  cmake -S "${src}" -B "${build}" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DSWATTN_BUILD_TESTS=OFF -DSWATTN_BUILD_BENCH=OFF \
    -DSWATTN_BUILD_EXAMPLES=OFF -DSWATTN_INSTALL=OFF > /dev/null
  cmake --build "${build}" -j"${jobs}" > /dev/null
  local lib
  lib="$(find "${build}" -name 'libswattn.so' | head -n1)"
  if [[ -z "${lib}" ]]; then
    echo "bench/ab.sh: no libswattn.so in ${build}" >&2
    exit 1
  fi
  echo "${lib}"
}

lib_a="$(build_lib "$1")"
lib_b="$(build_lib "$2")"
shift 2
if [[ ! -x "${build_dir}/bench/swattn_ab" ]]; then
  cmake -S . -B "${build_dir}" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "${build_dir}" -j"${jobs}" --target swattn_ab > /dev/null
fi
echo "A: ${lib_a}"
echo "B: ${lib_b}"
exec "${build_dir}/bench/swattn_ab" "${lib_a}" "${lib_b}" "$@"
