#!/usr/bin/env bash
# Native kernel tests, no Node needed: builds native/test/kernel_test with CMake and runs it
# (every ISA variant this CPU runs, against the scalar one and a double-precision reference).
# Then, when Debian's arm64 cross compiler and qemu-user are installed
#   apt-get install -y g++-aarch64-linux-gnu qemu-user
# cross-compiles the same driver for arm64 and runs it under qemu, so the NEON variant is tested
# too. Without them that step prints "skipped: ..." and does not fail.
#
# Environment:
#   SHEARS_TEST_SEED   seed for both runs (default: a new one each run, printed)
#   JOBS               parallel build jobs (default: number of cores)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
seed_args=()
if [[ -n "${SHEARS_TEST_SEED:-}" ]]; then
  seed_args=(--seed "$SHEARS_TEST_SEED")
fi

echo "== native kernel tests ($(uname -m))"
cmake -S . -B build-native-tests -DSHEARS_NODE_ADDON=OFF -DSHEARS_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-native-tests -j "$jobs"
./build-native-tests/kernel_test "${seed_args[@]}"

echo "== arm64 (NEON) kernel tests under qemu"
missing=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=("aarch64-linux-gnu-g++ (apt-get install g++-aarch64-linux-gnu)")
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=("qemu-aarch64 (apt-get install qemu-user)")
if [[ "$(uname -m)" == "aarch64" ]]; then
  echo "skipped: this machine is arm64; the native run above already tested NEON"
  exit 0
fi
if ((${#missing[@]} > 0)); then
  list="$(printf '%s; ' "${missing[@]}")"
  echo "skipped: arm64 NEON tests: missing ${list%; }"
  exit 0
fi
cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
  -DSHEARS_NODE_ADDON=OFF -DSHEARS_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-arm64 -j "$jobs"
qemu-aarch64 -L /usr/aarch64-linux-gnu ./build-arm64/kernel_test --quick "${seed_args[@]}"
