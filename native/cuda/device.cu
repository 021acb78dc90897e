#include <cuda_runtime.h>

#include "device.h"

namespace shears::cuda {
namespace {

__global__ void probe_kernel(int* out, int value) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *out = value + 1;
}

std::string describe(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

// Runs the probe on the current device; returns "" on success.
std::string probe() {
  int* dev = nullptr;
  cudaError_t err = cudaMalloc(&dev, sizeof(int));
  if (err != cudaSuccess) {
    cudaGetLastError();  // not left behind for the next launch check on this thread
    return describe(err);
  }
  std::string result;
  probe_kernel<<<1, 32>>>(dev, 41);
  err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaDeviceSynchronize();
  int host = 0;
  if (err == cudaSuccess) err = cudaMemcpy(&host, dev, sizeof(int), cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) result = describe(err);
  else if (host != 42) result = "probe kernel returned a wrong value";
  cudaFree(dev);
  cudaGetLastError();
  return result;
}

}  // namespace

Discovery discover() {
  Discovery d;
  cudaRuntimeGetVersion(&d.runtime_version);
  cudaDriverGetVersion(&d.driver_version);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    d.error = describe(err);
    cudaGetLastError();  // clear the non-sticky error
    return d;
  }
  // The probes switch devices; the calling thread goes back to its device afterwards (work on it
  // shares cached allocations with the other threads, all on that device).
  int previous = 0;
  const bool restore = cudaGetDevice(&previous) == cudaSuccess;
  for (int i = 0; i < count; ++i) {
    DeviceInfo info;
    info.index = i;
    cudaDeviceProp prop{};
    err = cudaGetDeviceProperties(&prop, i);
    if (err != cudaSuccess) {
      info.error = describe(err);
      d.devices.push_back(info);
      continue;
    }
    info.name = prop.name;
    info.major = prop.major;
    info.minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    info.total_memory = prop.totalGlobalMem;
    err = cudaSetDevice(i);
    if (err == cudaSuccess) {
      size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) info.free_memory = free_b;
      info.error = probe();
      info.usable = info.error.empty();
    } else {
      info.error = describe(err);
    }
    d.devices.push_back(info);
  }
  if (restore) cudaSetDevice(previous);
  cudaGetLastError();  // no failed query's error is left for the next launch check
  return d;
}

}  // namespace shears::cuda
