#include "check.h"

#include <mutex>

namespace shears::cuda {
namespace {
std::mutex sticky_mutex;
std::string sticky;

bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
      return true;
    default:
      return false;
  }
}
}  // namespace

std::string sticky_error() {
  std::lock_guard<std::mutex> lock(sticky_mutex);
  return sticky;
}

void set_sticky_error(const std::string& message) {
  std::lock_guard<std::mutex> lock(sticky_mutex);
  if (sticky.empty()) sticky = message;
}

void require_usable() {
  std::string copy;
  {
    std::lock_guard<std::mutex> lock(sticky_mutex);
    copy = sticky;
  }
  if (!copy.empty()) throw Error(ErrorKind::kDevice, "The CUDA device is unusable after an earlier error: " + copy);
}

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  const std::string message = std::string(what) + ": " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it
    throw Error(ErrorKind::kAlloc, "CUDA out of memory in " + message);
  }
  if (is_sticky(status)) set_sticky_error(message);
  else cudaGetLastError();
  throw Error(ErrorKind::kDevice, message);
}

}  // namespace shears::cuda
