#include "../simd/vec_neon.h"
#include "scores_kernels.h"

namespace shears::cpu {
const ScoreKernels& score_kernels_neon() {
  static const ScoreKernels k = kernels::make_score_kernels<simd::Neon>();
  return k;
}
}  // namespace shears::cpu
