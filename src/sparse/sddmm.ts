import { optionsObject, typeError } from '../errors.js';
import { withCallerStack } from '../native.js';
import { BsrMatrix } from './bsr.js';
import { CsrMatrix } from './csr.js';
import { trusted, type DeviceOutOptions } from './matrix.js';

/**
 * Sampled dense-dense product: a new matrix with `pattern`'s structure (shared, not copied) whose
 * value at each stored (i, j) is dot(x[i, :], y[j, :]); `x` is `[rows, n]`, `y` is `[cols, n]`.
 * This is the weight gradient of a sparse layer, computed only where weights are kept.
 *
 * @example
 * const grad = sddmm(weights, dY, X, batch);   // dY: [out, batch], X: [in, batch]
 * sddmm(weights, dY, X, batch, { device: 'cuda' }); // CSR on the GPU (CUDA build)
 */
export function sddmm<M extends CsrMatrix | BsrMatrix>(pattern: M, x: Float32Array, y: Float32Array, n: number, options?: DeviceOutOptions): M {
  const o = optionsObject(options);
  return withValues(pattern, checked(pattern).sddmmValues(x, y, n, o.out, o.device));
}

export function sddmmAsync<M extends CsrMatrix | BsrMatrix>(pattern: M, x: Float32Array, y: Float32Array, n: number, options?: DeviceOutOptions): Promise<M> {
  return withCallerStack(async () => {
    const o = optionsObject(options);
    return withValues(pattern, await checked(pattern).sddmmValuesAsync(x, y, n, o.out, o.device));
  });
}

function checked<M>(pattern: M): CsrMatrix | BsrMatrix {
  if (!(pattern instanceof CsrMatrix) && !(pattern instanceof BsrMatrix)) throw typeError('pattern', 'CsrMatrix or BsrMatrix', pattern);
  return pattern;
}

function withValues<M extends CsrMatrix | BsrMatrix>(p: M, values: Float32Array): M {
  if (p instanceof CsrMatrix) return new CsrMatrix(p.rows, p.cols, p.rowPtr, p.colIdx, values, trusted) as M;
  const b = p as BsrMatrix;
  return new BsrMatrix(b.rows, b.cols, b, b.rowPtr, b.colIdx, values, trusted) as M;
}
