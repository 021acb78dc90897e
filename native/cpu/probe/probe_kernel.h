#pragma once

#include <cstdint>

namespace shears::cpu::kernels {

// 12 independent accumulators hide the FMA latency on every current core.
template <class V>
float fma_loop(int64_t iterations) {
  using Vec = typename V::V;
  Vec acc[12];
  const Vec a = V::set1(0.999999f), b = V::set1(1e-7f);
#pragma GCC unroll 12
  for (int i = 0; i < 12; ++i) acc[i] = V::set1(static_cast<float>(i));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = V::fmadd(acc[i], a, b);
#ifdef __GNUC__
    __asm__ volatile("" : : : "memory");
#endif
  }
  Vec s = acc[0];
#pragma GCC unroll 12
  for (int i = 1; i < 12; ++i) s = V::add(s, acc[i]);
  return V::reduce_add(s);
}

}  // namespace shears::cpu::kernels
