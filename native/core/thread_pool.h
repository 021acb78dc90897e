// A persistent thread pool owned by the addon (not libuv's). One parallel region runs at a time: a
// caller that finds the pool busy (an async job is using it) or that is itself a pool thread runs
// its work inline on its own thread, so there is never a deadlock and never a nested fan-out.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shears {

class ThreadPool {
 public:
  // The process-wide pool. Its size starts at SHEARS_NUM_THREADS, else the number of cores.
  static ThreadPool& instance();

  // Threads a parallel region uses, the calling thread included.
  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }
  // Resizes the pool (1 = everything runs on the caller). Waits for a running region to finish.
  void set_num_threads(int n);

  // Calls fn(task, worker) for every task in [0, ntasks); `worker` is below the width returned (1
  // when run inline) and below `max_workers`. A caller that keeps per-worker state sized by an
  // earlier num_threads() passes that size: set_num_threads() on another thread may have grown the
  // pool since, and the extra workers then sit the region out. Tasks are handed out dynamically.
  // Exceptions thrown by fn are rethrown here (the first one wins; the remaining tasks are skipped).
  int run(int64_t ntasks, const std::function<void(int64_t task, int worker)>& fn, int max_workers = 1 << 30);

  ~ThreadPool();

 private:
  ThreadPool();
  void start_workers(int n);
  void stop_workers();
  // `seen`: the region generation when the worker was started (it waits for the next one).
  void worker_main(int index, uint64_t seen);
  void drain(int worker);

  std::atomic<int> num_threads_{1};
  std::mutex region_mutex_;  // held by the caller for the whole parallel region
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  // The current region.
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t ntasks_ = 0;
  int max_workers_ = 1 << 30;
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_{0};
  uint64_t generation_ = 0;
  // generation_ mirrored for the lock-free spin before a worker sleeps.
  std::atomic<uint64_t> published_{0};
  bool stopping_ = false;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

// Splits [0, n) into chunks of at least `grain` items and runs fn(begin, end) on the pool.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Splits the rows of a CSR-like structure into chunks of about equal cost, where row i costs
// (ptr[i+1] - ptr[i]) * per_nnz + per_row, and runs fn(row_begin, row_end) on the pool. Skewed rows
// (power-law, empty rows) keep every thread busy. `min_cost` is the smallest chunk worth a task.
// Chunk boundaries (ascending, first 0, last rows) splitting rows into chunks of about equal cost.
std::vector<int64_t> row_partition(int64_t rows, const int32_t* ptr, double per_nnz, double per_row,
                                   double min_cost);
void parallel_for_rows(int64_t rows, const int32_t* ptr, double per_nnz, double per_row,
                       double min_cost, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace shears
