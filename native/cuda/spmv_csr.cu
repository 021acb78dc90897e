// CSR SpMV on the GPU: y = A·x. One warp per row; the lanes stride over the row's entries (reads
// of idx and val coalesced) and the partial sums are reduced with warp shuffles.
#include <cuda_runtime.h>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"

namespace shears::cuda {
namespace {

__global__ void csr_spmv_kernel(int rows, const int* __restrict__ ptr, const int* __restrict__ idx,
                                const float* __restrict__ val, const float* __restrict__ x, float* __restrict__ y) {
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;  // whole warps leave together: a warp never spans two rows
  float s = 0.f;
  // int64: p + 32 must not wrap for a row that ends near 2^31 - 1 stored entries.
  for (int64_t p = ptr[row] + lane; p < ptr[row + 1]; p += kWarp) s = fmaf(__ldg(val + p), __ldg(x + __ldg(idx + p)), s);
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
  if (lane == 0) y[row] = s;
}

}  // namespace

void csr_spmv_launch(int64_t rows, const int32_t* ptr, const int32_t* idx, const float* val, const float* x, float* y,
                     cudaStream_t stream) {
  if (rows == 0) return;
  const int r = int_dim(rows, "rows");
  csr_spmv_kernel<<<row_blocks(rows), kWarpsPerBlock * kWarp, 0, stream>>>(r, ptr, idx, val, x, y);
  check_launch("csr_spmv_kernel");
}

void csr_spmv_device_a(int64_t rows, int64_t cols, const DeviceSparse& d, const float* x, float* y) {
  require_usable();
  DeviceBuffer<float> dx(cols), dy(rows);
  dx.upload(x, cols);
  csr_spmv_launch(rows, d.ptr.data(), d.idx.data(), d.val.data(), dx.data(), dy.data());
  dy.download(y, rows);  // synchronises: execution errors surface here, checked
}

void csr_spmv_host(const cpu::CsrView& a, const float* x, float* y) {
  require_usable();
  const int64_t nnz = a.nnz();
  csr_spmv_device_a(a.rows, a.cols, DeviceSparse(a.ptr, a.rows + 1, a.idx, nnz, a.val, nnz), x, y);
}

}  // namespace shears::cuda
