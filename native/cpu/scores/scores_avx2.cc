#include "../simd/vec_avx2.h"
#include "scores_kernels.h"

namespace shears::cpu {
const ScoreKernels& score_kernels_avx2() {
  static const ScoreKernels k = kernels::make_score_kernels<simd::Avx2>();
  return k;
}
}  // namespace shears::cpu
