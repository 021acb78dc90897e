// CSR and BSR views over caller memory, the per-ISA kernel table, and the multithreaded drivers.
// Conventions (DESIGN.md): float32 values, int32 indices, row-major dense operands.
//   spmm:   C[M x N]  = A[M x K] * B[K x N]
//   spmmt:  C[K x N]  = A^T * B[M x N]
//   sddmm:  S = (X[M x N] * Y[K x N]^T) restricted to A's pattern (values in pattern order)
#pragma once

#include <cstdint>

#include "../../core/cpu_features.h"

namespace shears::cpu {

struct CsrView {
  int64_t rows = 0, cols = 0;
  const int32_t* ptr = nullptr;  // rows + 1 offsets, ptr[0] == 0, ptr[rows] == nnz
  const int32_t* idx = nullptr;  // nnz column indices
  const float* val = nullptr;    // nnz values
  int64_t stored = 0;            // length of idx and val (checked against ptr[rows])
  int64_t nnz() const { return rows == 0 ? 0 : ptr[rows]; }
};

// Block sparse rows: the matrix is a grid of (rows/br) x (cols/bc) blocks of br x bc values; the
// stored blocks are listed per block row as in CSR, each block's values row-major.
struct BsrView {
  int64_t rows = 0, cols = 0;    // element dimensions
  int64_t br = 1, bc = 1;        // block shape
  const int32_t* ptr = nullptr;  // rows/br + 1 offsets into idx
  const int32_t* idx = nullptr;  // block column of each stored block
  const float* val = nullptr;    // nnzb * br * bc values
  int64_t stored = 0;            // length of idx (checked against ptr[rows/br])
  int64_t block_rows() const { return br == 0 ? 0 : rows / br; }
  int64_t block_cols() const { return bc == 0 ? 0 : cols / bc; }
  int64_t nnzb() const { return block_rows() == 0 ? 0 : ptr[block_rows()]; }
};

// From entry p of row i (rows sorted), the first entry whose column is >= kend: the end of the
// row's segment in a K panel that ends at kend.
inline int64_t segment_end(const CsrView& a, int64_t i, int64_t p, int64_t kend) {
  const int64_t p1 = a.ptr[i + 1];
  while (p < p1 && a.idx[p] < kend) ++p;
  return p;
}

// Single-threaded kernels over a range of (block) rows, one set per ISA.
struct SparseKernels {
  const char* name;
  void (*csr_spmm)(const CsrView& a, const float* b, int64_t n, float* c, int64_t r0, int64_t r1);
  // K-panelled SpMM step for rows with sorted column indices: for each row in [r0, r1), the
  // entries from cursor[i - r0] whose column is < kend; advances the cursors. Writes C (zero when
  // no entry) when !accumulate, else adds to it.
  void (*csr_spmm_panel)(const CsrView& a, const float* b, int64_t n, float* c, int64_t r0,
                         int64_t r1, int32_t* cursor, int64_t kend, bool accumulate);
  // Strip-packed SpMM step over rows [r0, r1) for the full strips of `spmm_strip` columns of a B
  // packed strip by strip ([n / spmm_strip][K][spmm_strip]): the entries [seg0[i - r0],
  // seg1[i - r0]) of each row. Writes C's strip tiles when !accumulate, else adds to them.
  void (*csr_spmm_strips)(const CsrView& a, const float* bp, int64_t n, float* c, int64_t r0,
                          int64_t r1, const int32_t* seg0, const int32_t* seg1, bool accumulate);
  int spmm_strip;
  // Returns true when a column index in the rows is outside [0, cols) (those read as 0).
  bool (*csr_spmv)(const CsrView& a, const float* x, float* y, int64_t r0, int64_t r1);
  // c[K x n] += A[r0:r1, :]^T * b[r0:r1, j0:j1], for output columns [j0, j1) only.
  void (*csr_spmmt)(const CsrView& a, const float* b, int64_t n, float* c, int64_t r0, int64_t r1,
                    int64_t j0, int64_t j1);
  void (*csr_sddmm)(const CsrView& p, const float* x, const float* y, int64_t n, float* out,
                    int64_t r0, int64_t r1);
  // K-panelled SDDMM step (sorted rows), like csr_spmm_panel.
  void (*csr_sddmm_panel)(const CsrView& p, const float* x, const float* y, int64_t n, float* out,
                          int64_t r0, int64_t r1, int32_t* cursor, int64_t kend);
  // c[K x n] += A^T b for the entries of all rows whose column is in [cursor, kend), output
  // columns [j0, j1) only (rows sorted); advances the cursors (one per row).
  void (*csr_spmmt_panel)(const CsrView& a, const float* b, int64_t n, float* c, int32_t* cursor,
                          int64_t kend, int64_t j0, int64_t j1);
  // Dense row -> CSR helpers for the default rule (keep v != 0; NaN kept, -0 dropped).
  int64_t (*count_nonzero)(const float* row, int64_t n);
  int64_t (*compress_nonzero)(const float* row, int64_t n, int64_t count, int32_t* idx, float* val);
  void (*bsr_spmm)(const BsrView& a, const float* b, int64_t n, float* c, int64_t br0, int64_t br1);
  // The same over a B whose full column tiles of `bsr_tile` columns are packed block column by
  // block column ([cols / bc][n / bsr_tile][bc][bsr_tile]); `b` serves the last columns. br >= 4.
  void (*bsr_spmm_packed)(const BsrView& a, const float* bp, const float* b, int64_t n, float* c, int64_t br0,
                          int64_t br1);
  int bsr_tile;
  void (*bsr_spmv)(const BsrView& a, const float* x, float* y, int64_t br0, int64_t br1);
  void (*bsr_spmmt)(const BsrView& a, const float* b, int64_t n, float* c, int64_t br0,
                    int64_t br1, int64_t j0, int64_t j1);
  void (*bsr_sddmm)(const BsrView& p, const float* x, const float* y, int64_t n, float* out,
                    int64_t br0, int64_t br1);
};

const SparseKernels& sparse_kernels(Isa isa);
const SparseKernels& sparse_kernels_scalar();
const SparseKernels& sparse_kernels_avx2();
const SparseKernels& sparse_kernels_avx512();
const SparseKernels& sparse_kernels_neon();

// ---- Validation (RangeError naming `name` on failure; nothing is written) ----
// Checks ptr (length rows+1 implied): ptr[0] == 0, non-decreasing, ptr[rows] == nnz.
void validate_row_ptr(const int32_t* ptr, int64_t rows, int64_t nnz, const char* name);
// Checks every index is in [0, limit). Multithreaded.
void validate_indices(const int32_t* idx, int64_t count, int64_t limit, const char* name);
// Full structure check; returns whether every row's column indices are strictly increasing.
bool validate_csr(const CsrView& a, const char* name);
void validate_bsr(const BsrView& a, const char* name);

// ---- Multithreaded operations (validate first, then compute; `out` untouched on error) ----
void csr_spmm(const SparseKernels& k, const CsrView& a, const float* b, int64_t n, float* c);
void csr_spmv(const SparseKernels& k, const CsrView& a, const float* x, float* y);
void csr_spmmt(const SparseKernels& k, const CsrView& a, const float* b, int64_t n, float* c);
void csr_sddmm(const SparseKernels& k, const CsrView& p, const float* x, const float* y, int64_t n,
               float* out);
void bsr_spmm(const SparseKernels& k, const BsrView& a, const float* b, int64_t n, float* c);
void bsr_spmv(const SparseKernels& k, const BsrView& a, const float* x, float* y);
void bsr_spmmt(const SparseKernels& k, const BsrView& a, const float* b, int64_t n, float* c);
void bsr_sddmm(const SparseKernels& k, const BsrView& p, const float* x, const float* y, int64_t n,
               float* out);

}  // namespace shears::cpu
