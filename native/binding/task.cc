#include "task.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "../core/errors.h"

namespace shears::binding {

namespace {

Napi::Error make_error(Napi::Env env, ErrorKind kind, const std::string& message, const char* code) {
  Napi::Error err = kind == ErrorKind::kType    ? Napi::TypeError::New(env, message)
                    : kind == ErrorKind::kRange ? Napi::RangeError::New(env, message)
                                                : Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

struct Outcome {
  bool failed = false;
  ErrorKind kind = ErrorKind::kGeneric;
  std::string message;
  const char* code = "ERR_SHEARS_INTERNAL";
};

// Runs the current exception through the one mapping from native failures to JS errors.
Outcome capture_exception() {
  Outcome o;
  o.failed = true;
  try {
    throw;
  } catch (const Error& e) {
    o.kind = e.kind();
    o.message = e.what();
    o.code = e.code();
  } catch (const std::bad_alloc&) {
    o.kind = ErrorKind::kAlloc;
    o.message = "out of memory";
    o.code = "ERR_SHEARS_OUT_OF_MEMORY";
  } catch (const std::exception& e) {
    o.message = e.what();
  } catch (...) {
    o.message = "unknown native error";
  }
  return o;
}

struct EnvState;
struct Job {
  Task task;
  Napi::Promise::Deferred deferred;
  Outcome outcome;
  EnvState* state;
};

void complete(Napi::Env env, Napi::Function, EnvState* state, Job* job);
using Tsfn = Napi::TypedThreadSafeFunction<EnvState, Job, complete>;

struct EnvState {
  Tsfn tsfn;
  int pending = 0;  // main thread only; the TSFN keeps the loop alive while > 0
};

void complete(Napi::Env env, Napi::Function, EnvState* state, Job* job) {
  if (env == nullptr) {
    // The environment is going away: JS handles can no longer be touched, so the references are
    // deliberately leaked rather than deleted from a dead environment.
    new std::vector<Napi::Reference<Napi::Value>>(std::move(job->task.pins));
    delete job;
    return;
  }
  Napi::HandleScope scope(env);
  if (--state->pending == 0) state->tsfn.Unref(env);
  if (job->outcome.failed) {
    job->deferred.Reject(make_error(env, job->outcome.kind, job->outcome.message, job->outcome.code).Value());
  } else {
    try {
      job->deferred.Resolve(job->task.finish(env, job->task));
    } catch (const Napi::Error& e) {
      job->deferred.Reject(e.Value());
    } catch (...) {
      const Outcome o = capture_exception();
      job->deferred.Reject(make_error(env, o.kind, o.message, o.code).Value());
    }
  }
  delete job;  // drops the pins on the main thread
}

// One process-wide thread that runs queued jobs in order; each job fans out on the thread pool.
class Dispatcher {
 public:
  static Dispatcher& instance() {
    static Dispatcher* d = new Dispatcher();  // never destroyed: its thread may outlive statics
    return *d;
  }
  void post(Job* job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(job);
    }
    cv_.notify_one();
  }

 private:
  Dispatcher() { std::thread([this] { loop(); }).detach(); }
  void loop() {
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
      }
      try {
        job->task.run();
      } catch (...) {
        job->outcome = capture_exception();
      }
      if (job->state->tsfn.BlockingCall(job) != napi_ok) {
        // Environment closing: settle nothing, free what is safe to free off the main thread.
        new std::vector<Napi::Reference<Napi::Value>>(std::move(job->task.pins));
        delete job;
      }
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
};

// Intentionally not deleted at teardown: the dispatcher may still hold a pointer to it.
void keep_state(Napi::Env, EnvState*) {}

EnvState* env_state(Napi::Env env) { return env.GetInstanceData<EnvState>(); }

}  // namespace

void rethrow_as_js(Napi::Env env) {
  const Outcome o = capture_exception();
  throw make_error(env, o.kind, o.message, o.code);
}

void init_jobs(Napi::Env env) {
  auto* state = new EnvState();
  // Never released: one thread-count stays held so the TSFN outlives any job still running.
  state->tsfn = Tsfn::New(env, "shears-job", 0, 1, state);
  state->tsfn.Unref(env);
  env.SetInstanceData<EnvState, keep_state>(state);
}

Napi::Value run_sync(const Napi::CallbackInfo& info, Prepare prepare) {
  Napi::Env env = info.Env();
  try {
    Task task = prepare(info);
    task.run();
    return task.finish(env, task);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(env);
  }
}

namespace {
thread_local bool g_preparing_async = false;
struct PreparingAsync {
  PreparingAsync() { g_preparing_async = true; }
  ~PreparingAsync() { g_preparing_async = false; }
};
}  // namespace

bool preparing_async() { return g_preparing_async; }

Napi::Value run_async(const Napi::CallbackInfo& info, Prepare prepare) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  Task task;
  try {
    PreparingAsync scope;
    task = prepare(info);
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
    return deferred.Promise();
  } catch (...) {
    const Outcome o = capture_exception();
    deferred.Reject(make_error(env, o.kind, o.message, o.code).Value());
    return deferred.Promise();
  }
  // Every object argument stays alive until the job settles (typed arrays and their buffers).
  for (size_t i = 0; i < info.Length(); ++i)
    if (info[i].IsObject()) task.pin(info[i]);
  EnvState* state = env_state(env);
  auto* job = new Job{std::move(task), deferred, Outcome{}, state};
  if (state->pending++ == 0) state->tsfn.Ref(env);
  Dispatcher::instance().post(job);
  return deferred.Promise();
}

}  // namespace shears::binding
