// AVX-512 (F/BW/VL/DQ) vector of 16 floats. Included only by -mavx512* translation units.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace shears::simd {

struct Avx512 {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr const char* kName = "avx512";
  static constexpr bool kFastGather = true;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  static __mmask16 lane_mask(int n) {
    return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n < 0 ? 0 : n)) - 1u);
  }
  static V load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(lane_mask(n), p); }
  static void store_partial(float* p, V v, int n) { _mm512_mask_storeu_ps(p, lane_mask(n), v); }
  static float reduce_add(V v) { return _mm512_reduce_add_ps(v); }
  static unsigned nonzero_mask(V v) { return _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ); }
  static int compress(V v, unsigned mask, int32_t base, float* val, int32_t* idx) {
    const __mmask16 m = static_cast<__mmask16>(mask);
    _mm512_mask_compressstoreu_ps(val, m, v);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm512_mask_compressstoreu_epi32(idx, m, _mm512_add_epi32(_mm512_set1_epi32(base), lanes));
    return __builtin_popcount(mask);
  }
  static V gather_checked(const float* base, const int32_t* idx, int n, uint32_t limit, bool& bad) {
    const __mmask16 lanes = lane_mask(n);
    const __m512i i = _mm512_maskz_loadu_epi32(lanes, idx);
    const __mmask16 ok = _mm512_mask_cmplt_epu32_mask(lanes, i, _mm512_set1_epi32(static_cast<int32_t>(limit)));
    if (ok != lanes) bad = true;
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), ok, i, base, 4);
  }
};

}  // namespace shears::simd
