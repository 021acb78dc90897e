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
  for (int r = 0; r < MR; ++r) {
    __builtin_prefetch(c + r * ldc, 1);
#pragma GCC unroll 8
    for (int v = 0; v < NRV; ++v) acc[r][v] = V::zero();
  }
  for (int64_t p = 0; p < kc; ++p) {
    __builtin_prefetch(pa + 8 * MR);
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

// Packs MR-row panels of op(A). Non-transposed A is read row by row (MR sequential streams).
template <int MR>
void gemm_pack_a(const float* a, int64_t m, int64_t k, bool trans_a, int64_t i0, int64_t mc,
                 int64_t p0, int64_t kc, float* __restrict dst) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t rows = mc - ir < MR ? mc - ir : MR;
    float* __restrict d = dst + ir * kc;
    if (trans_a) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * m + i0 + ir;
        for (int64_t r = 0; r < rows; ++r) d[p * MR + r] = src[r];
        for (int64_t r = rows; r < MR; ++r) d[p * MR + r] = 0.0f;
      }
    } else if (rows == MR) {
      const float* src = a + (i0 + ir) * k + p0;
      for (int64_t p = 0; p < kc; ++p)
#pragma GCC unroll 32
        for (int r = 0; r < MR; ++r) d[p * MR + r] = src[r * k + p];
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        for (int64_t r = 0; r < rows; ++r) d[p * MR + r] = a[(i0 + ir + r) * k + p0 + p];
        for (int64_t r = rows; r < MR; ++r) d[p * MR + r] = 0.0f;
      }
    }
  }
}

// Fills a GemmKernels for one ISA with the given tile and cache-block sizes.
template <class V, int MR, int NRV>
constexpr GemmKernels make_gemm_kernels(int64_t kc, int64_t mc, int64_t nc) {
  return GemmKernels{V::kName, MR, NRV * V::W, kc, mc, nc, &gemm_ukernel<V, MR, NRV>, &gemm_pack_a<MR>};
}

}  // namespace shears::cpu
