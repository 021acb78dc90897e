// N:M selection: in every group of m consecutive scores, keep the n largest (by |score|).
#include <algorithm>
#include <atomic>
#include <limits>
#include <string>
#include <vector>

#include "../../core/errors.h"
#include "../../core/thread_pool.h"
#include "select.h"

namespace shears::cpu {
namespace {

// Rank keys: entries already pruned (not eligible) lowest, then the NaN policy's place, then
// |score| in float order; ties are broken by position (the lower index is pruned first).
inline uint64_t nm_key(const float* scores, const uint8_t* eligible, int64_t i, NanPolicy nan) {
  if (eligible && !eligible[i]) return 0;
  return static_cast<uint64_t>(score_key(scores[i], nan, true)) + 1;
}

// One group by pairwise ranks (m <= 16: at most 256 compares, no allocation).
inline void small_group(const float* scores, const uint8_t* eligible, int64_t g, int m, int n, NanPolicy nan,
                        uint8_t* out) {
  uint64_t key[16];
  for (int j = 0; j < m; ++j) key[j] = nm_key(scores, eligible, g + j, nan);
  for (int i = 0; i < m; ++i) {
    int rank = 0;  // entries that sort before i
    for (int j = 0; j < m; ++j) rank += (key[j] < key[i]) | ((key[j] == key[i]) & (j < i));
    out[g + i] = (rank >= m - n) & (key[i] != 0);
  }
}

}  // namespace

void nm_mask(const float* scores, int64_t count, int m, int n, const uint8_t* eligible, NanPolicy nan, uint8_t* out) {
  if (m < 1 || n < 0 || n > m || count % m != 0) throw_range_error("Expected 0 <= n <= m and a length divisible by m");
  const int64_t groups = count / m;
  // NaN check first (nothing is written when a NaN is rejected).
  if (nan == NanPolicy::kError) {
    std::atomic<int64_t> first{std::numeric_limits<int64_t>::max()};
    parallel_for(count, 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        if (scores[i] != scores[i] && (!eligible || eligible[i])) {
          int64_t cur = first.load();
          while (i < cur && !first.compare_exchange_weak(cur, i)) {
          }
          return;
        }
    });
    if (first.load() != std::numeric_limits<int64_t>::max())
      throw_range_error("Expected scores without NaN but scores[" + std::to_string(first.load()) +
                        "] is NaN (pass nan: 'prune' or 'keep' to rank NaN scores)");
  }
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / m);
  parallel_for(groups, grain, [&](int64_t b, int64_t e) {
    if (m <= 16) {
      for (int64_t g = b; g < e; ++g) small_group(scores, eligible, g * m, m, n, nan, out);
      return;
    }
    std::vector<std::pair<uint64_t, int>> order(static_cast<size_t>(m));
    for (int64_t g = b; g < e; ++g) {
      const int64_t base = g * m;
      for (int j = 0; j < m; ++j) order[static_cast<size_t>(j)] = {nm_key(scores, eligible, base + j, nan), j};
      std::sort(order.begin(), order.end());
      for (int r = 0; r < m; ++r) {
        const auto& [key, j] = order[static_cast<size_t>(r)];
        out[base + j] = r >= m - n && key != 0;
      }
    }
  });
}

}  // namespace shears::cpu
