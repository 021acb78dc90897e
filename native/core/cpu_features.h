// CPU feature detection (CPUID + OS support via XGETBV on x86-64, HWCAP on arm64) and the choice of
// the active instruction-set variant. SHEARS_ISA=scalar|avx2|avx512|neon forces one.
#pragma once

#include <string>
#include <vector>

namespace shears {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3 };

const char* isa_name(Isa isa);
// Parses "scalar", "avx2", "avx512", "neon"; returns false for anything else.
bool parse_isa(const std::string& name, Isa* out);

// Variants this binary was compiled with AND this CPU/OS can run, best last. Always has kScalar.
const std::vector<Isa>& available_isas();
bool isa_available(Isa isa);

// The variant kernels use now. Starts as SHEARS_ISA when set and available (else the best one).
Isa active_isa();
// Throws a RangeError naming `isa` when it is not available here.
void set_active_isa(Isa isa);

// Human-readable CPU model name ("" when unknown).
std::string cpu_model_name();

}  // namespace shears
