// The arguments of a fused masked SGD step (w, g, v, mask?, lr, momentum, weightDecay, nesterov),
// checked and pinned: shared by the CPU and CUDA entry points.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>

#include "args.h"
#include "task.h"

namespace shears::binding {

struct SgdArgs {
  float* w = nullptr;
  const float* g = nullptr;
  float* v = nullptr;
  const uint8_t* mask = nullptr;
  int64_t count = 0;
  float lr = 0, momentum = 0, weight_decay = 0;
  bool nesterov = false;
};

inline SgdArgs sgd_args(const Napi::CallbackInfo& info, Task& t) {
  const Array<float> w = f32(info[0], "w"), g = f32(info[1], "g"), v = f32(info[2], "v");
  expect_length(g, w.length, "g", "w.length");
  expect_length(v, w.length, "v", "w.length");
  SgdArgs a;
  if (!is_absent(info[3])) {
    const Array<uint8_t> m = u8(info[3], "mask");
    expect_length(m, w.length, "mask", "w.length");
    a.mask = m.data;
    t.pin(m.handle);
  }
  auto num = [&](int i, const char* name) {
    if (!info[i].IsNumber()) type_error("a finite number", name, info[i]);
    const double d = info[i].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) range_error("a finite number", name, describe(info[i]));
    return static_cast<float>(d);
  };
  a.lr = num(4, "lr");
  a.momentum = num(5, "momentum");
  a.weight_decay = num(6, "weightDecay");
  a.nesterov = boolean(info[7], "nesterov", false);
  t.pin(w.handle);
  t.pin(g.handle);
  t.pin(v.handle);
  a.w = w.data;
  a.g = g.data;
  a.v = v.data;
  a.count = w.length;
  return a;
}

// The task of one step: `step` runs on the arguments (CPU or CUDA), the result is undefined.
template <void (*Step)(const SgdArgs&)>
Task sgd_task(const Napi::CallbackInfo& info) {
  Task t;
  const SgdArgs a = sgd_args(info, t);
  t.run = [a] { Step(a); };
  t.finish = [](Napi::Env env, Task&) { return env.Undefined(); };
  return t;
}

}  // namespace shears::binding
