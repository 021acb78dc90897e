#include "select.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <limits>
#include <string>

#include "../../core/errors.h"
#include "../../core/thread_pool.h"

namespace shears::cpu {
namespace {

constexpr int64_t kChunk = 1 << 16;  // entries per parallel task

// A task: a range of one buffer. Tasks are in global index order.
struct Span {
  size_t buffer;
  int64_t begin, end;
};

std::vector<Span> make_spans(const std::vector<ScoreBuffer>& buffers) {
  std::vector<Span> spans;
  for (size_t b = 0; b < buffers.size(); ++b)
    for (int64_t i = 0; i < buffers[b].count; i += kChunk)
      spans.push_back({b, i, std::min(buffers[b].count, i + kChunk)});
  return spans;
}

// Radix digits: 11 + 11 + 10 bits, most significant first.
constexpr int kShift[3] = {21, 10, 0};
constexpr uint32_t kBins[3] = {2048, 2048, 1024};

}  // namespace

SelectResult select_smallest(std::vector<ScoreBuffer>& buffers, int64_t k, NanPolicy nan, bool absolute) {
  ThreadPool& pool = ThreadPool::instance();
  const std::vector<Span> spans = make_spans(buffers);
  const int64_t tasks = static_cast<int64_t>(spans.size());

  // Pass 0: NaN check and eligible count.
  std::vector<int64_t> eligible_in(static_cast<size_t>(tasks), 0);
  std::atomic<int64_t> nan_task{std::numeric_limits<int64_t>::max()};
  pool.run(tasks, [&](int64_t t, int) {
    const Span& s = spans[t];
    const ScoreBuffer& b = buffers[s.buffer];
    int64_t n = 0;
    bool has_nan = false;
    for (int64_t i = s.begin; i < s.end; ++i) {
      if (b.eligible && !b.eligible[i]) continue;
      ++n;
      has_nan |= b.scores[i] != b.scores[i];
    }
    eligible_in[t] = n;
    if (has_nan && nan == NanPolicy::kError) {
      int64_t cur = nan_task.load();
      while (t < cur && !nan_task.compare_exchange_weak(cur, t)) {}
    }
  });
  if (nan_task.load() != std::numeric_limits<int64_t>::max()) {
    const Span& s = spans[nan_task.load()];
    const ScoreBuffer& b = buffers[s.buffer];
    for (int64_t i = s.begin; i < s.end; ++i)
      if ((!b.eligible || b.eligible[i]) && b.scores[i] != b.scores[i])
        throw_range_error("Expected finite or infinite scores but scores[" + std::to_string(s.buffer) + "][" +
                          std::to_string(i) + "] is NaN (pass nan: 'prune' or 'keep' to rank NaN scores)");
  }
  SelectResult result;
  for (int64_t n : eligible_in) result.eligible += n;
  if (k < 0 || k > result.eligible)
    throw_range_error("Expected an amount between 0 and the " + std::to_string(result.eligible) +
                      " eligible entries but received " + std::to_string(k));
  result.selected = k;
  result.threshold = std::numeric_limits<float>::quiet_NaN();

  // Radix passes: find the key T of the k-th smallest (1-based) eligible entry and how many keys
  // are below it. Each pass histograms the keys whose higher digits match the prefix found so far.
  uint32_t prefix = 0, prefix_mask = 0;
  int64_t below = 0;          // eligible keys smaller than every key with the current prefix
  int64_t rank = k;           // we want the rank-th smallest among keys with the prefix
  const int width = pool.num_threads();
  if (k > 0) {
    for (int pass = 0; pass < 3; ++pass) {
      const uint32_t bins = kBins[pass];
      const int shift = kShift[pass];
      std::vector<std::vector<int64_t>> hist(static_cast<size_t>(width), std::vector<int64_t>(bins, 0));
      pool.run(tasks, [&](int64_t t, int w) {
        const Span& s = spans[t];
        const ScoreBuffer& b = buffers[s.buffer];
        int64_t* h = hist[static_cast<size_t>(w)].data();
        for (int64_t i = s.begin; i < s.end; ++i) {
          if (b.eligible && !b.eligible[i]) continue;
          const uint32_t key = score_key(b.scores[i], nan, absolute);
          if ((key & prefix_mask) == prefix) ++h[(key >> shift) & (bins - 1)];
        }
      });
      uint32_t digit = 0;
      for (; digit < bins; ++digit) {
        int64_t c = 0;
        for (auto& h : hist) c += h[digit];
        if (rank <= c) break;
        rank -= c;
        below += c;
      }
      prefix |= digit << shift;
      prefix_mask |= (bins - 1) << shift;
    }
  }
  const uint32_t threshold_key = prefix;
  const int64_t ties_to_select = k - below;  // among keys == threshold_key, in index order

  // Ties per task, so each task knows how many equal keys come before it in global order.
  std::vector<int64_t> ties_before(static_cast<size_t>(tasks) + 1, 0);
  if (k > 0) {
    pool.run(tasks, [&](int64_t t, int) {
      const Span& s = spans[t];
      const ScoreBuffer& b = buffers[s.buffer];
      int64_t n = 0;
      for (int64_t i = s.begin; i < s.end; ++i)
        if ((!b.eligible || b.eligible[i]) && score_key(b.scores[i], nan, absolute) == threshold_key) ++n;
      ties_before[t + 1] = n;
    });
    for (int64_t t = 0; t < tasks; ++t) ties_before[t + 1] += ties_before[t];
  }

  pool.run(tasks, [&](int64_t t, int) {
    const Span& s = spans[t];
    ScoreBuffer& b = buffers[s.buffer];
    int64_t tie = ties_before[t];
    for (int64_t i = s.begin; i < s.end; ++i) {
      if (b.eligible && !b.eligible[i]) {
        b.mask[i] = 0;
        continue;
      }
      if (k == 0) {
        b.mask[i] = 1;
        continue;
      }
      const uint32_t key = score_key(b.scores[i], nan, absolute);
      bool pruned = key < threshold_key;
      if (key == threshold_key) pruned = tie++ < ties_to_select;
      b.mask[i] = pruned ? 0 : 1;
    }
  });
  if (k > 0) {
    // The threshold as a float: the inverse of score_key.
    const uint32_t u = (threshold_key & 0x80000000u) ? (threshold_key & 0x7FFFFFFFu) : ~threshold_key;
    float f;
    std::memcpy(&f, &u, sizeof f);
    result.threshold = f;  // |score| when absolute
  }
  return result;
}

}  // namespace shears::cpu
