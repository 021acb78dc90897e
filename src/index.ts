/**
 * shears: pruning and sparse training for Node.js over a native (C++ SIMD / CUDA) addon.
 *
 * @example
 * import { CsrMatrix, gemm, info } from 'shears';
 * console.log(info().isa.active);                       // 'avx2'
 * const a = CsrMatrix.fromDense(w, 4096, 4096);
 * const y = await a.matmulAsync(x, 256);
 */
export { info, setIsa, setNumThreads, type Info, type Isa } from './info.js';
export { gemm, gemmAsync, type GemmOptions } from './tensor/gemm.js';
export * from './sparse/index.js';
export { Tensor, selectSmallest, selectSmallestAsync, type Amount, type NanRule, type Selection } from './prune/index.js';
export * as prune from './prune/index.js';
export * from './io/safetensors.js';
export type { CudaDeviceInfo } from './native.js';
export { Dropout, Flatten, Linear, ReLU, Sequential, type Module, type SummaryRow } from './train/model.js';
export { scoreLogits, Trainer, type Criterion, type Dataset, type EpochLog, type FitOptions, type FitResult, type TrainerOptions } from './train/trainer.js';
export { learningRate, type LrOptions, type LrSchedule } from './schedule/lr.js';
export { gradualSparsity, planPruning, planRegrowth, type PlannedEvent, type PruningSchedule, type RegrowEvent } from './schedule/pruning.js';
export * as datasets from './io/datasets.js';
export { readSparse, readSparseAsync, sparseBytes, writeSparse, writeSparseAsync, type ReadSparseOptions, type SparseFormat, type WriteSparseOptions } from './io/sparse.js';
export { cudaUsable, resolveDevice, type Device } from './tensor/device.js';
