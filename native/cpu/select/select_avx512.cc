// The selection passes compiled for avx512: the AVX2 intrinsics passes of select_x86.h.
#include "select_x86.h"

namespace shears::cpu {
const SelectKernels& select_kernels_avx512() {
  static const SelectKernels k = kernels::x86::make_select_kernels_x86("avx512");
  return k;
}
}  // namespace shears::cpu
