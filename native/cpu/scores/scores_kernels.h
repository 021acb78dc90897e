#pragma once

#include <cstdint>

#include "scores.h"

namespace shears::cpu::kernels {

template <class V, Accumulate K>
void accumulate_range(float* acc, const float* w, const float* g, int64_t i, int64_t end) {
  constexpr int W = V::W;
  auto term = [&](typename V::V gv, typename V::V wv) {
    if constexpr (K == Accumulate::kAbs) return V::abs(gv);
    else if constexpr (K == Accumulate::kSquare) return V::mul(gv, gv);
    else if constexpr (K == Accumulate::kTaylor) return V::abs(V::mul(wv, gv));
    else return V::mul(V::mul(wv, gv), V::set1(-1.0f));
  };
  const bool needs_w = K == Accumulate::kTaylor || K == Accumulate::kMovement;
  for (; i + W <= end; i += W)
    V::store(acc + i, V::add(V::load(acc + i), term(V::load(g + i), needs_w ? V::load(w + i) : V::zero())));
  if (i < end) {
    const int rem = static_cast<int>(end - i);
    const typename V::V t = term(V::load_partial(g + i, rem), needs_w ? V::load_partial(w + i, rem) : V::zero());
    V::store_partial(acc + i, V::add(V::load_partial(acc + i, rem), t), rem);
  }
}

template <class V>
void accumulate(Accumulate kind, float* acc, const float* w, const float* g, int64_t begin, int64_t end) {
  switch (kind) {
    case Accumulate::kAbs: return accumulate_range<V, Accumulate::kAbs>(acc, w, g, begin, end);
    case Accumulate::kSquare: return accumulate_range<V, Accumulate::kSquare>(acc, w, g, begin, end);
    case Accumulate::kTaylor: return accumulate_range<V, Accumulate::kTaylor>(acc, w, g, begin, end);
    case Accumulate::kMovement: return accumulate_range<V, Accumulate::kMovement>(acc, w, g, begin, end);
  }
}

template <class V>
ScoreKernels make_score_kernels() {
  ScoreKernels k{};
  k.accumulate = &accumulate<V>;
  return k;
}

}  // namespace shears::cpu::kernels
