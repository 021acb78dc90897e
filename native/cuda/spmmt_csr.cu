// Transposed CSR SpMM on the GPU: C[cols x n] = Aᵀ·B, B [rows x n] row-major (the backward pass
// of a sparse layer). C is zeroed, then one warp per row of A scatters val·B[row, :] into the C
// rows its entries name, with atomic adds (so the summation order, and the last bits, can differ
// between runs). Each lane keeps its four columns of the B row in registers for all the entries.
#include <cuda_runtime.h>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"

namespace shears::cuda {
namespace {

constexpr int kColsPerLane = 4;

__global__ void csr_spmmt_kernel(int rows, int n, const int* __restrict__ ptr, const int* __restrict__ idx,
                                 const float* __restrict__ val, const float* __restrict__ b, float* __restrict__ c) {
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  const int start = ptr[row], end = ptr[row + 1];
  if (start == end) return;
  const float* brow = b + static_cast<int64_t>(row) * n;
  for (int c0 = 0; c0 < n; c0 += kWarp * kColsPerLane) {
    float bv[kColsPerLane];
#pragma unroll
    for (int j = 0; j < kColsPerLane; ++j) {
      const int col = c0 + j * kWarp + lane;
      bv[j] = col < n ? __ldg(brow + col) : 0.f;
    }
    for (int p = start; p < end; ++p) {
      const float a = __ldg(val + p);
      float* crow = c + static_cast<int64_t>(__ldg(idx + p)) * n;
#pragma unroll
      for (int j = 0; j < kColsPerLane; ++j) {
        const int col = c0 + j * kWarp + lane;
        if (col < n) atomicAdd(crow + col, a * bv[j]);
      }
    }
  }
}

}  // namespace

void csr_spmmt_launch(int64_t rows, int64_t cols, int64_t n, const int32_t* ptr, const int32_t* idx, const float* val,
                      const float* b, float* c, cudaStream_t stream) {
  if (cols * n > 0) check(cudaMemsetAsync(c, 0, static_cast<size_t>(cols * n) * sizeof(float), stream), "cudaMemsetAsync");
  if (rows == 0 || n == 0) return;
  const int r = int_dim(rows, "rows"), nn = int_dim(n, "n");
  csr_spmmt_kernel<<<row_blocks(rows), kWarpsPerBlock * kWarp, 0, stream>>>(r, nn,
                                                                           ptr, idx, val, b, c);
  check_launch("csr_spmmt_kernel");
}

void csr_spmmt_device_a(int64_t rows, int64_t cols, const DeviceSparse& d, const float* b, int64_t n, float* c) {
  require_usable();
  DeviceBuffer<float> db(rows * n), dc(cols * n);
  db.upload(b, rows * n);
  csr_spmmt_launch(rows, cols, n, d.ptr.data(), d.idx.data(), d.val.data(), db.data(), dc.data());
  dc.download(c, cols * n);
}

void csr_spmmt_host(const cpu::CsrView& a, const float* b, int64_t n, float* c) {
  require_usable();
  const int64_t nnz = a.nnz();
  csr_spmmt_device_a(a.rows, a.cols, DeviceSparse(a.ptr, a.rows + 1, a.idx, nnz, a.val, nnz), b, n, c);
}

}  // namespace shears::cuda
