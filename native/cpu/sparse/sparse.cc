#include "sparse.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../../core/errors.h"
#include "../../core/memory.h"
#include "../../core/scratch.h"
#include "../../core/thread_pool.h"
#include "convert.h"

namespace shears::cpu {

const SparseKernels& sparse_kernels(Isa isa) {
  switch (isa) {
#ifdef SHEARS_HAVE_AVX2
    case Isa::kAvx2: return sparse_kernels_avx2();
#endif
#ifdef SHEARS_HAVE_AVX512
    case Isa::kAvx512: return sparse_kernels_avx512();
#endif
#ifdef SHEARS_HAVE_NEON
    case Isa::kNeon: return sparse_kernels_neon();
#endif
    default: return sparse_kernels_scalar();
  }
}

namespace {
constexpr double kMinChunkCost = 1 << 15;  // about 32k multiply-adds per task
constexpr int64_t kTransposeMinN = 32, kTransposeMinNnz = 1 << 14;

void fill_zero(float* c, int64_t count) {
  parallel_for(count, 1 << 16, [&](int64_t b, int64_t e) { std::memset(c + b, 0, (e - b) * sizeof(float)); });
}

// True when transposed_product would fall back to per-thread copies of C (narrow n, several
// threads, enough work) that cost more than the product: the copies are zeroed and summed, so
// their cost grows with threads x out_rows x n, the product's with nnz x n. Then transposing A
// (O(nnz + out_rows)) and running the gather kernel, which splits C's rows, is cheaper in time and
// memory (a 20000 x 1e6 matrix with 200k entries, n = 8, needed a 32 MB copy per thread).
// `work`: the product's multiply-adds.
bool private_copies_cost_more(int64_t out_rows, int64_t n, double work) {
  const int threads = ThreadPool::instance().num_threads();
  if (threads == 1 || n >= 16 * threads) return false;
  return work >= kMinChunkCost * 2 && static_cast<double>(threads) * out_rows * n > 2.0 * work;
}

// Output columns are split across threads when there are enough of them; otherwise each thread
// accumulates its rows into a private copy of C and the copies are summed.
template <class Scatter>
void transposed_product(int64_t out_rows, int64_t n, int64_t rows, const int32_t* ptr,
                        double per_nnz, double per_row, float* c, Scatter scatter) {
  ThreadPool& pool = ThreadPool::instance();
  const int threads = pool.num_threads();
  const int64_t total = out_rows * n;
  const double work = static_cast<double>(ptr[rows]) * per_nnz + rows * per_row;
  if (threads == 1 || work < kMinChunkCost * 2) {
    fill_zero(c, total);
    scatter(c, int64_t{0}, rows, int64_t{0}, n);
    return;
  }
  if (n >= 16 * threads) {
    fill_zero(c, total);
    const int64_t parts = std::min<int64_t>(threads, n / 16);
    pool.run(parts, [&](int64_t t, int) {
      const int64_t j0 = n * t / parts / 16 * 16, j1 = t + 1 == parts ? n : n * (t + 1) / parts / 16 * 16;
      scatter(c, int64_t{0}, rows, j0, j1);
    });
    return;
  }
  const std::vector<int64_t> bounds = row_partition(rows, ptr, per_nnz, per_row, kMinChunkCost);
  const int64_t chunks = static_cast<int64_t>(bounds.size()) - 1;
  // One private copy per task (not per worker), each task a fixed run of consecutive chunks, and
  // the copies summed in task order: the bits then depend on the thread count only, not on which
  // worker happened to take which chunk (reproducible run to run, DESIGN.md "Determinism").
  const int64_t parts = std::min<int64_t>(threads, chunks);
  // Checked together: each copy alone may fit where all of them (and C) do not.
  ensure_fits(static_cast<double>(parts + 1) * total * sizeof(float),
              [parts] { return "the output and " + std::to_string(parts) + " per-thread copies of it"; });
  std::vector<AlignedBuffer> priv(static_cast<size_t>(parts));
  for (auto& buf : priv) buf.resize(static_cast<size_t>(total));
  pool.run(parts, [&](int64_t t, int) {
    float* mine = priv[t].data();
    std::memset(mine, 0, total * sizeof(float));
    scatter(mine, bounds[chunks * t / parts], bounds[chunks * (t + 1) / parts], int64_t{0}, n);
  });
  parallel_for(total, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t x = b; x < e; ++x) {
      float s = 0.0f;
      for (int64_t t = 0; t < parts; ++t) s += priv[t].data()[x];
      c[x] = s;
    }
  });
}
}  // namespace

void validate_row_ptr(const int32_t* ptr, int64_t rows, int64_t nnz, const char* name) {
  if (ptr[0] != 0)
    throw_range_error(std::string("Expected ") + name + "[0] to be 0 but received " + std::to_string(ptr[0]));
  for (int64_t i = 0; i < rows; ++i) {
    if (ptr[i + 1] < ptr[i])
      throw_range_error(std::string("Expected ") + name + " to be non-decreasing but " + name + "[" +
                        std::to_string(i + 1) + "] = " + std::to_string(ptr[i + 1]) + " < " + name + "[" +
                        std::to_string(i) + "] = " + std::to_string(ptr[i]));
  }
  if (ptr[rows] != nnz)
    throw_range_error(std::string("Expected ") + name + "[" + std::to_string(rows) + "] to equal the number of stored entries (" +
                      std::to_string(nnz) + ") but received " + std::to_string(ptr[rows]));
}

void validate_indices(const int32_t* idx, int64_t count, int64_t limit, const char* name) {
  std::atomic<int64_t> first_bad{std::numeric_limits<int64_t>::max()};
  const uint32_t lim = static_cast<uint32_t>(std::min<int64_t>(limit, std::numeric_limits<int32_t>::max()));
  parallel_for(count, 1 << 16, [&](int64_t b, int64_t e) {
    uint32_t any = 0;
    for (int64_t p = b; p < e; ++p) any |= static_cast<uint32_t>(static_cast<uint32_t>(idx[p]) >= lim);
    if (!any) return;
    for (int64_t p = b; p < e; ++p) {
      if (static_cast<uint32_t>(idx[p]) >= lim) {
        int64_t cur = first_bad.load();
        while (p < cur && !first_bad.compare_exchange_weak(cur, p)) {}
        return;
      }
    }
  });
  const int64_t p = first_bad.load();
  if (p != std::numeric_limits<int64_t>::max())
    throw_range_error(std::string("Expected ") + name + " values in [0, " + std::to_string(limit) + ") but " + name +
                      "[" + std::to_string(p) + "] = " + std::to_string(idx[p]));
}

bool validate_csr(const CsrView& a, const char* name) {
  (void)name;
  validate_row_ptr(a.ptr, a.rows, a.stored, "rowPtr");
  validate_indices(a.idx, a.nnz(), a.cols, "colIdx");
  std::atomic<bool> sorted{true};
  parallel_for_rows(a.rows, a.ptr, 1.0, 1.0, 1 << 16, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1 && sorted.load(std::memory_order_relaxed); ++i)
      for (int64_t p = a.ptr[i] + 1; p < a.ptr[i + 1]; ++p)
        if (a.idx[p] <= a.idx[p - 1]) {
          sorted.store(false, std::memory_order_relaxed);
          return;
        }
  });
  return sorted.load();
}

namespace {
// K panels for products that read rows of a dense [K x n] operand once per stored entry: a panel
// of B (or Y) rows that fits in L2 is reused by every row's entries in it, instead of each entry
// fetching its row from L3. Worth it only when B misses L2 and each row has enough entries per
// panel to amortise the per-panel pass; 1 means "no panels".
int64_t k_panels(const CsrView& a, int64_t n, bool sorted) {
  constexpr double kPanelBytes = 128 * 1024, kMinEntriesPerSegment = 12;
  if (!sorted || a.rows == 0) return 1;
  const double b_bytes = static_cast<double>(a.cols) * n * sizeof(float);
  const double per_row = static_cast<double>(a.nnz()) / a.rows;
  const int64_t by_size = static_cast<int64_t>(std::ceil(b_bytes / kPanelBytes));
  const int64_t by_density = static_cast<int64_t>(per_row / kMinEntriesPerSegment);
  return std::max<int64_t>(1, std::min(by_size, by_density));
}

// Runs a panelled kernel: row chunks in parallel, each sweeping the K panels in order.
template <class Step>
void run_panelled(const CsrView& a, int64_t n, int64_t panels, Step step) {
  parallel_for_rows(a.rows, a.ptr, static_cast<double>(n), static_cast<double>(n) * panels, kMinChunkCost,
                    [&](int64_t r0, int64_t r1) {
                      std::vector<int32_t> cursor(a.ptr + r0, a.ptr + r1);
                      for (int64_t k = 0; k < panels; ++k) {
                        const int64_t kend = k + 1 == panels ? a.cols : a.cols * (k + 1) / panels;
                        step(r0, r1, cursor.data(), kend, k > 0);
                      }
                    });
}

// The strip-packed SpMM (kernels::csr_spmm_strips) pays when B is far larger than L2 and the rows
// have enough entries per panel to amortise the C tile each (row, panel, strip) loads and stores.
// Panel: the K rows of one strip that fill about 24 KiB (L1 keeps them while every row of the
// block reads them). Block: the rows whose C fills about 192 KiB, so their tiles stay in L2
// across panels.
struct StripPlan {
  int64_t panel_rows = 0, block_rows = 0;
};

StripPlan strip_plan(const SparseKernels& k, const CsrView& a, int64_t n, bool sorted) {
  constexpr double kStripPanelBytes = 24 * 1024, kBlockBytes = 192 * 1024, kMinBBytes = 512 * 1024;
  // Measured on Zen 3 (4096², n = 256): 1.55× the K-panelled kernel at 96 entries per segment,
  // 1.15× at 38, 0.9× at 19.
  constexpr double kMinEntriesPerSegment = 32;
  const int64_t S = k.spmm_strip;
  if (!sorted || a.rows == 0 || a.cols == 0 || n < 2 * S) return {};
  if (static_cast<double>(a.cols) * n * sizeof(float) < kMinBBytes) return {};
  StripPlan plan;
  plan.panel_rows = std::max<int64_t>(16, static_cast<int64_t>(kStripPanelBytes / (S * sizeof(float))));
  const double per_segment = static_cast<double>(a.nnz()) / a.rows * plan.panel_rows / a.cols;
  if (per_segment < kMinEntriesPerSegment) return {};
  plan.block_rows = std::max<int64_t>(8, static_cast<int64_t>(kBlockBytes / (n * sizeof(float))));
  return plan;
}

void csr_spmm_strips(const SparseKernels& k, const CsrView& a, const float* b, int64_t n, float* c,
                     const StripPlan& plan) {
  const int64_t S = k.spmm_strip, strips = (n + S - 1) / S, K = a.cols;
  AlignedBuffer packed(static_cast<size_t>(strips * K * S));
  float* bp = packed.data();
  parallel_for(K, 256, [&](int64_t k0, int64_t k1) {
    for (int64_t s = 0; s < strips; ++s) {
      const int64_t width = std::min<int64_t>(S, n - s * S);
      for (int64_t kk = k0; kk < k1; ++kk) std::memcpy(bp + (s * K + kk) * S, b + kk * n + s * S, width * sizeof(float));
    }
  });
  const int64_t panels = (K + plan.panel_rows - 1) / plan.panel_rows;
  parallel_for_rows(a.rows, a.ptr, static_cast<double>(n), static_cast<double>(n) * panels, kMinChunkCost,
                    [&](int64_t r0, int64_t r1) {
                      std::vector<int32_t> seg0(static_cast<size_t>(plan.block_rows)), seg1(seg0.size());
                      for (int64_t rb = r0; rb < r1; rb += plan.block_rows) {
                        const int64_t re = std::min(r1, rb + plan.block_rows);
                        std::copy(a.ptr + rb, a.ptr + re, seg0.begin());
                        for (int64_t q = 0; q < panels; ++q) {
                          const int64_t kend = std::min(K, (q + 1) * plan.panel_rows);
                          for (int64_t i = rb; i < re; ++i)
                            seg1[i - rb] = static_cast<int32_t>(segment_end(a, i, seg0[i - rb], kend));
                          k.csr_spmm_strips(a, bp, n, c, rb, re, seg0.data(), seg1.data(), q > 0);
                          std::swap(seg0, seg1);
                        }
                      }
                    });
}
}  // namespace

void validate_bsr(const BsrView& a, const char* name) {
  (void)name;
  validate_row_ptr(a.ptr, a.block_rows(), a.stored, "rowPtr");
  validate_indices(a.idx, a.nnzb(), a.block_cols(), "colIdx");
}

void csr_spmm(const SparseKernels& k, const CsrView& a, const float* b, int64_t n, float* c) {
  const bool sorted = validate_csr(a, "a");
  if (const StripPlan plan = strip_plan(k, a, n, sorted); plan.panel_rows > 0) {
    csr_spmm_strips(k, a, b, n, c, plan);
    return;
  }
  const int64_t panels = k_panels(a, n, sorted);
  if (panels > 1) {
    run_panelled(a, n, panels, [&](int64_t r0, int64_t r1, int32_t* cur, int64_t kend, bool acc) {
      k.csr_spmm_panel(a, b, n, c, r0, r1, cur, kend, acc);
    });
    return;
  }
  parallel_for_rows(a.rows, a.ptr, static_cast<double>(n), static_cast<double>(n) + 8, kMinChunkCost,
                    [&](int64_t r0, int64_t r1) { k.csr_spmm(a, b, n, c, r0, r1); });
}

void csr_spmv(const SparseKernels& k, const CsrView& a, const float* x, float* y) {
  validate_row_ptr(a.ptr, a.rows, a.stored, "rowPtr");
  // Indices are checked inside the kernel (one compare per gather); results go to scratch and
  // reach `y` only when every index was in range, so `y` is untouched on error.
  AlignedBuffer tmp(static_cast<size_t>(a.rows));
  std::atomic<bool> bad{false};
  parallel_for_rows(a.rows, a.ptr, 1.0, 4.0, kMinChunkCost, [&](int64_t r0, int64_t r1) {
    if (k.csr_spmv(a, x, tmp.data(), r0, r1)) bad.store(true);
  });
  if (bad.load()) validate_indices(a.idx, a.nnz(), a.cols, "colIdx");  // throws with the position
  if (a.rows > 0) std::memcpy(y, tmp.data(), static_cast<size_t>(a.rows) * sizeof(float));  // tmp is null when 0
}

void csr_spmmt(const SparseKernels& k, const CsrView& a, const float* b, int64_t n, float* c) {
  const bool sorted = validate_csr(a, "a");
  // For wide B the scatter (a read-modify-write of a C row per entry) is store-bound; transposing
  // A once (a counting sort, O(nnz)) and running the gather-style SpMM is about twice as fast.
  if ((n >= kTransposeMinN && a.nnz() >= kTransposeMinNnz) || private_copies_cost_more(a.cols, n, static_cast<double>(a.nnz()) * n)) {
    OwnedCsr t = csr_transpose(a);
    CsrView tv{t.rows, t.cols, t.ptr.data(), t.idx.data(), t.val.data(), t.ptr.data()[t.rows]};
    csr_spmm(k, tv, b, n, c);
    return;
  }
  // Panels over C's rows (A's columns): each thread owns a column range of C and sweeps the
  // panels, so the C rows it scatters into stay in L2 instead of being updated in L3.
  const int threads = ThreadPool::instance().num_threads();
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n / 16));
  const double c_bytes = static_cast<double>(a.cols) * n * sizeof(float) / parts;
  const double per_row = a.rows == 0 ? 0 : static_cast<double>(a.nnz()) / a.rows;
  const int64_t panels = !sorted ? 1 : std::max<int64_t>(1, std::min<int64_t>(
      static_cast<int64_t>(std::ceil(c_bytes / (192 * 1024))), static_cast<int64_t>(per_row / 12)));
  if (panels > 1 && (parts > 1 || threads == 1)) {
    fill_zero(c, a.cols * n);
    ThreadPool::instance().run(parts, [&](int64_t t, int) {
      const int64_t j0 = n * t / parts / 16 * 16, j1 = t + 1 == parts ? n : n * (t + 1) / parts / 16 * 16;
      std::vector<int32_t> cursor(a.ptr, a.ptr + a.rows);
      for (int64_t q = 0; q < panels; ++q) {
        const int64_t kend = q + 1 == panels ? a.cols : a.cols * (q + 1) / panels;
        k.csr_spmmt_panel(a, b, n, c, cursor.data(), kend, j0, j1);
      }
    });
    return;
  }
  transposed_product(a.cols, n, a.rows, a.ptr, static_cast<double>(n), static_cast<double>(n), c,
                     [&](float* out, int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
                       k.csr_spmmt(a, b, n, out, r0, r1, j0, j1);
                     });
}

void csr_sddmm(const SparseKernels& k, const CsrView& p, const float* x, const float* y, int64_t n,
               float* out) {
  const int64_t panels = k_panels(p, n, validate_csr(p, "pattern"));
  if (panels > 1) {
    run_panelled(p, n, panels, [&](int64_t r0, int64_t r1, int32_t* cur, int64_t kend, bool) {
      k.csr_sddmm_panel(p, x, y, n, out, r0, r1, cur, kend);
    });
    return;
  }
  parallel_for_rows(p.rows, p.ptr, static_cast<double>(n), static_cast<double>(n), kMinChunkCost,
                    [&](int64_t r0, int64_t r1) { k.csr_sddmm(p, x, y, n, out, r0, r1); });
}

void bsr_spmm(const SparseKernels& k, const BsrView& a, const float* b, int64_t n, float* c) {
  validate_bsr(a, "a");
  const double bsz = static_cast<double>(a.br * a.bc);
  // Packing B's column tiles (one pass over B) pays when the stored blocks read B's block columns
  // at least twice over on average: the packed kernel then runs near the GEMM micro-kernel's rate
  // (1.4x the strided one at 16x16, block sparsity 0.9, n = 256 on Zen 3).
  // The last tile is zero-padded: its waste (< T columns) costs far less than a narrower kernel.
  const int64_t T = k.bsr_tile, tiles = (n + T - 1) / T, block_cols = a.block_cols();
  if (a.br >= 4 && n >= 4 * T && a.nnzb() >= 2 * block_cols) {
    AlignedBuffer packed(static_cast<size_t>(block_cols * tiles * a.bc * T));
    float* bp = packed.data();
    parallel_for(block_cols, 16, [&](int64_t J0, int64_t J1) {
      for (int64_t J = J0; J < J1; ++J)
        for (int64_t jt = 0; jt < tiles; ++jt) {
          const int64_t width = std::min(T, n - jt * T);
          for (int64_t cc = 0; cc < a.bc; ++cc) {
            float* dst = bp + ((J * tiles + jt) * a.bc + cc) * T;
            std::memcpy(dst, b + (J * a.bc + cc) * n + jt * T, width * sizeof(float));
            std::fill(dst + width, dst + T, 0.0f);
          }
        }
    });
    parallel_for_rows(a.block_rows(), a.ptr, bsz * n, static_cast<double>(a.br * n), kMinChunkCost,
                      [&](int64_t r0, int64_t r1) { k.bsr_spmm_packed(a, bp, b, n, c, r0, r1); });
    return;
  }
  parallel_for_rows(a.block_rows(), a.ptr, bsz * n, static_cast<double>(a.br * n), kMinChunkCost,
                    [&](int64_t r0, int64_t r1) {
                      // Block rows with no stored block still produce zero rows of C.
                      k.bsr_spmm(a, b, n, c, r0, r1);
                    });
}

void bsr_spmv(const SparseKernels& k, const BsrView& a, const float* x, float* y) {
  validate_bsr(a, "a");
  const double bsz = static_cast<double>(a.br * a.bc);
  parallel_for_rows(a.block_rows(), a.ptr, bsz, static_cast<double>(a.br), kMinChunkCost,
                    [&](int64_t r0, int64_t r1) { k.bsr_spmv(a, x, y, r0, r1); });
}

void bsr_spmmt(const SparseKernels& k, const BsrView& a, const float* b, int64_t n, float* c) {
  validate_bsr(a, "a");
  const double bsz = static_cast<double>(a.br * a.bc);
  if (private_copies_cost_more(a.cols, n, static_cast<double>(a.stored) * bsz * n)) {
    OwnedBsr t = bsr_transpose(a);
    BsrView tv{t.rows, t.cols, t.br, t.bc, t.ptr.data(), t.idx.data(), t.val.data(), static_cast<int64_t>(t.idx.size())};
    bsr_spmm(k, tv, b, n, c);
    return;
  }
  transposed_product(a.cols, n, a.block_rows(), a.ptr, bsz * n, static_cast<double>(a.br * n), c,
                     [&](float* out, int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
                       k.bsr_spmmt(a, b, n, out, r0, r1, j0, j1);
                     });
}

void bsr_sddmm(const SparseKernels& k, const BsrView& p, const float* x, const float* y, int64_t n,
               float* out) {
  validate_bsr(p, "pattern");
  const double bsz = static_cast<double>(p.br * p.bc);
  parallel_for_rows(p.block_rows(), p.ptr, bsz * n, 1.0, kMinChunkCost,
                    [&](int64_t r0, int64_t r1) { k.bsr_sddmm(p, x, y, n, out, r0, r1); });
}

}  // namespace shears::cpu
