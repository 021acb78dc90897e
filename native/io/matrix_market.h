// Matrix Market (.mtx) parsing: the header and size line, then the entries, parsed in parallel
// over line-aligned chunks with std::from_chars. Coordinate files (real, integer, pattern;
// general, symmetric, skew-symmetric, expanded on read) and array (dense, column-major) files.
// Every error names the file, the 1-based line and what was wrong; nothing half-built escapes.
#pragma once

#include <cstdint>
#include <string>

#include "../cpu/sparse/convert.h"

namespace shears::io {

struct MatrixMarketInfo {
  std::string format;    // "coordinate" | "array"
  std::string field;     // "real" | "integer" | "pattern"
  std::string symmetry;  // "general" | "symmetric" | "skew-symmetric"
  int64_t entries = 0;   // entries stored in the file (before symmetric expansion)
};

// Parses `size` bytes of a Matrix Market file named `name` (for messages) into CSR with sorted
// rows; duplicates are summed, or rejected (RangeError) when sum_duplicates is false. Pattern
// entries are 1. Throws shears::Error (RangeError) on malformed input.
cpu::OwnedCsr parse_matrix_market(const char* data, int64_t size, const std::string& name, bool sum_duplicates,
                                  MatrixMarketInfo& info);

}  // namespace shears::io
