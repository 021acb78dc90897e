// The trainer's epoch on the GPU (train_epoch.cu): the CPU epoch's contract (cpu/train/mlp.h) with
// weights, momentum, masks and scratch resident on the device for the whole epoch and batches
// streamed through pinned staging buffers.
#pragma once

#include <string>
#include <vector>

#include "../cpu/train/mlp.h"

namespace shears::cuda {

// What the GPU epoch does not run yet, as "<option>: <why>" (empty when it runs the whole
// configuration): dynamic sparse training (RigL, SET). The binding rejects it before any work
// starts. Dropout draws from a counter-based stream (seed, step, layer, element), not the
// CPU epoch's sequence: the same seed gives the same GPU run, not the CPU run's masks.
std::string train_unsupported(const std::vector<cpu::train::Layer>& layers, const cpu::train::EpochConfig& cfg);

// One epoch on the GPU: the same shuffle, steps, loss, masked SGD, pruning events (run on the host
// arrays between steps, after the device state is copied back), snapshot, validation, progress and
// abort as cpu::train::run_epoch. Dense layers run GEMM (cuBLAS when linked), CSR layers SpMM,
// SDDMM and the transposed SpMM. The caller's arrays hold the model after the epoch, after an
// abort, and (when the device still answers) after an error.
cpu::train::EpochResult run_epoch(std::vector<cpu::train::Layer>& layers, const cpu::train::EpochConfig& cfg);

}  // namespace shears::cuda
