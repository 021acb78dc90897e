#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer runs (g++ or clang, Linux): an out-of-bounds read,
# a use after free or undefined behaviour that a normal build would survive silently aborts here.
#
#   bash scripts/sanitize.sh          # kernel driver + binding fuzzer under ASan/UBSan (~4 min on 2 cores)
#   bash scripts/sanitize.sh --full   # also the whole vitest suite against the sanitized addon (+2 min)
#
# Builds (ignored by git, reused between runs):
#   build-native-asan/  the Node-free kernel driver (native/test), -DSHEARS_SANITIZE=ON
#   build-asan/         the addon through cmake-js, -DSHEARS_SANITIZE=ON, CPU only
# The sanitized addon needs the sanitizer runtimes preloaded into node (LD_PRELOAD below), and is
# loaded with SHEARS_ADDON=build-asan/Release/shears.node.
#
# Environment: SHEARS_TEST_SEED (seed for the kernel driver and the first fuzz run), FUZZ_RUNS
# (fuzz seeds, default 8), FUZZ_ITERS (calls per seed, default 20000), JOBS (build jobs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
seed="${SHEARS_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}"
full=0
[[ "${1:-}" == "--full" ]] && full=1

# Leaks: V8 and the pool's threads keep memory until exit by design; report real errors only.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
compiler="${CXX:-g++}"
runtimes="$("$compiler" -print-file-name=libasan.so) $("$compiler" -print-file-name=libubsan.so)"
for lib in $runtimes; do
  [[ -f "$lib" ]] || { echo "sanitize: $compiler has no $lib (install the compiler's sanitizer runtime)"; exit 1; }
done

echo "== kernel driver under ASan/UBSan (seed $seed)"
cmake -S . -B build-native-asan -DSHEARS_NODE_ADDON=OFF -DSHEARS_CUDA=OFF -DSHEARS_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-native-asan -j "$jobs"
./build-native-asan/kernel_test --seed "$seed"

echo "== addon under ASan/UBSan (cmake-js, CPU only)"
npx cmake-js compile --out build-asan --CDSHEARS_SANITIZE=ON --CDSHEARS_CUDA=OFF --CDCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
addon="$root/build-asan/Release/shears.node"

echo "== binding fuzzer against the sanitized addon"
runs="${FUZZ_RUNS:-8}"
for ((r = 0; r < runs; r++)); do
  LD_PRELOAD="$runtimes" node test/fuzz/binding.mjs --seed $((seed + r)) --iters "${FUZZ_ITERS:-20000}" --addon "$addon"
done

if ((full)); then
  echo "== vitest against the sanitized addon"
  [[ -f dist/index.js ]] || npx tsc -p tsconfig.json
  SHEARS_ADDON="$addon" SHEARS_TEST_SEED="$seed" LD_PRELOAD="$runtimes" npx vitest run
fi
echo "== sanitize: no findings"
