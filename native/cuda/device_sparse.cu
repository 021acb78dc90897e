// A sparse structure's arrays uploaded to the device, for the host entries of the sparse kernels.
#include "kernels.h"

namespace shears::cuda {

DeviceSparse::DeviceSparse(const int32_t* p, int64_t ptr_count, const int32_t* i, int64_t idx_count, const float* v,
                           int64_t val_count)
    : ptr(ptr_count), idx(idx_count), val(val_count) {
  ptr.upload(p, ptr_count);
  idx.upload(i, idx_count);
  val.upload(v, val_count);
}

}  // namespace shears::cuda
