#include "scores.h"

#include "../../core/thread_pool.h"

namespace shears::cpu {

const ScoreKernels& score_kernels(Isa isa) {
  switch (isa) {
#ifdef SHEARS_HAVE_AVX2
    case Isa::kAvx2: return score_kernels_avx2();
#endif
#ifdef SHEARS_HAVE_AVX512
    case Isa::kAvx512: return score_kernels_avx512();
#endif
#ifdef SHEARS_HAVE_NEON
    case Isa::kNeon: return score_kernels_neon();
#endif
    default: return score_kernels_scalar();
  }
}

void accumulate_scores(const ScoreKernels& k, Accumulate kind, float* acc, const float* w, const float* g, int64_t n) {
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) { k.accumulate(kind, acc, w, g, b, e); });
}

void activation_stats(const float* a, int64_t features, int64_t batch, double* sum_abs, double* zeros) {
  parallel_for(features, 16, [&](int64_t f0, int64_t f1) {
    for (int64_t f = f0; f < f1; ++f) {
      const float* row = a + f * batch;
      double s = 0;
      int64_t z = 0;
      for (int64_t b = 0; b < batch; ++b) {
        s += row[b] < 0 ? -row[b] : row[b];
        z += row[b] == 0.0f;
      }
      sum_abs[f] += s;
      zeros[f] += static_cast<double>(z);
    }
  });
}

}  // namespace shears::cpu
