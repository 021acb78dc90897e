// The selection engine's two full passes, written as plain branch-free loops and compiled once
// per ISA (select_<isa>.cc) so the compiler vectorises them for each target.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "select.h"

namespace shears::cpu::kernels {

inline uint32_t key_of(float f, uint32_t nan_key, bool absolute) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if (absolute) u &= 0x7FFFFFFFu;
  const uint32_t mag = u & 0x7FFFFFFFu;
  u = mag == 0 ? 0u : u;
  const uint32_t sign = static_cast<uint32_t>(static_cast<int32_t>(u) >> 31);
  const uint32_t key = u ^ (sign | 0x80000000u);
  return mag > 0x7F800000u ? nan_key : key;
}

// One block of count_gather; HasEl is a template flag so the common no-mask loop vectorises.
template <bool HasEl>
inline void count_block(const float* sc, const uint8_t* el, int64_t i, int64_t n, uint32_t lo, uint32_t nan_key,
                        bool absolute, uint32_t* keys, SelectCounts& counts) {
  int64_t below = 0, nans = 0, eligible = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float f = sc[i + j];
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    const uint32_t e = HasEl ? (el[i + j] != 0) : 1u;
    nans += e & ((u & 0x7FFFFFFFu) > 0x7F800000u);
    eligible += e;
    const uint32_t key = key_of(f, nan_key, absolute);
    below += e & (key < lo);
    // Ineligible entries get an offset outside [0, hi - lo] for the scan.
    keys[j] = HasEl && !e ? 0xFFFFFFFFu : key - lo;
  }
  counts.below += below;
  counts.nans += nans;
  counts.eligible += eligible;
}

// Counts eligible entries, NaNs and keys below `lo` in [begin, end), and appends the entries with
// lo <= key <= hi (in index order) to `out`.
inline void count_gather(const float* sc, const uint8_t* el, int64_t begin, int64_t end, uint32_t lo,
                         uint32_t hi, uint32_t nan_key, bool absolute, SelectCounts& counts,
                         std::vector<SelectCandidate>& out, uint8_t* mask = nullptr) {
  constexpr int64_t kBlock = 256;
  alignas(64) uint32_t keys[kBlock];
  const uint32_t width = hi - lo;
  for (int64_t i = begin; i < end; i += kBlock) {
    const int64_t n = end - i < kBlock ? end - i : kBlock;
    if (el) count_block<true>(sc, el, i, n, lo, nan_key, absolute, keys, counts);
    else count_block<false>(sc, el, i, n, lo, nan_key, absolute, keys, counts);
    for (int64_t j = 0; j < n; ++j)
      if (keys[j] <= width && (el == nullptr || el[i + j])) out.push_back({keys[j] + lo, i + j});
    if (mask)
      for (int64_t j = 0; j < n; ++j) {
        // keys[j] is key - lo (wrapped below lo); ineligible entries hold 0xFFFFFFFF.
        const uint32_t key = keys[j] + lo;
        mask[i + j] = (el == nullptr || el[i + j]) && key >= lo;
      }
  }
}

// mask[i] = eligible && key >= thr.
inline void write_mask(const float* sc, const uint8_t* el, uint8_t* m, int64_t begin, int64_t end,
                       uint32_t thr, uint32_t nan_key, bool absolute) {
  if (el == nullptr) {
    for (int64_t i = begin; i < end; ++i) m[i] = key_of(sc[i], nan_key, absolute) >= thr;
  } else {
    for (int64_t i = begin; i < end; ++i) m[i] = (el[i] != 0) & (key_of(sc[i], nan_key, absolute) >= thr);
  }
}

// The table of a variant: the plain loops above unless the variant brings its own passes.
inline SelectKernels make_select_kernels(const char* name, decltype(SelectKernels::count_gather) count = nullptr,
                                         decltype(SelectKernels::write_mask) mask = nullptr) {
  SelectKernels k{};
  k.name = name;
  k.count_gather = count ? count : &count_gather;
  k.write_mask = mask ? mask : &write_mask;
  return k;
}

}  // namespace shears::cpu::kernels
