// Exact selection over float32 scores: which entries are the k smallest, across several buffers
// without concatenating them (global pruning), in O(n) with a multithreaded radix select.
//
// Order: scores compare as floats (-0 == +0); NaN is rejected, or ranks below every number
// (nan = prune) or above every number (nan = keep). Ties at the threshold are broken by position:
// the lowest global index (buffer order, then index within a buffer) is selected first, so the same
// scores always give the same masks. (PyTorch's topk leaves the order of ties unspecified: with
// tied scores its masks may differ from these; with distinct scores they are the same.)
#pragma once

#include <cstdint>
#include <vector>

#include "../../core/cpu_features.h"

namespace shears::cpu {

enum class NanPolicy { kError, kPrune, kKeep };

struct ScoreBuffer {
  const float* scores = nullptr;
  int64_t count = 0;
  const uint8_t* eligible = nullptr;  // optional: only entries with eligible[i] != 0 take part
  uint8_t* mask = nullptr;            // output: 0 for the selected (pruned) entries, else 1
};

struct SelectResult {
  int64_t eligible = 0;      // entries that took part
  int64_t selected = 0;      // == k
  float threshold = 0.0f;    // score of the k-th smallest selected entry (NaN when k == 0)
};

// Selects the k smallest eligible scores over all buffers and writes every buffer's mask: 0 where
// selected or not eligible, 1 elsewhere. Throws RangeError when k exceeds the eligible count or a
// score is NaN under NanPolicy::kError (naming the buffer and index); masks are written only after
// every check passed.
// With `absolute`, |score| is ranked (L1 magnitude) without materialising it.
// `scratch_masks`: the masks are this call's own outputs (discarded if it throws), so they may be
// written during the counting pass, which saves the separate mask pass over the scores.
SelectResult select_smallest(std::vector<ScoreBuffer>& buffers, int64_t k, NanPolicy nan, bool absolute,
                             bool scratch_masks = false);

// N:M masks: in every group of m consecutive entries, the n with the largest |score| are kept (1)
// and the rest pruned (0); entries with eligible[i] == 0 are already pruned: they rank lowest and
// stay 0. Ties are broken by position (the lower index is pruned first). NaN follows `nan`
// (kError: RangeError naming the index, before anything is written). count % m must be 0.
void nm_mask(const float* scores, int64_t count, int m, int n, const uint8_t* eligible, NanPolicy nan, uint8_t* out);

struct SelectCounts {
  int64_t below = 0, nans = 0, eligible = 0;
};
struct SelectCandidate {
  uint32_t key;
  int64_t index;
};
// The two full passes of the sampled path, compiled per ISA.
struct SelectKernels {
  const char* name;
  // With `mask` set, also writes the provisional mask: 0 below the bracket or not eligible, 1
  // otherwise (the candidates inside the bracket are settled afterwards).
  void (*count_gather)(const float* scores, const uint8_t* eligible, int64_t begin, int64_t end, uint32_t lo,
                       uint32_t hi, uint32_t nan_key, bool absolute, SelectCounts& counts,
                       std::vector<SelectCandidate>& out, uint8_t* mask);
  void (*write_mask)(const float* scores, const uint8_t* eligible, uint8_t* mask, int64_t begin, int64_t end,
                     uint32_t threshold_key, uint32_t nan_key, bool absolute);
};
const SelectKernels& select_kernels(Isa isa);
const SelectKernels& select_kernels_scalar();
const SelectKernels& select_kernels_avx2();
const SelectKernels& select_kernels_avx512();
const SelectKernels& select_kernels_neon();

// Order-preserving map from float to uint32 (for the radix passes), with the NaN policy applied.
inline uint32_t score_key(float f, NanPolicy nan, bool absolute) {
  if (f != f) return nan == NanPolicy::kKeep ? 0xFFFFFFFFu : 0u;
  if (absolute) f = __builtin_fabsf(f);
  f += 0.0f;  // -0 + +0 is +0: the two zeros are one key
  uint32_t u;
  __builtin_memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

}  // namespace shears::cpu
