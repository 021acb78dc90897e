// CUDA device discovery (count, names, memory, compute capability) and a probe that launches a
// kernel, so a missing kernel image or an unusable device is reported instead of aborting.
// Built only by CMake when a CUDA toolkit is found (SHEARS_WITH_CUDA).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shears::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
  uint64_t total_memory = 0, free_memory = 0;
  bool usable = false;       // a probe kernel ran and returned the expected value
  std::string error;         // why it is not usable
};

struct Discovery {
  int runtime_version = 0, driver_version = 0;
  std::string error;  // set when the runtime could not enumerate devices (no driver, ...)
  std::vector<DeviceInfo> devices;
};

// Never throws and never aborts; every CUDA call is checked.
Discovery discover();

}  // namespace shears::cuda
