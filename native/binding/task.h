// Every heavy operation is written once as a `prepare` function that checks the arguments on the
// main thread and returns a Task: `run` touches only plain data (raw pointers into pinned buffers)
// and may run on any thread; `finish` builds the JS result on the main thread. Sync<prepare> runs
// it inline; Async<prepare> queues it on the addon's own job thread (which drives the addon's
// thread pool) and returns a Promise. The Task pins every buffer it touches until it settles.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <vector>

namespace shears::binding {

struct Task {
  std::function<void()> run;
  std::function<Napi::Value(Napi::Env, Task&)> finish;
  std::vector<Napi::Reference<Napi::Value>> pins;
  // Native buffers the job reads, released when the task is (e.g. Frozen copies).
  std::vector<std::shared_ptr<const void>> keep;
  // Keeps v alive until the task settles; returns its slot for pinned(slot).
  size_t pin(const Napi::Value& v) {
    pins.push_back(Napi::Persistent(v));
    return pins.size() - 1;
  }
  Napi::Value pinned(size_t slot) { return pins[slot].Value(); }
};

using Prepare = Task (*)(const Napi::CallbackInfo& info);

// True while an Async<prepare> prepares its task: the job will run while JavaScript goes on, so
// arrays whose contents decide where the kernels read and write (row pointers, indices) must be
// read through private copies (see Frozen in sparse_args.h), not live.
bool preparing_async();

// Converts a thrown shears::Error / std::exception into the matching JS error and throws it.
[[noreturn]] void rethrow_as_js(Napi::Env env);
Napi::Value run_sync(const Napi::CallbackInfo& info, Prepare prepare);
Napi::Value run_async(const Napi::CallbackInfo& info, Prepare prepare);

template <Prepare P>
Napi::Value Sync(const Napi::CallbackInfo& info) { return run_sync(info, P); }
template <Prepare P>
Napi::Value Async(const Napi::CallbackInfo& info) { return run_async(info, P); }

// Sets up the job queue for this environment (called from module init).
void init_jobs(Napi::Env env);

}  // namespace shears::binding
