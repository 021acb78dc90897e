#include "../simd/vec_neon.h"
#include "sparse_kernels.h"

namespace shears::cpu {
const SparseKernels& sparse_kernels_neon() {
  static const SparseKernels k = kernels::make_sparse_kernels<simd::Neon>();
  return k;
}
}  // namespace shears::cpu
