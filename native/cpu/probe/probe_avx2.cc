#include "../simd/vec_avx2.h"
#include "probe.h"
#include "probe_kernel.h"

namespace shears::cpu {
FmaLoop fma_loop_avx2() { return &kernels::fma_loop<simd::Avx2>; }
}  // namespace shears::cpu
