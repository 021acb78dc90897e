#include "../simd/vec_avx2.h"
#include "gemm_ukernel.h"

namespace shears::cpu {
// 6x16 tile: 12 accumulators + 2 B vectors + 1 broadcast of the 16 YMM registers.
const GemmKernels& gemm_kernels_avx2() {
  static const GemmKernels k = make_gemm_kernels<simd::Avx2, 6, 2>(256, 144, 4080);
  return k;
}
}  // namespace shears::cpu
