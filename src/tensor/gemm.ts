import { optionsObject } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { resolveDevice, type Device } from './device.js';

export interface GemmOptions {
  /** A is stored transposed: `a` is `[k, m]` instead of `[m, k]`. */
  transA?: boolean;
  /** B is stored transposed: `b` is `[n, k]` instead of `[k, n]`. */
  transB?: boolean;
  /** Where to write C (`m·n` floats, sharing no memory with `a` or `b`); a new array otherwise. */
  out?: Float32Array;
  /**
   * 'cpu' (default), 'cuda' or 'auto'. On the GPU: cuBLAS where the CUDA build found it, else
   * shears' own tiled kernel; the arrays are copied in and out per call.
   */
  device?: Device;
  /** On the GPU only: allow TF32 tensor cores (cuBLAS). Off by default, as in PyTorch. */
  tf32?: boolean;
}

/**
 * Dense row-major matrix product `C[m, n] = op(A)[m, k] · op(B)[k, n]` (packed, register-blocked,
 * multithreaded, AVX2/AVX-512/NEON). Returns C.
 *
 * @example
 * const c = gemm(a, b, 64, 128, 32);              // a: 64·128, b: 128·32 floats
 * gemm(w, x, inF, outF, batch, { transA: true, out: y });  // y = wᵀ·x: w [outF, inF] read transposed
 * gemm(a, b, 4096, 4096, 4096, { device: 'cuda' });  // cuBLAS on the GPU (CUDA build)
 */
export function gemm(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: GemmOptions): Float32Array {
  const o = optionsObject(options);
  if (resolveDevice(o.device) === 'cuda') return native.cudaGemm(a, b, m, k, n, o.transA ?? false, o.transB ?? false, o.out, o.tf32 ?? false);
  return native.gemm(a, b, m, k, n, o.transA ?? false, o.transB ?? false, o.out);
}

/** {@link gemm} on the addon's thread pool; the event loop stays free. */
export function gemmAsync(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: GemmOptions): Promise<Float32Array> {
  return withCallerStack(async () => {
    const o = optionsObject(options);
    if (resolveDevice(o.device) === 'cuda') return native.cudaGemmAsync(a, b, m, k, n, o.transA ?? false, o.transB ?? false, o.out, o.tf32 ?? false);
    return native.gemmAsync(a, b, m, k, n, o.transA ?? false, o.transB ?? false, o.out);
  });
}
