#include "../simd/vec_avx512.h"
#include "gemm_ukernel.h"

namespace shears::cpu {
// 14x32 tile: 28 accumulators + 2 B vectors + 1 broadcast of the 32 ZMM registers.
const GemmKernels& gemm_kernels_avx512() {
  static const GemmKernels k = make_gemm_kernels<simd::Avx512, 14, 2>(384, 168, 4096);
  return k;
}
}  // namespace shears::cpu
