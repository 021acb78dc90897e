// CSR SDDMM on the GPU: S[p] = dot(X[row(p), :], Y[col(p), :]) over n for every stored entry p.
// One warp per row; each dot product is split over the lanes and reduced with warp shuffles.
#include <cuda_runtime.h>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"
#include "memory.h"

namespace shears::cuda {
namespace {

__global__ void csr_sddmm_kernel(int rows, int n, const int* __restrict__ ptr, const int* __restrict__ idx,
                                 const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ out) {
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  const float* xr = x + static_cast<int64_t>(row) * n;
  for (int p = ptr[row]; p < ptr[row + 1]; ++p) {
    const float* yr = y + static_cast<int64_t>(idx[p]) * n;
    float s = 0.f;
    for (int k = lane; k < n; k += kWarp) s = fmaf(xr[k], yr[k], s);
#pragma unroll
    for (int off = kWarp / 2; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) out[p] = s;
  }
}

}  // namespace

void csr_sddmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* x,
                      const float* y, float* out, cudaStream_t stream) {
  if (rows == 0) return;
  const int r = int_dim(rows, "rows"), nn = int_dim(n, "n");
  csr_sddmm_kernel<<<row_blocks(rows), kWarpsPerBlock * kWarp, 0, stream>>>(r, nn,
                                                                           ptr, idx, x, y, out);
  check_launch("csr_sddmm_kernel");
}

void csr_sddmm_device_a(int64_t rows, int64_t cols, int64_t nnz, const DeviceSparse& d, const float* x, const float* y,
                        int64_t n, float* out) {
  require_usable();
  DeviceBuffer<float> dx(rows * n), dy(cols * n), dout(nnz);
  dx.upload(x, rows * n);
  dy.upload(y, cols * n);
  csr_sddmm_launch(rows, n, d.ptr.data(), d.idx.data(), dx.data(), dy.data(), dout.data());
  dout.download(out, nnz);
}

void csr_sddmm_host(const cpu::CsrView& p, const float* x, const float* y, int64_t n, float* out) {
  require_usable();
  const int64_t nnz = p.nnz();
  // The pattern only: no values.
  csr_sddmm_device_a(p.rows, p.cols, nnz, DeviceSparse(p.ptr, p.rows + 1, p.idx, nnz, nullptr, 0), x, y, n, out);
}

}  // namespace shears::cuda
