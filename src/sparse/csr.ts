import { optionsObject, rangeError } from '../errors.js';
import { native, withCallerStack, type Structure } from '../native.js';
import { DeviceCsrMatrix } from './device.js';
import { SparseMatrix, trusted } from './matrix.js';
import type { BsrMatrix, BlockShape } from './bsr.js';

export interface FromDenseOptions {
  /** Keep exactly the entries where mask[i] = 1 (explicit zeros included), one byte per element. */
  mask?: Uint8Array;
  /** Keep entries with |v| > threshold (with a mask: both must hold). Default: keep v ≠ 0. */
  threshold?: number;
}

export interface FromCooOptions {
  /** What repeated (row, col) pairs do: 'sum' adds them (default), 'error' throws a RangeError. */
  duplicates?: 'sum' | 'error';
}

function duplicatesFlag(options?: FromCooOptions): boolean {
  const d = optionsObject(options).duplicates ?? 'sum';
  if (d !== 'sum' && d !== 'error') throw rangeError('duplicates', "'sum' or 'error'", d);
  return d === 'sum';
}

/**
 * Compressed sparse rows: float32 values, int32 indices. Constructed matrices are validated
 * (row pointers from 0, non-decreasing, ending at nnz; column indices in range); every product
 * checks the structure again before it writes anything, so a matrix mutated later cannot crash the
 * process.
 *
 * @example
 * const a = CsrMatrix.fromDense(weights, 4096, 4096);       // keeps the non-zeros
 * const c = a.matmul(x, 256);                                // [4096, 256]
 * const g = await a.matmulTAsync(dy, 256);                   // Aᵀ·dY, off the event loop
 */
export class CsrMatrix extends SparseMatrix {
  readonly format = 'csr' as const;

  constructor(rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, token?: typeof trusted) {
    if (token !== trusted) native.csrValidate(rows, cols, rowPtr, colIdx, values);
    super(rows, cols, rowPtr, colIdx, values);
  }

  protected nativeArgs(): unknown[] {
    return [this.rows, this.cols, this.rowPtr, this.colIdx, this.values];
  }

  /** @internal */
  static fromStructure(rows: number, cols: number, s: Structure): CsrMatrix {
    return new CsrMatrix(rows, cols, s.rowPtr, s.colIdx, s.values, trusted);
  }

  /** A copy resident on the GPU (the CUDA build with a usable device; see DeviceCsrMatrix). */
  toDevice(): DeviceCsrMatrix {
    return new DeviceCsrMatrix(this.rows, this.cols, this.rowPtr, this.colIdx, this.values);
  }

  /** Builds CSR from a dense row-major `[rows, cols]` array (two parallel passes). */
  static fromDense(data: Float32Array, rows: number, cols: number, options?: FromDenseOptions): CsrMatrix {
    const o = optionsObject(options);
    return CsrMatrix.fromStructure(rows, cols, native.csrFromDense(data, rows, cols, o.mask, o.threshold));
  }

  static fromDenseAsync(data: Float32Array, rows: number, cols: number, options?: FromDenseOptions): Promise<CsrMatrix> {
    return withCallerStack(async () => {
      const o = optionsObject(options);
      return CsrMatrix.fromStructure(rows, cols, await native.csrFromDenseAsync(data, rows, cols, o.mask, o.threshold));
    });
  }

  /**
   * Builds CSR from coordinates (any order). Column indices come out sorted within each row;
   * repeated pairs are summed, or rejected with `{ duplicates: 'error' }`.
   */
  static fromCoo(rows: number, cols: number, rowIndices: Int32Array, colIndices: Int32Array, values: Float32Array, options?: FromCooOptions): CsrMatrix {
    return CsrMatrix.fromStructure(rows, cols, native.csrFromCoo(rows, cols, rowIndices, colIndices, values, duplicatesFlag(options)));
  }

  static fromCooAsync(rows: number, cols: number, rowIndices: Int32Array, colIndices: Int32Array, values: Float32Array, options?: FromCooOptions): Promise<CsrMatrix> {
    return withCallerStack(async () =>
      CsrMatrix.fromStructure(rows, cols, await native.csrFromCooAsync(rows, cols, rowIndices, colIndices, values, duplicatesFlag(options))),
    );
  }

  /** Aᵀ as a new CSR matrix (column indices sorted within each row). */
  transpose(): CsrMatrix {
    return CsrMatrix.fromStructure(this.cols, this.rows, native.csrTranspose(this.rows, this.cols, this.rowPtr, this.colIdx, this.values));
  }

  transposeAsync(): Promise<CsrMatrix> {
    return withCallerStack(async () =>
      CsrMatrix.fromStructure(this.cols, this.rows, await native.csrTransposeAsync(this.rows, this.cols, this.rowPtr, this.colIdx, this.values)),
    );
  }

  /** The same matrix in blocks of `blockRows × blockCols` (a block is stored if any entry is). */
  toBsr(block: BlockShape): BsrMatrix {
    return bsrFromCsr(this, block);
  }
}

// Set by bsr.ts (avoids a load-order cycle between the two classes).
let bsrFromCsr: (csr: CsrMatrix, block: BlockShape) => BsrMatrix;
export function registerBsrFromCsr(fn: typeof bsrFromCsr): void {
  bsrFromCsr = fn;
}
