#include "../simd/vec_scalar.h"
#include "gemm_ukernel.h"

namespace shears::cpu {
const GemmKernels& gemm_kernels_scalar() {
  static const GemmKernels k = make_gemm_kernels<simd::Scalar, 4, 8>(256, 128, 2048);
  return k;
}
}  // namespace shears::cpu
