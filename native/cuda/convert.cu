// Elementwise precision conversions on the device (FP32 <-> BF16, round to nearest even), for the
// BF16 tensor-core products: grid-stride loops over `count` elements.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"
#include "memory.h"

namespace shears::cuda {
namespace {
constexpr int kThreads = 256;

__global__ void to_bf16_kernel(const float* __restrict__ in, __nv_bfloat16* __restrict__ out, int64_t count,
                               bool positive_zero) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = in[i];
    out[i] = __float2bfloat16_rn(positive_zero && v == 0.0f ? 0.0f : v);
  }
}

__global__ void from_bf16_kernel(const __nv_bfloat16* __restrict__ in, float* __restrict__ out, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = __bfloat162float(in[i]);
}
}  // namespace

void to_bf16_launch(const float* in, __nv_bfloat16* out, int64_t count, cudaStream_t stream, bool positive_zero) {
  if (count == 0) return;
  to_bf16_kernel<<<grid_stride_blocks(count, kThreads), kThreads, 0, stream>>>(in, out, count, positive_zero);
  check_launch("to_bf16_kernel");
}

void from_bf16_launch(const __nv_bfloat16* in, float* out, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  from_bf16_kernel<<<grid_stride_blocks(count, kThreads), kThreads, 0, stream>>>(in, out, count);
  check_launch("from_bf16_kernel");
}

void upload_bf16(const float* host, int64_t count, __nv_bfloat16* dst, bool positive_zero) {
  if (count == 0) return;
  DeviceBuffer<float> staged(count);
  staged.upload(host, count);
  to_bf16_launch(staged.data(), dst, count, nullptr, positive_zero);
  // The staging block goes back to the cache below: let the conversion finish with it first.
  check(cudaStreamSynchronize(nullptr), "to_bf16_kernel");
}

}  // namespace shears::cuda
