// Argument checks for every native entry. One helper writes every message:
//   "Expected Float32Array for b but received Int32Array of length 12"
// Type problems throw TypeError (code ERR_SHEARS_INVALID_ARG_TYPE), value problems RangeError
// (code ERR_SHEARS_OUT_OF_RANGE), both as shears::Error so they also work off the main thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace shears::binding {

std::string describe(const Napi::Value& v);
[[noreturn]] void type_error(const std::string& expected, const char* name, const Napi::Value& v);
[[noreturn]] void range_error(const std::string& expected, const char* name, const std::string& received);

// A non-negative integer dimension no larger than 2^31 - 1.
int64_t dim(const Napi::Value& v, const char* name);
// A dimension that must also be >= 1.
int64_t positive_dim(const Napi::Value& v, const char* name);
bool boolean(const Napi::Value& v, const char* name, bool fallback);
bool is_absent(const Napi::Value& v);

template <class T>
struct Array {
  T* data = nullptr;
  int64_t length = 0;
  Napi::Value handle;
  size_t bytes() const { return static_cast<size_t>(length) * sizeof(T); }
};

Array<float> f32(const Napi::Value& v, const char* name);
Array<int32_t> i32(const Napi::Value& v, const char* name);
Array<uint8_t> u8(const Napi::Value& v, const char* name);
Array<double> f64(const Napi::Value& v, const char* name);

// Throws a RangeError unless arr.length == expected, describing the shape.
template <class T>
void expect_length(const Array<T>& arr, int64_t expected, const char* name, const std::string& shape) {
  if (arr.length != expected)
    range_error("length " + std::to_string(expected) + " (" + shape + ")", name,
                "length " + std::to_string(arr.length));
}

// The output: a fresh zeroed Float32Array of `length` when `v` is absent; else a Float32Array of
// exactly `length` that shares no memory with any of `inputs`.
Array<float> output(Napi::Env env, const Napi::Value& v, int64_t length, const char* name,
                    const std::string& shape, const std::vector<std::pair<const void*, size_t>>& inputs);

// m * n as int64, with a RangeError when the product cannot be addressed.
int64_t checked_product(int64_t a, int64_t b, const char* what);

}  // namespace shears::binding
