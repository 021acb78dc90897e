#include "../simd/vec_scalar.h"
#include "probe.h"
#include "probe_kernel.h"

namespace shears::cpu {
FmaLoop fma_loop_scalar() { return &kernels::fma_loop<simd::Scalar>; }
}  // namespace shears::cpu
