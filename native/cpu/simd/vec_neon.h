// NEON vector of 4 floats (AArch64 Advanced SIMD, always present there).
#pragma once

#include <arm_neon.h>

#include <cstdint>

namespace shears::simd {

struct Neon {
  using V = float32x4_t;
  static constexpr int W = 4;
  static constexpr const char* kName = "neon";
  static constexpr bool kFastGather = false;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V set1(float x) { return vdupq_n_f32(x); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V fmadd(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V abs(V a) { return vabsq_f32(a); }
  static V load_partial(const float* p, int n) {
    float tmp[4] = {0, 0, 0, 0};
    for (int l = 0; l < n && l < 4; ++l) tmp[l] = p[l];
    return vld1q_f32(tmp);
  }
  static void store_partial(float* p, V v, int n) {
    float tmp[4];
    vst1q_f32(tmp, v);
    for (int l = 0; l < n && l < 4; ++l) p[l] = tmp[l];
  }
  static float reduce_add(V v) { return vaddvq_f32(v); }
  static int compress(V v, unsigned mask, int32_t base, float* val, int32_t* idx) {
    float lanes[4];
    vst1q_f32(lanes, v);
    int out = 0;
    for (int l = 0; l < 4; ++l)
      if (mask & (1u << l)) {
        val[out] = lanes[l];
        idx[out++] = base + l;
      }
    return out;
  }
  static unsigned nonzero_mask(V v) {
    // Lanes equal to zero compare all-ones; invert and gather one bit per lane.
    const uint32x4_t nz = vmvnq_u32(vceqq_f32(v, vdupq_n_f32(0.0f)));
    const uint32_t bits[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(nz, vld1q_u32(bits)));
  }
  static V gather_checked(const float* base, const int32_t* idx, int n, uint32_t limit, bool& bad) {
    float tmp[4] = {0, 0, 0, 0};
    for (int l = 0; l < n && l < 4; ++l) {
      const uint32_t c = static_cast<uint32_t>(idx[l]);
      if (c >= limit) bad = true; else tmp[l] = base[c];
    }
    return vld1q_f32(tmp);
  }
};

}  // namespace shears::simd
