#!/usr/bin/env bash
# Everything that needs the GPU machine, in as few device calls as its 30 minutes allow
# (../shared/DEVICE.md). Run here first: `npm ci && npm run build && ../shared/device/pack`; then
# one device call per stage, carrying .device and dist:
#
#   bash scripts/gpu-run.sh test     # CUDA build, compute-sanitizer on the kernel tests, every test,
#                                    # native kernel tests on the host's AVX-512   (~6-8 min)
#   bash scripts/gpu-run.sh bench    # npm run bench -- cuda (with the CUDA torch peer), shears bench
#                                    # --device cuda over generated matrices        (~6-9 min)
#   bash scripts/gpu-run.sh cpu512   # npm run bench -- spmm --isa avx512 on the host CPU
#
# Logs go to $OUT (the device tool brings them back) or ./gpu-logs.
set -uo pipefail
stage="${1:-test}"
out="${OUT:-gpu-logs}"
mkdir -p "$out"
cd "$(dirname "$0")/.."

source .device/setup.sh 2>&1 | tee "$out/setup.log"
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/steps.log"; }

build_cuda() {
  log "build:cuda"
  # The CPU build too (the loader falls back to it; the native tests need neither).
  npm run build:cuda > "$out/build-cuda.log" 2>&1 || { tail -40 "$out/build-cuda.log"; return 1; }
  grep -E "shears: CUDA|libraries found" "$out/build-cuda.log" | tee -a "$out/steps.log"
  node -e "import('./dist/index.js').then(m => console.log(JSON.stringify(m.info().cuda)))" | tee -a "$out/steps.log"
}

case "$stage" in
  test)
    build_cuda || exit 1
    export SHEARS_BUILD=cuda
    log "compute-sanitizer: CUDA kernel tests"
    if command -v compute-sanitizer > /dev/null; then
      compute-sanitizer --tool memcheck --target-processes all --print-limit 20 npx vitest run test/cuda/kernels.test.ts > "$out/sanitizer.log" 2>&1
      echo "sanitizer exit $?" | tee -a "$out/steps.log"
      grep -E "ERROR SUMMARY|Invalid|out of bounds" "$out/sanitizer.log" | head -20 | tee -a "$out/steps.log"
    else
      log "compute-sanitizer not found"
    fi
    log "vitest: test/cuda"
    npx vitest run test/cuda > "$out/vitest-cuda.log" 2>&1
    echo "test/cuda exit $?" | tee -a "$out/steps.log"
    tail -30 "$out/vitest-cuda.log"
    log "vitest: the whole suite on the CUDA build"
    npx vitest run > "$out/vitest-all.log" 2>&1
    echo "npm test exit $?" | tee -a "$out/steps.log"
    tail -15 "$out/vitest-all.log"
    log "native kernel tests (AVX-512 host)"
    bash scripts/native-tests.sh > "$out/native-tests.log" 2>&1
    echo "native tests exit $?" | tee -a "$out/steps.log"
    grep -E "passed|failed|avx512|skipped" "$out/native-tests.log" | tail -8
    ;;
  bench)
    [ -f build-cuda/Release/shears.node ] || build_cuda || exit 1
    export SHEARS_BUILD=cuda
    log "npm run bench -- cuda"
    npm run bench -- cuda > "$out/bench-cuda.log" 2>&1
    echo "bench cuda exit $?" | tee -a "$out/steps.log"
    tail -40 "$out/bench-cuda.log"
    log "shears bench --device cuda"
    node bench/tools/make_matrices.mjs "$out/matrices" > /dev/null 2>&1 &&
      node dist/cli/main.js bench spmm "$out/matrices" --device cuda --formats csr,bsr:16x16,dense --n 256,1024 \
        --precision tf32 > "$out/shears-bench-cuda.log" 2>&1
    echo "shears bench exit $?" | tee -a "$out/steps.log"
    tail -20 "$out/shears-bench-cuda.log"
    ;;
  cpu512)
    log "npm run bench -- spmm --isa avx512"
    npm run bench -- spmm --isa avx512 > "$out/bench-spmm-avx512.log" 2>&1
    echo "bench spmm avx512 exit $?" | tee -a "$out/steps.log"
    tail -45 "$out/bench-spmm-avx512.log"
    ;;
  *)
    echo "usage: bash scripts/gpu-run.sh test|bench|cpu512" >&2
    exit 2
    ;;
esac
