#!/usr/bin/env bash
# The README's command 1: from a fresh Debian 12 machine to the headline
# demonstration. Run as root (it installs the missing Debian packages).
#
#   bash examples/demo.sh [swattn_demo arguments...]
#
# Works from any directory: it changes to the repository root first. Installs
# the build dependencies (.ci/install-deps, idempotent), configures and builds
# a Release build into build/, then runs build/bench/swattn_demo, passing on
# any arguments (try --quick, or --help).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

bash .ci/install-deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
exec build/bench/swattn_demo "$@"
