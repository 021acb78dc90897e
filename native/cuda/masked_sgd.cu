// The fused masked SGD step on the GPU (torch.optim.SGD semantics: momentum, Nesterov, weight
// decay); one grid-stride pass reads w, g, v and the mask once and writes w and v once.
#include <cuda_runtime.h>

#include <algorithm>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"
#include "memory.h"

namespace shears::cuda {
namespace {

__global__ void masked_sgd_kernel(int64_t count, float* __restrict__ w, const float* __restrict__ g,
                                  float* __restrict__ v, const unsigned char* __restrict__ mask, float lr,
                                  float momentum, float wd, bool nesterov) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const bool keep = mask == nullptr || mask[i] != 0;
    const float grad = g[i] + wd * w[i];
    const float vel = momentum * v[i] + grad;
    const float step = nesterov ? grad + momentum * vel : vel;
    w[i] = keep ? w[i] - lr * step : 0.0f;
    v[i] = keep ? vel : 0.0f;
  }
}

}  // namespace

void masked_sgd_launch(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr,
                       float momentum, float weight_decay, bool nesterov, cudaStream_t stream) {
  if (count == 0) return;
  masked_sgd_kernel<<<grid_stride_blocks(count, 256), 256, 0, stream>>>(count, w, g, v, mask, lr, momentum, weight_decay, nesterov);
  check_launch("masked_sgd_kernel");
}

void masked_sgd_host(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr, float momentum,
                     float weight_decay, bool nesterov) {
  require_usable();
  DeviceBuffer<float> dw(count), dg(count), dv(count);
  DeviceBuffer<uint8_t> dm(mask ? count : 0);
  dw.upload(w, count);
  dg.upload(g, count);
  dv.upload(v, count);
  if (mask) dm.upload(mask, count);
  masked_sgd_launch(count, dw.data(), dg.data(), dv.data(), mask ? dm.data() : nullptr, lr, momentum, weight_decay,
                    nesterov);
  dw.download(w, count);
  dv.download(v, count);
}

}  // namespace shears::cuda
