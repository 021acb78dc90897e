// One error type for all native code. Kernels and validators throw shears::Error; the binding layer
// turns it into a JS TypeError / RangeError / Error carrying `code`.
#pragma once

#include <stdexcept>
#include <string>

namespace shears {

// kDevice: a CUDA failure (an Error with code ERR_SHEARS_CUDA; device out-of-memory is kAlloc).
enum class ErrorKind { kType, kRange, kGeneric, kAlloc, kDevice };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  // Stable machine-readable code, exposed to JS as `err.code`.
  const char* code() const {
    switch (kind_) {
      case ErrorKind::kType: return "ERR_SHEARS_INVALID_ARG_TYPE";
      case ErrorKind::kRange: return "ERR_SHEARS_OUT_OF_RANGE";
      case ErrorKind::kAlloc: return "ERR_SHEARS_OUT_OF_MEMORY";
      case ErrorKind::kDevice: return "ERR_SHEARS_CUDA";
      default: return "ERR_SHEARS_INTERNAL";
    }
  }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void throw_type_error(const std::string& message) {
  throw Error(ErrorKind::kType, message);
}
[[noreturn]] inline void throw_range_error(const std::string& message) {
  throw Error(ErrorKind::kRange, message);
}

}  // namespace shears
