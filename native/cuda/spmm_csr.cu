// CSR SpMM on the GPU: C[rows x n] = A·B, B [cols x n] row-major. One warp per row; each lane
// keeps four columns of C in registers (128 per pass), B rows are read coalesced.
#include <cuda_runtime.h>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"
#include "memory.h"

namespace shears::cuda {
namespace {

constexpr int kColsPerLane = 4;

__global__ void csr_spmm_kernel(int rows, int n, const int* __restrict__ ptr, const int* __restrict__ idx,
                                const float* __restrict__ val, const float* __restrict__ b, float* __restrict__ c) {
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  const int start = ptr[row], end = ptr[row + 1];
  for (int c0 = 0; c0 < n; c0 += kWarp * kColsPerLane) {
    float acc[kColsPerLane] = {0.f, 0.f, 0.f, 0.f};
    for (int p = start; p < end; ++p) {
      const float a = __ldg(val + p);
      const float* brow = b + static_cast<int64_t>(__ldg(idx + p)) * n;
#pragma unroll
      for (int j = 0; j < kColsPerLane; ++j) {
        const int col = c0 + j * kWarp + lane;
        if (col < n) acc[j] = fmaf(a, __ldg(brow + col), acc[j]);
      }
    }
#pragma unroll
    for (int j = 0; j < kColsPerLane; ++j) {
      const int col = c0 + j * kWarp + lane;
      if (col < n) c[static_cast<int64_t>(row) * n + col] = acc[j];
    }
  }
}

}  // namespace

void csr_spmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* val,
                     const float* b, float* c, cudaStream_t stream) {
  if (rows == 0 || n == 0) return;
  const int r = int_dim(rows, "rows"), nn = int_dim(n, "n");
  csr_spmm_kernel<<<row_blocks(rows), kWarpsPerBlock * kWarp, 0, stream>>>(r, nn,
                                                                          ptr, idx, val, b, c);
  check_launch("csr_spmm_kernel");
}

void csr_spmm_device_a(int64_t rows, int64_t cols, const int32_t* ptr, const int32_t* idx, const float* val,
                       const float* b, int64_t n, float* c) {
  require_usable();
  DeviceBuffer<float> db(cols * n), dc(rows * n);
  db.upload(b, cols * n);
  csr_spmm_launch(rows, n, ptr, idx, val, db.data(), dc.data());
  dc.download(c, rows * n);  // synchronises: execution errors surface here, checked
}

void csr_spmm_host(const cpu::CsrView& a, const float* b, int64_t n, float* c) {
  require_usable();
  const int64_t nnz = a.nnz();
  DeviceSparse d(a.ptr, a.rows + 1, a.idx, nnz, a.val, nnz);
  csr_spmm_device_a(a.rows, a.cols, d.ptr.data(), d.idx.data(), d.val.data(), b, n, c);
}

}  // namespace shears::cuda
