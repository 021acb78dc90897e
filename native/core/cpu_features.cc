#include "cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "errors.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define SHEARS_X86 1
#endif
#if defined(__aarch64__)
#define SHEARS_ARM64 1
#endif

namespace shears {
namespace {

#ifdef SHEARS_X86
unsigned long long xgetbv0() {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

struct X86Features {
  bool avx2_fma = false;
  bool avx512 = false;  // F + BW + VL + DQ with OS support for ZMM state
};

X86Features detect_x86() {
  X86Features f;
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, popcnt = (c >> 23) & 1;
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;          // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1;
  const bool avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
             avx512vl = (b >> 31) & 1;
  f.avx2_fma = os_ymm && avx2 && fma && popcnt;  // the x86 variants are built with -mpopcnt too
  f.avx512 = f.avx2_fma && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
  return f;
}
#endif

std::vector<Isa> detect_available() {
  std::vector<Isa> isas{Isa::kScalar};
#ifdef SHEARS_X86
  const X86Features f = detect_x86();
#ifdef SHEARS_HAVE_AVX2
  if (f.avx2_fma) isas.push_back(Isa::kAvx2);
#endif
#ifdef SHEARS_HAVE_AVX512
  if (f.avx512) isas.push_back(Isa::kAvx512);
#endif
  (void)f;
#endif
#if defined(SHEARS_ARM64) && defined(SHEARS_HAVE_NEON)
  isas.push_back(Isa::kNeon);  // Advanced SIMD is mandatory on AArch64.
#endif
  return isas;
}

Isa initial_isa() {
  const std::vector<Isa>& isas = available_isas();
  if (const char* env = std::getenv("SHEARS_ISA")) {
    Isa wanted;
    if (*env && parse_isa(env, &wanted) && isa_available(wanted)) return wanted;
  }
  return isas.back();
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
  }
  return "unknown";
}

bool parse_isa(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (name == isa_name(isa)) {
      *out = isa;
      return true;
    }
  }
  return false;
}

const std::vector<Isa>& available_isas() {
  static const std::vector<Isa> isas = detect_available();
  return isas;
}

bool isa_available(Isa isa) {
  for (Isa a : available_isas())
    if (a == isa) return true;
  return false;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(Isa isa) {
  if (!isa_available(isa)) {
    std::string have;
    for (Isa a : available_isas()) have += std::string(have.empty() ? "" : ", ") + isa_name(a);
    throw_range_error(std::string("Expected one of the available ISAs (") + have +
                      ") for isa but received '" + isa_name(isa) + "'");
  }
  active_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string v = line.substr(colon + 1);
        const auto start = v.find_first_not_of(' ');
        return start == std::string::npos ? "" : v.substr(start);
      }
    }
  }
  return "";
}

}  // namespace shears
