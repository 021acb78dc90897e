#include "probe.h"

#include <atomic>
#include <cstring>

#include "../../core/thread_pool.h"

namespace shears::cpu {

FmaLoop fma_loop(Isa isa) {
  switch (isa) {
#ifdef SHEARS_HAVE_AVX2
    case Isa::kAvx2: return fma_loop_avx2();
#endif
#ifdef SHEARS_HAVE_AVX512
    case Isa::kAvx512: return fma_loop_avx512();
#endif
#ifdef SHEARS_HAVE_NEON
    case Isa::kNeon: return fma_loop_neon();
#endif
    default: return fma_loop_scalar();
  }
}

int fma_width(Isa isa) {
  switch (isa) {
    case Isa::kAvx2: return 8;
    case Isa::kAvx512: return 16;
    case Isa::kNeon: return 4;
    default: return 1;
  }
}

void stream_copy(float* dst, const float* src, int64_t count) {
  parallel_for(count, 1 << 18, [&](int64_t b, int64_t e) {
    std::memcpy(dst + b, src + b, static_cast<size_t>(e - b) * sizeof(float));
  });
}

double fma_peak_run(Isa isa, int64_t iterations) {
  const FmaLoop loop = fma_loop(isa);
  const int threads = ThreadPool::instance().num_threads();
  std::atomic<float> sink{0.0f};
  const int used = ThreadPool::instance().run(threads, [&](int64_t, int) {
    const float s = loop(iterations);
    float cur = sink.load();
    while (!sink.compare_exchange_weak(cur, cur + s)) {}
  });
  // `used` is 1 when the pool was busy and every task ran on the caller: the flops are the same.
  (void)used;
  return static_cast<double>(threads) * static_cast<double>(iterations) * 12.0 * fma_width(isa) * 2.0;
}

}  // namespace shears::cpu
