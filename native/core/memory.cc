#include "memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "errors.h"

namespace shears {
namespace {

// The first number in a file (a cgroup limit or usage), or 0 for "max", absent or unreadable.
int64_t read_number(const char* path) {
  std::ifstream in(path);
  long long v = 0;
  if (!(in >> v) || v <= 0) return 0;
  return static_cast<int64_t>(v);
}

// The container's limit and usage (v2, else v1); {0, 0} outside a memory-limited cgroup.
std::pair<int64_t, int64_t> cgroup() {
  if (const int64_t max = read_number("/sys/fs/cgroup/memory.max"); max > 0)
    return {max, read_number("/sys/fs/cgroup/memory.current")};
  if (const int64_t max = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes"); max > 0 && max < (int64_t{1} << 60))
    return {max, read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes")};
  return {0, 0};
}

// SHEARS_MEMORY_LIMIT: bytes, with an optional K, M, G or T suffix (powers of 1024); 0 when unset
// or malformed.
int64_t env_limit() {
  const char* v = std::getenv("SHEARS_MEMORY_LIMIT");
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  double scale = 1;
  switch (*end) {
    case 'k': case 'K': scale = 1024.0; break;
    case 'm': case 'M': scale = 1024.0 * 1024; break;
    case 'g': case 'G': scale = 1024.0 * 1024 * 1024; break;
    case 't': case 'T': scale = 1024.0 * 1024 * 1024 * 1024; break;
    case '\0': break;
    default: return 0;
  }
  return x > 0 ? static_cast<int64_t>(x * scale) : 0;
}

int64_t detect_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  int64_t limit = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : 0;
  for (const int64_t cap : {cgroup().first, env_limit()})
    if (cap > 0 && (limit == 0 || cap < limit)) limit = cap;
  return limit;
}

int64_t mem_available_kib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long long kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return static_cast<int64_t>(kib);
  return 0;
}

std::string gib(double bytes) {
  char buf[32];
  if (bytes < 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / (1024.0 * 1024.0));
  else std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

int64_t memory_limit() {
  static const int64_t limit = detect_limit();
  return limit;
}

int64_t memory_available() {
  int64_t avail = mem_available_kib() * 1024;
  if (const auto [max, used] = cgroup(); max > 0) {
    const int64_t left = max > used ? max - used : 0;
    if (avail == 0 || left < avail) avail = left;
  }
  const int64_t limit = memory_limit();
  return avail > 0 && (limit == 0 || avail < limit) ? avail : limit;
}

void* allocate(size_t bytes, size_t align) {
  constexpr size_t kHuge = size_t{2} << 20, kHugeFrom = size_t{4} << 20;
  if (bytes >= kHugeFrom) {
    const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, rounded);
#ifdef MADV_HUGEPAGE
    if (p != nullptr) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
    return p;
  }
  const size_t rounded = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
  return std::aligned_alloc(align, rounded);
}

void ensure_fits(double bytes, const std::string& what) {
  if (bytes < kUncheckedBytes) return;
  const int64_t avail = memory_available();
  if (avail > 0 && !(bytes <= static_cast<double>(avail)))
    throw Error(ErrorKind::kAlloc, "Expected " + what + " to fit in memory but it needs " + gib(bytes) + " and " +
                                       gib(static_cast<double>(avail)) + " is available (of " +
                                       gib(static_cast<double>(memory_limit())) + ")");
}

}  // namespace shears
