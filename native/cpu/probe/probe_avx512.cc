// GCC 12's _mm512_reduce_add_ps (inlined into the probe's final sum) reads an _mm256_undefined_pd()
// placeholder that its own -Wuninitialized then reports: a false positive in the compiler's header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "../simd/vec_avx512.h"
#include "probe.h"
#include "probe_kernel.h"

namespace shears::cpu {
FmaLoop fma_loop_avx512() { return &kernels::fma_loop<simd::Avx512>; }
}  // namespace shears::cpu
