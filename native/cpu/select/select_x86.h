// The selection engine's two full passes written with AVX2 intrinsics, for the avx2 and avx512
// translation units (AVX-512 machines run the same 8-lane code: the passes are memory-bound once
// the per-element work is a handful of vector instructions).
//
// Keys are kept in the signed domain (key ^ 0x80000000) so one signed compare orders them; the
// mapping is exactly key_of's, NaN included, so these passes and the scalar ones agree bit for bit.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "../simd/vec_avx2.h"
#include "select_kernels.h"

namespace shears::cpu::kernels::x86 {

constexpr uint32_t kFlip = 0x80000000u;

struct KeyConsts {
  __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
  __m256i inf = _mm256_set1_epi32(0x7F800000);
  __m256i nan_skey;
  explicit KeyConsts(uint32_t nan_key) : nan_skey(_mm256_set1_epi32(static_cast<int32_t>(nan_key ^ kFlip))) {}
};

// key_of(f) ^ 0x80000000 for eight scores.
template <bool Absolute>
inline __m256i signed_keys(const float* p, const KeyConsts& c) {
  __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i mag = _mm256_and_si256(u, c.abs_mask);
  u = Absolute ? mag : u;
  u = _mm256_andnot_si256(_mm256_cmpeq_epi32(mag, _mm256_setzero_si256()), u);  // -0 is +0
  // Negative floats flip all bits but the sign; positives stay: then the signed order is the float order.
  const __m256i skey = _mm256_xor_si256(u, _mm256_srli_epi32(_mm256_srai_epi32(u, 31), 1));
  return _mm256_blendv_epi8(skey, c.nan_skey, _mm256_cmpgt_epi32(mag, c.inf));
}

inline int bits_of(__m256i m) { return _mm256_movemask_ps(_mm256_castsi256_ps(m)); }

// Eight eligibility bytes as int32 lanes: -1 where eligible, 0 where not.
inline __m256i eligible_lanes(const uint8_t* el) {
  const __m256i e = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(el)));
  return _mm256_cmpgt_epi32(e, _mm256_setzero_si256());
}

inline int64_t hsum(__m256i v) {
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  int64_t s = 0;
  for (int32_t x : lanes) s += x;
  return s;
}

// For each 8-bit lane mask: the 8 bytes 0/1 it stands for.
struct ByteTable {
  uint64_t bytes[256];
  constexpr ByteTable() : bytes{} {
    for (int m = 0; m < 256; ++m) {
      uint64_t b = 0;
      for (int j = 0; j < 8; ++j)
        if (m & (1 << j)) b |= uint64_t{1} << (8 * j);
      bytes[m] = b;
    }
  }
};
inline constexpr ByteTable kByteTable{};

template <bool Absolute, bool HasEl>
void count_gather_x86(const float* sc, const uint8_t* el, int64_t begin, int64_t end, uint32_t lo, uint32_t hi,
                      uint32_t nan_key, SelectCounts& counts, std::vector<SelectCandidate>& out, uint8_t* mask) {
  const ByteTable& bytes = kByteTable;
  const KeyConsts c(nan_key);
  // simd::kCompressTable (vec_avx2.h): for each 8-bit lane mask, the set lanes packed to the front.
  const simd::CompressTable& table = simd::kCompressTable;
  const __m256i slo = _mm256_set1_epi32(static_cast<int32_t>(lo ^ kFlip));
  const __m256i shi = _mm256_set1_epi32(static_cast<int32_t>(hi ^ kFlip));
  const __m256i step = _mm256_set1_epi32(8);
  // Candidates are compressed branch-free into this thread's staging arrays (the bracket holds
  // about 1% of the entries, scattered at random: a branch per hit would mispredict), then
  // appended to `out` once.
  constexpr int64_t kStage = 4096;
  alignas(32) uint32_t stage_key[kStage + 8], stage_pos[kStage + 8];
  // Lane counters subtract -1 per hit; a span is at most 2^16 entries, far inside int32.
  __m256i below = _mm256_setzero_si256(), nans = _mm256_setzero_si256(), eligible = _mm256_setzero_si256();
  int64_t i = begin;
  while (i + 8 <= end) {
    // Positions are offsets from `base`, so they fit 32 bits whatever the buffer's length.
    const int64_t base = i;
    __m256i pos = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int64_t staged = 0;
    const int64_t stop = std::min(end, base + kStage) - 8;
    for (; i <= stop; i += 8) {
      const __m256i skey = signed_keys<Absolute>(sc + i, c);
      const __m256i e = HasEl ? eligible_lanes(el + i) : _mm256_set1_epi32(-1);
      const __m256i mag = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + i)), c.abs_mask);
      const __m256i lt = _mm256_cmpgt_epi32(slo, skey);
      const __m256i gt = _mm256_cmpgt_epi32(skey, shi);
      below = _mm256_sub_epi32(below, _mm256_and_si256(lt, e));
      nans = _mm256_sub_epi32(nans, _mm256_and_si256(_mm256_cmpgt_epi32(mag, c.inf), e));
      if (HasEl) eligible = _mm256_sub_epi32(eligible, e);
      const int inside = bits_of(_mm256_andnot_si256(_mm256_or_si256(lt, gt), e));
      if (mask) {
        // Provisional mask: kept unless below the bracket or not eligible.
        const uint64_t keep = bytes.bytes[bits_of(_mm256_andnot_si256(lt, e))];
        std::memcpy(mask + i, &keep, sizeof keep);
      }
      const __m256i perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(table.perm[inside])));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(stage_key + staged), _mm256_permutevar8x32_epi32(skey, perm));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(stage_pos + staged), _mm256_permutevar8x32_epi32(pos, perm));
      staged += _mm_popcnt_u32(static_cast<unsigned>(inside));
      pos = _mm256_add_epi32(pos, step);
    }
    // Field by field into place: a struct built on the stack and copied stalls store forwarding.
    const size_t size = out.size();
    out.resize(size + static_cast<size_t>(staged));
    SelectCandidate* dst = out.data() + size;
    for (int64_t j = 0; j < staged; ++j) {
      dst[j].key = stage_key[j] ^ kFlip;
      dst[j].index = base + stage_pos[j];
    }
  }
  counts.below += hsum(below);
  counts.nans += hsum(nans);
  counts.eligible += HasEl ? hsum(eligible) : (i - begin);
  if (i < end) count_gather(sc, el, i, end, lo, hi, nan_key, Absolute, counts, out, mask);
}

template <bool Absolute, bool HasEl>
void write_mask_x86(const float* sc, const uint8_t* el, uint8_t* m, int64_t begin, int64_t end, uint32_t thr,
                    uint32_t nan_key) {
  const KeyConsts c(nan_key);
  const __m256i sthr = _mm256_set1_epi32(static_cast<int32_t>(thr ^ kFlip));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i one = _mm256_set1_epi8(1);
  int64_t i = begin;
  for (; i + 32 <= end; i += 32) {
    // -1 where key < threshold (pruned), packed to bytes in order, then +1: 0 pruned, 1 kept.
    const __m256i lt0 = _mm256_cmpgt_epi32(sthr, signed_keys<Absolute>(sc + i, c));
    const __m256i lt1 = _mm256_cmpgt_epi32(sthr, signed_keys<Absolute>(sc + i + 8, c));
    const __m256i lt2 = _mm256_cmpgt_epi32(sthr, signed_keys<Absolute>(sc + i + 16, c));
    const __m256i lt3 = _mm256_cmpgt_epi32(sthr, signed_keys<Absolute>(sc + i + 24, c));
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(lt0, lt1), _mm256_packs_epi32(lt2, lt3));
    __m256i keep = _mm256_add_epi8(_mm256_permutevar8x32_epi32(packed, order), one);
    if (HasEl) {
      const __m256i e = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(el + i));
      keep = _mm256_andnot_si256(_mm256_cmpeq_epi8(e, _mm256_setzero_si256()), keep);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(m + i), keep);
  }
  if (i < end) write_mask(sc, el, m, i, end, thr, nan_key, Absolute);
}

inline void count_gather_avx2(const float* sc, const uint8_t* el, int64_t begin, int64_t end, uint32_t lo,
                              uint32_t hi, uint32_t nan_key, bool absolute, SelectCounts& counts,
                              std::vector<SelectCandidate>& out, uint8_t* mask) {
  if (absolute) {
    if (el) count_gather_x86<true, true>(sc, el, begin, end, lo, hi, nan_key, counts, out, mask);
    else count_gather_x86<true, false>(sc, el, begin, end, lo, hi, nan_key, counts, out, mask);
  } else {
    if (el) count_gather_x86<false, true>(sc, el, begin, end, lo, hi, nan_key, counts, out, mask);
    else count_gather_x86<false, false>(sc, el, begin, end, lo, hi, nan_key, counts, out, mask);
  }
}

inline void write_mask_avx2(const float* sc, const uint8_t* el, uint8_t* m, int64_t begin, int64_t end,
                            uint32_t thr, uint32_t nan_key, bool absolute) {
  if (absolute) {
    if (el) write_mask_x86<true, true>(sc, el, m, begin, end, thr, nan_key);
    else write_mask_x86<true, false>(sc, el, m, begin, end, thr, nan_key);
  } else {
    if (el) write_mask_x86<false, true>(sc, el, m, begin, end, thr, nan_key);
    else write_mask_x86<false, false>(sc, el, m, begin, end, thr, nan_key);
  }
}

inline SelectKernels make_select_kernels_x86(const char* name) {
  return make_select_kernels(name, &count_gather_avx2, &write_mask_avx2);
}

}  // namespace shears::cpu::kernels::x86
