#include "../simd/vec_avx512.h"
#include "probe.h"
#include "probe_kernel.h"

namespace shears::cpu {
FmaLoop fma_loop_avx512() { return &kernels::fma_loop<simd::Avx512>; }
}  // namespace shears::cpu
