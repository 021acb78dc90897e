// The (rows, cols, rowPtr, colIdx, values) and BSR argument groups of the sparse operations,
// shared by the CPU (ops_sparse.cc) and CUDA (ops_cuda.cc) bindings. Shapes and lengths are
// checked here; the structure (row pointers, index ranges) by cpu::validate_csr / validate_bsr.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "../cpu/sparse/sparse.h"
#include "args.h"
#include "task.h"

namespace shears::binding {

using Span = std::pair<const void*, size_t>;

// A sparse argument group: the view the kernels take and the arrays behind it.
template <class View>
struct SparseArgs {
  View v;
  Array<int32_t> ptr, idx;
  Array<float> val;
  bool async = preparing_async();
  std::vector<Span> spans() const { return {{ptr.data, ptr.bytes()}, {idx.data, idx.bytes()}, {val.data, val.bytes()}}; }
  // Keeps the arrays alive while `t` is in flight.
  void pin(Task& t) const {
    t.pin(ptr.handle);
    t.pin(idx.handle);
    t.pin(val.handle);
  }
};
using Csr = SparseArgs<cpu::CsrView>;
using Bsr = SparseArgs<cpu::BsrView>;

// The view a job's kernels read. A synchronous call reads the caller's arrays in place (no
// JavaScript runs meanwhile). An async job runs while JavaScript may write to rowPtr and colIdx:
// it copies them first, on the worker thread, and validates and reads the copies, so a write
// during the job can change its result but never send a kernel out of bounds. (Values are read
// live: a changed value changes numbers, not addresses.)
template <class View>
struct Frozen {
  std::vector<int32_t> ptr, idx;
  View v;
  explicit Frozen(const SparseArgs<View>& a) : v(a.v) {
    if (!a.async) return;
    ptr.assign(a.ptr.data, a.ptr.data + a.ptr.length);
    idx.assign(a.idx.data, a.idx.data + a.idx.length);
    v.ptr = ptr.data();
    v.idx = idx.data();
  }
};

// (rows, cols, rowPtr, colIdx, values) at info[at..at+4]. Structure is checked later, in run().
inline Csr csr_args(const Napi::CallbackInfo& info, size_t at) {
  Csr a;
  a.v.rows = dim(info[at], "rows");
  a.v.cols = dim(info[at + 1], "cols");
  a.ptr = i32(info[at + 2], "rowPtr");
  expect_length(a.ptr, a.v.rows + 1, "rowPtr", "rows + 1");
  a.idx = i32(info[at + 3], "colIdx");
  a.val = f32(info[at + 4], "values");
  expect_length(a.val, a.idx.length, "values", "one per column index");
  a.v.ptr = a.ptr.data;
  a.v.idx = a.idx.data;
  a.v.val = a.val.data;
  a.v.stored = a.idx.length;
  return a;
}

// (rows, cols, blockRows, blockCols, rowPtr, colIdx, values) at info[at..at+6].
inline Bsr bsr_args(const Napi::CallbackInfo& info, size_t at) {
  Bsr a;
  a.v.rows = dim(info[at], "rows");
  a.v.cols = dim(info[at + 1], "cols");
  a.v.br = positive_dim(info[at + 2], "blockRows");
  a.v.bc = positive_dim(info[at + 3], "blockCols");
  if (a.v.rows % a.v.br != 0)
    range_error("a multiple of blockRows (" + std::to_string(a.v.br) + ")", "rows", std::to_string(a.v.rows));
  if (a.v.cols % a.v.bc != 0)
    range_error("a multiple of blockCols (" + std::to_string(a.v.bc) + ")", "cols", std::to_string(a.v.cols));
  a.ptr = i32(info[at + 4], "rowPtr");
  expect_length(a.ptr, a.v.block_rows() + 1, "rowPtr", "rows / blockRows + 1");
  a.idx = i32(info[at + 5], "colIdx");
  a.val = f32(info[at + 6], "values");
  expect_length(a.val, checked_product(a.idx.length, a.v.br * a.v.bc, "values"), "values",
                "blockRows * blockCols per stored block");
  a.v.ptr = a.ptr.data;
  a.v.idx = a.idx.data;
  a.v.val = a.val.data;
  a.v.stored = a.idx.length;
  return a;
}

}  // namespace shears::binding
