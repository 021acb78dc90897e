// Scalar "vector" of width 1: the plain reference every SIMD variant is checked against.
#pragma once

#include <cstdint>

namespace shears::simd {

struct Scalar {
  using V = float;
  static constexpr int W = 1;
  static constexpr const char* kName = "scalar";
  static constexpr bool kFastGather = false;
  static V zero() { return 0.0f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V mul(V a, V b) { return a * b; }
  static V abs(V a) { return a < 0.0f ? -a : a; }
  static V load_partial(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static void store_partial(float* p, V v, int n) { if (n > 0) *p = v; }
  static float reduce_add(V v) { return v; }
  // Bit l set when lane l is not 0 (NaN counts as not 0, -0 as 0).
  static unsigned nonzero_mask(V v) { return v != 0.0f ? 1u : 0u; }
  // Writes the lanes selected by `mask` (and their indices base + lane) to the front of val/idx;
  // may write up to W entries; returns how many were selected.
  static int compress(V v, unsigned mask, int32_t base, float* val, int32_t* idx) {
    val[0] = v;
    idx[0] = base;
    return static_cast<int>(mask & 1u);
  }
  // Gathers base[idx[l]] for the first n lanes; an index outside [0, limit) reads 0 and sets bad.
  static V gather_checked(const float* base, const int32_t* idx, int n, uint32_t limit, bool& bad) {
    if (n <= 0) return 0.0f;
    const uint32_t c = static_cast<uint32_t>(idx[0]);
    if (c >= limit) { bad = true; return 0.0f; }
    return base[c];
  }
};

}  // namespace shears::simd
