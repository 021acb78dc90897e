// The register-blocked GEMM micro-kernel, written once against a vector type V and compiled per
// ISA: C[MR x NR] (+)= Ap[MR x kc] * Bp[kc x NR], NR = NRV * V::W, from packed panels
// (Ap: kc steps of MR values; Bp: kc steps of NR values).
#pragma once

#include <cstdint>

#include "../gemm/gemm.h"

namespace shears::cpu {

template <class V, int MR, int NRV>
void gemm_ukernel(int64_t kc, const float* __restrict pa, const float* __restrict pb,
                  float* __restrict c, int64_t ldc, bool accumulate) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  Vec acc[MR][NRV];
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NRV; ++v) acc[r][v] = V::zero();
  for (int64_t p = 0; p < kc; ++p) {
    Vec b[NRV];
#pragma GCC unroll 8
    for (int v = 0; v < NRV; ++v) b[v] = V::load(pb + v * W);
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
      const Vec a = V::set1(pa[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NRV; ++v) acc[r][v] = V::fmadd(a, b[v], acc[r][v]);
    }
    pa += MR;
    pb += NRV * W;
  }
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < NRV; ++v) {
      Vec out = acc[r][v];
      if (accumulate) out = V::add(out, V::load(cr + v * W));
      V::store(cr + v * W, out);
    }
  }
}

// Fills a GemmKernels for one ISA with the given tile and cache-block sizes.
template <class V, int MR, int NRV>
constexpr GemmKernels make_gemm_kernels(int64_t kc, int64_t mc, int64_t nc) {
  return GemmKernels{V::kName, MR, NRV * V::W, kc, mc, nc, &gemm_ukernel<V, MR, NRV>};
}

}  // namespace shears::cpu
