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

// A pair of CUDA events, destroyed with the object (also when a checked call throws).
class EventPair {
 public:
  EventPair() {
    check(cudaEventCreate(&start), "cudaEventCreate");
    if (cudaError_t e = cudaEventCreate(&stop); e != cudaSuccess) {
      cudaEventDestroy(start);
      check(e, "cudaEventCreate");
    }
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  ~EventPair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  cudaEvent_t start = nullptr, stop = nullptr;
};

// Fills `count` device floats with a fixed pattern, ((q·2654435761) mod m) / m + offset at index q,
// uploaded in chunks of at most 16M floats.
void fill_pattern(float* dst, int64_t count, uint32_t m, float offset) {
  std::vector<float> host(static_cast<size_t>(std::min<int64_t>(count, int64_t{1} << 24)));
  for (int64_t at = 0; at < count; at += static_cast<int64_t>(host.size())) {
    const int64_t len = std::min<int64_t>(static_cast<int64_t>(host.size()), count - at);
    for (int64_t q = 0; q < len; ++q)
      host[static_cast<size_t>(q)] = static_cast<float>((static_cast<uint64_t>(at + q) * 2654435761u) % m) / static_cast<float>(m) + offset;
    copy_to_device(dst + at, host.data(), static_cast<size_t>(len) * sizeof(float));
  }
}

// Times `launch` with CUDA events until at least `repeat` samples and 50 ms (at most 100k).
template <class Launch>
KernelTiming time_events(Launch launch, int repeat, int warmup) {
  for (int k = 0; k < warmup; ++k) launch();
  check(cudaDeviceSynchronize(), "warm-up");
  EventPair ev;
  std::vector<float> ms;
  float total = 0;
  while ((static_cast<int>(ms.size()) < repeat || total < 50.0f) && ms.size() < 100000) {
    check(cudaEventRecord(ev.start), "cudaEventRecord");
    launch();
    check(cudaEventRecord(ev.stop), "cudaEventRecord");
    check(cudaEventSynchronize(ev.stop), "cudaEventSynchronize");
    float t = 0;
    check(cudaEventElapsedTime(&t, ev.start, ev.stop), "cudaEventElapsedTime");
    ms.push_back(t);
    total += t;
  }
  std::sort(ms.begin(), ms.end());
  KernelTiming r;
  r.samples = static_cast<int>(ms.size());
  r.median_ms = ms[ms.size() / 2];
  r.min_ms = ms.front();
  r.max_ms = ms.back();
  return r;
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

KernelTiming time_select(int64_t count, int64_t k, int repeat) {
  require_usable();
  DeviceBuffer<float> scores(count);
  DeviceBuffer<unsigned char> mask(count);
  fill_pattern(scores.data(), count, 1u << 24, 0.0f);
  auto name_of = [](int64_t g) { return "scores[0][" + std::to_string(g) + "]"; };
  return time_events([&] { select_smallest_device(scores.data(), nullptr, count, k, cpu::NanPolicy::kError, false, mask.data(), name_of); },
                     repeat, 1);
}

KernelTiming time_csr_kernel(const char* kernel, const cpu::CsrView& a, int64_t n, int repeat, int warmup) {
  require_usable();
  const std::string k = kernel;
  if (k != "spmm" && k != "spmv" && k != "spmmt" && k != "sddmm")
    throw Error(ErrorKind::kRange, "Expected spmm, spmv, spmmt or sddmm for kernel but received " + k);
  if (k == "spmv") n = 1;
  const int64_t nnz = a.nnz();
  DeviceSparse d(a.ptr, a.rows + 1, a.idx, nnz, a.val, nnz);
  // Operand counts: B (or x, or X) in `in`, Y in `in2` (SDDMM), the result in `out`.
  const int64_t in_count = k == "sddmm" || k == "spmmt" ? a.rows * n : a.cols * n;
  const int64_t other = k == "sddmm" ? a.cols * n : 0;
  const int64_t out_count = k == "sddmm" ? nnz : k == "spmmt" ? a.cols * n : a.rows * n;
  DeviceBuffer<float> in(in_count), in2(other), out(out_count);
  fill_pattern(in.data(), in_count, 1000, -0.5f);
  fill_pattern(in2.data(), other, 1000, -0.5f);
  const std::vector<int32_t> by_length = rows_by_length(a.rows, a.ptr);
  DeviceBuffer<int32_t> order(a.rows);
  order.upload(by_length.data(), a.rows);
  auto launch = [&] {
    if (k == "sddmm") csr_sddmm_launch(a.rows, n, d.ptr.data(), d.idx.data(), in.data(), in2.data(), out.data());
    else if (k == "spmv") csr_spmv_launch(a.rows, d.ptr.data(), d.idx.data(), d.val.data(), in.data(), out.data());
    else if (k == "spmmt") csr_spmmt_launch(a.rows, a.cols, n, d.ptr.data(), d.idx.data(), d.val.data(), in.data(), out.data());
    else csr_spmm_launch(a.rows, n, d.ptr.data(), d.idx.data(), d.val.data(), in.data(), out.data(), nullptr, order.data());
  };
  return time_events(launch, repeat, warmup);
}

KernelTiming time_bsr_spmm(const cpu::BsrView& a, int64_t n, BsrPrecision precision, int repeat, int warmup) {
  require_usable();
  BsrOperands ops(a, nullptr, n, precision);
  fill_pattern(ops.b.data(), a.cols * n, 1000, -0.5f);
  // BF16: B converted once here, so the timed launches are the product alone (as for a B already
  // held in BF16); the conversion is a separate bandwidth-bound pass.
  ops.run(a, n, true);
  return time_events([&] { ops.run(a, n, false); }, repeat, warmup);
}

KernelTiming time_spmm_24(int64_t m, int64_t k, int64_t n, int repeat, int warmup) {
  require_usable();
  require_cusparselt();
  // A 2:4 A: the fixed pattern with two of every four entries of a row zeroed (which two varies by row).
  DeviceBuffer<__nv_bfloat16> a16(m * k), b16(k * n), c16(m * n);
  {
    std::vector<float> host(static_cast<size_t>(m * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t q = i * k + j;
        const bool kept = (j % 4) == (i % 2) || (j % 4) == (i % 2) + 2;
        host[static_cast<size_t>(q)] = kept ? static_cast<float>((static_cast<uint64_t>(q) * 2654435761u) % 1000) / 1000.0f + 0.25f : 0.0f;
      }
    upload_bf16(host.data(), m * k, a16.data(), true);
    DeviceBuffer<float> staged(k * n);
    fill_pattern(staged.data(), k * n, 1000, -0.5f);
    to_bf16_launch(staged.data(), b16.data(), k * n);
    check(cudaStreamSynchronize(nullptr), "to_bf16_kernel");
  }
  Spmm24 product(a16.data(), m, k, n);
  return time_events([&] { product.run(b16.data(), c16.data()); }, repeat, warmup);
}

KernelTiming time_gemm(int64_t m, int64_t k, int64_t n, bool tf32, int repeat, int warmup) {
  require_usable();
  DeviceBuffer<float> a(m * k), b(k * n), c(m * n);
  check(cudaMemset(a.data(), 0, static_cast<size_t>(m * k) * 4), "cudaMemset");
  check(cudaMemset(b.data(), 0, static_cast<size_t>(k * n) * 4), "cudaMemset");
  return time_events([&] { gemm_launch(a.data(), b.data(), c.data(), m, k, n, false, false, tf32); }, repeat, warmup);
}

}  // namespace shears::cuda
