#include "../simd/vec_scalar.h"
#include "scores_kernels.h"

namespace shears::cpu {
const ScoreKernels& score_kernels_scalar() {
  static const ScoreKernels k = kernels::make_score_kernels<simd::Scalar>();
  return k;
}
}  // namespace shears::cpu
