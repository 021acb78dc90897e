// Importance statistics accumulated over batches (the inputs of every pruning criterion):
//   kAbs:      acc += |g|        (gradient magnitude)
//   kSquare:   acc += g²         (empirical Fisher diagonal, OBD)
//   kTaylor:   acc += |w·g|      (first-order Taylor)
//   kMovement: acc += −w·g       (movement pruning)
// and per-feature activation statistics over a feature-major [features, batch] block.
#pragma once

#include <cstdint>

#include "../../core/cpu_features.h"

namespace shears::cpu {

enum class Accumulate { kAbs = 0, kSquare = 1, kTaylor = 2, kMovement = 3 };

struct ScoreKernels {
  // acc[begin:end] updated from g (and w for kTaylor / kMovement).
  void (*accumulate)(Accumulate kind, float* acc, const float* w, const float* g, int64_t begin, int64_t end);
};

const ScoreKernels& score_kernels(Isa isa);
const ScoreKernels& score_kernels_scalar();
const ScoreKernels& score_kernels_avx2();
const ScoreKernels& score_kernels_avx512();
const ScoreKernels& score_kernels_neon();

// Multithreaded drivers.
void accumulate_scores(const ScoreKernels& k, Accumulate kind, float* acc, const float* w, const float* g, int64_t n);
// For a [features, batch] block: sum_abs[f] += Σ_b |a[f, b]|, zeros[f] += #{b : a[f, b] == 0}.
void activation_stats(const float* a, int64_t features, int64_t batch, double* sum_abs, double* zeros);

}  // namespace shears::cpu
