#include "../simd/vec_scalar.h"
#include "sparse_kernels.h"

namespace shears::cpu {
const SparseKernels& sparse_kernels_scalar() {
  static const SparseKernels k = kernels::make_sparse_kernels<simd::Scalar>();
  return k;
}
}  // namespace shears::cpu
