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

namespace {

// Times `launch` with CUDA events until at least `repeat` samples and 50 ms.
template <class Launch>
KernelTiming time_events(Launch launch, int repeat, int warmup) {
  return time_events(launch, repeat, warmup);
}

}  // namespace

KernelTiming time_device_copy(int64_t bytes, int repeat) {
  require_usable();
  DeviceBuffer<unsigned char> a(bytes), b(bytes);
  check(cudaMemset(a.data(), 1, static_cast<size_t>(bytes)), "cudaMemset");
  return time_events([&] { check(cudaMemcpyAsync(b.data(), a.data(), static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice), "cudaMemcpyAsync"); },
                     repeat, 2);
}

KernelTiming time_masked_sgd(int64_t count, int repeat) {
  require_usable();
  DeviceBuffer<float> w(count), g(count), v(count);
  DeviceBuffer<uint8_t> m(count);
  check(cudaMemset(w.data(), 0, static_cast<size_t>(count) * 4), "cudaMemset");
  check(cudaMemset(g.data(), 0, static_cast<size_t>(count) * 4), "cudaMemset");
  check(cudaMemset(v.data(), 0, static_cast<size_t>(count) * 4), "cudaMemset");
  check(cudaMemset(m.data(), 1, static_cast<size_t>(count)), "cudaMemset");
  return time_events([&] { masked_sgd_launch(count, w.data(), g.data(), v.data(), m.data(), 0.01f, 0.9f, 0.0f, false); }, repeat, 2);
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
  return time_events(launch, repeat, warmup);
}

}  // namespace shears::cuda
