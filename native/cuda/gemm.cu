// Dense GEMM on the GPU, row-major C[m x n] = op(A)·op(B). cuBLAS when the build found it (the
// library NVIDIA tunes per GPU; linked, not rewritten): row-major C is column-major Cᵀ, so the
// call computes Cᵀ = op(B)ᵀ·op(A)ᵀ. TF32 tensor ops only when asked (`tf32`); otherwise the default
// math mode, which keeps SGEMM in FP32 (as PyTorch does with allow_tf32 off).
// Without cuBLAS (CI's toolkit has none): shears' tiled SGEMM, 64x64 tiles over 16-deep slices of
// K in shared memory, each of 256 threads computing a 4x4 patch in registers (FP32 only).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"

#ifdef SHEARS_HAVE_CUBLAS
#include <cublas_v2.h>
#endif

namespace shears::cuda {
namespace {

#ifdef SHEARS_HAVE_CUBLAS
void check_cublas(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  const bool oom = s == CUBLAS_STATUS_ALLOC_FAILED;
  throw Error(oom ? ErrorKind::kAlloc : ErrorKind::kDevice,
              std::string(what) + " failed: cuBLAS status " + std::to_string(static_cast<int>(s)) + (oom ? " (out of device memory)" : ""));
}

// One handle per thread (the addon's pool threads and the main thread live as long as the process):
// a handle's stream, math mode and workspace are state, and two threads running products on
// different streams at once must not share a workspace.
cublasHandle_t cublas_handle() {
  thread_local cublasHandle_t handle = nullptr;
  if (!handle) check_cublas(cublasCreate(&handle), "cublasCreate");
  return handle;
}
#else
constexpr int kTileMN = 64, kTileK = 16, kPatch = 4, kThreads = 256;

__global__ void sgemm_tiled_kernel(int m, int k, int n, const float* __restrict__ a, const float* __restrict__ b,
                                   float* __restrict__ c, bool ta, bool tb) {
  __shared__ float as[kTileK][kTileMN + 1];
  __shared__ float bs[kTileK][kTileMN + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int tiles_m = (m + kTileMN - 1) / kTileMN, tiles_n = (n + kTileMN - 1) / kTileMN;
  for (int64_t tile = blockIdx.x; tile < static_cast<int64_t>(tiles_m) * tiles_n; tile += gridDim.x) {
    const int i0 = static_cast<int>(tile / tiles_n) * kTileMN, j0 = static_cast<int>(tile % tiles_n) * kTileMN;
    float acc[kPatch][kPatch] = {};
    for (int p0 = 0; p0 < k; p0 += kTileK) {
      for (int e = threadIdx.x; e < kTileK * kTileMN; e += kThreads) {
        const int pp = e / kTileMN, ii = e % kTileMN;
        const int i = i0 + ii, j = j0 + ii, p = p0 + pp;
        as[pp][ii] = i < m && p < k ? (ta ? a[static_cast<int64_t>(p) * m + i] : a[static_cast<int64_t>(i) * k + p]) : 0.f;
        bs[pp][ii] = j < n && p < k ? (tb ? b[static_cast<int64_t>(j) * k + p] : b[static_cast<int64_t>(p) * n + j]) : 0.f;
      }
      __syncthreads();
#pragma unroll
      for (int pp = 0; pp < kTileK; ++pp) {
        float av[kPatch], bv[kPatch];
#pragma unroll
        for (int r = 0; r < kPatch; ++r) av[r] = as[pp][ty + 16 * r];
#pragma unroll
        for (int s = 0; s < kPatch; ++s) bv[s] = bs[pp][tx + 16 * s];
#pragma unroll
        for (int r = 0; r < kPatch; ++r)
#pragma unroll
          for (int s = 0; s < kPatch; ++s) acc[r][s] = fmaf(av[r], bv[s], acc[r][s]);
      }
      __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < kPatch; ++r)
#pragma unroll
      for (int s = 0; s < kPatch; ++s) {
        const int i = i0 + ty + 16 * r, j = j0 + tx + 16 * s;
        if (i < m && j < n) c[static_cast<int64_t>(i) * n + j] = acc[r][s];
      }
  }
}
#endif

}  // namespace

const char* gemm_backend() {
#ifdef SHEARS_HAVE_CUBLAS
  return "cublas";
#else
  return "shears";
#endif
}

void gemm_launch(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, bool trans_a, bool trans_b,
                 bool tf32, cudaStream_t stream) {
  if (m == 0 || n == 0) return;
  int_dim(m, "m");
  int_dim(k, "k");
  int_dim(n, "n");
  if (k == 0) {
    check(cudaMemsetAsync(c, 0, static_cast<size_t>(m * n) * sizeof(float), stream), "cudaMemsetAsync");
    return;
  }
#ifdef SHEARS_HAVE_CUBLAS
  cublasHandle_t h = cublas_handle();
  check_cublas(cublasSetStream(h, stream), "cublasSetStream");
  check_cublas(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  const float one = 1.0f, zero = 0.0f;
  // Column-major view: Cᵀ [n x m] = op(B)ᵀ [n x k] · op(A)ᵀ [k x m].
  check_cublas(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                           static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &one, b,
                           static_cast<int>(trans_b ? k : n), a, static_cast<int>(trans_a ? m : k), &zero, c,
                           static_cast<int>(n)),
               "cublasSgemm");
#else
  (void)tf32;
  const int64_t tiles = ((m + kTileMN - 1) / kTileMN) * ((n + kTileMN - 1) / kTileMN);
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(tiles, int64_t{1} << 20));
  sgemm_tiled_kernel<<<grid, kThreads, 0, stream>>>(static_cast<int>(m), static_cast<int>(k), static_cast<int>(n), a, b, c,
                                                    trans_a, trans_b);
  check_launch("sgemm_tiled_kernel");
#endif
}

void gemm_host(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, bool trans_a, bool trans_b,
               bool tf32) {
  require_usable();
  DeviceBuffer<float> da(m * k), db(k * n), dc(m * n);
  da.upload(a, m * k);
  db.upload(b, k * n);
  gemm_launch(da.data(), db.data(), dc.data(), m, k, n, trans_a, trans_b, tf32);
  dc.download(c, m * n);
}

}  // namespace shears::cuda
