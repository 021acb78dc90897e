#include "memory.h"

#include <cuda_runtime.h>

#include "check.h"

namespace shears::cuda {
namespace {
// Powers of two from 512 bytes up to 1 MiB; above that, multiples of 2 MiB (a power of two there
// could waste nearly half the device on one large buffer).
size_t size_class(size_t bytes) {
  constexpr size_t kLarge = size_t{1} << 20, kGranule = size_t{2} << 20;
  if (bytes > kLarge) return (bytes + kGranule - 1) / kGranule * kGranule;
  size_t c = 512;
  while (c < bytes) c <<= 1;
  return c;
}
}  // namespace

DeviceAllocator& DeviceAllocator::instance() {
  static DeviceAllocator* a = new DeviceAllocator();  // never destroyed: blocks may outlive statics
  return *a;
}

void* DeviceAllocator::allocate(size_t bytes) {
  require_usable();
  const size_t c = size_class(bytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(c);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= c;
      in_use_ += c;
      return p;
    }
  }
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, c);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    empty_cache();
    status = cudaMalloc(&p, c);
  }
  check(status, "cudaMalloc");
  std::lock_guard<std::mutex> lock(mutex_);
  size_of_[p] = c;
  in_use_ += c;
  return p;
}

void DeviceAllocator::release(void* p) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = size_of_.find(p);
  if (it == size_of_.end()) return;
  free_[it->second].push_back(p);
  in_use_ -= it->second;
  cached_ += it->second;
}

void DeviceAllocator::empty_cache() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) {
      cudaFree(p);
      size_of_.erase(p);
    }
    blocks.clear();
  }
  cached_ = 0;
}

size_t DeviceAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

size_t DeviceAllocator::in_use_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy host to device");
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy device to host");
}

}  // namespace shears::cuda
