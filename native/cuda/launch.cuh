// Shared launch geometry of the row-per-warp CSR kernels.
#pragma once

#include <cstdint>

namespace shears::cuda {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;

inline unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace shears::cuda
