#include "select.h"

#include <algorithm>
#include <cmath>
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

// Branch-free score_key for the hot loops (same order as score_key).
inline uint32_t fast_key(float f, uint32_t nan_key, bool absolute) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if (absolute) u &= 0x7FFFFFFFu;
  const uint32_t mag = u & 0x7FFFFFFFu;
  if (mag == 0) u = 0;                              // -0 is +0
  const uint32_t sign = static_cast<uint32_t>(static_cast<int32_t>(u) >> 31);
  const uint32_t key = u ^ (sign | 0x80000000u);    // negatives flip, positives get the top bit
  return mag > 0x7F800000u ? nan_key : key;
}

// An entry whose key falls in the bin the first radix pass picked.
using Candidate = SelectCandidate;

// Buffers reused by the next selection on the same calling thread: fresh ones would page-fault in
// again on every call (about a tenth of the time at 1e8 scores).
struct Scratch {
  std::vector<std::vector<Candidate>> cand;  // per task, in index order
  std::vector<uint32_t> keys, sample;
};
Scratch& scratch_for(int64_t tasks) {
  thread_local Scratch s;
  if (s.cand.size() < static_cast<size_t>(tasks)) s.cand.resize(static_cast<size_t>(tasks));
  for (auto& c : s.cand) c.clear();
  s.keys.clear();
  s.sample.clear();
  return s;
}

}  // namespace

const SelectKernels& select_kernels(Isa isa) {
  switch (isa) {
#ifdef SHEARS_HAVE_AVX2
    case Isa::kAvx2: return select_kernels_avx2();
#endif
#ifdef SHEARS_HAVE_AVX512
    case Isa::kAvx512: return select_kernels_avx512();
#endif
#ifdef SHEARS_HAVE_NEON
    case Isa::kNeon: return select_kernels_neon();
#endif
    default: return select_kernels_scalar();
  }
}

SelectResult select_smallest(std::vector<ScoreBuffer>& buffers, int64_t k, NanPolicy nan, bool absolute,
                             bool scratch_masks) {
  const SelectKernels& kern = select_kernels(active_isa());
  ThreadPool& pool = ThreadPool::instance();
  const std::vector<Span> spans = make_spans(buffers);
  const int64_t tasks = static_cast<int64_t>(spans.size());

  const uint32_t nan_key = nan == NanPolicy::kKeep ? 0xFFFFFFFFu : 0u;
  const int width = pool.num_threads();
  // Regions whose tasks write per-worker state sized by `width` (hist): never more workers than that.
  auto run_sized = [&](int64_t n, const std::function<void(int64_t, int)>& fn) { pool.run(n, fn, width); };
  auto eligible_at = [&](const ScoreBuffer& b, int64_t i) { return !b.eligible || b.eligible[i]; };
  Scratch& scratch = scratch_for(tasks);
  SelectResult result;
  result.selected = k;
  result.threshold = std::numeric_limits<float>::quiet_NaN();

  // The checks every path makes before it writes anything.
  auto reject_nan = [&](const std::vector<int64_t>& nans) {
    if (nan != NanPolicy::kError) return;
    for (int64_t t = 0; t < tasks; ++t) {
      if (nans[static_cast<size_t>(t)] == 0) continue;
      const Span& s = spans[t];
      const ScoreBuffer& b = buffers[s.buffer];
      for (int64_t i = s.begin; i < s.end; ++i)
        if (eligible_at(b, i) && b.scores[i] != b.scores[i])
          throw_range_error("Expected scores that are numbers (±Infinity included) but scores[" + std::to_string(s.buffer) + "][" +
                            std::to_string(i) + "] is NaN (pass nan: 'prune' or 'keep' to rank NaN scores)");
    }
  };
  auto check_k = [&] {
    if (k < 0 || k > result.eligible)
      throw_range_error("Expected an amount between 0 and the " + std::to_string(result.eligible) +
                        " eligible entries but received " + std::to_string(k));
  };

  // Writes every mask for a known threshold key: branch-free (ties kept), then the first
  // `ties_to_select` ties in global order, known from per-task candidate lists, are pruned.
  auto write_masks = [&](uint32_t threshold_key, int64_t ties_to_select, const std::vector<std::vector<Candidate>>& cand) {
    // Last span first: the counting pass just swept forward, so the end of the scores is what the
    // last-level cache still holds (most of it when the scores are about the cache's size).
    pool.run(tasks, [&](int64_t t, int) {
      const Span& s = spans[tasks - 1 - t];
      const ScoreBuffer& b = buffers[s.buffer];
      kern.write_mask(b.scores, b.eligible, b.mask, s.begin, s.end, threshold_key, nan_key, absolute);
    });
    int64_t left = ties_to_select;
    for (int64_t t = 0; t < tasks && left > 0; ++t)
      for (const Candidate& e : cand[static_cast<size_t>(t)])
        if (e.key == threshold_key && left > 0) {
          buffers[spans[t].buffer].mask[e.index] = 0;
          --left;
        }
  };
  // The threshold as a float (the inverse of score_key; |score| when absolute).
  auto finish = [&](uint32_t threshold_key) {
    const uint32_t u = (threshold_key & 0x80000000u) ? (threshold_key & 0x7FFFFFFFu) : ~threshold_key;
    std::memcpy(&result.threshold, &u, sizeof u);
    return result;
  };

  // Per-worker histograms (radix passes and the candidates' bins).
  std::vector<std::vector<int64_t>> hist(static_cast<size_t>(width), std::vector<int64_t>(4096, 0));

  // The r-th smallest key (1-based) among the candidates, all inside [base, base + span], and how
  // many candidates lie strictly below it: a parallel histogram over 4096 bins of the range, then
  // a selection among the few keys in the bin that holds rank r.
  auto rank_among_candidates = [&](uint32_t base, uint32_t span, int64_t r, uint32_t& key_out, int64_t& less_out) {
    constexpr uint32_t kCandBins = 4096;
    int shift = 0;
    while ((span >> shift) >= kCandBins) ++shift;
    for (auto& h : hist) std::fill(h.begin(), h.begin() + kCandBins, 0);
    run_sized(tasks, [&](int64_t t, int w) {
      int64_t* const h = hist[static_cast<size_t>(w)].data();
      for (const Candidate& e : scratch.cand[static_cast<size_t>(t)]) ++h[(e.key - base) >> shift];
    });
    int64_t rank = r, below_bin = 0;
    uint32_t bin = 0;
    for (; bin < kCandBins; ++bin) {
      int64_t c = 0;
      for (auto& h : hist) c += h[bin];
      if (rank <= c) break;
      rank -= c;
      below_bin += c;
    }
    std::vector<uint32_t>& keys = scratch.keys;
    keys.clear();
    for (int64_t t = 0; t < tasks; ++t)
      for (const Candidate& e : scratch.cand[static_cast<size_t>(t)])
        if (((e.key - base) >> shift) == bin) keys.push_back(e.key);
    std::nth_element(keys.begin(), keys.begin() + (rank - 1), keys.end());
    key_out = keys[static_cast<size_t>(rank - 1)];
    less_out = below_bin;
    for (uint32_t key : keys) less_out += key < key_out;
  };

  // Fast path: bracket the k-th key with quantiles of a strided sample, then one pass counts the
  // keys below the bracket and gathers those inside it (about 1% of them). When the bracket misses
  // the k-th key (unusual data), the exact radix passes below take over.
  {
    const int64_t total = [&] { int64_t n = 0; for (const auto& b : buffers) n += b.count; return n; }();
    // Sample size: the sample's selection costs ~S, the candidates' ~n·8/sqrt(S) (the bracket is
    // ±4 standard errors wide); measured here, the sum is smallest near S = n^(2/3).
    const int64_t kSample = std::min<int64_t>(
        1 << 20, std::max<int64_t>(1 << 12, static_cast<int64_t>(std::cbrt(static_cast<double>(total)) *
                                                                 std::cbrt(static_cast<double>(total)))));
    if (k > 0 && total >= 8 * kSample) {
      // The sample: every stride-th entry (a cache miss each), gathered in parallel slices.
      const int64_t stride = total / kSample;
      const int64_t points = total / stride;
      std::vector<int64_t> offset(buffers.size() + 1, 0);
      for (size_t b = 0; b < buffers.size(); ++b) offset[b + 1] = offset[b] + buffers[b].count;
      std::vector<std::vector<uint32_t>> parts(static_cast<size_t>(width));
      pool.run(width, [&](int64_t part, int) {
        std::vector<uint32_t>& out = parts[static_cast<size_t>(part)];
        const int64_t p0 = points * part / width, p1 = points * (part + 1) / width;
        out.reserve(static_cast<size_t>(p1 - p0));
        int64_t g = stride / 2 + p0 * stride;
        size_t b = static_cast<size_t>(std::upper_bound(offset.begin(), offset.end(), g) - offset.begin()) - 1;
        for (int64_t p = p0; p < p1 && b < buffers.size(); ++p, g += stride) {
          while (b < buffers.size() && g >= offset[b + 1]) ++b;
          if (b == buffers.size()) break;
          const ScoreBuffer& buf = buffers[b];
          const int64_t i = g - offset[b];
          if (!buf.eligible || buf.eligible[i]) out.push_back(fast_key(buf.scores[i], nan_key, absolute));
        }
      });
      std::vector<uint32_t>& sample = scratch.sample;
      sample.reserve(static_cast<size_t>(points));
      for (const auto& part : parts) sample.insert(sample.end(), part.begin(), part.end());
      const double eligible_est = static_cast<double>(total) * static_cast<double>(sample.size()) /
                                  static_cast<double>(points);
      if (sample.size() > 1024) {
        // The two quantiles by selection (linear), not a full sort of the sample.
        const double q = static_cast<double>(k) / std::max(1.0, eligible_est);
        const double margin = 4.0 / std::sqrt(static_cast<double>(sample.size()));
        const auto index_of = [&](double f) {
          return static_cast<size_t>(std::min(1.0, std::max(0.0, f)) * static_cast<double>(sample.size() - 1));
        };
        const size_t i_lo = index_of(q - margin), i_hi = index_of(q + margin);
        std::nth_element(sample.begin(), sample.begin() + i_lo, sample.end());
        const uint32_t lo_q = sample[i_lo];
        std::nth_element(sample.begin() + i_lo, sample.begin() + i_hi, sample.end());
        const uint32_t hi_q = sample[i_hi];
        const uint32_t lo = q - margin <= 0 ? 0u : lo_q;
        const uint32_t hi = q + margin >= 1 ? 0xFFFFFFFFu : hi_q;
        std::vector<int64_t> below_in(static_cast<size_t>(tasks), 0), eligible_in(static_cast<size_t>(tasks), 0),
            nans(static_cast<size_t>(tasks), 0);
        std::vector<std::vector<Candidate>>& cand = scratch.cand;
        // Room for the expected share of candidates (2·margin) and then some, so no task regrows.
        const double share = std::min(1.0, 3.0 * margin);
        pool.run(tasks, [&](int64_t t, int) {
          const Span& s = spans[t];
          const ScoreBuffer& b = buffers[s.buffer];
          cand[static_cast<size_t>(t)].reserve(static_cast<size_t>(static_cast<double>(s.end - s.begin) * share) + 16);
          SelectCounts c;
          kern.count_gather(b.scores, b.eligible, s.begin, s.end, lo, hi, nan_key, absolute, c,
                            cand[static_cast<size_t>(t)], scratch_masks ? b.mask : nullptr);
          below_in[static_cast<size_t>(t)] = c.below;
          eligible_in[static_cast<size_t>(t)] = c.eligible;
          nans[static_cast<size_t>(t)] = c.nans;
        });
        reject_nan(nans);
        for (int64_t c : eligible_in) result.eligible += c;
        check_k();
        int64_t below = 0;
        size_t inside = 0;
        for (int64_t t = 0; t < tasks; ++t) {
          below += below_in[static_cast<size_t>(t)];
          inside += cand[static_cast<size_t>(t)].size();
        }
        if (below < k && k <= below + static_cast<int64_t>(inside)) {
          const int64_t r = k - below;
          uint32_t threshold_key;
          int64_t less;
          rank_among_candidates(lo, hi - lo, r, threshold_key, less);
          if (scratch_masks) {
            // The counting pass wrote the masks already; only the candidates inside the bracket
            // (provisionally kept) are settled: below the threshold, or among its first ties.
            int64_t ties = r - less;
            for (int64_t t = 0; t < tasks; ++t) {
              uint8_t* m = buffers[spans[t].buffer].mask;
              for (const Candidate& e : cand[static_cast<size_t>(t)])
                if (e.key < threshold_key || (e.key == threshold_key && ties-- > 0)) m[e.index] = 0;
            }
          } else {
            write_masks(threshold_key, r - less, cand);
          }
          return finish(threshold_key);
        }
        result.eligible = 0;  // recounted by the exact path
        for (auto& c : cand) c.clear();
      }
    }
  }

  // Exact path. Pass 1: histogram of the top 11 bits of every eligible key; its total is the eligible count,
  // and NaN scores are counted on the way (rejected below under NanPolicy::kError).
  for (auto& h : hist) std::fill(h.begin(), h.end(), 0);
  std::vector<int64_t> nans(static_cast<size_t>(tasks), 0);
  run_sized(tasks, [&](int64_t t, int w) {
    const Span& s = spans[t];
    // Locals, not fields: the stores below must not force reloads of what they might alias.
    const float* const sc = buffers[s.buffer].scores;
    const uint8_t* const el = buffers[s.buffer].eligible;
    const uint32_t nk = nan_key;
    const bool ab = absolute;
    int64_t* const h = hist[static_cast<size_t>(w)].data();
    int64_t n = 0;
    auto add = [&](float f) {
      uint32_t u;
      std::memcpy(&u, &f, sizeof u);
      n += (u & 0x7FFFFFFFu) > 0x7F800000u;
      ++h[fast_key(f, nk, ab) >> kShift[0]];
    };
    if (!el) {
      for (int64_t i = s.begin; i < s.end; ++i) add(sc[i]);
    } else {
      for (int64_t i = s.begin; i < s.end; ++i)
        if (el[i]) add(sc[i]);
    }
    nans[static_cast<size_t>(t)] = n;
  });
  reject_nan(nans);
  for (auto& h : hist)
    for (int64_t c : h) result.eligible += c;
  check_k();

  if (k == 0) {
    pool.run(tasks, [&](int64_t t, int) {
      const Span& s = spans[t];
      ScoreBuffer& b = buffers[s.buffer];
      for (int64_t i = s.begin; i < s.end; ++i) b.mask[i] = eligible_at(b, i) ? 1 : 0;
    });
    return result;
  }

  // The digit whose bin (summed over the workers' histograms) holds the rank-th key; rank becomes
  // the position inside that bin and `count` its size.
  auto pick_digit = [&](uint32_t bins, int64_t& rank, int64_t& count) {
    uint32_t digit = 0;
    for (; digit < bins; ++digit) {
      int64_t c = 0;
      for (auto& h : hist) c += h[digit];
      if (rank <= c) {
        count = c;
        break;
      }
      rank -= c;
    }
    return digit;
  };
  int64_t rank = k, count = 0;
  const uint32_t bin = pick_digit(kBins[0], rank, count);

  // More radix passes over everything while the chosen bin is large (float keys crowd into few
  // top-bit bins: one exponent holds a quarter of a uniform range); then the few candidates left
  // are gathered per task (in index order) and finished with nth_element.
  uint32_t prefix = bin << kShift[0], prefix_mask = (kBins[0] - 1) << kShift[0];
  const int64_t limit = result.eligible / 64 + 4096;
  int pass = 1;
  for (; pass < 3 && count > limit; ++pass) {
    const uint32_t bins = kBins[pass];
    const int shift = kShift[pass];
    for (auto& h : hist) std::fill(h.begin(), h.begin() + bins, 0);
    run_sized(tasks, [&](int64_t t, int w) {
      const Span& s = spans[t];
      const float* const sc = buffers[s.buffer].scores;
      const uint8_t* const el = buffers[s.buffer].eligible;
      const uint32_t nk = nan_key, pm = prefix_mask, pf = prefix, bm = bins - 1;
      const bool ab = absolute;
      int64_t* const h = hist[static_cast<size_t>(w)].data();
      for (int64_t i = s.begin; i < s.end; ++i) {
        if (el && !el[i]) continue;
        const uint32_t key = fast_key(sc[i], nk, ab);
        if ((key & pm) == pf) ++h[(key >> shift) & bm];
      }
    });
    const uint32_t digit = pick_digit(bins, rank, count);
    prefix |= digit << shift;
    prefix_mask |= (bins - 1) << shift;
  }

  uint32_t threshold_key = prefix;
  int64_t ties_to_select = rank;  // when the whole key is known: among keys equal to it
  std::vector<std::vector<Candidate>>& cand = scratch.cand;
  const bool compact = count <= limit;
  if (compact) {
    pool.run(tasks, [&](int64_t t, int) {
      const Span& s = spans[t];
      const float* const sc = buffers[s.buffer].scores;
      const uint8_t* const el = buffers[s.buffer].eligible;
      const uint32_t nk = nan_key, pm = prefix_mask, pf = prefix;
      const bool ab = absolute;
      std::vector<Candidate>& out = cand[static_cast<size_t>(t)];
      for (int64_t i = s.begin; i < s.end; ++i) {
        if (el && !el[i]) continue;
        const uint32_t key = fast_key(sc[i], nk, ab);
        if ((key & pm) == pf) out.push_back({key, i});
      }
    });
    int64_t less;
    rank_among_candidates(prefix, ~prefix_mask, rank, threshold_key, less);
    ties_to_select = rank - less;
  }

  if (compact) {
    write_masks(threshold_key, ties_to_select, cand);
  } else {
    // Ties per task (one more pass), so each task knows how many equal keys come before it.
    std::vector<int64_t> ties_before(static_cast<size_t>(tasks) + 1, 0);
    pool.run(tasks, [&](int64_t t, int) {
      const Span& s = spans[t];
      const ScoreBuffer& b = buffers[s.buffer];
      int64_t n = 0;
      for (int64_t i = s.begin; i < s.end; ++i)
        if (eligible_at(b, i) && fast_key(b.scores[i], nan_key, absolute) == threshold_key) ++n;
      ties_before[t + 1] = n;
    });
    for (int64_t t = 0; t < tasks; ++t) ties_before[t + 1] += ties_before[t];
    pool.run(tasks, [&](int64_t t, int) {
      const Span& s = spans[t];
      ScoreBuffer& b = buffers[s.buffer];
      int64_t tie = ties_before[t];
      for (int64_t i = s.begin; i < s.end; ++i) {
        if (!eligible_at(b, i)) {
          b.mask[i] = 0;
          continue;
        }
        const uint32_t key = fast_key(b.scores[i], nan_key, absolute);
        bool pruned = key < threshold_key;
        if (key == threshold_key) pruned = tie++ < ties_to_select;
        b.mask[i] = pruned ? 0 : 1;
      }
    });
  }
  return finish(threshold_key);
}

}  // namespace shears::cpu
