/**
 * 2:4 semi-structured products: at most two nonzeros in every four consecutive entries of a row,
 * the N:M pattern the sparse tensor cores of NVIDIA's Ampere and later GPUs run at twice the dense
 * rate (`prune.nm(w, { n: 2, m: 4 })` gives its mask). On the GPU the product goes
 * through cuSPARSELt in BF16 (inputs and C rounded to BF16, sums in FP32), as PyTorch's
 * semi-structured BF16 tensors do; on the CPU it is shears' dense FP32 GEMM (a 50% pattern is too
 * dense for a sparse CPU kernel to win). The shape and the pattern are checked the same way on both.
 */
import { optionsObject, rangeError } from '../errors.js';
import { info } from '../info.js';
import { native, withCallerStack } from '../native.js';
import { gemm, gemmAsync } from '../tensor/gemm.js';
import { cudaUsable, resolveDevice, type Device } from '../tensor/device.js';

export interface SemiStructuredOptions {
  /** Where to write C (`m·n` floats, sharing no memory with `a` or `b`); a new array otherwise. */
  out?: Float32Array;
  /**
   * 'cpu' (default), 'cuda' (cuSPARSELt; the CUDA build must have found it, `info().cuda.libraries`)
   * or 'auto' (the GPU when it is usable and the build has cuSPARSELt, else the CPU).
   */
  device?: Device;
}

/** Where a group of four breaks the 2:4 pattern. */
export interface Violation24 {
  row: number;
  /** The group's first column (a multiple of 4). */
  col: number;
  nonzeros: number;
}

/**
 * The first group of four consecutive entries in a row of the row-major `[rows, cols]` matrix that
 * holds more than two nonzeros (NaN counts as nonzero, ±0 as zero), or null when it is 2:4.
 * `cols` must be a multiple of 4.
 */
export function find24Violation(a: Float32Array, rows: number, cols: number): Violation24 | null {
  if (cols % 4 !== 0) throw rangeError('cols', 'a multiple of 4', cols);
  if (a.length !== rows * cols) throw rangeError('a', `length ${rows * cols} ([rows x cols])`, `length ${a.length}`);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j += 4) {
      const q = i * cols + j;
      const nonzeros = +(a[q] !== 0) + +(a[q + 1] !== 0) + +(a[q + 2] !== 0) + +(a[q + 3] !== 0);
      if (nonzeros > 2) return { row: i, col: j, nonzeros };
    }
  return null;
}

function check(a: Float32Array, m: number, k: number, n: number): void {
  for (const [name, v] of [['m', m], ['k', k], ['n', n]] as const)
    if (!Number.isInteger(v) || v < 0 || v % 16 !== 0) throw rangeError(name, 'a multiple of 16 (cuSPARSELt 2:4 on BF16)', v);
  if (!(a instanceof Float32Array)) return; // gemm names the wrong type
  if (a.length !== m * k) return; // and the wrong length
  const bad = find24Violation(a, m, k);
  if (bad)
    throw rangeError('a', 'at most 2 nonzeros in every 4 consecutive entries of a row (2:4)',
      `${bad.nonzeros} in row ${bad.row}, columns ${bad.col}..${bad.col + 3}`);
}

function where(device: unknown): 'cpu' | 'cuda' {
  if (device === 'auto') return cudaUsable() && info().cuda.libraries?.cusparselt ? 'cuda' : 'cpu';
  return resolveDevice(device);
}

/**
 * `C[m, n] = A[m, k] · B[k, n]` (row-major) for a 2:4 A; m, k and n multiples of 16.
 *
 * @example
 * const w24 = prune.remove(w, prune.nm(w, { n: 2, m: 4 }));   // w: Tensor [4096, 4096]
 * const y = semiStructuredMatmul(w24.data, x, 4096, 4096, 256, { device: 'auto' });
 */
export function semiStructuredMatmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: SemiStructuredOptions): Float32Array {
  const o = optionsObject(options);
  if (where(o.device) === 'cuda') return native.cudaSpmm24(a, b, m, k, n, o.out);
  check(a, m, k, n);
  return gemm(a, b, m, k, n, { out: o.out });
}

/** {@link semiStructuredMatmul} off the event loop (the pattern check too, on the GPU path). */
export function semiStructuredMatmulAsync(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: SemiStructuredOptions): Promise<Float32Array> {
  return withCallerStack(async () => {
    const o = optionsObject(options);
    if (where(o.device) === 'cuda') return native.cudaSpmm24Async(a, b, m, k, n, o.out);
    check(a, m, k, n);
    return gemmAsync(a, b, m, k, n, { out: o.out });
  });
}
