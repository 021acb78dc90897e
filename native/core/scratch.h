// Scratch memory reused across calls (no allocation on hot paths, no malloc fragmentation growth).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

#include "errors.h"
#include "memory.h"

namespace shears {

// 64-byte aligned float buffer owned by the caller. Throws ERR_SHEARS_OUT_OF_MEMORY on failure
// and, before trying, when the request exceeds the machine's memory (core/memory.h).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) { resize(count); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }
  // Grows (never shrinks) to hold at least `count` floats; contents are not preserved.
  void resize(size_t count) {
    if (count <= capacity_) return;
    std::free(data_);
    data_ = nullptr;
    capacity_ = 0;
    const size_t bytes = ((count * sizeof(float)) + 63) / 64 * 64;
    ensure_fits(static_cast<double>(bytes), [count] { return "scratch of " + std::to_string(count) + " floats"; });
    data_ = static_cast<float*>(allocate(bytes, 64));
    if (data_ == nullptr)
      throw Error(ErrorKind::kAlloc, "out of memory allocating " + std::to_string(bytes) + " bytes of scratch");
    capacity_ = count;
  }
  float* data() { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

// Per-thread scratch slot `slot` holding at least `count` floats (reused; contents undefined).
inline float* thread_scratch(int slot, size_t count) {
  thread_local AlignedBuffer buffers[4];
  buffers[slot].resize(count);
  return buffers[slot].data();
}

}  // namespace shears
