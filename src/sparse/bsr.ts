import { optionsObject, positiveInteger, rangeError, typeError } from '../errors.js';
import { native, withCallerStack, type Structure } from '../native.js';
import { CsrMatrix, registerBsrFromCsr, type FromCooOptions, type FromDenseOptions } from './csr.js';
import { SparseMatrix, trusted } from './matrix.js';

/** A block shape: 1×4, 4×4, 8×8, 16×16, 32×32, or any rectangle that divides the matrix. */
export interface BlockShape {
  blockRows: number;
  blockCols: number;
}

function blockShape(block: BlockShape | undefined, rows?: number, cols?: number): BlockShape {
  if (block === undefined || block === null || typeof block !== 'object') throw typeError('block', 'an object { blockRows, blockCols }', block);
  const blockRows = positiveInteger(block.blockRows, 'blockRows');
  const blockCols = positiveInteger(block.blockCols, 'blockCols');
  if (rows !== undefined && rows % blockRows !== 0) throw rangeError('rows', `a multiple of blockRows (${blockRows})`, rows);
  if (cols !== undefined && cols % blockCols !== 0) throw rangeError('cols', `a multiple of blockCols (${blockCols})`, cols);
  return { blockRows, blockCols };
}

/**
 * Block sparse rows: the matrix is a grid of `blockRows × blockCols` blocks; the stored blocks are
 * listed per block row as in CSR, and each block's values are row-major. Dense tiles make the
 * products register-blocked like a GEMM, so BSR wins where pruning is structured.
 *
 * @example
 * const a = BsrMatrix.fromDense(w, 4096, 4096, { blockRows: 16, blockCols: 16 });
 * const c = a.matmul(x, 256);
 */
export class BsrMatrix extends SparseMatrix {
  readonly format = 'bsr' as const;
  readonly blockRows: number;
  readonly blockCols: number;

  constructor(rows: number, cols: number, block: BlockShape, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, token?: typeof trusted) {
    const shape = token === trusted ? block : blockShape(block);
    if (token !== trusted) native.bsrValidate(rows, cols, shape.blockRows, shape.blockCols, rowPtr, colIdx, values);
    super(rows, cols, rowPtr, colIdx, values);
    this.blockRows = shape.blockRows;
    this.blockCols = shape.blockCols;
  }

  /** Number of stored blocks. */
  get nnzBlocks(): number {
    return this.colIdx.length;
  }

  protected nativeArgs(): unknown[] {
    return [this.rows, this.cols, this.blockRows, this.blockCols, this.rowPtr, this.colIdx, this.values];
  }

  /** @internal */
  static fromStructure(rows: number, cols: number, block: BlockShape, s: Structure): BsrMatrix {
    return new BsrMatrix(rows, cols, block, s.rowPtr, s.colIdx, s.values, trusted);
  }

  /**
   * Builds BSR from a dense row-major array. A block is stored when any of its entries is kept (by
   * the same rule as {@link CsrMatrix.fromDense}); entries not kept inside it are stored as 0.
   */
  static fromDense(data: Float32Array, rows: number, cols: number, options: BlockShape & FromDenseOptions): BsrMatrix {
    const b = blockShape(options, rows, cols);
    return BsrMatrix.fromStructure(rows, cols, b, native.bsrFromDense(data, rows, cols, b.blockRows, b.blockCols, options.mask, options.threshold));
  }

  static fromDenseAsync(data: Float32Array, rows: number, cols: number, options: BlockShape & FromDenseOptions): Promise<BsrMatrix> {
    return withCallerStack(async () => {
      const b = blockShape(options, rows, cols);
      const s = await native.bsrFromDenseAsync(data, rows, cols, b.blockRows, b.blockCols, options.mask, options.threshold);
      return BsrMatrix.fromStructure(rows, cols, b, s);
    });
  }

  /** Blocks a CSR matrix: every stored entry lands in its block (explicit zeros keep theirs). */
  static fromCsr(csr: CsrMatrix, block: BlockShape): BsrMatrix {
    if (!(csr instanceof CsrMatrix)) throw typeError('csr', 'CsrMatrix', csr);
    const b = blockShape(block, csr.rows, csr.cols);
    return BsrMatrix.fromStructure(csr.rows, csr.cols, b, native.bsrFromCsr(csr.rows, csr.cols, csr.rowPtr, csr.colIdx, csr.values, b.blockRows, b.blockCols));
  }

  /** Builds BSR from coordinates: duplicates are summed (or rejected), then blocked. */
  static fromCoo(rows: number, cols: number, rowIndices: Int32Array, colIndices: Int32Array, values: Float32Array, options: BlockShape & FromCooOptions): BsrMatrix {
    const b = blockShape(options, rows, cols);
    return BsrMatrix.fromCsr(CsrMatrix.fromCoo(rows, cols, rowIndices, colIndices, values, options), b);
  }

  /**
   * The same matrix as CSR, without densifying: each stored block's entries, the zeros inside
   * blocks dropped (or kept as explicit entries with `keepZeros`), columns sorted per row.
   */
  toCsr(options?: { keepZeros?: boolean }): CsrMatrix {
    const keepZeros = optionsObject(options).keepZeros ?? false;
    const { blockRows: br, blockCols: bc, rowPtr, colIdx, values } = this;
    // The structure as it is now (arrays may have been written since construction).
    native.bsrValidate(this.rows, this.cols, br, bc, rowPtr, colIdx, values);
    let n = 0;
    if (keepZeros) n = values.length;
    else for (let p = 0; p < values.length; p++) if (values[p] !== 0) n++;
    const r = new Int32Array(n), c = new Int32Array(n), v = new Float32Array(n);
    let k = 0;
    for (let I = 0; I + 1 < rowPtr.length; I++)
      for (let p = rowPtr[I]; p < rowPtr[I + 1]; p++)
        for (let i = 0, q = p * br * bc; i < br; i++)
          for (let j = 0; j < bc; j++, q++)
            if (keepZeros || values[q] !== 0) {
              r[k] = I * br + i;
              c[k] = colIdx[p] * bc + j;
              v[k++] = values[q];
            }
    return CsrMatrix.fromCoo(this.rows, this.cols, r, c, v); // a block stored twice adds, as in toDense
  }

  /** Aᵀ as BSR with `blockCols × blockRows` blocks. */
  transpose(): BsrMatrix {
    const s = native.bsrTranspose(this.rows, this.cols, this.blockRows, this.blockCols, this.rowPtr, this.colIdx, this.values);
    return BsrMatrix.fromStructure(this.cols, this.rows, { blockRows: this.blockCols, blockCols: this.blockRows }, s);
  }

  transposeAsync(): Promise<BsrMatrix> {
    return withCallerStack(async () => {
      const s = await native.bsrTransposeAsync(this.rows, this.cols, this.blockRows, this.blockCols, this.rowPtr, this.colIdx, this.values);
      return BsrMatrix.fromStructure(this.cols, this.rows, { blockRows: this.blockCols, blockCols: this.blockRows }, s);
    });
  }
}

registerBsrFromCsr((csr, block) => BsrMatrix.fromCsr(csr, block));

