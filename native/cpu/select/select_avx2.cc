// The selection passes compiled for avx2 (see select_kernels.h).
#include "select_kernels.h"

namespace shears::cpu {
const SelectKernels& select_kernels_avx2() {
  static const SelectKernels k = kernels::make_select_kernels("avx2");
  return k;
}
}  // namespace shears::cpu
