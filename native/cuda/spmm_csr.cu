// CSR SpMM on the GPU: C[rows x n] = A·B, B [cols x n] row-major. One warp per row (the techniques
// of Gale et al., SC'20): the warp loads 32 of the row's (column, value) pairs at a time, one per
// lane, and broadcasts them with shuffles, so each entry is read from memory once per pass; every
// lane keeps four columns of C in registers (128 per pass). When n is a multiple of 4, those four
// columns are adjacent and B is read with one 16-byte load per lane (512 contiguous bytes per warp
// and entry). Rows can be visited in a given order (longest first) so the long rows start early
// and the short ones fill in around them.
#include <cuda_runtime.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"
#include "memory.h"

namespace shears::cuda {
namespace {

constexpr int kColsPerLane = 4;
constexpr int kColsPerPass = kWarp * kColsPerLane;

template <bool VEC4>
__global__ void csr_spmm_kernel(int rows, int n, const int* __restrict__ ptr, const int* __restrict__ idx,
                                const float* __restrict__ val, const float* __restrict__ b, float* __restrict__ c,
                                const int* __restrict__ order) {
  const int slot = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (slot >= rows) return;  // whole warps leave together: the shuffles below see full warps
  const int row = order ? order[slot] : slot;
  const int start = ptr[row], end = ptr[row + 1];
  float* crow = c + static_cast<int64_t>(row) * n;
  for (int c0 = 0; c0 < n; c0 += kColsPerPass) {
    // VEC4: lane owns columns c0 + 4·lane .. +3; else c0 + lane + 32·j.
    float acc[kColsPerLane] = {0.f, 0.f, 0.f, 0.f};
    // int64: p0 + 32 must not wrap when nnz is near 2^31 - 1.
    for (int64_t p0 = start; p0 < end; p0 += kWarp) {
      const int64_t mine = p0 + lane;
      const int my_col = mine < end ? __ldg(idx + mine) : 0;
      const float my_val = mine < end ? __ldg(val + mine) : 0.f;
      const int count = static_cast<int>(min(static_cast<int64_t>(kWarp), end - p0));
      for (int q = 0; q < count; ++q) {
        const float a = __shfl_sync(0xffffffffu, my_val, q);
        const float* brow = b + static_cast<int64_t>(__shfl_sync(0xffffffffu, my_col, q)) * n;
        if (VEC4) {
          const int col = c0 + kColsPerLane * lane;
          if (col < n) {
            const float4 v = __ldg(reinterpret_cast<const float4*>(brow + col));
            acc[0] = fmaf(a, v.x, acc[0]);
            acc[1] = fmaf(a, v.y, acc[1]);
            acc[2] = fmaf(a, v.z, acc[2]);
            acc[3] = fmaf(a, v.w, acc[3]);
          }
        } else {
#pragma unroll
          for (int j = 0; j < kColsPerLane; ++j) {
            const int col = c0 + j * kWarp + lane;
            if (col < n) acc[j] = fmaf(a, __ldg(brow + col), acc[j]);
          }
        }
      }
    }
    if (VEC4) {
      const int col = c0 + kColsPerLane * lane;
      if (col < n) *reinterpret_cast<float4*>(crow + col) = make_float4(acc[0], acc[1], acc[2], acc[3]);
    } else {
#pragma unroll
      for (int j = 0; j < kColsPerLane; ++j) {
        const int col = c0 + j * kWarp + lane;
        if (col < n) crow[col] = acc[j];
      }
    }
  }
}

}  // namespace

std::vector<int32_t> rows_by_length(int64_t rows, const int32_t* ptr) {
  std::vector<int32_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [ptr](int32_t x, int32_t y) { return ptr[x + 1] - ptr[x] > ptr[y + 1] - ptr[y]; });
  return order;
}

void csr_spmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* val,
                     const float* b, float* c, cudaStream_t stream, const int32_t* order) {
  if (rows == 0 || n == 0) return;
  const int r = int_dim(rows, "rows"), nn = int_dim(n, "n");
  // Float4 access needs 16-byte aligned B and C rows: n a multiple of 4 and aligned bases.
  const bool vec4 = n % 4 == 0 && reinterpret_cast<uintptr_t>(b) % 16 == 0 && reinterpret_cast<uintptr_t>(c) % 16 == 0;
  if (vec4) csr_spmm_kernel<true><<<row_blocks(rows), kWarpsPerBlock * kWarp, 0, stream>>>(r, nn, ptr, idx, val, b, c, order);
  else csr_spmm_kernel<false><<<row_blocks(rows), kWarpsPerBlock * kWarp, 0, stream>>>(r, nn, ptr, idx, val, b, c, order);
  check_launch("csr_spmm_kernel");
}

void csr_spmm_device_a(int64_t rows, int64_t cols, const int32_t* ptr, const int32_t* idx, const float* val,
                       const float* b, int64_t n, float* c, const int32_t* order) {
  require_usable();
  DeviceBuffer<float> db(cols * n), dc(rows * n);
  db.upload(b, cols * n);
  csr_spmm_launch(rows, n, ptr, idx, val, db.data(), dc.data(), nullptr, order);
  dc.download(c, rows * n);  // synchronises: execution errors surface here, checked
}

void csr_spmm_host(const cpu::CsrView& a, const float* b, int64_t n, float* c) {
  require_usable();
  const int64_t nnz = a.nnz();
  DeviceSparse d(a.ptr, a.rows + 1, a.idx, nnz, a.val, nnz);
  const std::vector<int32_t> order = rows_by_length(a.rows, a.ptr);
  DeviceBuffer<int32_t> dorder(a.rows);
  dorder.upload(order.data(), a.rows);
  csr_spmm_device_a(a.rows, a.cols, d.ptr.data(), d.idx.data(), d.val.data(), b, n, c, dorder.data());
}

}  // namespace shears::cuda
