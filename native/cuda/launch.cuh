// Shared launch geometry of the row-per-warp CSR kernels.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "../core/errors.h"

namespace shears::cuda {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;

// The kernels index with 32-bit ints: a dimension beyond that is a RangeError naming it.
inline int int_dim(int64_t v, const char* name) {
  if (v > std::numeric_limits<int>::max())
    throw Error(ErrorKind::kRange, std::string("Expected ") + name + " <= 2147483647 on the GPU but received " + std::to_string(v));
  return static_cast<int>(v);
}

inline unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace shears::cuda
