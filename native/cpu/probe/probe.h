// Machine ceilings measured in the same run as a benchmark: memory bandwidth (a parallel stream
// copy) and FMA peak (independent FMA chains per thread, the active ISA's vector width).
#pragma once

#include <cstdint>

#include "../../core/cpu_features.h"

namespace shears::cpu {

using FmaLoop = float (*)(int64_t iterations);  // does iterations * 12 * W FMAs, returns a sink

FmaLoop fma_loop(Isa isa);
FmaLoop fma_loop_scalar();
FmaLoop fma_loop_avx2();
FmaLoop fma_loop_avx512();
FmaLoop fma_loop_neon();
// Lanes per FMA for the ISA (1, 8, 16, 4).
int fma_width(Isa isa);

// Copies src to dst on the thread pool (the bandwidth probe).
void stream_copy(float* dst, const float* src, int64_t count);
// Runs the FMA loop on every thread for `iterations`; returns the total flops done.
double fma_peak_run(Isa isa, int64_t iterations);

}  // namespace shears::cpu
