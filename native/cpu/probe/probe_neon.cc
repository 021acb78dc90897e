#include "../simd/vec_neon.h"
#include "probe.h"
#include "probe_kernel.h"

namespace shears::cpu {
FmaLoop fma_loop_neon() { return &kernels::fma_loop<simd::Neon>; }
}  // namespace shears::cpu
