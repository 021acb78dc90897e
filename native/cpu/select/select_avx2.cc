// The selection passes compiled for avx2: the AVX2 intrinsics passes of select_x86.h.
#include "select_x86.h"

namespace shears::cpu {
const SelectKernels& select_kernels_avx2() {
  static const SelectKernels k = kernels::x86::make_select_kernels_x86("avx2");
  return k;
}
}  // namespace shears::cpu
