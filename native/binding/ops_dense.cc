#include "../cpu/gemm/gemm.h"
#include "../cpu/probe/probe.h"
#include <memory>

#include "args.h"
#include "ops.h"

namespace shears::binding {
namespace {

// gemm(a, b, m, k, n, transA, transB, out?) -> out (C = op(A) * op(B), [m x n])
Task prepare_gemm(const Napi::CallbackInfo& info) {
  const Array<float> a = f32(info[0], "a"), b = f32(info[1], "b");
  const int64_t m = dim(info[2], "m"), k = dim(info[3], "k"), n = dim(info[4], "n");
  const bool ta = boolean(info[5], "transA", false), tb = boolean(info[6], "transB", false);
  expect_length(a, checked_product(m, k, "a"), "a", ta ? "[k x m] with transA" : "[m x k]");
  expect_length(b, checked_product(k, n, "b"), "b", tb ? "[n x k] with transB" : "[k x n]");
  const Array<float> c = output(info.Env(), info[7], checked_product(m, n, "out"), "out", "[m x n]",
                                {{a.data, a.bytes()}, {b.data, b.bytes()}});
  Task t;
  const size_t slot = t.pin(c.handle);
  t.run = [=] { cpu::gemm(a.data, b.data, c.data, m, k, n, ta, tb); };
  t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
  return t;
}

// streamCopy(dst, src): the memory-bandwidth probe benchmarks report as the machine's ceiling.
Task prepare_stream_copy(const Napi::CallbackInfo& info) {
  const Array<float> src = f32(info[1], "src");
  const Array<float> dst = output(info.Env(), info[0], src.length, "dst", "src.length", {{src.data, src.bytes()}});
  Task t;
  const size_t slot = t.pin(dst.handle);
  t.run = [=] { cpu::stream_copy(dst.data, src.data, src.length); };
  t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
  return t;
}

// fmaPeak(iterations) -> flops done: every thread runs independent FMA chains (the FLOP ceiling).
Task prepare_fma_peak(const Napi::CallbackInfo& info) {
  const int64_t iterations = positive_dim(info[0], "iterations");
  const Isa isa = active_isa();
  auto flops = std::make_shared<double>(0.0);
  Task t;
  t.run = [=] { *flops = cpu::fma_peak_run(isa, iterations); };
  t.finish = [flops](Napi::Env env, Task&) { return Napi::Number::New(env, *flops); };
  return t;
}

}  // namespace

void register_dense_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Sync<prepare_gemm>, "gemm"));
  exports.Set("gemmAsync", Napi::Function::New(env, Async<prepare_gemm>, "gemmAsync"));
  exports.Set("streamCopy", Napi::Function::New(env, Sync<prepare_stream_copy>, "streamCopy"));
  exports.Set("fmaPeak", Napi::Function::New(env, Sync<prepare_fma_peak>, "fmaPeak"));
}

}  // namespace shears::binding
