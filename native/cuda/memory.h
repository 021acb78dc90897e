// Device memory: a caching allocator over cudaMalloc (never managed memory), so a training run or
// a loop of products does not call cudaMalloc per step, and a typed RAII buffer on top of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace shears::cuda {

class DeviceAllocator {
 public:
  static DeviceAllocator& instance();
  // A block of at least `bytes` (size classes: powers of two from 512 bytes to 1 MiB, then multiples
  // of 2 MiB). On out-of-memory the cache is emptied and the allocation retried once; then
  // ERR_SHEARS_OUT_OF_MEMORY.
  void* allocate(size_t bytes);
  // Back to the cache (not to the driver).
  void release(void* p) noexcept;
  // Returns every cached block to the driver.
  void empty_cache() noexcept;
  size_t cached_bytes() const;
  size_t in_use_bytes() const;

 private:
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;  // size class -> blocks
  std::unordered_map<void*, size_t> size_of_;  // every live block (cached or in use)
  size_t cached_ = 0, in_use_ = 0;
};

// `count` elements of T on the device, from the caching allocator.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t count) : count_(count) {
    if (count > 0) data_ = static_cast<T*>(DeviceAllocator::instance().allocate(static_cast<size_t>(count) * sizeof(T)));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(o.data_), count_(o.count_) { o.data_ = nullptr; o.count_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (data_) DeviceAllocator::instance().release(data_);
      data_ = o.data_;
      count_ = o.count_;
      o.data_ = nullptr;
      o.count_ = 0;
    }
    return *this;
  }
  ~DeviceBuffer() {
    if (data_) DeviceAllocator::instance().release(data_);
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return count_; }
  // Checked synchronous copies of the first `count` elements.
  void upload(const T* host, int64_t count);
  void download(T* host, int64_t count) const;

 private:
  T* data_ = nullptr;
  int64_t count_ = 0;
};

// Host <-> device copies (checked), for DeviceBuffer's template.
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);

template <class T>
void DeviceBuffer<T>::upload(const T* host, int64_t count) {
  if (count > 0) copy_to_device(data_, host, static_cast<size_t>(count) * sizeof(T));
}
template <class T>
void DeviceBuffer<T>::download(T* host, int64_t count) const {
  if (count > 0) copy_to_host(host, data_, static_cast<size_t>(count) * sizeof(T));
}

}  // namespace shears::cuda
