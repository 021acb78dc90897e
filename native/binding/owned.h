// Handing malloc-owned native results (cpu::Owned arrays) to JS without copying.
#pragma once

#include <napi.h>

#include <cstdlib>

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
