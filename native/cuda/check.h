// Checked CUDA calls: every failure becomes a shears::Error (ERR_SHEARS_CUDA, or
// ERR_SHEARS_OUT_OF_MEMORY for device allocations) carrying CUDA's own message. A sticky error
// (the context is corrupt: illegal address, launch failure, …) marks the device unusable, and
// every later call fails at once with the first error's message instead of touching the device.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "../core/errors.h"

namespace shears::cuda {

// The first sticky error seen in this process (empty while the device is healthy).
std::string sticky_error();
void set_sticky_error(const std::string& message);

// Throws if an earlier sticky error made the device unusable.
void require_usable();

// Throws for `status` != cudaSuccess, naming `what`; records sticky errors.
void check(cudaError_t status, const char* what);

// After a kernel launch: the launch status (bad configuration, missing image), then nothing else
// (execution errors surface at the next synchronising call, which is checked too).
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace shears::cuda
