#include "convert.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "../../core/errors.h"
#include "../../core/memory.h"
#include "../../core/thread_pool.h"

namespace shears::cpu {
namespace {
// A conversion counts, then fills: an input written between the passes (by JavaScript, during an
// async conversion) gives counts that no longer match. Nothing was written out of bounds; the
// half-built result is dropped.
[[noreturn]] void throw_input_changed(const char* name) {
  throw_range_error(std::string("Expected ") + name + " not to change while the conversion ran but it was written meanwhile (an async call's input)");
}
}  // namespace


template <class T>
Owned<T>::Owned(int64_t count) : count_(count) {
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T);
  ensure_fits(static_cast<double>(bytes), [count] { return "an array of " + std::to_string(count) + " entries"; });
  data_ = static_cast<T*>(allocate(bytes, 64));
  if (data_ == nullptr)
    throw Error(ErrorKind::kAlloc, "out of memory allocating " + std::to_string(bytes) + " bytes");
}
template class Owned<int32_t>;
template class Owned<float>;

namespace {

inline bool kept(const KeepRule& k, const float* data, int64_t i) {
  if (k.mask) {
    if (k.mask[i] == 0) return false;
    return !k.has_threshold || std::fabs(data[i]) > k.threshold;
  }
  return k.has_threshold ? std::fabs(data[i]) > k.threshold : data[i] != 0.0f;
}

void check_nnz_fits(int64_t nnz, const char* what) {
  if (nnz > std::numeric_limits<int32_t>::max())
    throw_range_error(std::string("Expected at most 2^31-1 stored ") + what + " (int32 indices) but the result has " +
                      std::to_string(nnz));
}

// Exclusive prefix sum of counts[0..n) into ptr[0..n], returning the total.
int64_t prefix_sum(const std::vector<int64_t>& counts, int32_t* ptr, const char* what) {
  int64_t total = 0;
  ptr[0] = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    total += counts[i];
    check_nnz_fits(total, what);
    ptr[i + 1] = static_cast<int32_t>(total);
  }
  return total;
}

// Row offsets from per-(block-)row counts, then idx (one per entry) and val (bsz per entry).
// Zeroed per-row entry counts for a structure of `rows` (block) rows, after checking that they
// and the row pointers built from them fit: `rows` need not be backed by any input (cols = 0).
std::vector<int64_t> row_counts(int64_t rows) {
  ensure_fits(static_cast<double>(rows) * (sizeof(int64_t) + sizeof(int32_t)),
              "the row counts and pointers of " + std::to_string(rows) + " rows");
  return std::vector<int64_t>(static_cast<size_t>(rows), 0);
}

template <class Out>
void allocate_from_counts(Out& out, const std::vector<int64_t>& counts, int64_t bsz, const char* what) {
  out.ptr = Owned<int32_t>(static_cast<int64_t>(counts.size()) + 1);
  const int64_t entries = prefix_sum(counts, out.ptr.data(), what);
  check_nnz_fits(entries * bsz, "values");
  out.idx = Owned<int32_t>(entries);
  out.val = Owned<float>(entries * bsz);
}

}  // namespace

OwnedCsr csr_from_dense(const float* data, int64_t rows, int64_t cols, const KeepRule& keep) {
  const SparseKernels& kern = sparse_kernels(active_isa());
  OwnedCsr out;
  out.rows = rows;
  out.cols = cols;
  std::vector<int64_t> counts = row_counts(rows);
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(cols, 1));
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      int64_t cnt = 0;
      const int64_t base = i * cols;
      if (!keep.mask && !keep.has_threshold) {
        cnt = kern.count_nonzero(data + base, cols);
      } else {
        for (int64_t j = 0; j < cols; ++j) cnt += kept(keep, data, base + j);
      }
      counts[i] = cnt;
    }
  });
  allocate_from_counts(out, counts, 1, "entries");
  int32_t* idx = out.idx.data();
  float* val = out.val.data();
  const int32_t* ptr = out.ptr.data();
  std::atomic<bool> changed{false};
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      int64_t p = ptr[i];
      const int64_t base = i * cols;
      if (!keep.mask && !keep.has_threshold) {
        if (kern.compress_nonzero(data + base, cols, ptr[i + 1] - p, idx + p, val + p) != ptr[i + 1] - p) changed = true;
        continue;
      }
      for (int64_t j = 0; j < cols; ++j) {
        // Branch-free append: write always, advance when kept.
        const bool k = kept(keep, data, base + j);
        if (p < ptr[i + 1]) {
          idx[p] = static_cast<int32_t>(j);
          val[p] = data[base + j];
        }
        p += k;
      }
      if (p != ptr[i + 1]) changed = true;
    }
  });
  if (changed) throw_input_changed("data");
  return out;
}

OwnedBsr bsr_from_dense(const float* data, int64_t rows, int64_t cols, int64_t br, int64_t bc,
                        const KeepRule& keep) {
  OwnedBsr out;
  out.rows = rows;
  out.cols = cols;
  out.br = br;
  out.bc = bc;
  const int64_t nbr = rows / br, nbc = cols / bc, bsz = br * bc;
  std::vector<int64_t> counts = row_counts(nbr);
  auto block_kept = [&](int64_t I, int64_t J) {
    for (int64_t r = 0; r < br; ++r) {
      const int64_t base = (I * br + r) * cols + J * bc;
      for (int64_t c = 0; c < bc; ++c)
        if (kept(keep, data, base + c)) return true;
    }
    return false;
  };
  parallel_for(nbr, 1, [&](int64_t I0, int64_t I1) {
    for (int64_t I = I0; I < I1; ++I) {
      int64_t cnt = 0;
      for (int64_t J = 0; J < nbc; ++J) cnt += block_kept(I, J);
      counts[I] = cnt;
    }
  });
  allocate_from_counts(out, counts, bsz, "blocks");
  int32_t* idx = out.idx.data();
  float* val = out.val.data();
  const int32_t* ptr = out.ptr.data();
  std::atomic<bool> changed{false};
  parallel_for(nbr, 1, [&](int64_t I0, int64_t I1) {
    for (int64_t I = I0; I < I1; ++I) {
      int64_t p = ptr[I];
      for (int64_t J = 0; J < nbc; ++J) {
        if (!block_kept(I, J)) continue;
        if (p >= ptr[I + 1]) {  // more blocks than counted: the input changed; count, never write past
          ++p;
          continue;
        }
        idx[p] = static_cast<int32_t>(J);
        float* dst = val + p * bsz;
        for (int64_t r = 0; r < br; ++r) {
          const int64_t base = (I * br + r) * cols + J * bc;
          for (int64_t c = 0; c < bc; ++c) dst[r * bc + c] = kept(keep, data, base + c) ? data[base + c] : 0.0f;
        }
        ++p;
      }
      if (p != ptr[I + 1]) changed = true;
    }
  });
  if (changed) throw_input_changed("data");
  return out;
}

void csr_to_dense(const CsrView& a, float* out) {
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(a.cols, 1));
  parallel_for(a.rows, grain, [&](int64_t r0, int64_t r1) {
    std::fill(out + r0 * a.cols, out + r1 * a.cols, 0.0f);  // out is null when the matrix is empty
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t p = a.ptr[i]; p < a.ptr[i + 1]; ++p) out[i * a.cols + a.idx[p]] += a.val[p];
  });
}

void bsr_to_dense(const BsrView& a, float* out) {
  const int64_t bsz = a.br * a.bc;
  parallel_for(a.block_rows(), 1, [&](int64_t I0, int64_t I1) {
    std::fill(out + I0 * a.br * a.cols, out + I1 * a.br * a.cols, 0.0f);  // out is null when cols = 0
    for (int64_t I = I0; I < I1; ++I)
      for (int64_t p = a.ptr[I]; p < a.ptr[I + 1]; ++p)
        for (int64_t r = 0; r < a.br; ++r)
          for (int64_t c = 0; c < a.bc; ++c)
            out[(I * a.br + r) * a.cols + static_cast<int64_t>(a.idx[p]) * a.bc + c] += a.val[p * bsz + r * a.bc + c];
  });
}

namespace {
// Stable counting sort of the entries of a CSR-like structure by column: the transpose. Rows are
// split into chunks handled in parallel, each with its own column histogram, so the output keeps
// row order within every column. `move(src, dst)` copies one entry's payload.
template <class Move>
void transpose_structure(int64_t rows, int64_t cols, const int32_t* ptr, const int32_t* idx,
                         int32_t* out_ptr, int32_t* out_idx, Move move) {
  const int threads = ThreadPool::instance().num_threads();
  const int64_t nnz = ptr[rows];
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads, nnz / 4096 + 1));
  // One histogram per chunk over the output rows; `cols` is not backed by any input array.
  ensure_fits(static_cast<double>(cols) * (chunks * sizeof(int64_t) + sizeof(int32_t)),
              "the transpose's " + std::to_string(cols) + " rows");
  std::vector<int64_t> bounds(static_cast<size_t>(chunks) + 1);
  for (int64_t t = 0; t <= chunks; ++t) bounds[t] = rows * t / chunks;
  std::vector<std::vector<int64_t>> hist(static_cast<size_t>(chunks), std::vector<int64_t>(static_cast<size_t>(cols), 0));
  ThreadPool::instance().run(chunks, [&](int64_t t, int) {
    auto& h = hist[t];
    for (int64_t p = ptr[bounds[t]]; p < ptr[bounds[t + 1]]; ++p) ++h[idx[p]];
  });
  int64_t base = 0;
  out_ptr[0] = 0;
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t t = 0; t < chunks; ++t) {
      const int64_t cnt = hist[t][c];
      hist[t][c] = base;
      base += cnt;
    }
    out_ptr[c + 1] = static_cast<int32_t>(base);
  }
  ThreadPool::instance().run(chunks, [&](int64_t t, int) {
    auto& h = hist[t];
    for (int64_t i = bounds[t]; i < bounds[t + 1]; ++i)
      for (int64_t p = ptr[i]; p < ptr[i + 1]; ++p) {
        const int64_t q = h[idx[p]]++;
        out_idx[q] = static_cast<int32_t>(i);
        move(p, q);
      }
  });
}
}  // namespace

OwnedCsr csr_transpose(const CsrView& a) {
  OwnedCsr out;
  out.rows = a.cols;
  out.cols = a.rows;
  const int64_t nnz = a.nnz();
  out.ptr = Owned<int32_t>(a.cols + 1);
  out.idx = Owned<int32_t>(nnz);
  out.val = Owned<float>(nnz);
  float* val = out.val.data();
  transpose_structure(a.rows, a.cols, a.ptr, a.idx, out.ptr.data(), out.idx.data(),
                      [&](int64_t p, int64_t q) { val[q] = a.val[p]; });
  return out;
}

OwnedBsr bsr_transpose(const BsrView& a) {
  OwnedBsr out;
  out.rows = a.cols;
  out.cols = a.rows;
  out.br = a.bc;
  out.bc = a.br;
  const int64_t nnzb = a.nnzb(), bsz = a.br * a.bc;
  out.ptr = Owned<int32_t>(a.block_cols() + 1);
  out.idx = Owned<int32_t>(nnzb);
  out.val = Owned<float>(nnzb * bsz);
  float* val = out.val.data();
  transpose_structure(a.block_rows(), a.block_cols(), a.ptr, a.idx, out.ptr.data(), out.idx.data(),
                      [&](int64_t p, int64_t q) {
                        const float* src = a.val + p * bsz;
                        float* dst = val + q * bsz;
                        for (int64_t r = 0; r < a.br; ++r)
                          for (int64_t c = 0; c < a.bc; ++c) dst[c * a.br + r] = src[r * a.bc + c];
                      });
  return out;
}

OwnedCsr csr_from_coo(int64_t rows, int64_t cols, const int32_t* r, const int32_t* c, const float* v,
                      int64_t count, bool sum_duplicates) {
  validate_indices(r, count, rows, "rowIndices");
  validate_indices(c, count, cols, "colIndices");
  // rows is not backed by any input array: the row counts, starts and pointers all scale with it.
  ensure_fits(static_cast<double>(rows + 1) * (3 * sizeof(int64_t) + sizeof(int32_t)) + static_cast<double>(count) * 2 * sizeof(int64_t),
              "a CSR of " + std::to_string(rows) + " rows");
  // Counting sort by row (stable), then sort each row by column and merge duplicates.
  std::vector<int64_t> start(static_cast<size_t>(rows) + 1, 0);
  for (int64_t e = 0; e < count; ++e) ++start[r[e] + 1];
  for (int64_t i = 0; i < rows; ++i) start[i + 1] += start[i];
  std::vector<int64_t> order(static_cast<size_t>(count));
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t e = 0; e < count; ++e) order[fill[r[e]]++] = e;
  }
  std::vector<int64_t> counts(static_cast<size_t>(rows), 0);
  std::atomic<int64_t> dup_entry{-1};
  parallel_for(rows, 256, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      auto b = order.begin() + start[i], e = order.begin() + start[i + 1];
      std::stable_sort(b, e, [&](int64_t x, int64_t y) { return c[x] < c[y]; });
      int64_t unique = 0;
      for (auto it = b; it != e; ++it) {
        if (it != b && c[*it] == c[*(it - 1)]) {
          if (!sum_duplicates) {
            int64_t expected = -1;
            dup_entry.compare_exchange_strong(expected, *it);
          }
          continue;
        }
        ++unique;
      }
      counts[i] = unique;
    }
  });
  if (dup_entry.load() >= 0) {
    const int64_t e = dup_entry.load();
    throw_range_error("Expected no duplicate (row, col) entries (duplicates: 'error') but entry " + std::to_string(e) +
                      " repeats (" + std::to_string(r[e]) + ", " + std::to_string(c[e]) + ")");
  }
  OwnedCsr out;
  out.rows = rows;
  out.cols = cols;
  allocate_from_counts(out, counts, 1, "entries");
  int32_t* idx = out.idx.data();
  float* val = out.val.data();
  const int32_t* ptr = out.ptr.data();
  parallel_for(rows, 256, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      int64_t q = ptr[i] - 1;
      for (int64_t s = start[i]; s < start[i + 1]; ++s) {
        const int64_t e = order[s];
        if (s > start[i] && c[e] == idx[q]) {
          val[q] += v[e];
        } else {
          ++q;
          idx[q] = c[e];
          val[q] = v[e];
        }
      }
    }
  });
  return out;
}

OwnedBsr bsr_from_csr(const CsrView& a, int64_t br, int64_t bc) {
  OwnedBsr out;
  out.rows = a.rows;
  out.cols = a.cols;
  out.br = br;
  out.bc = bc;
  const int64_t nbr = a.rows / br, nbc = a.cols / bc, bsz = br * bc;
  // Each worker marks the block columns a block row touches in arrays over all nbc of them.
  ensure_fits(static_cast<double>(nbc) * ThreadPool::instance().num_threads() * (sizeof(char) + sizeof(int32_t)),
              "the block-column marks of " + std::to_string(nbc) + " block columns");
  std::vector<int64_t> counts(static_cast<size_t>(nbr), 0);
  // Per block row: the sorted distinct block columns its rows touch.
  auto block_columns = [&](int64_t I, std::vector<int32_t>& cols, std::vector<char>& seen) {
    cols.clear();
    for (int64_t i = I * br; i < (I + 1) * br; ++i)
      for (int64_t p = a.ptr[i]; p < a.ptr[i + 1]; ++p) {
        const int32_t J = static_cast<int32_t>(a.idx[p] / bc);
        if (!seen[J]) { seen[J] = 1; cols.push_back(J); }
      }
    for (int32_t J : cols) seen[J] = 0;
    std::sort(cols.begin(), cols.end());
  };
  parallel_for(nbr, 16, [&](int64_t I0, int64_t I1) {
    std::vector<int32_t> cols;
    std::vector<char> seen(static_cast<size_t>(nbc), 0);
    for (int64_t I = I0; I < I1; ++I) {
      block_columns(I, cols, seen);
      counts[I] = static_cast<int64_t>(cols.size());
    }
  });
  allocate_from_counts(out, counts, bsz, "blocks");
  int32_t* idx = out.idx.data();
  float* val = out.val.data();
  const int32_t* ptr = out.ptr.data();
  parallel_for(nbr, 16, [&](int64_t I0, int64_t I1) {
    std::vector<int32_t> cols;
    std::vector<char> seen(static_cast<size_t>(nbc), 0);
    std::vector<int32_t> slot(static_cast<size_t>(nbc), 0);
    for (int64_t I = I0; I < I1; ++I) {
      block_columns(I, cols, seen);
      const int64_t p0 = ptr[I];
      for (size_t s = 0; s < cols.size(); ++s) {
        idx[p0 + s] = cols[s];
        slot[cols[s]] = static_cast<int32_t>(s);
      }
      std::fill_n(val + p0 * bsz, cols.size() * bsz, 0.0f);  // val is null when nothing is stored
      for (int64_t i = I * br; i < (I + 1) * br; ++i)
        for (int64_t p = a.ptr[i]; p < a.ptr[i + 1]; ++p) {
          const int64_t J = a.idx[p] / bc;
          val[(p0 + slot[J]) * bsz + (i - I * br) * bc + a.idx[p] % bc] += a.val[p];
        }
    }
  });
  return out;
}

}  // namespace shears::cpu
