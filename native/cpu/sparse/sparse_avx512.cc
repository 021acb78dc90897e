#include "../simd/vec_avx512.h"
#include "sparse_kernels.h"

namespace shears::cpu {
const SparseKernels& sparse_kernels_avx512() {
  static const SparseKernels k = kernels::make_sparse_kernels<simd::Avx512>();
  return k;
}
}  // namespace shears::cpu
