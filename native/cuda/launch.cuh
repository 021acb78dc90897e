// Shared launch geometry of the row-per-warp CSR kernels.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "../core/errors.h"

namespace shears::cuda {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;

// The kernels index with 32-bit ints (loop counters step past a dimension by up to a few hundred):
// a dimension beyond kMaxDim is a RangeError naming it. Call it before a launch statement, not in
// its argument list (a throw there would leave the pushed launch configuration behind).
constexpr int64_t kMaxDim = std::numeric_limits<int>::max() - (1 << 16);
inline int int_dim(int64_t v, const char* name) {
  if (v > kMaxDim)
    throw Error(ErrorKind::kRange, std::string("Expected ") + name + " <= " + std::to_string(kMaxDim) + " on the GPU but received " + std::to_string(v));
  return static_cast<int>(v);
}

// Blocks of `threads` for a grid-stride loop over `count` elements (at most 65535; the loop covers the rest).
inline unsigned grid_stride_blocks(int64_t count, int threads) {
  const int64_t blocks = (count + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
}

inline unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace shears::cuda
