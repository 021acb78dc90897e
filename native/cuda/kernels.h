// The CUDA kernel families, one file per op (spmm_csr.cu, sddmm_csr.cu, masked_sgd.cu): each has a
// launcher over device pointers on a stream (for resident data) and a host entry that copies in,
// runs and copies out (for arrays in host memory). Every CUDA call is checked (check.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include <vector>

#include "../cpu/select/select.h"
#include "../cpu/sparse/sparse.h"

namespace shears::cuda {

// C[rows x n] = A·B, A CSR [rows x cols], B [cols x n] row-major: one warp per row, each lane
// keeping four columns of C (128 per pass) in registers; B rows are read coalesced.
void csr_spmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* val,
                     const float* b, float* c, cudaStream_t stream = nullptr);
// S[p] = dot(X[row(p), :], Y[col(p), :]) over n for every stored entry p: one warp per row, the
// dot products reduced with warp shuffles.
void csr_sddmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* x,
                      const float* y, float* out, cudaStream_t stream = nullptr);
// The fused masked SGD step (torch.optim.SGD semantics; pruned entries leave as +0).
void masked_sgd_launch(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr,
                       float momentum, float weight_decay, bool nesterov, cudaStream_t stream = nullptr);

// C = A·B with A already on the device (rows x cols CSR) and B, C in host memory: B uploaded,
// the product run, C downloaded (synchronously; execution errors surface there, checked).
void csr_spmm_device_a(int64_t rows, int64_t cols, const int32_t* ptr, const int32_t* idx, const float* val,
                       const float* b, int64_t n, float* c);

// Host entries: arrays in host memory, validated views (the caller validates).
void csr_spmm_host(const cpu::CsrView& a, const float* b, int64_t n, float* c);
void csr_sddmm_host(const cpu::CsrView& p, const float* x, const float* y, int64_t n, float* out);
void masked_sgd_host(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr, float momentum,
                     float weight_decay, bool nesterov);

// Exact selection of the k smallest over the buffers (global index order), with the CPU engine's
// rules and errors (select.h); the buffers' masks are written on the host. select.cu.
cpu::SelectResult select_smallest_host(std::vector<cpu::ScoreBuffer>& buffers, int64_t k, cpu::NanPolicy nan,
                                       bool absolute, bool scratch_masks = false);

// Kernel-only timing for benchmarks: the operands are uploaded once (B, X, Y filled with a fixed
// pattern), then `warmup` launches and timed launches (CUDA events around each) until at least
// `repeat` samples and 50 ms. kernel: "spmm", "spmv" (n = 1) or "sddmm".
struct KernelTiming {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int samples = 0;
};
KernelTiming time_csr_kernel(const char* kernel, const cpu::CsrView& a, int64_t n, int repeat, int warmup);
// Device-to-device copy of `bytes` (the bandwidth ceiling) and the fused masked SGD step over
// `count` resident parameters (90% masked), timed the same way.
KernelTiming time_device_copy(int64_t bytes, int repeat);
KernelTiming time_masked_sgd(int64_t count, int repeat);

}  // namespace shears::cuda
