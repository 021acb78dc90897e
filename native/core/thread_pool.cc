#include "thread_pool.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace shears {
namespace {
thread_local bool t_in_pool_region = false;

int default_threads() {
  if (const char* env = std::getenv("SHEARS_NUM_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 1024) return static_cast<int>(v);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}
}  // namespace

ThreadPool& ThreadPool::instance() {
  static ThreadPool* pool = new ThreadPool();  // never destroyed: workers may outlive statics
  return *pool;
}

ThreadPool::ThreadPool() { start_workers(default_threads()); }

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::start_workers(int n) {
  num_threads_.store(std::max(1, n), std::memory_order_relaxed);
  stopping_ = false;
  // A new worker must wait for the NEXT region: starting from 0 it would wake at once for the
  // last region (generation_ != 0), decrement active_ for it, and then be one region behind, so a
  // later run() could wait forever for it. No region runs here (region_mutex_ held, or the
  // constructor), so generation_ is stable.
  const uint64_t current = generation_;
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, current] { worker_main(i, current); });
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::set_num_threads(int n) {
  std::lock_guard<std::mutex> region(region_mutex_);
  if (n == num_threads()) return;
  stop_workers();
  start_workers(n);
}

void ThreadPool::drain(int worker) {
  for (;;) {
    const int64_t task = next_.fetch_add(1, std::memory_order_relaxed);
    if (task >= ntasks_) break;
    if (failed_.load(std::memory_order_relaxed)) continue;
    try {
      (*fn_)(task, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
}

namespace {
// Spinning this long before sleeping on the condition variable lets back-to-back small regions (a
// training step runs dozens) skip the futex sleep and wake-up, which cost more than their work.
constexpr int kSpinRounds = 4000;  // ~20-50 µs of pause instructions
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

void ThreadPool::worker_main(int index, uint64_t seen) {
  t_in_pool_region = true;
  bool index_out = false;  // this region's caller sized its per-worker state for fewer workers
  for (;;) {
    for (int i = 0; i < kSpinRounds && published_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      index_out = index >= max_workers_;
    }
    if (!index_out) drain(index);
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
}

int ThreadPool::run(int64_t ntasks, const std::function<void(int64_t, int)>& fn, int max_workers) {
  if (ntasks <= 0) return 1;
  const int width = std::min(num_threads(), std::max(1, max_workers));
  std::unique_lock<std::mutex> region(region_mutex_, std::defer_lock);
  if (ntasks == 1 || width == 1 || t_in_pool_region || !region.try_lock()) {
    for (int64_t t = 0; t < ntasks; ++t) fn(t, 0);
    return 1;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    ntasks_ = ntasks;
    max_workers_ = width;
    next_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    active_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    ++generation_;
    published_.store(generation_, std::memory_order_release);
  }
  wake_.notify_all();
  t_in_pool_region = true;
  drain(0);
  t_in_pool_region = false;
  for (int i = 0; i < kSpinRounds && active_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
    fn_ = nullptr;
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return width;
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  ThreadPool& pool = ThreadPool::instance();
  grain = std::max<int64_t>(1, grain);
  const int64_t max_chunks = static_cast<int64_t>(pool.num_threads()) * 4;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(max_chunks, n / grain));
  pool.run(chunks, [&](int64_t c, int) {
    const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    if (begin < end) fn(begin, end);
  });
}

std::vector<int64_t> row_partition(int64_t rows, const int32_t* ptr, double per_nnz,
                                   double per_row, double min_cost) {
  if (rows <= 0) return {0, 0};
  auto cost_before = [&](int64_t r) {  // cost of rows [0, r)
    return static_cast<double>(ptr[r] - ptr[0]) * per_nnz + static_cast<double>(r) * per_row;
  };
  const double total = cost_before(rows);
  const int64_t max_chunks = static_cast<int64_t>(ThreadPool::instance().num_threads()) * 4;
  int64_t chunks = static_cast<int64_t>(std::min<double>(
      static_cast<double>(max_chunks), std::floor(total / std::max(min_cost, 1.0))));
  chunks = std::max<int64_t>(1, std::min<int64_t>(chunks, rows));
  // Boundary c: the first row whose prefix cost reaches c/chunks of the total.
  std::vector<int64_t> bounds(static_cast<size_t>(chunks) + 1);
  bounds[0] = 0;
  bounds[chunks] = rows;
  for (int64_t c = 1; c < chunks; ++c) {
    const double target = total * static_cast<double>(c) / static_cast<double>(chunks);
    int64_t lo = bounds[c - 1], hi = rows;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (cost_before(mid) < target) lo = mid + 1; else hi = mid;
    }
    bounds[c] = lo;
  }
  return bounds;
}

void parallel_for_rows(int64_t rows, const int32_t* ptr, double per_nnz, double per_row,
                       double min_cost, const std::function<void(int64_t, int64_t)>& fn) {
  if (rows <= 0) return;
  const std::vector<int64_t> bounds = row_partition(rows, ptr, per_nnz, per_row, min_cost);
  const int64_t chunks = static_cast<int64_t>(bounds.size()) - 1;
  if (chunks == 1) {
    fn(0, rows);
    return;
  }
  ThreadPool::instance().run(chunks, [&](int64_t c, int) {
    if (bounds[c] < bounds[c + 1]) fn(bounds[c], bounds[c + 1]);
  });
}

}  // namespace shears
