/**
 * Loads the native addon and types the whole binding in one place.
 *
 * The CUDA build (`npm run build:cuda`, in build-cuda/) is preferred when it exists and loads
 * cleanly in a child process first, so a broken GPU build cannot take this process down; otherwise
 * the default CPU build (node-gyp, in build/) is loaded with `bindings`.
 * SHEARS_BUILD=cpu forces the CPU build, SHEARS_BUILD=cuda requires the CUDA one.
 * SHEARS_ADDON=path/to/shears.node loads that file instead (a sanitizer or other custom build:
 * scripts/sanitize.sh runs the tests this way).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CudaDeviceInfo {
  index: number;
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
  freeMemory: number;
  usable: boolean;
  error?: string;
}

export interface NativeInfo {
  isa: { available: string[]; active: string };
  threads: number;
  cpu: string;
  cuda: {
    compiled: boolean;
    devices: CudaDeviceInfo[];
    runtimeVersion?: number;
    driverVersion?: number;
    error?: string;
    libraries?: { cublas: boolean; cusparse: boolean; cusparselt: boolean };
  };
}

export interface Structure {
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float32Array;
}

type F32 = Float32Array;
type I32 = Int32Array;
type Maybe<T> = T | undefined;
type Sync<A extends unknown[], R> = (...args: A) => R;
type Both<Name extends string, A extends unknown[], R> = { [K in Name]: Sync<A, R> } & {
  [K in `${Name}Async`]: Sync<A, Promise<R>>;
};
type Csr = [rows: number, cols: number, rowPtr: I32, colIdx: I32, values: F32];
type Bsr = [rows: number, cols: number, blockRows: number, blockCols: number, rowPtr: I32, colIdx: I32, values: F32];

/** A linear layer as the native trainer sees it (src/train builds these; buffers are shared). */
export interface NativeLayer {
  in: number;
  out: number;
  w: F32;
  b?: F32;
  mask: Uint8Array;
  vw?: F32;
  vb?: F32;
  score?: F32;
  relu: boolean;
  dropout: number;
  frozen?: boolean;
  /** -1 (default): CSR when the kept fraction is at most sparseBelow; 0: dense; 1: CSR. */
  execution?: number;
  /** Activation sums over training samples (|a| and zeros per output), accumulated in place. */
  actAbs?: Float64Array;
  actZero?: Float64Array;
  /** Inference only: this layer's CSR, built once (Sequential caches it). */
  csr?: { rowPtr: I32; colIdx: I32; values: F32 };
}
export interface NativePruneEvent {
  step: number;
  global: boolean;
  target: Float64Array;
}
export interface NativeEpochOptions {
  batchSize: number;
  lr: F32;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  seed: number;
  shuffle?: boolean;
  criterion?: string;
  sparseBelow: number;
  events?: NativePruneEvent[];
  regrow?: { step: number; fraction: number; random: boolean }[];
  teacher?: NativeLayer[];
  alpha?: number;
  temperature?: number;
  abort?: I32;
  snapshot?: { step: number; weights: F32[]; biases?: (F32 | null)[] };
  validationX?: F32;
  validationY?: I32;
  device?: 'cpu' | 'cuda';
}
export interface NativeEpochResult {
  loss: number;
  steps: number;
  correct: number;
  seen: number;
  aborted: boolean;
  sparse: boolean[];
  events: { step: number; sparsity: number[]; accuracy?: number }[];
}
export interface NativeProgress {
  step: number;
  steps: number;
  loss: number;
  samplesPerSecond: number;
}

export type NativeBinding = {
  info(): NativeInfo;
  setNumThreads(n: number): void;
  setIsa(isa: string): void;
  streamCopy(dst: Float32Array | undefined, src: Float32Array): Float32Array;
  fmaPeak(iterations: number): number;
  csrValidate(...a: Csr): void;
  bsrValidate(...a: Bsr): void;
} & Both<'gemm', [a: F32, b: F32, m: number, k: number, n: number, transA: boolean, transB: boolean, out: Maybe<F32>], F32> &
  Both<'csrMatvec', [...Csr, x: F32, out: Maybe<F32>], F32> &
  Both<'csrMatmul', [...Csr, b: F32, n: number, out: Maybe<F32>], F32> &
  Both<'csrMatmulT', [...Csr, b: F32, n: number, out: Maybe<F32>], F32> &
  Both<'csrSddmm', [...Csr, x: F32, y: F32, n: number, out: Maybe<F32>], F32> &
  Both<'csrToDense', [...Csr, out: Maybe<F32>], F32> &
  Both<'csrTranspose', Csr, Structure> &
  Both<'csrFromDense', [data: F32, rows: number, cols: number, mask: Maybe<Uint8Array>, threshold: Maybe<number>], Structure> &
  Both<'csrFromCoo', [rows: number, cols: number, r: I32, c: I32, v: F32, sumDuplicates: boolean], Structure> &
  Both<'bsrMatvec', [...Bsr, x: F32, out: Maybe<F32>], F32> &
  Both<'bsrMatmul', [...Bsr, b: F32, n: number, out: Maybe<F32>], F32> &
  Both<'bsrMatmulT', [...Bsr, b: F32, n: number, out: Maybe<F32>], F32> &
  Both<'bsrSddmm', [...Bsr, x: F32, y: F32, n: number, out: Maybe<F32>], F32> &
  Both<'bsrToDense', [...Bsr, out: Maybe<F32>], F32> &
  Both<'bsrTranspose', Bsr, Structure> &
  Both<'bsrFromDense', [data: F32, rows: number, cols: number, blockRows: number, blockCols: number, mask: Maybe<Uint8Array>, threshold: Maybe<number>], Structure> &
  Both<'bsrFromCsr', [...Csr, blockRows: number, blockCols: number], Structure> &
  Both<'scoresAccumulate', [kind: string, acc: F32, grads: F32, weights: Maybe<F32>], F32> &
  Both<'activationStats', [activations: F32, features: number, batch: number, sumAbs: Float64Array, zeros: Float64Array], void> &
  Both<'nmMask', [scores: F32, m: number, n: number, mask: Maybe<Uint8Array>, nan: Maybe<string>], Uint8Array> &
  Both<'trainEpoch', [layers: NativeLayer[], x: F32, y: I32, options: NativeEpochOptions, onProgress?: (p: NativeProgress) => void], NativeEpochResult> &
  Both<'parseMatrixMarket', [bytes: Uint8Array, name: string, sumDuplicates: boolean], Structure & { rows: number; cols: number; format: string; field: string; symmetry: string; entries: number }> &
  Both<'cudaCsrMatmul', [...Csr, b: F32, n: number, out: Maybe<F32>], F32> &
  Both<'cudaCsrMatmulT', [...Csr, b: F32, n: number, out: Maybe<F32>], F32> &
  Both<'cudaCsrMatvec', [...Csr, x: F32, out: Maybe<F32>], F32> &
  Both<'cudaBsrMatmul', [...Bsr, b: F32, n: number, out: Maybe<F32>, precision: 'fp32' | 'tf32' | 'bf16'], F32> &
  Both<'cudaGemm', [a: F32, b: F32, m: number, k: number, n: number, transA: boolean, transB: boolean, out: Maybe<F32>, tf32: boolean], F32> &
  Both<'cudaSpmm24', [a: F32, b: F32, m: number, k: number, n: number, out: Maybe<F32>], F32> &
  Both<'cudaCsrSddmm', [...Csr, x: F32, y: F32, n: number, out: Maybe<F32>], F32> &
  Both<'cudaMaskedSgd', [w: F32, g: F32, v: F32, mask: Maybe<Uint8Array>, lr: number, momentum: number, weightDecay: number, nesterov: boolean], void> & {
    cudaMemory(): { inUse: number; cached: number };
    cudaProbe(what: 'copy' | 'sgd' | 'select', size: number, repeat: number): { median: number; min: number; max: number; samples: number };
    cudaTimeKernel(kernel: string, ...rest: [...Csr, n: number, repeat: number, warmup: number]): { median: number; min: number; max: number; samples: number };
    cudaTimeBsr(...args: [...Bsr, n: number, precision: 'fp32' | 'tf32' | 'bf16', repeat: number, warmup: number]): { median: number; min: number; max: number; samples: number };
    cudaBsrPath(blockRows: number, blockCols: number, n: number, precision: 'fp32' | 'tf32' | 'bf16'): 'tf32-mma' | 'bf16-mma' | 'fp32';
    cudaTimeGemm(m: number, k: number, n: number, tf32: boolean, repeat: number, warmup: number): { median: number; min: number; max: number; samples: number };
    cudaGemmBackend(): 'cublas' | 'shears';
    cudaTimeSpmm24(m: number, k: number, n: number, repeat: number, warmup: number): { median: number; min: number; max: number; samples: number };
    cudaEmptyCache(): void;
  } &
  Both<'maskedSgd', [w: F32, g: F32, v: F32, mask: Maybe<Uint8Array>, lr: number, momentum: number, weightDecay: number, nesterov: boolean], void> &
  Both<'predict', [layers: NativeLayer[], x: F32, n: number, batch: number, sparseBelow: number], F32> & {
    gradients(layers: NativeLayer[], x: F32, y: I32, sparse: boolean): { loss: number; dw: F32[]; db: F32[] };
    pruneLayers(layers: NativeLayer[], event: NativePruneEvent, criterion: Maybe<string>): void;
  } &
  Both<'selectSmallest', [scores: F32[], k: number, nan: Maybe<string>, eligible: Maybe<(Uint8Array | undefined)[]>, masks: Maybe<(Uint8Array | undefined)[]>, absolute: Maybe<boolean>], { masks: Uint8Array[]; threshold: number; eligible: number }> &
  Both<'cudaSelectSmallest', [scores: F32[], k: number, nan: Maybe<string>, eligible: Maybe<(Uint8Array | undefined)[]>, masks: Maybe<(Uint8Array | undefined)[]>, absolute: Maybe<boolean>], { masks: Uint8Array[]; threshold: number; eligible: number }>;

const require = createRequire(import.meta.url);
/** The package root (this file lives in dist/ or src/). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function loadCuda(): { binding?: NativeBinding; path: string; problem?: string } {
  const file = path.join(packageRoot, 'build-cuda', 'Release', 'shears.node');
  if (!existsSync(file)) return { path: file, problem: 'is not built (npm run build:cuda)' };
  const cpu = path.join(packageRoot, 'build', 'Release', 'shears.node');
  if (process.env.SHEARS_BUILD !== 'cuda' && existsSync(cpu) && statSync(cpu).mtimeMs > statSync(file).mtimeMs) {
    return { path: file, problem: 'is older than the CPU build in build/ (stale: run npm run build:cuda again, or set SHEARS_BUILD=cuda to use it anyway)' };
  }
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)}).info()`], {
    stdio: 'pipe',
    timeout: 120_000,
  });
  if (probe.status !== 0) {
    const why = probe.error?.message ?? (probe.stderr.toString().trim().split('\n').pop() || `exit code ${probe.status}, signal ${probe.signal}`);
    return { path: file, problem: `failed to load in a child process: ${why}` };
  }
  return { path: file, binding: require(file) as NativeBinding };
}

function loadCpu(): NativeBinding {
  try {
    const bindings = require('bindings') as (opts: { bindings: string; module_root: string }) => unknown;
    return bindings({ bindings: 'shears.node', module_root: packageRoot }) as NativeBinding;
  } catch (err) {
    throw loadError(
      'shears: the native addon could not be loaded. Fixes: run `npm install` (needs a C++ compiler, python3 and make), ' +
        'or `npx node-gyp rebuild` in the package folder, or `npm run build:cuda` for the CUDA build.\n' +
        `Cause: ${(err as Error).message}`,
      err,
    );
  }
}

/** An Error with `message` and the load failure it explains as its cause. */
function loadError(message: string, cause: unknown): Error {
  const e = new Error(message);
  (e as Error & { cause: unknown }).cause = cause;
  return e;
}

function loadFile(file: string): { binding: NativeBinding; build: 'cpu' | 'cuda'; file: string } {
  let binding: NativeBinding;
  try {
    binding = require(path.resolve(file)) as NativeBinding;
  } catch (err) {
    throw loadError(`shears: SHEARS_ADDON=${file} could not be loaded: ${(err as Error).message}`, err);
  }
  return { binding, build: binding.info().cuda.compiled ? 'cuda' : 'cpu', file: path.resolve(file) };
}

function load(): { binding: NativeBinding; build: 'cpu' | 'cuda'; file?: string } {
  if (process.env.SHEARS_ADDON) return loadFile(process.env.SHEARS_ADDON);
  const want = process.env.SHEARS_BUILD ?? 'auto';
  if (want !== 'cpu') {
    const cuda = loadCuda();
    if (cuda.binding) return { binding: cuda.binding, build: 'cuda', file: cuda.path };
    if (want === 'cuda') throw new Error(`shears: SHEARS_BUILD=cuda but the CUDA build at ${cuda.path} ${cuda.problem}`);
    if (cuda.problem?.startsWith('failed') || cuda.problem?.startsWith('is older')) {
      process.emitWarning(`shears: the CUDA build at ${cuda.path} ${cuda.problem}; using the CPU build`);
    }
  }
  return { binding: loadCpu(), build: 'cpu' };
}

const loaded = load();
export const native: NativeBinding = loaded.binding;
export const nativeBuild: 'cpu' | 'cuda' = loaded.build;
/** The addon file loaded, where it was chosen by path (the CUDA build, SHEARS_ADDON); else undefined (bindings found the CPU build). */
export const nativeFile: string | undefined = loaded.file;

/**
 * Awaits a native promise, re-attaching the caller's stack to a rejection so that a failure deep in
 * a worker points at the user's call site rather than at an empty native stack.
 */
export async function withCallerStack<T>(start: () => Promise<T>): Promise<T> {
  const site = new Error();
  try {
    return await start();
  } catch (err) {
    if (err instanceof Error && site.stack) {
      const callerFrames = site.stack.split('\n').slice(2).join('\n');
      err.stack = `${err.name}: ${err.message}\n${callerFrames}`;
    }
    throw err;
  }
}
