#include "../simd/vec_neon.h"
#include "gemm_ukernel.h"

namespace shears::cpu {
// 8x12 tile: 24 accumulators + 3 B vectors + broadcasts of the 32 V registers.
const GemmKernels& gemm_kernels_neon() {
  static const GemmKernels k = make_gemm_kernels<simd::Neon, 8, 3>(256, 128, 2048);
  return k;
}
}  // namespace shears::cpu
