// AVX2 + FMA vector of 8 floats. Included only by translation units compiled with -mavx2 -mfma.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace shears::simd {

// perm[m] lists the set lanes of m, packed low, one byte per lane: compress()'s shuffle. Built at
// compile time, so the loops that call compress() carry no static-initialisation guard (which made
// the compiler keep their state in memory around a possible call: 3x slower).
struct CompressTable {
  uint64_t perm[256];
  constexpr CompressTable() : perm{} {
    for (unsigned m = 0; m < 256; ++m) {
      uint64_t packed = 0;
      int out = 0;
      for (int l = 0; l < 8; ++l)
        if (m & (1u << l)) packed |= static_cast<uint64_t>(l) << (8 * out++);
      perm[m] = packed;
    }
  }
};
inline constexpr CompressTable kCompressTable{};

struct Avx2 {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr const char* kName = "avx2";
  // vgatherdps is slower than scalar loads on AMD Zen and no faster on Haswell-era Intel.
  static constexpr bool kFastGather = false;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static __m256i lane_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_partial(const float* p, int n) { return _mm256_maskload_ps(p, lane_mask(n)); }
  static void store_partial(float* p, V v, int n) { _mm256_maskstore_ps(p, lane_mask(n), v); }
  static unsigned nonzero_mask(V v) {
    return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ)));
  }
  static int compress(V v, unsigned mask, int32_t base, float* val, int32_t* idx) {
    const __m256i perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(kCompressTable.perm[mask])));
    _mm256_storeu_ps(val, _mm256_permutevar8x32_ps(v, perm));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx), _mm256_add_epi32(_mm256_set1_epi32(base), perm));
    return __builtin_popcount(mask);
  }
  static float reduce_add(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static V gather_checked(const float* base, const int32_t* idx, int n, uint32_t limit, bool& bad) {
    const __m256i lanes = lane_mask(n);
    const __m256i i = _mm256_maskload_epi32(idx, lanes);
    // Unsigned i < limit via the sign-flip trick.
    const __m256i flip = _mm256_set1_epi32(INT32_MIN);
    const __m256i ok = _mm256_and_si256(
        lanes, _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_set1_epi32(static_cast<int32_t>(limit)), flip),
                                  _mm256_xor_si256(i, flip)));
    if (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_xor_si256(ok, lanes))) != 0) bad = true;
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, i, _mm256_castsi256_ps(ok), 4);
  }
};

}  // namespace shears::simd
