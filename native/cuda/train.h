// The trainer's epoch on the GPU (train_epoch.cu): the CPU epoch's contract (cpu/train/mlp.h) with
// weights, momentum, masks and scratch resident on the device for the whole epoch and batches
// streamed through pinned staging buffers.
#pragma once

#include <string>
#include <vector>

#include "../cpu/train/mlp.h"

namespace shears::cuda {

// One epoch on the GPU: the same shuffle, steps, loss (distillation included), masked SGD, score
// criteria, activation statistics, pruning and regrowth events (run on the host arrays between
// steps, after the device state is copied back, with the CPU epoch's code and random streams),
// snapshot, validation, progress and abort as cpu::train::run_epoch. Dropout draws from a
// counter-based stream (seed, step, layer, element), not the CPU epoch's sequence: the same seed
// repeats a GPU run, not the CPU run's masks. Dense layers run GEMM (cuBLAS when linked), CSR layers SpMM,
// SDDMM and the transposed SpMM. The caller's arrays hold the model after the epoch, after an
// abort, and (when the device still answers) after an error.
cpu::train::EpochResult run_epoch(std::vector<cpu::train::Layer>& layers, const cpu::train::EpochConfig& cfg);

}  // namespace shears::cuda
