// Dense row-major GEMM: C[m x n] = op(A)[m x k] * op(B)[k x n], op = identity or transpose.
// A BLIS-style driver (cache blocking, packing, threads) over a per-ISA register micro-kernel.
#pragma once

#include <cstdint>

#include "../../core/cpu_features.h"

namespace shears::cpu {

using GemmUkernel = void (*)(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc,
                             bool accumulate);
// Packs rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into MR-row panels (zero-padded).
using GemmPackA = void (*)(const float* a, int64_t m, int64_t k, bool trans_a, int64_t i0, int64_t mc,
                           int64_t p0, int64_t kc, float* dst);

struct GemmKernels {
  const char* name;
  int mr, nr;              // register tile
  int64_t kc, mc, nc;      // cache blocks: kc (L1/L2 depth), mc (A block rows), nc (B block cols)
  GemmUkernel ukernel;
  GemmPackA pack_a;        // compiled per ISA too, so the copy vectorises
};

const GemmKernels& gemm_kernels(Isa isa);

// a: [m x k] row-major, or [k x m] when trans_a. b: [k x n], or [n x k] when trans_b.
// c: [m x n], overwritten. Runs on the thread pool with the active ISA's kernel.
void gemm(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, bool trans_a,
          bool trans_b);
void gemm(const GemmKernels& kern, const float* a, const float* b, float* c, int64_t m, int64_t k,
          int64_t n, bool trans_a, bool trans_b);

// Per-ISA tables (defined in gemm_<isa>.cc, present when that variant is compiled in).
const GemmKernels& gemm_kernels_scalar();
const GemmKernels& gemm_kernels_avx2();
const GemmKernels& gemm_kernels_avx512();
const GemmKernels& gemm_kernels_neon();

}  // namespace shears::cpu
