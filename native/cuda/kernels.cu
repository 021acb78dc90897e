#include "kernels.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "memory.h"

namespace shears::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;
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

__global__ void masked_sgd_kernel(int64_t count, float* __restrict__ w, const float* __restrict__ g,
                                  float* __restrict__ v, const unsigned char* __restrict__ mask, float lr,
                                  float momentum, float wd, bool nesterov) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const bool keep = mask == nullptr || mask[i] != 0;
    const float grad = g[i] + wd * w[i];
    const float vel = momentum * v[i] + grad;
    const float step = nesterov ? grad + momentum * vel : vel;
    w[i] = keep ? w[i] - lr * step : 0.0f;
    v[i] = keep ? vel : 0.0f;
  }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace

void csr_spmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* val,
                     const float* b, float* c) {
  if (rows == 0 || n == 0) return;
  csr_spmm_kernel<<<row_blocks(rows), kWarpsPerBlock * kWarp>>>(static_cast<int>(rows), static_cast<int>(n), ptr, idx,
                                                                val, b, c);
  check_launch("csr_spmm_kernel");
}

void csr_sddmm_launch(int64_t rows, int64_t n, const int32_t* ptr, const int32_t* idx, const float* x,
                      const float* y, float* out) {
  if (rows == 0) return;
  csr_sddmm_kernel<<<row_blocks(rows), kWarpsPerBlock * kWarp>>>(static_cast<int>(rows), static_cast<int>(n), ptr, idx,
                                                                 x, y, out);
  check_launch("csr_sddmm_kernel");
}

void masked_sgd_launch(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr,
                       float momentum, float weight_decay, bool nesterov) {
  if (count == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((count + 255) / 256, 65535));
  masked_sgd_kernel<<<blocks, 256>>>(count, w, g, v, mask, lr, momentum, weight_decay, nesterov);
  check_launch("masked_sgd_kernel");
}

void csr_spmm_host(const cpu::CsrView& a, const float* b, int64_t n, float* c) {
  require_usable();
  const int64_t nnz = a.nnz();
  DeviceBuffer<int32_t> ptr(a.rows + 1), idx(nnz);
  DeviceBuffer<float> val(nnz), db(a.cols * n), dc(a.rows * n);
  ptr.upload(a.ptr, a.rows + 1);
  idx.upload(a.idx, nnz);
  val.upload(a.val, nnz);
  db.upload(b, a.cols * n);
  csr_spmm_launch(a.rows, n, ptr.data(), idx.data(), val.data(), db.data(), dc.data());
  dc.download(c, a.rows * n);  // synchronises: execution errors surface here, checked
}

void csr_sddmm_host(const cpu::CsrView& p, const float* x, const float* y, int64_t n, float* out) {
  require_usable();
  const int64_t nnz = p.nnz();
  DeviceBuffer<int32_t> ptr(p.rows + 1), idx(nnz);
  DeviceBuffer<float> dx(p.rows * n), dy(p.cols * n), dout(nnz);
  ptr.upload(p.ptr, p.rows + 1);
  idx.upload(p.idx, nnz);
  dx.upload(x, p.rows * n);
  dy.upload(y, p.cols * n);
  csr_sddmm_launch(p.rows, n, ptr.data(), idx.data(), dx.data(), dy.data(), dout.data());
  dout.download(out, nnz);
}

void masked_sgd_host(int64_t count, float* w, const float* g, float* v, const uint8_t* mask, float lr, float momentum,
                     float weight_decay, bool nesterov) {
  require_usable();
  DeviceBuffer<float> dw(count), dg(count), dv(count);
  DeviceBuffer<uint8_t> dm(mask ? count : 0);
  dw.upload(w, count);
  dg.upload(g, count);
  dv.upload(v, count);
  if (mask) dm.upload(mask, count);
  masked_sgd_launch(count, dw.data(), dg.data(), dv.data(), mask ? dm.data() : nullptr, lr, momentum, weight_decay,
                    nesterov);
  dw.download(w, count);
  dv.download(v, count);
}

KernelTiming time_csr_kernel(const char* kernel, const cpu::CsrView& a, int64_t n, int repeat, int warmup) {
  require_usable();
  const bool sddmm = std::strcmp(kernel, "sddmm") == 0;
  if (!sddmm && std::strcmp(kernel, "spmm") != 0 && std::strcmp(kernel, "spmv") != 0)
    throw Error(ErrorKind::kRange, std::string("Expected spmm, spmv or sddmm for kernel but received ") + kernel);
  const int64_t nnz = a.nnz();
  DeviceBuffer<int32_t> ptr(a.rows + 1), idx(nnz);
  DeviceBuffer<float> val(nnz);
  ptr.upload(a.ptr, a.rows + 1);
  idx.upload(a.idx, nnz);
  val.upload(a.val, nnz);
  const int64_t in_count = sddmm ? a.rows * n : a.cols * n, other = sddmm ? a.cols * n : 0;
  const int64_t out_count = sddmm ? nnz : a.rows * n;
  std::vector<float> host(static_cast<size_t>(std::max(in_count, other)));
  for (size_t k = 0; k < host.size(); ++k) host[k] = static_cast<float>((k * 2654435761u) % 1000) / 1000.0f - 0.5f;
  DeviceBuffer<float> in(in_count), in2(other), out(out_count);
  in.upload(host.data(), in_count);
  if (other) in2.upload(host.data(), other);
  auto launch = [&] {
    if (sddmm) csr_sddmm_launch(a.rows, n, ptr.data(), idx.data(), in.data(), in2.data(), out.data());
    else csr_spmm_launch(a.rows, n, ptr.data(), idx.data(), val.data(), in.data(), out.data());
  };
  for (int k = 0; k < warmup; ++k) launch();
  check(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<float> ms;
  float total = 0;
  try {
    while (static_cast<int>(ms.size()) < repeat || total < 50.0f) {
      check(cudaEventRecord(start), "cudaEventRecord");
      launch();
      check(cudaEventRecord(stop), "cudaEventRecord");
      check(cudaEventSynchronize(stop), "cudaEventSynchronize");
      float t = 0;
      check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
      ms.push_back(t);
      total += t;
      if (ms.size() > 100000) break;
    }
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  KernelTiming r;
  r.samples = static_cast<int>(ms.size());
  r.median_ms = ms[ms.size() / 2];
  r.min_ms = ms.front();
  r.max_ms = ms.back();
  return r;
}

}  // namespace shears::cuda
