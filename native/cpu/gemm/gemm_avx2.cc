#include "../simd/vec_avx2.h"
#include "gemm_ukernel.h"

namespace shears::cpu {
// 6x16 tile: 12 accumulators + 2 B vectors + 1 broadcast of the 16 YMM registers. KC = 512, MC = 72:
// against 256/144, six alternating process pairs on Zen 3 gave 4096x4096x256 +1.3% and 1024^3 +3%
// (medians; 4096x4096x32 +5%, the trainer's small shapes within ±4%).
const GemmKernels& gemm_kernels_avx2() {
  static const GemmKernels k = make_gemm_kernels<simd::Avx2, 6, 2>(512, 72, 4080);
  return k;
}
}  // namespace shears::cpu
