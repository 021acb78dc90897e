#include "args.h"

#include <cmath>

#include "../core/errors.h"
#include "owned.h"

namespace shears::binding {

namespace {
const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

template <class T>
Array<T> typed(const Napi::Value& v, napi_typedarray_type want, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want)
    type_error(typed_array_name(want), name, v);
  Napi::TypedArrayOf<T> arr = v.As<Napi::TypedArrayOf<T>>();
  Array<T> out;
  out.data = arr.Data();  // already adjusted by byteOffset
  out.length = static_cast<int64_t>(arr.ElementLength());
  out.handle = v;
  return out;
}
}  // namespace

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    return std::string(typed_array_name(t.TypedArrayType())) + " of length " + std::to_string(t.ElementLength());
  }
  if (v.IsArray()) return "Array of length " + std::to_string(v.As<Napi::Array>().Length());
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    std::string s;
    if (std::isnan(d)) s = "NaN";
    else if (std::isinf(d)) s = d > 0 ? "Infinity" : "-Infinity";
    else if (d == std::floor(d) && std::fabs(d) < 1e15) s = std::to_string(static_cast<int64_t>(d));
    else s = std::to_string(d);
    return s + " of type number";
  }
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "' of type string";
  if (v.IsBoolean()) return std::string(v.As<Napi::Boolean>().Value() ? "true" : "false") + " of type boolean";
  if (v.IsFunction()) return "a function";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

void type_error(const std::string& expected, const char* name, const Napi::Value& v) {
  throw_type_error("Expected " + expected + " for " + name + " but received " + describe(v));
}

void range_error(const std::string& expected, const char* name, const std::string& received) {
  throw_range_error("Expected " + expected + " for " + name + " but received " + received);
}

int64_t dim(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) type_error("integer between 0 and 2147483647", name, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 2147483647.0) || d != std::floor(d))
    range_error("integer between 0 and 2147483647", name, describe(v));
  return static_cast<int64_t>(d);
}

int64_t positive_dim(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) type_error("integer between 1 and 2147483647", name, v);
  const int64_t d = v.As<Napi::Number>().DoubleValue() >= 1 ? dim(v, name) : -1;
  if (d < 1) range_error("integer between 1 and 2147483647", name, describe(v));
  return d;
}

bool boolean(const Napi::Value& v, const char* name, bool fallback) {
  if (is_absent(v)) return fallback;
  if (!v.IsBoolean()) type_error("boolean", name, v);
  return v.As<Napi::Boolean>().Value();
}

bool is_absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

Array<float> f32(const Napi::Value& v, const char* name) { return typed<float>(v, napi_float32_array, name); }
Array<int32_t> i32(const Napi::Value& v, const char* name) { return typed<int32_t>(v, napi_int32_array, name); }
Array<uint8_t> u8(const Napi::Value& v, const char* name) { return typed<uint8_t>(v, napi_uint8_array, name); }
Array<double> f64(const Napi::Value& v, const char* name) { return typed<double>(v, napi_float64_array, name); }

int64_t checked_product(int64_t a, int64_t b, const char* what) {
  if (a != 0 && b > (int64_t{1} << 46) / a)
    throw_range_error(std::string("Expected ") + what + " to fit in memory but it has " + std::to_string(a) + " x " +
                      std::to_string(b) + " elements");
  return a * b;
}

Array<float> output(Napi::Env env, const Napi::Value& v, int64_t length, const char* name,
                    const std::string& shape, const std::vector<std::pair<const void*, size_t>>& inputs) {
  if (is_absent(v)) {
    Array<float> out;
    Napi::Float32Array arr = fresh<float, Napi::Float32Array>(env, length, [&] { return std::string(name) + " " + shape; });
    out.data = arr.Data();
    out.length = length;
    out.handle = arr;
    return out;
  }
  Array<float> out = f32(v, name);
  expect_length(out, length, name, shape);
  const char* lo = reinterpret_cast<const char*>(out.data);
  const char* hi = lo + out.bytes();
  for (const auto& [ptr, bytes] : inputs) {
    const char* a = static_cast<const char*>(ptr);
    if (bytes > 0 && out.bytes() > 0 && a < hi && lo < a + bytes)
      throw_range_error(std::string("Expected ") + name + " to share no memory with the inputs but it overlaps one of them");
  }
  return out;
}

}  // namespace shears::binding
