#include "../simd/vec_avx2.h"
#include "sparse_kernels.h"

namespace shears::cpu {
const SparseKernels& sparse_kernels_avx2() {
  static const SparseKernels k = kernels::make_sparse_kernels<simd::Avx2>();
  return k;
}
}  // namespace shears::cpu
