// The selection passes compiled for avx512 (see select_kernels.h).
#include "select_kernels.h"

namespace shears::cpu {
const SelectKernels& select_kernels_avx512() {
  static const SelectKernels k = kernels::make_select_kernels("avx512");
  return k;
}
}  // namespace shears::cpu
