// CUDA entry points (kernels in native/cuda), present in every build: without CUDA they throw a
// clear ERR_SHEARS_CUDA error naming the build to use.
//   cudaCsrMatmul(rows, cols, rowPtr, colIdx, values, b, n, out?) -> Float32Array [rows, n]
//   cudaCsrMatmulT(csr..., b, n, out?) -> [cols, n]     cudaCsrMatvec(csr..., x, out?) -> [rows]
//   cudaBsrMatmul(rows, cols, blockRows, blockCols, rowPtr, colIdx, values, b, n, out?, precision) -> [rows, n]
//     precision: 'fp32' (default), 'tf32' or 'bf16' (tensor cores where the shape allows, else FP32)
//   cudaSpmm24(a, b, m, k, n, out?) -> [m, n]: A 2:4 semi-structured, through cuSPARSELt (BF16)
//   cudaTimeSpmm24(m, k, n, repeat, warmup) -> kernel-only times (ms)
//   cudaBsrPath(blockRows, blockCols, n, precision) -> 'tf32-mma' | 'bf16-mma' | 'fp32' (the kernel that runs)
//   cudaGemm(a, b, m, k, n, transA, transB, out?, tf32) -> [m, n]     cudaGemmBackend() -> 'cublas' | 'shears'
//   cudaCsrSddmm(rows, cols, rowPtr, colIdx, values, x, y, n, out?) -> Float32Array [nnz]
//   cudaMaskedSgd(w, g, v, mask?, lr, momentum, weightDecay, nesterov)
//   cudaSelectSmallest(...) (registered by ops_select.cc in CUDA builds; a stub here otherwise)
//   new DeviceCsr(rows, cols, rowPtr, colIdx, values): a resident CSR; .matmul(b, n, out?), .matmulT(b, n, out?),
//     .matvec(x, out?), .sddmm(x, y, n, out?) (values over its pattern), each with an Async twin; .dispose(), .bytes
//   cudaMemory() -> { inUse, cached }   cudaEmptyCache()
//   cudaTimeKernel(kernel, rows, cols, rowPtr, colIdx, values, n, repeat, warmup) -> kernel-only times (ms)
//   cudaTimeBsr(bsr..., n, precision, repeat, warmup), cudaTimeGemm(m, k, n, tf32, repeat, warmup) -> times (ms)
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <tuple>

#include "../core/errors.h"
#include "../cpu/sparse/sparse.h"
#include "args.h"
#include "ops.h"
#include "sgd_args.h"
#include "sparse_args.h"
#ifdef SHEARS_WITH_CUDA
#include "../cuda/check.h"
#include "../cuda/kernels.h"
#include "../cuda/memory.h"
#endif

namespace shears::binding {
namespace {

#ifdef SHEARS_WITH_CUDA
// rows, cols, rowPtr, colIdx, values at info[at .. at + 4], pinned on t and validated.
// An async job uploads later, while JavaScript runs: it validates and uploads private copies of
// rowPtr and colIdx taken here (a write to the caller's arrays meanwhile cannot put an index out of
// range on the device, which would be a sticky CUDA error).
template <class View>
View frozen_arg(const SparseArgs<View>& a, Task& t) {
  if (!a.async) return a.v;
  auto f = std::make_shared<Frozen<View>>(a);
  t.keep.push_back(f);
  return f->v;
}

cpu::CsrView csr_arg(const Napi::CallbackInfo& info, Task& t, size_t at = 0) {
  const Csr a = csr_args(info, at);
  a.pin(t);
  const cpu::CsrView v = frozen_arg(a, t);
  cpu::validate_csr(v, "a");
  return v;
}

// The BSR group (rows, cols, blockRows, blockCols, rowPtr, colIdx, values), pinned and validated.
cpu::BsrView bsr_arg(const Napi::CallbackInfo& info, Task& t, size_t at = 0) {
  const Bsr a = bsr_args(info, at);
  a.pin(t);
  const cpu::BsrView v = frozen_arg(a, t);
  cpu::validate_bsr(v, "a");
  return v;
}

// A task writing `count` floats into the output at info[out_at] (absent: a new array) with `run`.
Task output_task(Task t, const Napi::CallbackInfo& info, size_t out_at, int64_t count, const char* shape,
                 std::initializer_list<std::pair<const void*, size_t>> inputs, std::function<void(float*)> run) {
  const Array<float> out = output(info.Env(), info[out_at], count, "out", shape, inputs);
  const size_t slot = t.pin(out.handle);
  float* od = out.data;
  t.run = [run = std::move(run), od] { run(od); };
  t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
  return t;
}

// A dense operand at info[at] of `rows x n` floats, pinned.
Array<float> dense_arg(const Napi::CallbackInfo& info, Task& t, size_t at, const char* name, int64_t rows, int64_t n,
                       const char* shape) {
  const Array<float> x = f32(info[at], name);
  expect_length(x, checked_product(rows, n, name), name, shape);
  t.pin(x.handle);
  return x;
}

// cudaCsrMatmul(csr..., b, n, out?): C [rows x n] = A·B; with TRANSPOSED, cudaCsrMatmulT: C [cols x n] = Aᵀ·B.
template <bool TRANSPOSED>
Task prepare_product(const Napi::CallbackInfo& info) {
  Task t;
  const cpu::CsrView a = csr_arg(info, t);
  const int64_t n = dim(info[6], "n");
  const int64_t in_rows = TRANSPOSED ? a.rows : a.cols, out_rows = TRANSPOSED ? a.cols : a.rows;
  const float* b = dense_arg(info, t, 5, "b", in_rows, n, TRANSPOSED ? "[rows x n]" : "[cols x n]").data;
  return output_task(std::move(t), info, 7, checked_product(out_rows, n, "out"), TRANSPOSED ? "[cols x n]" : "[rows x n]",
                     {{b, static_cast<size_t>(in_rows * n) * 4}, {a.val, static_cast<size_t>(a.stored) * sizeof(float)}},
                     [a, b, n](float* c) {
                       if (TRANSPOSED) cuda::csr_spmmt_host(a, b, n, c);
                       else cuda::csr_spmm_host(a, b, n, c);
                     });
}
constexpr Prepare prepare_matmul = prepare_product<false>;
constexpr Prepare prepare_matmul_t = prepare_product<true>;

// cudaCsrMatvec(csr..., x, out?)
Task prepare_matvec(const Napi::CallbackInfo& info) {
  Task t;
  const cpu::CsrView a = csr_arg(info, t);
  const float* x = dense_arg(info, t, 5, "x", a.cols, 1, "[cols]").data;
  return output_task(std::move(t), info, 6, a.rows, "[rows]",
                     {{x, static_cast<size_t>(a.cols) * 4}, {a.val, static_cast<size_t>(a.stored) * sizeof(float)}},
                     [a, x](float* y) { cuda::csr_spmv_host(a, x, y); });
}

// 'fp32' (also when absent), 'tf32' or 'bf16'.
cuda::BsrPrecision precision_arg(const Napi::Value& v) {
  constexpr const char* kExpected = "'fp32', 'tf32' or 'bf16'";
  if (is_absent(v)) return cuda::BsrPrecision::fp32;
  if (!v.IsString()) type_error(kExpected, "precision", v);
  const std::string p = v.As<Napi::String>().Utf8Value();
  if (p == "fp32") return cuda::BsrPrecision::fp32;
  if (p == "tf32") return cuda::BsrPrecision::tf32;
  if (p == "bf16") return cuda::BsrPrecision::bf16;
  range_error(kExpected, "precision", "'" + p + "'");
}

// cudaBsrMatmul(bsr..., b, n, out?, precision)
Task prepare_bsr_matmul(const Napi::CallbackInfo& info) {
  Task t;
  const cpu::BsrView a = bsr_arg(info, t);
  const int64_t n = dim(info[8], "n");
  const float* b = dense_arg(info, t, 7, "b", a.cols, n, "[cols x n]").data;
  const cuda::BsrPrecision precision = precision_arg(info[10]);
  return output_task(std::move(t), info, 9, checked_product(a.rows, n, "out"), "[rows x n]",
                     {{b, static_cast<size_t>(a.cols * n) * 4}, {a.val, static_cast<size_t>(a.stored * a.br * a.bc) * sizeof(float)}},
                     [a, b, n, precision](float* c) { cuda::bsr_spmm_host(a, b, n, c, precision); });
}

// cudaBsrPath(blockRows, blockCols, n, precision) -> the kernel a BSR product of that shape runs here
Task prepare_bsr_path(const Napi::CallbackInfo& info) {
  const int64_t br = positive_dim(info[0], "blockRows"), bc = positive_dim(info[1], "blockCols"), n = dim(info[2], "n");
  const cuda::BsrPrecision precision = precision_arg(info[3]);
  auto path = std::make_shared<const char*>("fp32");
  Task t;
  t.run = [=] {
    cuda::require_usable();
    *path = cuda::bsr_kernel_name(cuda::bsr_spmm_kernel(br, bc, n, precision));
  };
  t.finish = [path](Napi::Env env, Task&) { return Napi::String::New(env, *path); };
  return t;
}

// The first group of four consecutive entries in a row of a[m x k] with more than two nonzeros
// (NaN counts as nonzero, ±0 as zero): a RangeError naming it.
void check_24(const float* a, int64_t m, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; j += 4) {
      const float* g = a + i * k + j;
      const int nonzeros = (g[0] != 0.0f) + (g[1] != 0.0f) + (g[2] != 0.0f) + (g[3] != 0.0f);
      if (nonzeros > 2)
        range_error("at most 2 nonzeros in every 4 consecutive entries of a row (2:4)", "a",
                    std::to_string(nonzeros) + " in row " + std::to_string(i) + ", columns " + std::to_string(j) + ".." +
                        std::to_string(j + 3));
    }
}

// m, k or n as cuSPARSELt's 2:4 BF16 product takes them: a multiple of 16 (positive when `positive`).
int64_t dim16(const Napi::Value& v, const char* name, bool positive = false) {
  const int64_t d = positive ? positive_dim(v, name) : dim(v, name);
  if (d % 16 != 0) range_error("a multiple of 16 (cuSPARSELt 2:4 on BF16)", name, std::to_string(d));
  return d;
}

// cuSPARSELt's descriptors hold at most 2^31 - 1 elements of a 16-bit matrix.
void check_24_sizes(int64_t m, int64_t k, int64_t n) {
  constexpr int64_t kMax = (int64_t{1} << 31) - 1;
  for (const auto& [rows, cols, name] : {std::tuple{m, k, "a"}, std::tuple{k, n, "b"}, std::tuple{m, n, "out"}})
    if (rows * cols > kMax)
      range_error("at most 2147483647 elements (cuSPARSELt)", name, std::to_string(rows) + "x" + std::to_string(cols));
}

// cudaSpmm24(a, b, m, k, n, out?)
Task prepare_spmm_24(const Napi::CallbackInfo& info) {
  Task t;
  const int64_t m = dim16(info[2], "m"), k = dim16(info[3], "k"), n = dim16(info[4], "n");
  check_24_sizes(m, k, n);
  const Array<float> a = dense_arg(info, t, 0, "a", m, k, "[m x k]");
  const Array<float> b = dense_arg(info, t, 1, "b", k, n, "[k x n]");
  const float *ad = a.data, *bd = b.data;
  return output_task(std::move(t), info, 5, checked_product(m, n, "out"), "[m x n]", {{ad, a.bytes()}, {bd, b.bytes()}},
                     [=](float* c) {
                       check_24(ad, m, k);  // here, off the main thread for the async form
                       cuda::spmm_24_host(ad, bd, m, k, n, c);
                     });
}

// cudaGemm(a, b, m, k, n, transA, transB, out?, tf32)
Task prepare_gemm(const Napi::CallbackInfo& info) {
  Task t;
  const int64_t m = dim(info[2], "m"), k = dim(info[3], "k"), n = dim(info[4], "n");
  const bool ta = boolean(info[5], "transA", false), tb = boolean(info[6], "transB", false);
  const bool tf32 = boolean(info[8], "tf32", false);
  const Array<float> a = dense_arg(info, t, 0, "a", m, k, ta ? "[k x m] with transA" : "[m x k]");
  const Array<float> b = dense_arg(info, t, 1, "b", k, n, tb ? "[n x k] with transB" : "[k x n]");
  const float *ad = a.data, *bd = b.data;
  return output_task(std::move(t), info, 7, checked_product(m, n, "out"), "[m x n]", {{ad, a.bytes()}, {bd, b.bytes()}},
                     [=](float* c) { cuda::gemm_host(ad, bd, c, m, k, n, ta, tb, tf32); });
}

Task prepare_sddmm(const Napi::CallbackInfo& info) {
  Task t;
  const cpu::CsrView p = csr_arg(info, t);
  const int64_t n = dim(info[7], "n");
  const float* x = dense_arg(info, t, 5, "x", p.rows, n, "[rows x n]").data;
  const float* y = dense_arg(info, t, 6, "y", p.cols, n, "[cols x n]").data;
  return output_task(std::move(t), info, 8, p.nnz(), "[nnz]",
                     {{x, static_cast<size_t>(p.rows * n) * 4}, {y, static_cast<size_t>(p.cols * n) * 4}},
                     [p, x, y, n](float* out) { cuda::csr_sddmm_host(p, x, y, n, out); });
}

void sgd_step(const SgdArgs& a) {
  cuda::masked_sgd_host(a.count, a.w, a.g, a.v, a.mask, a.lr, a.momentum, a.weight_decay, a.nesterov);
}
constexpr Prepare prepare_sgd = sgd_task<sgd_step>;

// A task whose result is a timing { median, min, max, samples } (ms) computed by `measure`.
Task timing_task(Task t, std::function<cuda::KernelTiming()> measure) {
  auto result = std::make_shared<cuda::KernelTiming>();
  t.run = [result, measure = std::move(measure)] { *result = measure(); };
  t.finish = [result](Napi::Env env, Task&) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("median", result->median_ms);
    o.Set("min", result->min_ms);
    o.Set("max", result->max_ms);
    o.Set("samples", result->samples);
    return o;
  };
  return t;
}

// cudaTimeKernel(kernel, rows, cols, rowPtr, colIdx, values, n, repeat, warmup) -> { median, min, max, samples } (ms)
Task prepare_time(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) type_error("'spmm', 'spmv', 'spmmt' or 'sddmm'", "kernel", info[0]);
  const std::string kernel = info[0].As<Napi::String>().Utf8Value();
  Task t;
  const cpu::CsrView a = csr_arg(info, t, 1);
  const int64_t n = positive_dim(info[6], "n");
  const int repeat = static_cast<int>(positive_dim(info[7], "repeat"));
  const int warmup = static_cast<int>(dim(info[8], "warmup"));
  return timing_task(std::move(t), [=] { return cuda::time_csr_kernel(kernel.c_str(), a, n, repeat, warmup); });
}

// cudaTimeSpmm24(m, k, n, repeat, warmup) -> times (ms)
Task prepare_time_spmm_24(const Napi::CallbackInfo& info) {
  const int64_t m = dim16(info[0], "m", true), k = dim16(info[1], "k", true), n = dim16(info[2], "n", true);
  check_24_sizes(m, k, n);
  const int repeat = static_cast<int>(positive_dim(info[3], "repeat"));
  const int warmup = static_cast<int>(dim(info[4], "warmup"));
  return timing_task(Task{}, [=] { return cuda::time_spmm_24(m, k, n, repeat, warmup); });
}

// cudaTimeBsr(bsr..., n, precision, repeat, warmup) -> times (ms)
Task prepare_time_bsr(const Napi::CallbackInfo& info) {
  Task t;
  const cpu::BsrView a = bsr_arg(info, t);
  const int64_t n = positive_dim(info[7], "n");
  const cuda::BsrPrecision tc = precision_arg(info[8]);
  const int repeat = static_cast<int>(positive_dim(info[9], "repeat"));
  const int warmup = static_cast<int>(dim(info[10], "warmup"));
  return timing_task(std::move(t), [=] { return cuda::time_bsr_spmm(a, n, tc, repeat, warmup); });
}

// cudaTimeGemm(m, k, n, tf32, repeat, warmup) -> times (ms)
Task prepare_time_gemm(const Napi::CallbackInfo& info) {
  const int64_t m = positive_dim(info[0], "m"), k = positive_dim(info[1], "k"), n = positive_dim(info[2], "n");
  const bool tf32 = boolean(info[3], "tf32", false);
  const int repeat = static_cast<int>(positive_dim(info[4], "repeat"));
  const int warmup = static_cast<int>(dim(info[5], "warmup"));
  return timing_task(Task{}, [=] { return cuda::time_gemm(m, k, n, tf32, repeat, warmup); });
}

Napi::Value gemm_backend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), cuda::gemm_backend()); }

// A CSR matrix resident on the GPU: uploaded once, multiplied many times, released by dispose()
// (or when collected). Its buffers live in a shared state that an in-flight job also holds, so
// dispose() during an async product frees them only when that product is done. Their size is
// reported to V8 as external memory.
class DeviceCsr : public Napi::ObjectWrap<DeviceCsr> {
 public:
  struct State {
    explicit State(const cpu::CsrView& a)
        : rows(a.rows), cols(a.cols), nnz(a.nnz()), csr(a.ptr, a.rows + 1, a.idx, a.nnz(), a.val, a.nnz()), order(a.rows) {
      const std::vector<int32_t> by_length = cuda::rows_by_length(a.rows, a.ptr);
      order.upload(by_length.data(), a.rows);
    }
    int64_t rows, cols, nnz;
    cuda::DeviceSparse csr;
    cuda::DeviceBuffer<int32_t> order;  // rows longest first (SpMM's balance)
  };

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DeviceCsr",
                       {InstanceMethod<&DeviceCsr::RunSync<Op::kMatmul>>("matmul"),
                        InstanceMethod<&DeviceCsr::RunAsync<Op::kMatmul>>("matmulAsync"),
                        InstanceMethod<&DeviceCsr::RunSync<Op::kMatmulT>>("matmulT"),
                        InstanceMethod<&DeviceCsr::RunAsync<Op::kMatmulT>>("matmulTAsync"),
                        InstanceMethod<&DeviceCsr::RunSync<Op::kMatvec>>("matvec"),
                        InstanceMethod<&DeviceCsr::RunAsync<Op::kMatvec>>("matvecAsync"),
                        InstanceMethod<&DeviceCsr::RunSync<Op::kSddmm>>("sddmm"),
                        InstanceMethod<&DeviceCsr::RunAsync<Op::kSddmm>>("sddmmAsync"),
                        InstanceMethod<&DeviceCsr::Dispose>("dispose"), InstanceAccessor<&DeviceCsr::Bytes>("bytes")});
  }

  explicit DeviceCsr(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceCsr>(info) {
    try {
      Task scratch;
      const cpu::CsrView a = csr_arg(info, scratch);
      auto s = std::make_shared<State>(a);
      state_ = s;
      bytes_ = static_cast<int64_t>((2 * a.rows + 1 + 2 * s->nnz) * 4);
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), bytes_);
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      rethrow_as_js(info.Env());
    }
  }

  ~DeviceCsr() override = default;  // state_ released with the object; V8's count is adjusted in Finalize

  void Finalize(Napi::Env env) override {
    if (state_) Napi::MemoryManagement::AdjustExternalMemory(env, -bytes_);
    state_.reset();
  }

 private:
  std::shared_ptr<State> live(Napi::Env env) {
    if (!state_) {
      Napi::Error e = Napi::Error::New(env, "This device matrix was disposed");
      e.Set("code", "ERR_SHEARS_CUDA");
      throw e;
    }
    return state_;
  }

  enum class Op { kMatmul, kMatmulT, kMatvec, kSddmm };

  // matmul(b [cols x n], n, out?) -> [rows x n]; matmulT(b [rows x n], n, out?) -> [cols x n];
  // matvec(x [cols], out?) -> [rows]; sddmm(x [rows x n], y [cols x n], n, out?) -> [nnz].
  template <Op OP>
  Task product_task(const Napi::CallbackInfo& info) {
    auto s = live(info.Env());
    Task t;
    t.pin(info.This());
    const bool sddmm = OP == Op::kSddmm, vec = OP == Op::kMatvec;
    const int64_t n = vec ? 1 : dim(info[sddmm ? 2 : 1], "n");
    const int64_t in_rows = OP == Op::kMatmulT || sddmm ? s->rows : s->cols;
    const int64_t out_count = sddmm ? s->nnz : checked_product(OP == Op::kMatmulT ? s->cols : s->rows, n, "out");
    const char* in_name = vec || sddmm ? "x" : "b";
    const Array<float> b = f32(info[0], in_name);
    expect_length(b, checked_product(in_rows, n, in_name), in_name,
                  vec ? "[cols]" : OP == Op::kMatmul ? "[cols x n]" : "[rows x n]");
    t.pin(b.handle);
    Array<float> y;
    if (sddmm) {
      y = f32(info[1], "y");
      expect_length(y, checked_product(s->cols, n, "y"), "y", "[cols x n]");
      t.pin(y.handle);
    }
    const char* shape = sddmm ? "[nnz]" : vec ? "[rows]" : OP == Op::kMatmulT ? "[cols x n]" : "[rows x n]";
    const Napi::Value out_arg = info[vec ? 1 : sddmm ? 3 : 2];
    const Array<float> out = output(info.Env(), out_arg, out_count, "out", shape, {{b.data, b.bytes()}, {y.data, y.bytes()}});
    const size_t slot = t.pin(out.handle);
    const float *bd = b.data, *yd = y.data;
    float* od = out.data;
    t.run = [s, bd, yd, n, od] {
      const cuda::DeviceSparse& d = s->csr;
      if constexpr (OP == Op::kMatmul)
        cuda::csr_spmm_device_a(s->rows, s->cols, d.ptr.data(), d.idx.data(), d.val.data(), bd, n, od, s->order.data());
      else if constexpr (OP == Op::kMatmulT) cuda::csr_spmmt_device_a(s->rows, s->cols, d, bd, n, od);
      else if constexpr (OP == Op::kMatvec) cuda::csr_spmv_device_a(s->rows, s->cols, d, bd, od);
      else cuda::csr_sddmm_device_a(s->rows, s->cols, s->nnz, d, bd, yd, n, od);
    };
    t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
    return t;
  }

  template <Op OP>
  Napi::Value RunSync(const Napi::CallbackInfo& info) {
    return run_sync(info, [](const Napi::CallbackInfo& i) { return Unwrap(i.This().As<Napi::Object>())->product_task<OP>(i); });
  }
  template <Op OP>
  Napi::Value RunAsync(const Napi::CallbackInfo& info) {
    return run_async(info, [](const Napi::CallbackInfo& i) { return Unwrap(i.This().As<Napi::Object>())->product_task<OP>(i); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (state_) {
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -bytes_);
      state_.reset();  // freed now, or when an in-flight product releases its share
    }
    return info.Env().Undefined();
  }

  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), state_ ? static_cast<double>(bytes_) : 0); }

  std::shared_ptr<State> state_;
  int64_t bytes_ = 0;
};

// cudaProbe(what, size, repeat) -> times (ms): 'copy' (bytes, device to device), 'sgd' (the fused
// step over `size` resident parameters) or 'select' (10% of `size` resident scores, masks on the device)
Task prepare_probe(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) type_error("'copy', 'sgd' or 'select'", "what", info[0]);
  const std::string what = info[0].As<Napi::String>().Utf8Value();
  if (what != "copy" && what != "sgd" && what != "select") range_error("'copy', 'sgd' or 'select'", "what", describe(info[0]));
  const int64_t size = positive_dim(info[1], "size");
  const int repeat = static_cast<int>(positive_dim(info[2], "repeat"));
  return timing_task(Task{}, [=] {
    if (what == "copy") return cuda::time_device_copy(size, repeat);
    if (what == "sgd") return cuda::time_masked_sgd(size, repeat);
    return cuda::time_select(size, size / 10, repeat);
  });
}

Napi::Value memory(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("inUse", static_cast<double>(cuda::DeviceAllocator::instance().in_use_bytes()));
  o.Set("cached", static_cast<double>(cuda::DeviceAllocator::instance().cached_bytes()));
  return o;
}

Napi::Value empty_cache(const Napi::CallbackInfo& info) {
  cuda::DeviceAllocator::instance().empty_cache();
  return info.Env().Undefined();
}
#else
Task unavailable(const Napi::CallbackInfo&) {
  throw Error(ErrorKind::kDevice, "This build of shears has no CUDA: build it with npm run build:cuda where a CUDA toolkit is installed");
}
Napi::Value unavailable_value(const Napi::CallbackInfo& info) {
  Napi::Error e = Napi::Error::New(info.Env(), "This build of shears has no CUDA: build it with npm run build:cuda where a CUDA toolkit is installed");
  e.Set("code", "ERR_SHEARS_CUDA");
  throw e;
}
#endif

}  // namespace

void register_cuda_ops(Napi::Env env, Napi::Object exports) {
#ifdef SHEARS_WITH_CUDA
  exports.Set("cudaCsrMatmul", Napi::Function::New(env, Sync<prepare_matmul>, "cudaCsrMatmul"));
  exports.Set("cudaCsrMatmulAsync", Napi::Function::New(env, Async<prepare_matmul>, "cudaCsrMatmulAsync"));
  exports.Set("cudaCsrMatmulT", Napi::Function::New(env, Sync<prepare_matmul_t>, "cudaCsrMatmulT"));
  exports.Set("cudaCsrMatmulTAsync", Napi::Function::New(env, Async<prepare_matmul_t>, "cudaCsrMatmulTAsync"));
  exports.Set("cudaCsrMatvec", Napi::Function::New(env, Sync<prepare_matvec>, "cudaCsrMatvec"));
  exports.Set("cudaCsrMatvecAsync", Napi::Function::New(env, Async<prepare_matvec>, "cudaCsrMatvecAsync"));
  exports.Set("cudaBsrMatmul", Napi::Function::New(env, Sync<prepare_bsr_matmul>, "cudaBsrMatmul"));
  exports.Set("cudaBsrMatmulAsync", Napi::Function::New(env, Async<prepare_bsr_matmul>, "cudaBsrMatmulAsync"));
  exports.Set("cudaGemm", Napi::Function::New(env, Sync<prepare_gemm>, "cudaGemm"));
  exports.Set("cudaGemmAsync", Napi::Function::New(env, Async<prepare_gemm>, "cudaGemmAsync"));
  exports.Set("cudaTimeBsr", Napi::Function::New(env, Sync<prepare_time_bsr>, "cudaTimeBsr"));
  exports.Set("cudaBsrPath", Napi::Function::New(env, Sync<prepare_bsr_path>, "cudaBsrPath"));
  exports.Set("cudaSpmm24", Napi::Function::New(env, Sync<prepare_spmm_24>, "cudaSpmm24"));
  exports.Set("cudaSpmm24Async", Napi::Function::New(env, Async<prepare_spmm_24>, "cudaSpmm24Async"));
  exports.Set("cudaTimeSpmm24", Napi::Function::New(env, Sync<prepare_time_spmm_24>, "cudaTimeSpmm24"));
  exports.Set("cudaTimeGemm", Napi::Function::New(env, Sync<prepare_time_gemm>, "cudaTimeGemm"));
  exports.Set("cudaGemmBackend", Napi::Function::New(env, gemm_backend, "cudaGemmBackend"));
  exports.Set("cudaCsrSddmm", Napi::Function::New(env, Sync<prepare_sddmm>, "cudaCsrSddmm"));
  exports.Set("cudaCsrSddmmAsync", Napi::Function::New(env, Async<prepare_sddmm>, "cudaCsrSddmmAsync"));
  exports.Set("cudaMaskedSgd", Napi::Function::New(env, Sync<prepare_sgd>, "cudaMaskedSgd"));
  exports.Set("cudaMaskedSgdAsync", Napi::Function::New(env, Async<prepare_sgd>, "cudaMaskedSgdAsync"));
  exports.Set("cudaMemory", Napi::Function::New(env, memory, "cudaMemory"));
  exports.Set("cudaEmptyCache", Napi::Function::New(env, empty_cache, "cudaEmptyCache"));
  exports.Set("cudaTimeKernel", Napi::Function::New(env, Sync<prepare_time>, "cudaTimeKernel"));
  exports.Set("DeviceCsr", DeviceCsr::Define(env));
  exports.Set("cudaProbe", Napi::Function::New(env, Sync<prepare_probe>, "cudaProbe"));
#else
  for (const char* name : {"cudaTimeKernel", "cudaProbe", "cudaTimeBsr", "cudaTimeGemm", "cudaBsrPath", "cudaTimeSpmm24"})
    exports.Set(name, Napi::Function::New(env, Sync<unavailable>, name));
  for (const char* name : {"cudaCsrMatmul", "cudaCsrMatmulT", "cudaCsrMatvec", "cudaBsrMatmul", "cudaGemm", "cudaCsrSddmm",
                           "cudaMaskedSgd", "cudaSelectSmallest", "cudaSpmm24"}) {
    exports.Set(name, Napi::Function::New(env, Sync<unavailable>, name));
    exports.Set(std::string(name) + "Async", Napi::Function::New(env, Async<unavailable>, (std::string(name) + "Async").c_str()));
  }
  exports.Set("cudaMemory", Napi::Function::New(env, unavailable_value, "cudaMemory"));
  exports.Set("cudaGemmBackend", Napi::Function::New(env, unavailable_value, "cudaGemmBackend"));

  exports.Set("cudaEmptyCache", Napi::Function::New(env, unavailable_value, "cudaEmptyCache"));
#endif
}

}  // namespace shears::binding
