// Conversions between dense, COO, CSR and BSR. Outputs are malloc-owned arrays that the binding
// hands to JS as external ArrayBuffers (no copy).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <utility>

#include "sparse.h"

namespace shears::cpu {

// A malloc-owned array; release() gives up ownership (free() it later).
template <class T>
class Owned {
 public:
  Owned() = default;
  explicit Owned(int64_t count);
  Owned(Owned&& o) noexcept : data_(o.data_), count_(o.count_) { o.data_ = nullptr; o.count_ = 0; }
  Owned& operator=(Owned&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(count_, o.count_);
    return *this;
  }
  Owned(const Owned&) = delete;
  ~Owned() { std::free(data_); }
  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return count_; }
  T* release() { T* d = data_; data_ = nullptr; count_ = 0; return d; }

 private:
  T* data_ = nullptr;
  int64_t count_ = 0;
};

struct OwnedCsr {
  int64_t rows = 0, cols = 0;
  Owned<int32_t> ptr, idx;
  Owned<float> val;
};

struct OwnedBsr {
  int64_t rows = 0, cols = 0, br = 1, bc = 1;
  Owned<int32_t> ptr, idx;
  Owned<float> val;
};

// Which dense entries are kept: mask[i] != 0 when a mask is given, |v| > threshold when a threshold
// is given, both when both are, and v != 0 when neither is.
struct KeepRule {
  const uint8_t* mask = nullptr;
  bool has_threshold = false;
  float threshold = 0.0f;
};

OwnedCsr csr_from_dense(const float* data, int64_t rows, int64_t cols, const KeepRule& keep);
// A block is stored when any of its entries is kept; entries not kept inside it are stored as 0.
OwnedBsr bsr_from_dense(const float* data, int64_t rows, int64_t cols, int64_t br, int64_t bc,
                        const KeepRule& keep);
void csr_to_dense(const CsrView& a, float* out);  // duplicates are summed
void bsr_to_dense(const BsrView& a, float* out);
OwnedCsr csr_transpose(const CsrView& a);
OwnedBsr bsr_transpose(const BsrView& a);
// Builds CSR with column indices sorted within each row. Duplicates are summed, or rejected with a
// RangeError when sum_duplicates is false. Indices are checked (RangeError naming the argument).
OwnedCsr csr_from_coo(int64_t rows, int64_t cols, const int32_t* r, const int32_t* c, const float* v,
                      int64_t count, bool sum_duplicates);
// Every stored CSR entry lands in its block (explicit zeros keep their block).
OwnedBsr bsr_from_csr(const CsrView& a, int64_t br, int64_t bc);

}  // namespace shears::cpu
