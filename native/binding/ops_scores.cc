// scoresAccumulate(kind, acc, g, w?) -> acc; activationStats(a, features, batch, sumAbs, zeros)
#include <string>

#include "../cpu/scores/scores.h"
#include "args.h"
#include "ops.h"

namespace shears::binding {
namespace {

bool overlaps(const void* a, size_t an, const void* b, size_t bn) {
  const char* x = static_cast<const char*>(a);
  const char* y = static_cast<const char*>(b);
  return an > 0 && bn > 0 && x < y + bn && y < x + an;
}

Task prepare_accumulate(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) type_error("one of 'abs', 'square', 'taylor', 'movement'", "kind", info[0]);
  const std::string k = info[0].As<Napi::String>().Utf8Value();
  cpu::Accumulate kind;
  if (k == "abs") kind = cpu::Accumulate::kAbs;
  else if (k == "square") kind = cpu::Accumulate::kSquare;
  else if (k == "taylor") kind = cpu::Accumulate::kTaylor;
  else if (k == "movement") kind = cpu::Accumulate::kMovement;
  else range_error("one of 'abs', 'square', 'taylor', 'movement'", "kind", describe(info[0]));
  const Array<float> acc = f32(info[1], "acc"), g = f32(info[2], "grads");
  expect_length(g, acc.length, "grads", "acc.length");
  const bool needs_w = kind == cpu::Accumulate::kTaylor || kind == cpu::Accumulate::kMovement;
  Array<float> w;
  if (needs_w) {
    w = f32(info[3], "weights");
    expect_length(w, acc.length, "weights", "acc.length");
  }
  if (overlaps(acc.data, acc.bytes(), g.data, g.bytes()) || (needs_w && overlaps(acc.data, acc.bytes(), w.data, w.bytes())))
    range_error("an accumulator that shares no memory with the inputs", "acc", "an overlapping array");
  Task t;
  const size_t slot = t.pin(acc.handle);
  const auto& kern = cpu::score_kernels(active_isa());
  t.run = [=, &kern] { cpu::accumulate_scores(kern, kind, acc.data, needs_w ? w.data : nullptr, g.data, acc.length); };
  t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
  return t;
}

Task prepare_activation_stats(const Napi::CallbackInfo& info) {
  const Array<float> a = f32(info[0], "activations");
  const int64_t features = dim(info[1], "features"), batch = dim(info[2], "batch");
  expect_length(a, checked_product(features, batch, "activations"), "activations", "[features x batch]");
  const Array<double> sum_abs = f64(info[3], "sumAbs"), zeros = f64(info[4], "zeros");
  expect_length(sum_abs, features, "sumAbs", "features");
  expect_length(zeros, features, "zeros", "features");
  if (overlaps(sum_abs.data, sum_abs.bytes(), zeros.data, zeros.bytes()))
    range_error("arrays that share no memory", "zeros", "an array overlapping sumAbs");
  Task t;
  t.run = [=] { cpu::activation_stats(a.data, features, batch, sum_abs.data, zeros.data); };
  t.finish = [](Napi::Env env, Task&) { return env.Undefined(); };
  return t;
}

}  // namespace

void register_score_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("scoresAccumulate", Napi::Function::New(env, Sync<prepare_accumulate>, "scoresAccumulate"));
  exports.Set("scoresAccumulateAsync", Napi::Function::New(env, Async<prepare_accumulate>, "scoresAccumulateAsync"));
  exports.Set("activationStats", Napi::Function::New(env, Sync<prepare_activation_stats>, "activationStats"));
  exports.Set("activationStatsAsync", Napi::Function::New(env, Async<prepare_activation_stats>, "activationStatsAsync"));
}

}  // namespace shears::binding
