/**
 * What CSR and BSR matrices share: the compressed-row structure, the products and their async
 * twins. Each product is one native call over the caller's memory (no copies).
 */
import { optionsObject, rangeError } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { resolveDevice, type Device } from '../tensor/device.js';

export interface OutOptions {
  /** Where to write the result (exact length, sharing no memory with the inputs); new otherwise. */
  out?: Float32Array;
}

export interface DeviceOutOptions extends OutOptions {
  /** 'cpu' (default), 'cuda' (CSR only for now; arrays are copied to the GPU and back) or 'auto'. */
  device?: Device;
}

type Op = 'Matvec' | 'Matmul' | 'MatmulT' | 'ToDense' | 'Sddmm';
type CsrArgs = [rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array];
type AnyFn = (...args: unknown[]) => unknown;

/** Token that lets native-built results skip re-validation (they are valid by construction). */
export const trusted: unique symbol = Symbol('shears.trusted');

export abstract class SparseMatrix {
  abstract readonly format: 'csr' | 'bsr';

  protected constructor(
    /** Number of rows. */
    readonly rows: number,
    /** Number of columns. */
    readonly cols: number,
    /** Row offsets (CSR: rows + 1; BSR: rows / blockRows + 1); rowPtr[0] = 0. */
    readonly rowPtr: Int32Array,
    /** Column index of each stored entry (CSR) or block (BSR). */
    readonly colIdx: Int32Array,
    /** Stored values (BSR: blockRows·blockCols per block, each block row-major). */
    readonly values: Float32Array,
  ) {}

  /** Stored values, explicit zeros included. */
  get nnz(): number {
    return this.values.length;
  }

  /** nnz / (rows · cols); 0 for an empty shape. */
  get density(): number {
    return this.rows * this.cols === 0 ? 0 : this.nnz / (this.rows * this.cols);
  }

  /** Bytes held by rowPtr, colIdx and values. */
  get bytes(): number {
    return this.rowPtr.byteLength + this.colIdx.byteLength + this.values.byteLength;
  }

  /** The native structure arguments, in the order the binding takes them. */
  protected abstract nativeArgs(): unknown[];

  protected call(op: Op, async: boolean, ...rest: unknown[]): unknown {
    const fn = (native as unknown as Record<string, AnyFn>)[`${this.format}${op}${async ? 'Async' : ''}`];
    return fn(...this.nativeArgs(), ...rest);
  }

  protected callAsync<T>(op: Op, ...rest: unknown[]): Promise<T> {
    return withCallerStack(async () => this.call(op, true, ...rest) as Promise<T>);
  }

  /** y = A·x, x has `cols` values, y has `rows`. */
  matvec(x: Float32Array, options?: OutOptions): Float32Array {
    return this.call('Matvec', false, x, optionsObject(options).out) as Float32Array;
  }

  matvecAsync(x: Float32Array, options?: OutOptions): Promise<Float32Array> {
    return this.callAsync('Matvec', x, optionsObject(options).out);
  }

  /** C = A·B with B dense row-major `[cols, n]`; C is `[rows, n]`. */
  matmul(b: Float32Array, n: number, options?: DeviceOutOptions): Float32Array {
    const o = optionsObject(options);
    if (this.onCuda(o.device)) return native.cudaCsrMatmul(...(this.nativeArgs() as CsrArgs), b, n, o.out);
    return this.call('Matmul', false, b, n, o.out) as Float32Array;
  }

  matmulAsync(b: Float32Array, n: number, options?: DeviceOutOptions): Promise<Float32Array> {
    return withCallerStack(async () => {
      const o = optionsObject(options);
      if (this.onCuda(o.device)) return native.cudaCsrMatmulAsync(...(this.nativeArgs() as CsrArgs), b, n, o.out);
      return this.call('Matmul', true, b, n, o.out) as Promise<Float32Array>;
    });
  }

  /** Whether a call with this `device` option runs on the GPU (CSR only for now). */
  private onCuda(device: unknown): boolean {
    if (resolveDevice(device) === 'cpu') return false;
    if (this.format !== 'csr') throw rangeError('device', "'cpu' for BSR matrices (the CUDA BSR kernels are not built yet)", device);
    return true;
  }

  /** C = Aᵀ·B with B dense row-major `[rows, n]`; C is `[cols, n]` (the backward pass). */
  matmulT(b: Float32Array, n: number, options?: OutOptions): Float32Array {
    return this.call('MatmulT', false, b, n, optionsObject(options).out) as Float32Array;
  }

  matmulTAsync(b: Float32Array, n: number, options?: OutOptions): Promise<Float32Array> {
    return this.callAsync('MatmulT', b, n, optionsObject(options).out);
  }

  /** The dense row-major `[rows, cols]` matrix (duplicate entries summed). */
  toDense(options?: OutOptions): Float32Array {
    return this.call('ToDense', false, optionsObject(options).out) as Float32Array;
  }

  toDenseAsync(options?: OutOptions): Promise<Float32Array> {
    return this.callAsync('ToDense', optionsObject(options).out);
  }

  /** SDDMM values over this matrix's pattern (see {@link sddmm}). */
  sddmmValues(x: Float32Array, y: Float32Array, n: number, out?: Float32Array): Float32Array {
    return this.call('Sddmm', false, x, y, n, out) as Float32Array;
  }

  sddmmValuesAsync(x: Float32Array, y: Float32Array, n: number, out?: Float32Array): Promise<Float32Array> {
    return this.callAsync('Sddmm', x, y, n, out);
  }
}
