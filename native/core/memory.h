// How much memory a request may count on, and the check every large host allocation makes.
//
// Linux grants large allocations lazily (overcommit): a request for more than the machine can give
// succeeds, and the process is killed by the OOM killer later, when the pages are touched. V8
// aborts the process outright when a typed array it is asked for cannot be allocated. Neither is
// a catchable error, so shears checks a large request's size first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace shears {

// Physical memory in bytes, or the container's limit (cgroup v2 memory.max, v1
// memory.limit_in_bytes) or SHEARS_MEMORY_LIMIT (bytes; suffixes K, M, G, T) when lower.
// Read once; 0 when unknown.
int64_t memory_limit();

// Memory available now: MemAvailable from /proc/meminfo, or the container's limit less its usage,
// whichever is lower, and never more than memory_limit() (which it is where neither can be read).
int64_t memory_available();

// Requests under this size are not checked (no file is read, no message formatted on hot paths).
inline constexpr double kUncheckedBytes = 256.0 * 1024 * 1024;

// Throws ERR_SHEARS_OUT_OF_MEMORY ("Expected <what> to fit in memory ...") when `bytes` exceeds
// memory_available(); requests under kUncheckedBytes pass unchecked.
void ensure_fits(double bytes, const std::string& what);

// The same with `what()` building the name, called only for a request large enough to check.
template <class What, class = std::enable_if_t<std::is_invocable_v<What>>>
inline void ensure_fits(double bytes, What what) {
  if (bytes >= kUncheckedBytes) ensure_fits(bytes, std::string(what()));
}

// Allocates `bytes` aligned to `align` (a power of two, at least alignof(max_align_t)); release
// with std::free. Null on failure. From 4 MiB up the block is aligned to 2 MiB and, on Linux,
// advised for transparent huge pages: its first touch then faults 2 MiB at a time instead of
// 4 KiB (16 MB of fresh output: ~1.5 ms instead of ~50 ms on a VM where faults are slow).
void* allocate(size_t bytes, size_t align);

}  // namespace shears
