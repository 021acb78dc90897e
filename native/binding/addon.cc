// Module entry: exports, info(), thread and ISA control. No math here.
#include <napi.h>

#include "../core/cpu_features.h"
#include "../core/errors.h"
#include "../core/thread_pool.h"
#include "args.h"
#include "ops.h"
#include "task.h"
#ifdef SHEARS_WITH_CUDA
#include "../cuda/device.h"
#endif

namespace shears::binding {
namespace {

Napi::Value cuda_info(Napi::Env env) {
  Napi::Object cuda = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env);
#ifdef SHEARS_WITH_CUDA
  static const cuda::Discovery found = cuda::discover();  // probed once per process
  cuda.Set("compiled", true);
  cuda.Set("runtimeVersion", found.runtime_version);
  cuda.Set("driverVersion", found.driver_version);
  if (!found.error.empty()) cuda.Set("error", found.error);
  // Optional vendor libraries linked at build time (CMakeLists.txt finds them when present).
  Napi::Object libraries = Napi::Object::New(env);
#ifdef SHEARS_HAVE_CUBLAS
  libraries.Set("cublas", true);
#else
  libraries.Set("cublas", false);
#endif
#ifdef SHEARS_HAVE_CUSPARSE
  libraries.Set("cusparse", true);
#else
  libraries.Set("cusparse", false);
#endif
#ifdef SHEARS_HAVE_CUSPARSELT
  libraries.Set("cusparselt", true);
#else
  libraries.Set("cusparselt", false);
#endif
  cuda.Set("libraries", libraries);
  uint32_t i = 0;
  for (const cuda::DeviceInfo& d : found.devices) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", d.index);
    o.Set("name", d.name);
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("multiprocessors", d.multiprocessors);
    o.Set("totalMemory", static_cast<double>(d.total_memory));
    o.Set("freeMemory", static_cast<double>(d.free_memory));
    o.Set("usable", d.usable);
    if (!d.error.empty()) o.Set("error", d.error);
    devices.Set(i++, o);
  }
#else
  cuda.Set("compiled", false);
#endif
  cuda.Set("devices", devices);
  return cuda;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Object isa = Napi::Object::New(env);
  Napi::Array available = Napi::Array::New(env);
  uint32_t i = 0;
  for (Isa a : available_isas()) available.Set(i++, isa_name(a));
  isa.Set("available", available);
  isa.Set("active", isa_name(active_isa()));
  out.Set("isa", isa);
  out.Set("threads", ThreadPool::instance().num_threads());
  out.Set("cpu", cpu_model_name());
  out.Set("cuda", cuda_info(env));
  return out;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  try {
    const int64_t n = positive_dim(info[0], "threads");
    if (n > 1024) range_error("integer between 1 and 1024", "threads", std::to_string(n));
    ThreadPool::instance().set_num_threads(static_cast<int>(n));
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env());
  }
  return info.Env().Undefined();
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  try {
    if (!info[0].IsString()) type_error("one of 'scalar', 'avx2', 'avx512', 'neon'", "isa", info[0]);
    Isa isa;
    if (!parse_isa(info[0].As<Napi::String>().Utf8Value(), &isa))
      range_error("one of 'scalar', 'avx2', 'avx512', 'neon'", "isa", describe(info[0]));
    set_active_isa(isa);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env());
  }
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  init_jobs(env);
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  register_dense_ops(env, exports);
  register_sparse_ops(env, exports);
  register_select_ops(env, exports);
  register_score_ops(env, exports);
  register_train_ops(env, exports);
  register_io_ops(env, exports);
  register_cuda_ops(env, exports);
  return exports;
}

}  // namespace shears::binding

static Napi::Object InitShears(Napi::Env env, Napi::Object exports) {
  return shears::binding::Init(env, exports);
}
NODE_API_MODULE(shears, InitShears)
