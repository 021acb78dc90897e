// The selection passes compiled for scalar (see select_kernels.h).
#include "select_kernels.h"

namespace shears::cpu {
const SelectKernels& select_kernels_scalar() {
  static const SelectKernels k = kernels::make_select_kernels("scalar");
  return k;
}
}  // namespace shears::cpu
