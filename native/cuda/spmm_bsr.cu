// BSR SpMM on the GPU: C[rows x n] = A·B, A in blocks of br x bc (values row-major per block), B
// [cols x n] row-major.
//  - Tensor cores (sm_80+, TF32 mma through WMMA 16x16x8 fragments) when br is 16, 32, 48 or 64,
//    bc a multiple of 8 and n a multiple of 16: one warp per (block row, 16 output columns),
//    holding br/16 accumulator tiles; each stored block contributes bc/8 steps of one B fragment
//    times br/16 A fragments. Inputs are rounded to TF32 (10-bit mantissa), sums stay FP32.
//  - BF16 tensor cores (sm_80+, WMMA 16x16x16) for the same block rows when bc and n are multiples
//    of 16, over BF16 copies of A's values and of B (converted on the device, 8-bit mantissa);
//    products are exact in FP32 and summed in FP32.
//  - Otherwise (or when tensor cores are not wanted) FP32 on CUDA cores: one thread per output
//    column of a block row, eight rows of the block at a time in registers.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"

namespace shears::cuda {
namespace {

constexpr int kTcWarps = 4;         // warps per CTA, each on its own 16 output columns
constexpr int kTile = 16;           // WMMA M = N
constexpr int kTileK = 8;           // WMMA K for TF32
constexpr int kTileK16 = 16;        // WMMA K for BF16
constexpr int kMaxRowTiles = 4;     // br up to 64
constexpr int kCoreThreads = 128;   // CUDA-core kernel: output columns per CTA
constexpr int kCoreRows = 8;        // block rows kept in registers at a time
constexpr unsigned kMaxGridY = 65535;

// One warp per (block row, 16 output columns), RT accumulator tiles of 16 rows. `In` is float (TF32
// fragments, K = 8, inputs rounded to TF32 as they are loaded) or __nv_bfloat16 (K = 16, operands
// already converted).
template <int RT, class In>
__global__ void bsr_spmm_tc_kernel(int block_rows, int bc, int n, const int* __restrict__ ptr, const int* __restrict__ idx,
                                   const In* __restrict__ val, const In* __restrict__ b, float* __restrict__ c) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  constexpr bool kTf32 = std::is_same_v<In, float>;
  using Frag = std::conditional_t<kTf32, wmma::precision::tf32, __nv_bfloat16>;
  constexpr int K = kTf32 ? kTileK : kTileK16;
  const int I = blockIdx.x;
  const int warp = threadIdx.x / 32;
  const int br = RT * kTile;
  for (int64_t j0 = (static_cast<int64_t>(blockIdx.y) * kTcWarps + warp) * kTile; j0 < n;
       j0 += static_cast<int64_t>(gridDim.y) * kTcWarps * kTile) {
    wmma::fragment<wmma::accumulator, kTile, kTile, K, float> acc[RT];
#pragma unroll
    for (int r = 0; r < RT; ++r) wmma::fill_fragment(acc[r], 0.0f);
    for (int p = ptr[I]; p < ptr[I + 1]; ++p) {
      const In* blk = val + static_cast<int64_t>(p) * br * bc;
      const In* bcol = b + static_cast<int64_t>(idx[p]) * bc * n + j0;
      for (int kk = 0; kk < bc; kk += K) {
        wmma::fragment<wmma::matrix_b, kTile, kTile, K, Frag, wmma::row_major> fb;
        wmma::load_matrix_sync(fb, bcol + static_cast<int64_t>(kk) * n, n);
        if constexpr (kTf32) {
#pragma unroll
          for (int e = 0; e < fb.num_elements; ++e) fb.x[e] = wmma::__float_to_tf32(fb.x[e]);
        }
#pragma unroll
        for (int r = 0; r < RT; ++r) {
          wmma::fragment<wmma::matrix_a, kTile, kTile, K, Frag, wmma::row_major> fa;
          wmma::load_matrix_sync(fa, blk + r * kTile * bc + kk, bc);
          if constexpr (kTf32) {
#pragma unroll
            for (int e = 0; e < fa.num_elements; ++e) fa.x[e] = wmma::__float_to_tf32(fa.x[e]);
          }
          wmma::mma_sync(acc[r], fa, fb, acc[r]);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < RT; ++r)
      wmma::store_matrix_sync(c + (static_cast<int64_t>(I) * br + r * kTile) * n + j0, acc[r], n, wmma::mem_row_major);
  }
#endif
}

// Launches bsr_spmm_tc_kernel for the shape (tensor_core_shape holds).
template <class In>
void launch_tc(const cpu::BsrView& a, const int32_t* ptr, const int32_t* idx, const In* val, const In* b, int64_t n,
               float* c, cudaStream_t stream) {
  const int64_t block_rows = a.block_rows();
  if (block_rows == 0 || n == 0) return;
  const int bi = int_dim(block_rows, "rows / blockRows"), bc = int_dim(a.bc, "blockCols"), ni = int_dim(n, "n");
  const dim3 grid(static_cast<unsigned>(block_rows),
                  static_cast<unsigned>(std::min<int64_t>((n + kTcWarps * kTile - 1) / (kTcWarps * kTile), kMaxGridY)));
  switch (a.br / kTile) {
    case 1: bsr_spmm_tc_kernel<1, In><<<grid, kTcWarps * 32, 0, stream>>>(bi, bc, ni, ptr, idx, val, b, c); break;
    case 2: bsr_spmm_tc_kernel<2, In><<<grid, kTcWarps * 32, 0, stream>>>(bi, bc, ni, ptr, idx, val, b, c); break;
    case 3: bsr_spmm_tc_kernel<3, In><<<grid, kTcWarps * 32, 0, stream>>>(bi, bc, ni, ptr, idx, val, b, c); break;
    default: bsr_spmm_tc_kernel<4, In><<<grid, kTcWarps * 32, 0, stream>>>(bi, bc, ni, ptr, idx, val, b, c); break;
  }
  check_launch("bsr_spmm_tc_kernel");
}

__global__ void bsr_spmm_core_kernel(int block_rows, int br, int bc, int n, const int* __restrict__ ptr,
                                     const int* __restrict__ idx, const float* __restrict__ val,
                                     const float* __restrict__ b, float* __restrict__ c) {
  const int I = blockIdx.x;
  const int start = ptr[I], end = ptr[I + 1];
  for (int64_t col = static_cast<int64_t>(blockIdx.y) * kCoreThreads + threadIdx.x; col < n;
       col += static_cast<int64_t>(gridDim.y) * kCoreThreads) {
    for (int r0 = 0; r0 < br; r0 += kCoreRows) {
      float acc[kCoreRows];
#pragma unroll
      for (int r = 0; r < kCoreRows; ++r) acc[r] = 0.f;
      for (int p = start; p < end; ++p) {
        const float* blk = val + static_cast<int64_t>(p) * br * bc;
        const float* bcol = b + static_cast<int64_t>(idx[p]) * bc * n + col;
        for (int kk = 0; kk < bc; ++kk) {
          const float x = __ldg(bcol + static_cast<int64_t>(kk) * n);
#pragma unroll
          for (int r = 0; r < kCoreRows; ++r)
            if (r0 + r < br) acc[r] = fmaf(__ldg(blk + (r0 + r) * bc + kk), x, acc[r]);
        }
      }
#pragma unroll
      for (int r = 0; r < kCoreRows; ++r)
        if (r0 + r < br) c[(static_cast<int64_t>(I) * br + r0 + r) * n + col] = acc[r];
    }
  }
}

// Whether the tensor-core kernel can run here: the device has TF32 tensor cores (compute capability
// 8.0 or later) and the code loaded for it was built for sm_80 or later (an older PTX target JIT-
// compiled for a newer device would have the kernel's body compiled out).
// Asked once per device (the answer cannot change), not on every launch.
bool device_has_tf32() {
  constexpr int kDevices = 64;
  static std::atomic<int> known[kDevices] = {};  // 0: not asked yet, 1: no, 2: yes
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  if (dev < kDevices && known[dev].load(std::memory_order_relaxed) != 0) return known[dev].load(std::memory_order_relaxed) == 2;
  int major = 0;
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "cudaDeviceGetAttribute");
  bool yes = major >= 8;
  if (yes) {
    cudaFuncAttributes attr{};
    check(cudaFuncGetAttributes(&attr, bsr_spmm_tc_kernel<1, float>), "cudaFuncGetAttributes");
    yes = attr.ptxVersion >= 80;  // the virtual architecture its body was compiled for
  }
  if (dev < kDevices) known[dev].store(yes ? 2 : 1, std::memory_order_relaxed);
  return yes;
}

}  // namespace

namespace {
bool tensor_core_shape(int64_t br, int64_t bc, int64_t n, BsrPrecision precision) {
  const int64_t k = precision == BsrPrecision::bf16 ? kTileK16 : kTileK;
  return precision != BsrPrecision::fp32 && br % kTile == 0 && br >= kTile && br <= kMaxRowTiles * kTile &&
         bc % k == 0 && bc > 0 && n % kTile == 0;
}
}  // namespace

BsrKernel bsr_spmm_kernel(int64_t br, int64_t bc, int64_t n, BsrPrecision precision) {
  if (!tensor_core_shape(br, bc, n, precision) || !device_has_tf32()) return BsrKernel::kFp32;
  return precision == BsrPrecision::bf16 ? BsrKernel::kBf16 : BsrKernel::kTf32;
}

const char* bsr_kernel_name(BsrKernel kernel) {
  return kernel == BsrKernel::kBf16 ? "bf16-mma" : kernel == BsrKernel::kTf32 ? "tf32-mma" : "fp32";
}

BsrOperands::BsrOperands(const cpu::BsrView& a, const float* host_b, int64_t n, BsrPrecision precision)
    : sparse(a.ptr, a.block_rows() + 1, a.idx, a.nnzb(), a.val, a.nnzb() * a.br * a.bc), b(a.cols * n), c(a.rows * n),
      kernel(bsr_spmm_kernel(a.br, a.bc, n, precision)) {
  if (host_b != nullptr) b.upload(host_b, a.cols * n);
  if (kernel == BsrKernel::kBf16) {
    val16 = DeviceBuffer<__nv_bfloat16>(sparse.val.size());
    b16 = DeviceBuffer<__nv_bfloat16>(b.size());
    to_bf16_launch(sparse.val.data(), val16.data(), sparse.val.size());
  }
}

void BsrOperands::run(const cpu::BsrView& a, int64_t n, bool convert_b) {
  const int64_t block_rows = a.block_rows();
  if (block_rows == 0 || n == 0) return;
  const int32_t *ptr = sparse.ptr.data(), *idx = sparse.idx.data();
  switch (kernel) {
    case BsrKernel::kBf16:
      if (convert_b) to_bf16_launch(b.data(), b16.data(), b.size());
      launch_tc<__nv_bfloat16>(a, ptr, idx, val16.data(), b16.data(), n, c.data(), nullptr);
      return;
    case BsrKernel::kTf32:
      launch_tc<float>(a, ptr, idx, sparse.val.data(), b.data(), n, c.data(), nullptr);
      return;
    case BsrKernel::kFp32: {
      const int bi = int_dim(block_rows, "rows / blockRows"), bc = int_dim(a.bc, "blockCols"), ni = int_dim(n, "n");
      const dim3 grid(static_cast<unsigned>(block_rows),
                      static_cast<unsigned>(std::min<int64_t>((n + kCoreThreads - 1) / kCoreThreads, kMaxGridY)));
      bsr_spmm_core_kernel<<<grid, kCoreThreads>>>(bi, static_cast<int>(a.br), bc, ni, ptr, idx, sparse.val.data(), b.data(),
                                                   c.data());
      check_launch("bsr_spmm_core_kernel");
      return;
    }
  }
}

void bsr_spmm_host(const cpu::BsrView& a, const float* b, int64_t n, float* c, BsrPrecision precision) {
  require_usable();
  BsrOperands ops(a, b, n, precision);
  ops.run(a, n, true);
  ops.c.download(c, a.rows * n);
}

}  // namespace shears::cuda
