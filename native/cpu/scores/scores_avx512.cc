#include "../simd/vec_avx512.h"
#include "scores_kernels.h"

namespace shears::cpu {
const ScoreKernels& score_kernels_avx512() {
  static const ScoreKernels k = kernels::make_score_kernels<simd::Avx512>();
  return k;
}
}  // namespace shears::cpu
