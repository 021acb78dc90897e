// CSR and BSR kernels written once against a vector type V (simd/vec_*.h) and compiled per ISA.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "sparse.h"

namespace shears::cpu::kernels {

// ---------------------------------------------------------------------------------------------
constexpr int64_t kPrefetchAhead = 8;

// c[0:cols] = sum_p val[p] * b[idx[p] * ldb + 0:cols], cols <= NV * W (PARTIAL when <).
// Two accumulator sets when NV is small so the FMA latency is hidden across nonzeros.
template <class V, int NV, bool PARTIAL, bool ACC = false, bool PREFETCH = true>
inline void csr_row_tile(const int32_t* idx, const float* val, int64_t p0, int64_t p1,
                         const float* b, int64_t ldb, float* c, int cols) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  constexpr int SETS = NV <= 4 ? 2 : 1;
  Vec acc[SETS][NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    acc[0][v] = !ACC ? V::zero() : PARTIAL ? V::load_partial(c + v * W, cols - v * W) : V::load(c + v * W);
    if (SETS == 2) acc[SETS - 1][v] = V::zero();
  }
  auto step = [&](int s, int64_t p) {
    const Vec a = V::set1(val[p]);
    const float* br = b + static_cast<int64_t>(idx[p]) * ldb;
    if (PREFETCH && p + kPrefetchAhead < p1) {
      // B rows are visited in a data-dependent order the hardware prefetcher cannot follow.
      const float* ahead = b + static_cast<int64_t>(idx[p + kPrefetchAhead]) * ldb;
#pragma GCC unroll 8
      for (int l = 0; l < NV * W; l += 16) __builtin_prefetch(ahead + l);
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const Vec bv = PARTIAL ? V::load_partial(br + v * W, cols - v * W) : V::load(br + v * W);
      acc[s][v] = V::fmadd(a, bv, acc[s][v]);
    }
  };
  int64_t p = p0;
  if (SETS == 2) {
    for (; p + 2 <= p1; p += 2) {
      step(0, p);
      step(SETS - 1, p + 1);
    }
  }
  for (; p < p1; ++p) step(0, p);
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const Vec out = SETS == 2 ? V::add(acc[0][v], acc[SETS - 1][v]) : acc[0][v];
    if (PARTIAL) V::store_partial(c + v * W, out, cols - v * W); else V::store(c + v * W, out);
  }
}

// One row of C over all n columns, from the entries [p0, p1).
template <class V, bool ACC>
inline void csr_row(const CsrView& a, int64_t p0, int64_t p1, const float* b, int64_t n, float* ci,
                    int64_t j = 0) {
  constexpr int W = V::W;
  for (; j + 8 * W <= n; j += 8 * W) csr_row_tile<V, 8, false, ACC>(a.idx, a.val, p0, p1, b + j, n, ci + j, 8 * W);
  if (j + 4 * W <= n) { csr_row_tile<V, 4, false, ACC>(a.idx, a.val, p0, p1, b + j, n, ci + j, 4 * W); j += 4 * W; }
  if (j + 2 * W <= n) { csr_row_tile<V, 2, false, ACC>(a.idx, a.val, p0, p1, b + j, n, ci + j, 2 * W); j += 2 * W; }
  if (j + W <= n) { csr_row_tile<V, 1, false, ACC>(a.idx, a.val, p0, p1, b + j, n, ci + j, W); j += W; }
  if (j < n) csr_row_tile<V, 1, true, ACC>(a.idx, a.val, p0, p1, b + j, n, ci + j, static_cast<int>(n - j));
}

template <class V>
void csr_spmm(const CsrView& a, const float* b, int64_t n, float* c, int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) csr_row<V, false>(a, a.ptr[i], a.ptr[i + 1], b, n, c + i * n);
}

template <class V>
void csr_spmm_panel(const CsrView& a, const float* b, int64_t n, float* c, int64_t r0, int64_t r1,
                    int32_t* cursor, int64_t kend, bool accumulate) {
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t p0 = cursor[i - r0], p1 = segment_end(a, i, p0, kend);
    cursor[i - r0] = static_cast<int32_t>(p1);
    if (!accumulate) csr_row<V, false>(a, p0, p1, b, n, c + i * n);
    else if (p1 > p0) csr_row<V, true>(a, p0, p1, b, n, c + i * n);
  }
}

// Strip-packed SpMM step (sorted rows; see csr_spmm in sparse.cc): `bp` holds the full-width
// column strips of B, strip s as a contiguous [K x S] block (S = kSpmmStrip<V> columns), so the
// part of a strip that one K panel covers sits in L1 while every row of the block uses it. For
// each strip, then each row i in [r0, r1): C[i, s*S : s*S+S] (+)= the entries [seg0, seg1) of
// row i (those in the panel). `accumulate` false writes the tiles (zero for an empty segment).
template <class V>
constexpr int kSpmmStrip = 4 * V::W;

template <class V>
void csr_spmm_strips(const CsrView& a, const float* bp, int64_t n, float* c, int64_t r0, int64_t r1,
                     const int32_t* seg0, const int32_t* seg1, bool accumulate) {
  constexpr int S = kSpmmStrip<V>, W = V::W;
  const int64_t strips = (n + S - 1) / S;
  for (int64_t s = 0; s < strips; ++s) {
    const float* bs = bp + s * a.cols * S;
    const int width = static_cast<int>(std::min<int64_t>(S, n - s * S));
    for (int64_t i = r0; i < r1; ++i) {
      const int64_t p0 = seg0[i - r0], p1 = seg1[i - r0];
      if (accumulate && p1 == p0) continue;
      float* ct = c + i * n + s * S;
      auto tile = [&](auto nv, auto partial, int j, int cols) {
        constexpr int NV = decltype(nv)::value;
        constexpr bool P = decltype(partial)::value;
        if (accumulate) csr_row_tile<V, NV, P, true, false>(a.idx, a.val, p0, p1, bs + j, S, ct + j, cols);
        else csr_row_tile<V, NV, P, false, false>(a.idx, a.val, p0, p1, bs + j, S, ct + j, cols);
      };
      using F = std::false_type;
      using T = std::true_type;
      if (width == S) {
        tile(std::integral_constant<int, 4>{}, F{}, 0, S);
        continue;
      }
      int j = 0;  // the last, narrower strip
      if (j + 2 * W <= width) { tile(std::integral_constant<int, 2>{}, F{}, j, 2 * W); j += 2 * W; }
      if (j + W <= width) { tile(std::integral_constant<int, 1>{}, F{}, j, W); j += W; }
      if (j < width) tile(std::integral_constant<int, 1>{}, T{}, j, width - j);
    }
  }
}

// Scalar-load SpMV row: four independent sums; an index outside [0, limit) reads x[0] (never out
// of bounds) and sets `bad`, so the caller can reject the matrix without having crashed.
inline float spmv_row_loads(const int32_t* idx, const float* val, int64_t p, int64_t p1,
                            const float* x, uint32_t limit, uint32_t& bad) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  auto term = [&](int64_t q) {
    const uint32_t c = static_cast<uint32_t>(idx[q]);
    const uint32_t out = c >= limit;
    bad |= out;
    return val[q] * x[out ? 0u : c];
  };
  for (; p + 4 <= p1; p += 4) {
    s0 += term(p);
    s1 += term(p + 1);
    s2 += term(p + 2);
    s3 += term(p + 3);
  }
  for (; p < p1; ++p) s0 += term(p);
  return (s0 + s1) + (s2 + s3);
}

template <class V>
bool csr_spmv(const CsrView& a, const float* x, float* y, int64_t r0, int64_t r1) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  const uint32_t limit = static_cast<uint32_t>(a.cols);
  if constexpr (!V::kFastGather) {
    uint32_t bad = 0;
    if (limit == 0) {  // no column can be valid; x may be empty
      for (int64_t i = r0; i < r1; ++i) {
        bad |= a.ptr[i + 1] > a.ptr[i];
        y[i] = 0.0f;
      }
      return bad != 0;
    }
    for (int64_t i = r0; i < r1; ++i) y[i] = spmv_row_loads(a.idx, a.val, a.ptr[i], a.ptr[i + 1], x, limit, bad);
    return bad != 0;
  } else {
    bool bad = false;
    for (int64_t i = r0; i < r1; ++i) {
      int64_t p = a.ptr[i];
      const int64_t p1 = a.ptr[i + 1];
      Vec acc0 = V::zero(), acc1 = V::zero();
      for (; p + 2 * W <= p1; p += 2 * W) {
        acc0 = V::fmadd(V::load(a.val + p), V::gather_checked(x, a.idx + p, W, limit, bad), acc0);
        acc1 = V::fmadd(V::load(a.val + p + W), V::gather_checked(x, a.idx + p + W, W, limit, bad), acc1);
      }
      for (; p + W <= p1; p += W)
        acc0 = V::fmadd(V::load(a.val + p), V::gather_checked(x, a.idx + p, W, limit, bad), acc0);
      if (p < p1) {
        const int rem = static_cast<int>(p1 - p);
        acc1 = V::fmadd(V::load_partial(a.val + p, rem), V::gather_checked(x, a.idx + p, rem, limit, bad), acc1);
      }
      y[i] = V::reduce_add(V::add(acc0, acc1));
    }
    return bad;
  }
}

// c[idx[p], j0:j0+cols] += val[p] * b[i, j0:j0+cols] over the nonzeros of rows [r0, r1).
template <class V, int NV, bool PARTIAL>
inline void csr_scatter_tile(const CsrView& a, const float* b, int64_t n, float* c, int64_t r0,
                             int64_t r1, int64_t j0, int cols) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t p0 = a.ptr[i], p1 = a.ptr[i + 1];
    if (p0 == p1) continue;
    Vec bv[NV];
    const float* bi = b + i * n + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = PARTIAL ? V::load_partial(bi + v * W, cols - v * W) : V::load(bi + v * W);
    for (int64_t p = p0; p < p1; ++p) {
      const Vec s = V::set1(a.val[p]);
      float* cr = c + static_cast<int64_t>(a.idx[p]) * n + j0;
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        if (PARTIAL) {
          V::store_partial(cr + v * W, V::fmadd(s, bv[v], V::load_partial(cr + v * W, cols - v * W)), cols - v * W);
        } else {
          V::store(cr + v * W, V::fmadd(s, bv[v], V::load(cr + v * W)));
        }
      }
    }
  }
}

template <class V>
void csr_spmmt(const CsrView& a, const float* b, int64_t n, float* c, int64_t r0, int64_t r1,
               int64_t j0, int64_t j1) {
  constexpr int W = V::W;
  int64_t j = j0;
  for (; j + 4 * W <= j1; j += 4 * W) csr_scatter_tile<V, 4, false>(a, b, n, c, r0, r1, j, 4 * W);
  for (; j + W <= j1; j += W) csr_scatter_tile<V, 1, false>(a, b, n, c, r0, r1, j, W);
  if (j < j1) csr_scatter_tile<V, 1, true>(a, b, n, c, r0, r1, j, static_cast<int>(j1 - j));
}

template <class V>
void csr_spmmt_panel(const CsrView& a, const float* b, int64_t n, float* c, int32_t* cursor,
                     int64_t kend, int64_t j0, int64_t j1) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  for (int64_t i = 0; i < a.rows; ++i) {
    const int64_t p0 = cursor[i], p1 = segment_end(a, i, p0, kend);
    cursor[i] = static_cast<int32_t>(p1);
    if (p0 == p1) continue;
    const float* bi = b + i * n;
    int64_t j = j0;
    for (; j + 4 * W <= j1; j += 4 * W) {
      Vec bv[4];
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) bv[v] = V::load(bi + j + v * W);
      for (int64_t p = p0; p < p1; ++p) {
        const Vec s = V::set1(a.val[p]);
        float* cr = c + static_cast<int64_t>(a.idx[p]) * n + j;
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) V::store(cr + v * W, V::fmadd(s, bv[v], V::load(cr + v * W)));
      }
    }
    for (; j < j1; j += W) {
      const int cols = static_cast<int>(j1 - j < W ? j1 - j : W);
      const Vec bv = V::load_partial(bi + j, cols);
      for (int64_t p = p0; p < p1; ++p) {
        float* cr = c + static_cast<int64_t>(a.idx[p]) * n + j;
        V::store_partial(cr, V::fmadd(V::set1(a.val[p]), bv, V::load_partial(cr, cols)), cols);
      }
    }
  }
}

template <class V>
int64_t count_nonzero(const float* row, int64_t n) {
  constexpr int W = V::W;
  int64_t cnt = 0, j = 0;
  for (; j + W <= n; j += W) cnt += __builtin_popcount(V::nonzero_mask(V::load(row + j)));
  for (; j < n; ++j) cnt += row[j] != 0.0f;
  return cnt;
}

// Returns how many non-zeros the row holds now; at most `total` are written (more, or fewer, only
// when the row changed since it was counted: an async conversion's input written meanwhile).
template <class V>
int64_t compress_nonzero(const float* row, int64_t n, int64_t total, int32_t* idx, float* val) {
  constexpr int W = V::W;
  // Branch-free compaction while a whole vector of output still fits in this row's share (total
  // entries); the last ones go one by one so nothing is written past the row (another thread's).
  int64_t p = 0, j = 0;
  for (; j + W <= n && p + W <= total; j += W) {
    const typename V::V v = V::load(row + j);
    p += V::compress(v, V::nonzero_mask(v), static_cast<int32_t>(j), val + p, idx + p);
  }
  for (; j + W <= n; j += W) {
    for (unsigned m = V::nonzero_mask(V::load(row + j)); m != 0; m &= m - 1) {
      const int64_t col = j + __builtin_ctz(m);
      if (p < total) {
        idx[p] = static_cast<int32_t>(col);
        val[p] = row[col];
      }
      ++p;
    }
  }
  for (; j < n; ++j)
    if (row[j] != 0.0f) {
      if (p < total) {
        idx[p] = static_cast<int32_t>(j);
        val[p] = row[j];
      }
      ++p;
    }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Dot products of x[0:n] with up to four rows of y at once (x loaded once per step).
template <class V>
inline void dot4(const float* x, const float* y0, const float* y1, const float* y2, const float* y3,
                 int64_t n, float* out) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  Vec a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    const Vec xv = V::load(x + j);
    a0 = V::fmadd(xv, V::load(y0 + j), a0);
    a1 = V::fmadd(xv, V::load(y1 + j), a1);
    a2 = V::fmadd(xv, V::load(y2 + j), a2);
    a3 = V::fmadd(xv, V::load(y3 + j), a3);
  }
  if (j < n) {
    const int rem = static_cast<int>(n - j);
    const Vec xv = V::load_partial(x + j, rem);
    a0 = V::fmadd(xv, V::load_partial(y0 + j, rem), a0);
    a1 = V::fmadd(xv, V::load_partial(y1 + j, rem), a1);
    a2 = V::fmadd(xv, V::load_partial(y2 + j, rem), a2);
    a3 = V::fmadd(xv, V::load_partial(y3 + j, rem), a3);
  }
  out[0] = V::reduce_add(a0);
  out[1] = V::reduce_add(a1);
  out[2] = V::reduce_add(a2);
  out[3] = V::reduce_add(a3);
}

// Eight dot products sharing the x loads: 9 loads per 8 FMAs instead of 5 per 4.
template <class V>
inline void dot8(const float* x, const float* const* y, int64_t n, float* out) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  Vec a[8];
#pragma GCC unroll 8
  for (int t = 0; t < 8; ++t) a[t] = V::zero();
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    const Vec xv = V::load(x + j);
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) a[t] = V::fmadd(xv, V::load(y[t] + j), a[t]);
  }
  if (j < n) {
    const int rem = static_cast<int>(n - j);
    const Vec xv = V::load_partial(x + j, rem);
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) a[t] = V::fmadd(xv, V::load_partial(y[t] + j, rem), a[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < 8; ++t) out[t] = V::reduce_add(a[t]);
}

template <class V>
inline float dot1(const float* x, const float* y, int64_t n) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  Vec a0 = V::zero(), a1 = V::zero();
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    a0 = V::fmadd(V::load(x + j), V::load(y + j), a0);
    a1 = V::fmadd(V::load(x + j + W), V::load(y + j + W), a1);
  }
  for (; j + W <= n; j += W) a0 = V::fmadd(V::load(x + j), V::load(y + j), a0);
  if (j < n) {
    const int rem = static_cast<int>(n - j);
    a1 = V::fmadd(V::load_partial(x + j, rem), V::load_partial(y + j, rem), a1);
  }
  return V::reduce_add(V::add(a0, a1));
}

template <class V>
inline void sddmm_entries(const CsrView& pat, const float* xi, const float* y, int64_t n, float* out,
                          int64_t p, int64_t p1) {
    for (; p + 8 <= p1; p += 8) {
      const float* rows[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) rows[t] = y + static_cast<int64_t>(pat.idx[p + t]) * n;
      dot8<V>(xi, rows, n, out + p);
    }
    for (; p + 4 <= p1; p += 4) {
      dot4<V>(xi, y + pat.idx[p] * n, y + pat.idx[p + 1] * n,
              y + static_cast<int64_t>(pat.idx[p + 2]) * n, y + static_cast<int64_t>(pat.idx[p + 3]) * n,
              n, out + p);
    }
    for (; p < p1; ++p) out[p] = dot1<V>(xi, y + static_cast<int64_t>(pat.idx[p]) * n, n);
}

template <class V>
void csr_sddmm(const CsrView& pat, const float* x, const float* y, int64_t n, float* out,
               int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) sddmm_entries<V>(pat, x + i * n, y, n, out, pat.ptr[i], pat.ptr[i + 1]);
}

template <class V>
void csr_sddmm_panel(const CsrView& pat, const float* x, const float* y, int64_t n, float* out,
                     int64_t r0, int64_t r1, int32_t* cursor, int64_t kend) {
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t p0 = cursor[i - r0], p1 = segment_end(pat, i, p0, kend);
    cursor[i - r0] = static_cast<int32_t>(p1);
    sddmm_entries<V>(pat, x + i * n, y, n, out, p0, p1);
  }
}

// ---------------------------------------------------------------------------------------------
// BSR: rows [rbase+r0, rbase+r0+R) of C, columns [j, j+cols), accumulated over the block row.
template <class V, int R, int NV, bool PARTIAL>
inline void bsr_tile(const BsrView& a, int64_t I, int64_t r0, const float* b, int64_t n,
                     float* c, int64_t j, int cols) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  Vec acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();
  const int64_t bsz = a.br * a.bc;
  for (int64_t p = a.ptr[I]; p < a.ptr[I + 1]; ++p) {
    const float* blk = a.val + p * bsz + r0 * a.bc;
    const float* bb = b + static_cast<int64_t>(a.idx[p]) * a.bc * n + j;
    for (int64_t cc = 0; cc < a.bc; ++cc) {
      Vec bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        bv[v] = PARTIAL ? V::load_partial(bb + cc * n + v * W, cols - v * W) : V::load(bb + cc * n + v * W);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const Vec s = V::set1(blk[r * a.bc + cc]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = V::fmadd(s, bv[v], acc[r][v]);
      }
    }
  }
  float* cb = c + (I * a.br + r0) * n + j;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      if (PARTIAL) V::store_partial(cb + r * n + v * W, acc[r][v], cols - v * W);
      else V::store(cb + r * n + v * W, acc[r][v]);
    }
}

template <class V, int R, int NV>
inline void bsr_rows_group(const BsrView& a, int64_t I, int64_t r0, const float* b, int64_t n, float* c) {
  constexpr int T = NV * V::W;
  int64_t j = 0;
  for (; j + T <= n; j += T) bsr_tile<V, R, NV, false>(a, I, r0, b, n, c, j, T);
  for (; j < n; j += V::W) {
    const int cols = static_cast<int>(n - j < V::W ? n - j : V::W);
    if (cols == V::W) bsr_tile<V, R, 1, false>(a, I, r0, b, n, c, j, cols);
    else bsr_tile<V, R, 1, true>(a, I, r0, b, n, c, j, cols);
  }
}

template <class V>
void bsr_spmm(const BsrView& a, const float* b, int64_t n, float* c, int64_t I0, int64_t I1) {
  constexpr int T = 3 * V::W;
  const int64_t full = a.br >= 4 ? n / T * T : 0;
  for (int64_t I = I0; I < I1; ++I) {
    // Column tiles outermost: one tile of the block row's B rows is reused by every group of four
    // rows while it is still in L1, instead of being fetched again for each group.
    for (int64_t j = 0; j < full; j += T)
      for (int64_t r = 0; r + 4 <= a.br; r += 4) bsr_tile<V, 4, 3, false>(a, I, r, b, n, c, j, T);
    int64_t r = 0;
    for (; r + 4 <= a.br; r += 4) {
      for (int64_t j = full; j < n; j += V::W) {
        const int cols = static_cast<int>(n - j < V::W ? n - j : V::W);
        if (cols == V::W) bsr_tile<V, 4, 1, false>(a, I, r, b, n, c, j, cols);
        else bsr_tile<V, 4, 1, true>(a, I, r, b, n, c, j, cols);
      }
    }
    for (; r < a.br; ++r) bsr_rows_group<V, 1, 4>(a, I, r, b, n, c);
  }
}

// Packed-B BSR SpMM step (see bsr_spmm in sparse.cc). `bp` holds B's column tiles of
// T = kBsrTile<V> columns block column by block column, [K / bc][ceil(n / T)][bc][T] (the last tile
// zero-padded), so the tile a stored block multiplies is contiguous; the blocks of a block row are
// taken in chunks whose tiles fit in L1 while every group of four rows reuses them, C accumulating
// in place across chunks. Rows past the last group of four go through bsr_tile over B.
template <class V>
constexpr int kBsrTile = 3 * V::W;

template <class V, bool PARTIAL>
inline void bsr_packed_tile(const BsrView& a, const float* bp, int64_t tiles, int64_t jt, int64_t p0, int64_t pe,
                            bool first, int64_t r0, float* ct, int64_t n, int width) {
  using Vec = typename V::V;
  constexpr int W = V::W, T = kBsrTile<V>;
  const int64_t bc = a.bc, bsz = a.br * bc;
  Vec acc[4][3];
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < 3; ++v) {
      if (first) acc[r][v] = V::zero();
      else if (PARTIAL) acc[r][v] = V::load_partial(ct + r * n + v * W, std::max(0, std::min(W, width - v * W)));
      else acc[r][v] = V::load(ct + r * n + v * W);
    }
  for (int64_t p = p0; p < pe; ++p) {
    const float* blk = a.val + p * bsz + r0 * bc;
    const float* bt = bp + (static_cast<int64_t>(a.idx[p]) * tiles + jt) * bc * T;
    for (int64_t cc = 0; cc < bc; ++cc) {
      const Vec b0 = V::load(bt + cc * T), b1 = V::load(bt + cc * T + W), b2 = V::load(bt + cc * T + 2 * W);
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        const Vec sv = V::set1(blk[r * bc + cc]);
        acc[r][0] = V::fmadd(sv, b0, acc[r][0]);
        acc[r][1] = V::fmadd(sv, b1, acc[r][1]);
        acc[r][2] = V::fmadd(sv, b2, acc[r][2]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < 3; ++v) {
      if (!PARTIAL) V::store(ct + r * n + v * W, acc[r][v]);
      else if (width - v * W > 0) V::store_partial(ct + r * n + v * W, acc[r][v], std::min(W, width - v * W));
    }
}

template <class V>
void bsr_spmm_packed(const BsrView& a, const float* bp, const float* b, int64_t n, float* c, int64_t I0, int64_t I1) {
  constexpr int T = kBsrTile<V>;
  constexpr int64_t kChunkBytes = 12 * 1024;
  const int64_t tiles = (n + T - 1) / T, br = a.br, bc = a.bc, groups = br / 4 * 4;
  const int last = static_cast<int>(n - (tiles - 1) * T);
  const int64_t chunk = std::min<int64_t>(64, std::max<int64_t>(1, kChunkBytes / (bc * T * static_cast<int64_t>(sizeof(float)))));
  for (int64_t I = I0; I < I1; ++I) {
    const int64_t p_begin = a.ptr[I], p_end = a.ptr[I + 1];
    float* cI = c + I * br * n;
    if (p_begin == p_end) {
      std::fill(cI, cI + br * n, 0.0f);
      continue;
    }
    for (int64_t jt = 0; jt < tiles; ++jt)
      for (int64_t p0 = p_begin; p0 < p_end; p0 += chunk) {
        const int64_t pe = std::min(p_end, p0 + chunk);
        for (int64_t r0 = 0; r0 < groups; r0 += 4) {
          float* ct = cI + r0 * n + jt * T;
          if (jt + 1 < tiles || last == T) bsr_packed_tile<V, false>(a, bp, tiles, jt, p0, pe, p0 == p_begin, r0, ct, n, T);
          else bsr_packed_tile<V, true>(a, bp, tiles, jt, p0, pe, p0 == p_begin, r0, ct, n, last);
        }
      }
    for (int64_t r = groups; r < br; ++r) bsr_rows_group<V, 1, 4>(a, I, r, b, n, c);
  }
}

// y = A x block row by block row: each block row's outputs are dot products of the block's rows
// with the matching slice of x, vectorised along the block's columns.
template <class V>
void bsr_spmv(const BsrView& a, const float* x, float* y, int64_t I0, int64_t I1) {
  constexpr int W = V::W;
  const int64_t bsz = a.br * a.bc;
  for (int64_t I = I0; I < I1; ++I) {
    float* yb = y + I * a.br;
    for (int64_t r = 0; r < a.br; ++r) yb[r] = 0.0f;
    for (int64_t p = a.ptr[I]; p < a.ptr[I + 1]; ++p) {
      const float* blk = a.val + p * bsz;
      const float* xs = x + static_cast<int64_t>(a.idx[p]) * a.bc;
      if (a.bc >= W) {
        for (int64_t r = 0; r < a.br; ++r) yb[r] += dot1<V>(blk + r * a.bc, xs, a.bc);
      } else {
        for (int64_t r = 0; r < a.br; ++r) {
          float s = 0.0f;
          for (int64_t c = 0; c < a.bc; ++c) s += blk[r * a.bc + c] * xs[c];
          yb[r] += s;
        }
      }
    }
  }
}

// c[J*bc + cc, j0:j1] += sum_r blk[r, cc] * b[I*br + r, j0:j1]
template <class V>
void bsr_spmmt(const BsrView& a, const float* b, int64_t n, float* c, int64_t I0, int64_t I1,
               int64_t j0, int64_t j1) {
  using Vec = typename V::V;
  constexpr int W = V::W;
  const int64_t bsz = a.br * a.bc;
  for (int64_t I = I0; I < I1; ++I) {
    const float* bi = b + I * a.br * n;
    for (int64_t p = a.ptr[I]; p < a.ptr[I + 1]; ++p) {
      const float* blk = a.val + p * bsz;
      float* cj = c + static_cast<int64_t>(a.idx[p]) * a.bc * n;
      for (int64_t cc = 0; cc < a.bc; ++cc) {
        float* crow = cj + cc * n;
        int64_t j = j0;
        for (; j + 2 * W <= j1; j += 2 * W) {
          Vec s0 = V::load(crow + j), s1 = V::load(crow + j + W);
          for (int64_t r = 0; r < a.br; ++r) {
            const Vec w = V::set1(blk[r * a.bc + cc]);
            s0 = V::fmadd(w, V::load(bi + r * n + j), s0);
            s1 = V::fmadd(w, V::load(bi + r * n + j + W), s1);
          }
          V::store(crow + j, s0);
          V::store(crow + j + W, s1);
        }
        for (; j < j1; j += W) {
          const int cols = static_cast<int>(j1 - j < W ? j1 - j : W);
          Vec s = V::load_partial(crow + j, cols);
          for (int64_t r = 0; r < a.br; ++r)
            s = V::fmadd(V::set1(blk[r * a.bc + cc]), V::load_partial(bi + r * n + j, cols), s);
          V::store_partial(crow + j, s, cols);
        }
      }
    }
  }
}

template <class V>
void bsr_sddmm(const BsrView& pat, const float* x, const float* y, int64_t n, float* out,
               int64_t I0, int64_t I1) {
  const int64_t bsz = pat.br * pat.bc;
  for (int64_t I = I0; I < I1; ++I) {
    for (int64_t p = pat.ptr[I]; p < pat.ptr[I + 1]; ++p) {
      const float* yb = y + static_cast<int64_t>(pat.idx[p]) * pat.bc * n;
      for (int64_t r = 0; r < pat.br; ++r) {
        const float* xr = x + (I * pat.br + r) * n;
        float* o = out + p * bsz + r * pat.bc;
        int64_t cc = 0;
        for (; cc + 4 <= pat.bc; cc += 4)
          dot4<V>(xr, yb + cc * n, yb + (cc + 1) * n, yb + (cc + 2) * n, yb + (cc + 3) * n, n, o + cc);
        for (; cc < pat.bc; ++cc) o[cc] = dot1<V>(xr, yb + cc * n, n);
      }
    }
  }
}

template <class V>
SparseKernels make_sparse_kernels() {
  SparseKernels k{};
  k.name = V::kName;
  k.csr_spmm = &csr_spmm<V>;
  k.csr_spmm_panel = &csr_spmm_panel<V>;
  k.csr_spmm_strips = &csr_spmm_strips<V>;
  k.spmm_strip = kSpmmStrip<V>;
  k.csr_spmv = &csr_spmv<V>;
  k.csr_spmmt = &csr_spmmt<V>;
  k.csr_spmmt_panel = &csr_spmmt_panel<V>;
  k.csr_sddmm = &csr_sddmm<V>;
  k.csr_sddmm_panel = &csr_sddmm_panel<V>;
  k.count_nonzero = &count_nonzero<V>;
  k.compress_nonzero = &compress_nonzero<V>;
  k.bsr_spmm = &bsr_spmm<V>;
  k.bsr_spmm_packed = &bsr_spmm_packed<V>;
  k.bsr_tile = kBsrTile<V>;
  k.bsr_spmv = &bsr_spmv<V>;
  k.bsr_spmmt = &bsr_spmmt<V>;
  k.bsr_sddmm = &bsr_sddmm<V>;
  return k;
}

}  // namespace shears::cpu::kernels
