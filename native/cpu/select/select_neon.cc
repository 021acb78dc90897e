// The selection passes compiled for neon (see select_kernels.h).
#include "select_kernels.h"

namespace shears::cpu {
const SelectKernels& select_kernels_neon() {
  static const SelectKernels k = kernels::make_select_kernels("neon");
  return k;
}
}  // namespace shears::cpu
