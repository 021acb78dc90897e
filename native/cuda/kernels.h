// The CUDA kernel families, one file per op (spmm_csr.cu, sddmm_csr.cu, masked_sgd.cu): each has a
// launcher over device pointers on a stream (for resident data) and a host entry that copies in,
// runs and copies out (for arrays in host memory). Every CUDA call is checked (check.h).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include <functional>
#include <string>
#include <vector>

#include "../cpu/select/select.h"
#include "../cpu/sparse/sparse.h"
#include "memory.h"

namespace shears::cuda {

// C[rows x n] = A·B, A CSR [rows x cols], B [cols x n] row-major: one warp per row, each lane
// keeping four columns of C (128 per pass) in registers, B read with 16-byte loads when n allows.
// `order` (device, optional): the rows in the order the warps take them (rows_by_length).
void csr_spmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* val,
                     const float* b, float* c, cudaStream_t stream = nullptr, const int32_t* order = nullptr);
// The rows sorted by entry count, longest first (stable): the load-balancing order for SpMM.
std::vector<int32_t> rows_by_length(int64_t rows, const int32_t* ptr);
// S[p] = dot(X[row(p), :], Y[col(p), :]) over n for every stored entry p: one warp per row, the
// dot products reduced with warp shuffles.
void csr_sddmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* x,
                      const float* y, float* out, cudaStream_t stream = nullptr);
// The fused masked SGD step (torch.optim.SGD semantics; pruned entries leave as +0).
void masked_sgd_launch(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr,
                       float momentum, float weight_decay, bool nesterov, cudaStream_t stream = nullptr);

// y = A·x: one warp per row, lanes striding over the row's entries, reduced with shuffles.
void csr_spmv_launch(int64_t rows, const int32_t* ptr, const int32_t* idx, const float* val, const float* x, float* y,
                     cudaStream_t stream = nullptr);
// C[cols x n] = Aᵀ·B, B [rows x n]: C zeroed, then one warp per row of A adding val·B[row, :]
// into C[idx, :] with atomics (the summation order differs between runs).
void csr_spmmt_launch(int64_t rows, int64_t cols, int64_t n, const int32_t* ptr, const int32_t* idx,
                      const float* val, const float* b, float* c, cudaStream_t stream = nullptr);
// C[rows x n] = A·B for a BSR A (block br x bc, values row-major per block), spmm_bsr.cu: on TF32
// or BF16 tensor cores, or one thread per output column of a block row on CUDA cores.
enum class BsrPrecision { fp32, tf32, bf16 };
enum class BsrKernel { kFp32, kTf32, kBf16 };
// The kernel a product of this shape runs on the current device: tensor cores only when asked for,
// the shape allows (block rows 16..64; block columns and n multiples of 8 for TF32, 16 for BF16)
// and the device and the loaded code are sm_80+. bsr_kernel_name: "tf32-mma", "bf16-mma", "fp32".
BsrKernel bsr_spmm_kernel(int64_t br, int64_t bc, int64_t n, BsrPrecision precision);
const char* bsr_kernel_name(BsrKernel kernel);
// Dense C[m x n] = op(A)·op(B), row-major (gemm.cu): cuBLAS when the build found it (TF32 tensor
// ops only when `tf32`), else shears' tiled SGEMM kernel (FP32).
void gemm_launch(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, bool trans_a,
                 bool trans_b, bool tf32, cudaStream_t stream = nullptr);
// Which dense GEMM gemm_launch uses: "cublas" or "shears".
const char* gemm_backend();

// FP32 <-> BF16 (round to nearest even) over `count` elements (convert.cu); `positive_zero` writes
// -0 as +0 (a 2:4 operand: zeros by value, whatever a library makes of the sign bit).
void to_bf16_launch(const float* in, __nv_bfloat16* out, int64_t count, cudaStream_t stream = nullptr,
                    bool positive_zero = false);
void from_bf16_launch(const __nv_bfloat16* in, float* out, int64_t count, cudaStream_t stream = nullptr);
// `count` host floats converted into the device array `dst` (staged through a device buffer;
// synchronous).
void upload_bf16(const float* host, int64_t count, __nv_bfloat16* dst, bool positive_zero = false);

// C[m x n] = A·B with A [m x k] 2:4 semi-structured (at most 2 nonzeros in every 4 consecutive
// entries of a row) through cuSPARSELt (spmm_24.cu): A and B rounded to BF16 on the device, A
// compressed, products summed in FP32, C rounded to BF16 and returned as FP32. m, k, n multiples of
// 16, each operand below 2^31 elements (the caller checks the shape and the pattern); an empty
// product needs no library. Throws ERR_SHEARS_CUDA where the build has no cuSPARSELt.
bool have_cusparselt();
void require_cusparselt();  // throws ERR_SHEARS_CUDA, saying what to install, where there is none
void spmm_24_host(const float* a, const float* b, int64_t m, int64_t k, int64_t n, float* c);
// A 2:4 A [m x k] (BF16, on the device) checked and compressed by cuSPARSELt for products with n
// dense columns; run() computes C16 = A·B16 (all BF16, row-major) on `stream`.
class Spmm24 {
 public:
  Spmm24(const __nv_bfloat16* a16, int64_t m, int64_t k, int64_t n);
  ~Spmm24();
  Spmm24(const Spmm24&) = delete;
  Spmm24& operator=(const Spmm24&) = delete;
  void run(const __nv_bfloat16* b16, __nv_bfloat16* c16, cudaStream_t stream = nullptr);

 private:
  struct Impl;
  Impl* impl_ = nullptr;
};

// A sparse structure's arrays uploaded to the device (ptr, idx, and `values` floats).
struct DeviceSparse {
  DeviceSparse(const int32_t* ptr, int64_t ptr_count, const int32_t* idx, int64_t idx_count, const float* val,
               int64_t val_count);
  DeviceBuffer<int32_t> ptr, idx;
  DeviceBuffer<float> val;
};

// A BSR product's operands on the device: A (and B when given) uploaded, C allocated, the kernel
// chosen once (bsr_spmm_kernel), and for BF16 the converted copy of A's values and room for B's.
// run() launches it on the legacy stream; `convert_b` converts B to BF16 first (the host entry
// does, kernel timing does once, outside the timed launches).
struct BsrOperands {
  BsrOperands(const cpu::BsrView& a, const float* host_b, int64_t n, BsrPrecision precision);
  void run(const cpu::BsrView& a, int64_t n, bool convert_b);
  DeviceSparse sparse;
  DeviceBuffer<float> b, c;
  BsrKernel kernel;
  DeviceBuffer<__nv_bfloat16> val16, b16;
};

// C = A·B with A already on the device (rows x cols CSR) and B, C in host memory: B uploaded,
// the product run, C downloaded (synchronously; execution errors surface there, checked).
void csr_spmm_device_a(int64_t rows, int64_t cols, const int32_t* ptr, const int32_t* idx, const float* val,
                       const float* b, int64_t n, float* c, const int32_t* order = nullptr);

// The same with A resident (`d`, rows x cols, nnz entries): y = A·x, C = Aᵀ·B (B [rows x n]) and
// SDDMM over A's pattern (x [rows x n], y [cols x n], out [nnz]), operands in host memory.
void csr_spmv_device_a(int64_t rows, int64_t cols, const DeviceSparse& d, const float* x, float* y);
void csr_spmmt_device_a(int64_t rows, int64_t cols, const DeviceSparse& d, const float* b, int64_t n, float* c);
void csr_sddmm_device_a(int64_t rows, int64_t cols, int64_t nnz, const DeviceSparse& d, const float* x, const float* y,
                        int64_t n, float* out);

// Host entries: arrays in host memory, validated views (the caller validates).
void csr_spmm_host(const cpu::CsrView& a, const float* b, int64_t n, float* c);
void csr_sddmm_host(const cpu::CsrView& p, const float* x, const float* y, int64_t n, float* out);
void csr_spmv_host(const cpu::CsrView& a, const float* x, float* y);
void csr_spmmt_host(const cpu::CsrView& a, const float* b, int64_t n, float* c);
void bsr_spmm_host(const cpu::BsrView& a, const float* b, int64_t n, float* c, BsrPrecision precision);
void gemm_host(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, bool trans_a, bool trans_b,
               bool tf32);
void masked_sgd_host(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr, float momentum,
                     float weight_decay, bool nesterov);

// Exact selection of the k smallest over the buffers (global index order), with the CPU engine's
// rules and errors (select.h); the buffers' masks are written on the host. select.cu.
cpu::SelectResult select_smallest_host(std::vector<cpu::ScoreBuffer>& buffers, int64_t k, cpu::NanPolicy nan,
                                       bool absolute, bool scratch_masks = false);
// The same over scores already on the device (`el`: eligibility or null; `dm`: the mask out);
// `name_of` names a global index for the NaN error ("scores[b][i]").
cpu::SelectResult select_smallest_device(const float* ds, const unsigned char* el, int64_t n, int64_t k, cpu::NanPolicy nan,
                                         bool absolute, unsigned char* dm,
                                         const std::function<std::string(int64_t)>& name_of);

// Kernel-only timing for benchmarks: the operands are uploaded once (B, X, Y filled with a fixed
// pattern), then `warmup` launches and timed launches (CUDA events around each) until at least
// `repeat` samples and 50 ms. kernel: "spmm", "spmv" (n is 1), "spmmt" or "sddmm".
struct KernelTiming {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int samples = 0;
};
KernelTiming time_csr_kernel(const char* kernel, const cpu::CsrView& a, int64_t n, int repeat, int warmup);
// BSR SpMM (tensor cores when asked and possible) and dense GEMM [m x k]·[k x n], timed the same way.
KernelTiming time_bsr_spmm(const cpu::BsrView& a, int64_t n, BsrPrecision precision, int repeat, int warmup);
KernelTiming time_gemm(int64_t m, int64_t k, int64_t n, bool tf32, int repeat, int warmup);
// The cuSPARSELt 2:4 product [m x k]·[k x n] over a resident, compressed A (BF16), timed the same way.
KernelTiming time_spmm_24(int64_t m, int64_t k, int64_t n, int repeat, int warmup);
// Device-to-device copy of `bytes` (the bandwidth ceiling) and the fused masked SGD step over
// `count` resident parameters (90% masked), timed the same way.
KernelTiming time_device_copy(int64_t bytes, int repeat);
KernelTiming time_masked_sgd(int64_t count, int repeat);
// Selection of the k smallest of `count` resident scores (uniform in [0, 1)), masks written on the
// device: without the score upload and the mask download, but with the routine's small read-backs
// between its radix passes (histograms, tie counts), which are part of its cost.
KernelTiming time_select(int64_t count, int64_t k, int repeat);

}  // namespace shears::cuda
