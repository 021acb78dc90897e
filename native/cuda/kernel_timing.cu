// Kernel-only timing for `shears bench --device cuda`: operands uploaded once, CUDA events around
// each launch.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "kernels.h"
#include "memory.h"

namespace shears::cuda {

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
