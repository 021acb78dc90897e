#include <cmath>
#include <memory>
#include <string>

#include "../core/errors.h"
#include "../cpu/sparse/convert.h"
#include "../cpu/sparse/sparse.h"
#include "args.h"
#include "ops.h"
#include "owned.h"
#include "sparse_args.h"

namespace shears::binding {
namespace {

std::vector<Span> join(std::vector<Span> a, std::initializer_list<Span> b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Task returning(const Array<float>& out, std::function<void()> run) {
  Task t;
  const size_t slot = t.pin(out.handle);
  t.run = std::move(run);
  t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
  return t;
}

template <class Owned>
Task producing(std::function<Owned()> make) {
  Task t;
  auto result = std::make_shared<Owned>();
  t.run = [result, make = std::move(make)] { *result = make(); };
  t.finish = [result](Napi::Env env, Task&) { return structure_result(env, *result); };
  return t;
}

cpu::KeepRule keep_rule(const Napi::CallbackInfo& info, size_t mask_at, int64_t count) {
  cpu::KeepRule k;
  if (!is_absent(info[mask_at])) {
    const Array<uint8_t> m = u8(info[mask_at], "mask");
    expect_length(m, count, "mask", "one per element");
    k.mask = m.data;
  }
  const Napi::Value th = info[mask_at + 1];
  if (!is_absent(th)) {
    if (!th.IsNumber()) type_error("finite number >= 0", "threshold", th);
    const double d = th.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || !std::isfinite(d)) range_error("finite number >= 0", "threshold", describe(th));
    k.has_threshold = true;
    k.threshold = static_cast<float>(d);
  }
  return k;
}

const cpu::SparseKernels& kernels_now() { return cpu::sparse_kernels(active_isa()); }

// ---- CSR ----
Task prepare_csr_validate(const Napi::CallbackInfo& info) {
  const Csr a = csr_args(info, 0);
  Task t;
  t.run = [a] { cpu::validate_csr(a.v, "a"); };
  t.finish = [](Napi::Env env, Task&) { return env.Undefined(); };
  return t;
}

Task prepare_csr_matvec(const Napi::CallbackInfo& info) {
  const Csr a = csr_args(info, 0);
  const Array<float> x = f32(info[5], "x");
  expect_length(x, a.v.cols, "x", "cols");
  const Array<float> y = output(info.Env(), info[6], a.v.rows, "out", "rows", join(a.spans(), {{x.data, x.bytes()}}));
  const auto& k = kernels_now();
  return returning(y, [=, &k] { cpu::csr_spmv(k, Frozen(a).v, x.data, y.data); });
}

Task prepare_csr_matmul(const Napi::CallbackInfo& info) {
  const Csr a = csr_args(info, 0);
  const Array<float> b = f32(info[5], "b");
  const int64_t n = dim(info[6], "n");
  expect_length(b, checked_product(a.v.cols, n, "b"), "b", "[cols x n]");
  const Array<float> c = output(info.Env(), info[7], checked_product(a.v.rows, n, "out"), "out", "[rows x n]",
                                join(a.spans(), {{b.data, b.bytes()}}));
  const auto& k = kernels_now();
  return returning(c, [=, &k] { cpu::csr_spmm(k, Frozen(a).v, b.data, n, c.data); });
}

Task prepare_csr_matmul_t(const Napi::CallbackInfo& info) {
  const Csr a = csr_args(info, 0);
  const Array<float> b = f32(info[5], "b");
  const int64_t n = dim(info[6], "n");
  expect_length(b, checked_product(a.v.rows, n, "b"), "b", "[rows x n]");
  const Array<float> c = output(info.Env(), info[7], checked_product(a.v.cols, n, "out"), "out", "[cols x n]",
                                join(a.spans(), {{b.data, b.bytes()}}));
  const auto& k = kernels_now();
  return returning(c, [=, &k] { cpu::csr_spmmt(k, Frozen(a).v, b.data, n, c.data); });
}

Task prepare_csr_sddmm(const Napi::CallbackInfo& info) {
  const Csr p = csr_args(info, 0);
  const Array<float> x = f32(info[5], "x"), y = f32(info[6], "y");
  const int64_t n = dim(info[7], "n");
  expect_length(x, checked_product(p.v.rows, n, "x"), "x", "[rows x n]");
  expect_length(y, checked_product(p.v.cols, n, "y"), "y", "[cols x n]");
  const Array<float> out = output(info.Env(), info[8], p.v.stored, "out", "one per stored entry",
                                  join(p.spans(), {{x.data, x.bytes()}, {y.data, y.bytes()}}));
  const auto& k = kernels_now();
  return returning(out, [=, &k] { cpu::csr_sddmm(k, Frozen(p).v, x.data, y.data, n, out.data); });
}

Task prepare_csr_to_dense(const Napi::CallbackInfo& info) {
  const Csr a = csr_args(info, 0);
  const Array<float> out = output(info.Env(), info[5], checked_product(a.v.rows, a.v.cols, "out"), "out",
                                  "[rows x cols]", a.spans());
  return returning(out, [=] {
    const Frozen f(a);
    cpu::validate_csr(f.v, "a");
    cpu::csr_to_dense(f.v, out.data);
  });
}

Task prepare_csr_transpose(const Napi::CallbackInfo& info) {
  const Csr a = csr_args(info, 0);
  return producing<cpu::OwnedCsr>([a] {
    const Frozen f(a);
    cpu::validate_csr(f.v, "a");
    return cpu::csr_transpose(f.v);
  });
}

Task prepare_csr_from_dense(const Napi::CallbackInfo& info) {
  const Array<float> d = f32(info[0], "data");
  const int64_t rows = dim(info[1], "rows"), cols = dim(info[2], "cols");
  expect_length(d, checked_product(rows, cols, "data"), "data", "[rows x cols]");
  const cpu::KeepRule keep = keep_rule(info, 3, rows * cols);
  return producing<cpu::OwnedCsr>([=] { return cpu::csr_from_dense(d.data, rows, cols, keep); });
}

Task prepare_csr_from_coo(const Napi::CallbackInfo& info) {
  const int64_t rows = dim(info[0], "rows"), cols = dim(info[1], "cols");
  const Array<int32_t> r = i32(info[2], "rowIndices"), c = i32(info[3], "colIndices");
  const Array<float> v = f32(info[4], "values");
  expect_length(c, r.length, "colIndices", "one per row index");
  expect_length(v, r.length, "values", "one per row index");
  const bool sum = boolean(info[5], "sumDuplicates", true);
  return producing<cpu::OwnedCsr>([=] { return cpu::csr_from_coo(rows, cols, r.data, c.data, v.data, r.length, sum); });
}

// ---- BSR ----
Task prepare_bsr_validate(const Napi::CallbackInfo& info) {
  const Bsr a = bsr_args(info, 0);
  Task t;
  t.run = [a] { cpu::validate_bsr(a.v, "a"); };
  t.finish = [](Napi::Env env, Task&) { return env.Undefined(); };
  return t;
}

Task prepare_bsr_matvec(const Napi::CallbackInfo& info) {
  const Bsr a = bsr_args(info, 0);
  const Array<float> x = f32(info[7], "x");
  expect_length(x, a.v.cols, "x", "cols");
  const Array<float> y = output(info.Env(), info[8], a.v.rows, "out", "rows", join(a.spans(), {{x.data, x.bytes()}}));
  const auto& k = kernels_now();
  return returning(y, [=, &k] { cpu::bsr_spmv(k, Frozen(a).v, x.data, y.data); });
}

Task prepare_bsr_matmul(const Napi::CallbackInfo& info) {
  const Bsr a = bsr_args(info, 0);
  const Array<float> b = f32(info[7], "b");
  const int64_t n = dim(info[8], "n");
  expect_length(b, checked_product(a.v.cols, n, "b"), "b", "[cols x n]");
  const Array<float> c = output(info.Env(), info[9], checked_product(a.v.rows, n, "out"), "out", "[rows x n]",
                                join(a.spans(), {{b.data, b.bytes()}}));
  const auto& k = kernels_now();
  return returning(c, [=, &k] { cpu::bsr_spmm(k, Frozen(a).v, b.data, n, c.data); });
}

Task prepare_bsr_matmul_t(const Napi::CallbackInfo& info) {
  const Bsr a = bsr_args(info, 0);
  const Array<float> b = f32(info[7], "b");
  const int64_t n = dim(info[8], "n");
  expect_length(b, checked_product(a.v.rows, n, "b"), "b", "[rows x n]");
  const Array<float> c = output(info.Env(), info[9], checked_product(a.v.cols, n, "out"), "out", "[cols x n]",
                                join(a.spans(), {{b.data, b.bytes()}}));
  const auto& k = kernels_now();
  return returning(c, [=, &k] { cpu::bsr_spmmt(k, Frozen(a).v, b.data, n, c.data); });
}

Task prepare_bsr_sddmm(const Napi::CallbackInfo& info) {
  const Bsr p = bsr_args(info, 0);
  const Array<float> x = f32(info[7], "x"), y = f32(info[8], "y");
  const int64_t n = dim(info[9], "n");
  expect_length(x, checked_product(p.v.rows, n, "x"), "x", "[rows x n]");
  expect_length(y, checked_product(p.v.cols, n, "y"), "y", "[cols x n]");
  const Array<float> out = output(info.Env(), info[10], p.val.length, "out", "one per stored value",
                                  join(p.spans(), {{x.data, x.bytes()}, {y.data, y.bytes()}}));
  const auto& k = kernels_now();
  return returning(out, [=, &k] { cpu::bsr_sddmm(k, Frozen(p).v, x.data, y.data, n, out.data); });
}

Task prepare_bsr_to_dense(const Napi::CallbackInfo& info) {
  const Bsr a = bsr_args(info, 0);
  const Array<float> out = output(info.Env(), info[7], checked_product(a.v.rows, a.v.cols, "out"), "out",
                                  "[rows x cols]", a.spans());
  return returning(out, [=] {
    const Frozen f(a);
    cpu::validate_bsr(f.v, "a");
    cpu::bsr_to_dense(f.v, out.data);
  });
}

Task prepare_bsr_transpose(const Napi::CallbackInfo& info) {
  const Bsr a = bsr_args(info, 0);
  return producing<cpu::OwnedBsr>([a] {
    const Frozen f(a);
    cpu::validate_bsr(f.v, "a");
    return cpu::bsr_transpose(f.v);
  });
}

void check_block_divides(int64_t rows, int64_t cols, int64_t br, int64_t bc) {
  if (rows % br != 0)
    range_error("a multiple of blockRows (" + std::to_string(br) + ")", "rows", std::to_string(rows));
  if (cols % bc != 0)
    range_error("a multiple of blockCols (" + std::to_string(bc) + ")", "cols", std::to_string(cols));
}

Task prepare_bsr_from_dense(const Napi::CallbackInfo& info) {
  const Array<float> d = f32(info[0], "data");
  const int64_t rows = dim(info[1], "rows"), cols = dim(info[2], "cols");
  const int64_t br = positive_dim(info[3], "blockRows"), bc = positive_dim(info[4], "blockCols");
  expect_length(d, checked_product(rows, cols, "data"), "data", "[rows x cols]");
  check_block_divides(rows, cols, br, bc);
  const cpu::KeepRule keep = keep_rule(info, 5, rows * cols);
  return producing<cpu::OwnedBsr>([=] { return cpu::bsr_from_dense(d.data, rows, cols, br, bc, keep); });
}

Task prepare_bsr_from_csr(const Napi::CallbackInfo& info) {
  const Csr a = csr_args(info, 0);
  const int64_t br = positive_dim(info[5], "blockRows"), bc = positive_dim(info[6], "blockCols");
  check_block_divides(a.v.rows, a.v.cols, br, bc);
  return producing<cpu::OwnedBsr>([=] {
    const Frozen f(a);
    cpu::validate_csr(f.v, "a");
    return cpu::bsr_from_csr(f.v, br, bc);
  });
}

template <Prepare P>
void both(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, Sync<P>, name));
  const std::string async = std::string(name) + "Async";
  exports.Set(async, Napi::Function::New(env, Async<P>, async));
}

}  // namespace

void register_sparse_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("csrValidate", Napi::Function::New(env, Sync<prepare_csr_validate>, "csrValidate"));
  exports.Set("bsrValidate", Napi::Function::New(env, Sync<prepare_bsr_validate>, "bsrValidate"));
  both<prepare_csr_matvec>(env, exports, "csrMatvec");
  both<prepare_csr_matmul>(env, exports, "csrMatmul");
  both<prepare_csr_matmul_t>(env, exports, "csrMatmulT");
  both<prepare_csr_sddmm>(env, exports, "csrSddmm");
  both<prepare_csr_to_dense>(env, exports, "csrToDense");
  both<prepare_csr_transpose>(env, exports, "csrTranspose");
  both<prepare_csr_from_dense>(env, exports, "csrFromDense");
  both<prepare_csr_from_coo>(env, exports, "csrFromCoo");
  both<prepare_bsr_matvec>(env, exports, "bsrMatvec");
  both<prepare_bsr_matmul>(env, exports, "bsrMatmul");
  both<prepare_bsr_matmul_t>(env, exports, "bsrMatmulT");
  both<prepare_bsr_sddmm>(env, exports, "bsrSddmm");
  both<prepare_bsr_to_dense>(env, exports, "bsrToDense");
  both<prepare_bsr_transpose>(env, exports, "bsrTranspose");
  both<prepare_bsr_from_dense>(env, exports, "bsrFromDense");
  both<prepare_bsr_from_csr>(env, exports, "bsrFromCsr");
}

}  // namespace shears::binding
