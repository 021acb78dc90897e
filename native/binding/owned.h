// Handing malloc-owned native results (cpu::Owned arrays, fresh outputs) to JS without copying.
#pragma once

#include <napi.h>

#include <cstdlib>
#include <string>

#include "../core/errors.h"
#include "../core/memory.h"
#include "../cpu/sparse/convert.h"

namespace shears::binding {

// The array becomes an external ArrayBuffer that frees it when collected.
template <class T, class Arr>
Napi::Value adopt(Napi::Env env, cpu::Owned<T>& owned) {
  const int64_t n = owned.size();
  T* data = owned.release();
  if (data == nullptr) return Arr::New(env, 0);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, data, static_cast<size_t>(n) * sizeof(T),
                                                [](Napi::Env, void* p) { std::free(p); });
  return Arr::New(env, static_cast<size_t>(n), ab, 0);
}

// A fresh zero-filled typed array of `count` elements. V8 aborts the process when it cannot
// allocate a typed array, so the request is checked first: beyond the machine's memory it is an
// ERR_SHEARS_OUT_OF_MEMORY error naming `what` (the pages of such a request, were it granted,
// would end with the OOM killer); within it, a malloc of the same size that fails is the same error.
// (V8 allocates the array itself, not an external buffer: Node caps those at buffer.constants.MAX_LENGTH.)
// `what` builds the name (a callable returning a string), only when the request is large.
template <class T, class Arr, class What>
Arr fresh(Napi::Env env, int64_t count, What what) {
  const double bytes = static_cast<double>(count) * sizeof(T);
  ensure_fits(bytes, what);
  if (bytes >= 64.0 * 1024 * 1024) {
    void* probe = std::malloc(static_cast<size_t>(bytes));
    if (probe == nullptr) throw Error(ErrorKind::kAlloc, "out of memory allocating " + std::string(what()));
    std::free(probe);
  }
  return Arr::New(env, static_cast<size_t>(count));
}

// { rowPtr, colIdx, values } of an owned CSR or BSR.
template <class Owned>
Napi::Object structure_result(Napi::Env env, Owned& o) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("rowPtr", adopt<int32_t, Napi::Int32Array>(env, o.ptr));
  r.Set("colIdx", adopt<int32_t, Napi::Int32Array>(env, o.idx));
  r.Set("values", adopt<float, Napi::Float32Array>(env, o.val));
  return r;
}

}  // namespace shears::binding
