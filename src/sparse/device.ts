/**
 * CSR matrices resident on the GPU: uploaded once by `CsrMatrix.toDevice()`, multiplied many
 * times, released with `dispose()` (or a `using` declaration). Their device memory is reported to
 * V8, so the garbage collector sees it.
 *
 * @example
 * using w = csr.toDevice();                 // needs the CUDA build and a usable GPU
 * const y = await w.matmulAsync(x, 256);    // x uploaded, the product run, y downloaded
 * const g = w.matmulT(dy, 256);             // also matvec and sddmmValues, each with an Async twin
 */
import { optionsObject } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { resolveDevice } from '../tensor/device.js';

interface NativeDeviceCsr {
  matmul(b: Float32Array, n: number, out?: Float32Array): Float32Array;
  matmulAsync(b: Float32Array, n: number, out?: Float32Array): Promise<Float32Array>;
  matmulT(b: Float32Array, n: number, out?: Float32Array): Float32Array;
  matmulTAsync(b: Float32Array, n: number, out?: Float32Array): Promise<Float32Array>;
  matvec(x: Float32Array, out?: Float32Array): Float32Array;
  matvecAsync(x: Float32Array, out?: Float32Array): Promise<Float32Array>;
  sddmm(x: Float32Array, y: Float32Array, n: number, out?: Float32Array): Float32Array;
  sddmmAsync(x: Float32Array, y: Float32Array, n: number, out?: Float32Array): Promise<Float32Array>;
  dispose(): void;
  readonly bytes: number;
}

export class DeviceCsrMatrix implements Disposable {
  readonly rows: number;
  readonly cols: number;
  readonly nnz: number;
  readonly #native: NativeDeviceCsr;

  /** @internal Use CsrMatrix.toDevice(). */
  constructor(rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array) {
    resolveDevice('cuda'); // ERR_SHEARS_CUDA without a usable device
    const Ctor = (native as unknown as { DeviceCsr: new (...a: unknown[]) => NativeDeviceCsr }).DeviceCsr;
    this.#native = new Ctor(rows, cols, rowPtr, colIdx, values);
    this.rows = rows;
    this.cols = cols;
    this.nnz = colIdx.length;
  }

  /** Device bytes held (0 once disposed). */
  get bytes(): number {
    return this.#native.bytes;
  }

  /** C = A·B on the GPU, B `[cols, n]` from host memory, C `[rows, n]` back in host memory. */
  matmul(b: Float32Array, n: number, options?: { out?: Float32Array }): Float32Array {
    return this.#native.matmul(b, n, optionsObject(options).out);
  }

  matmulAsync(b: Float32Array, n: number, options?: { out?: Float32Array }): Promise<Float32Array> {
    return withCallerStack(async () => this.#native.matmulAsync(b, n, optionsObject(options).out));
  }

  /** C = Aᵀ·B on the GPU, B `[rows, n]` from host memory, C `[cols, n]` back (the backward pass). */
  matmulT(b: Float32Array, n: number, options?: { out?: Float32Array }): Float32Array {
    return this.#native.matmulT(b, n, optionsObject(options).out);
  }

  matmulTAsync(b: Float32Array, n: number, options?: { out?: Float32Array }): Promise<Float32Array> {
    return withCallerStack(async () => this.#native.matmulTAsync(b, n, optionsObject(options).out));
  }

  /** y = A·x on the GPU, x `[cols]` from host memory, y `[rows]` back. */
  matvec(x: Float32Array, options?: { out?: Float32Array }): Float32Array {
    return this.#native.matvec(x, optionsObject(options).out);
  }

  matvecAsync(x: Float32Array, options?: { out?: Float32Array }): Promise<Float32Array> {
    return withCallerStack(async () => this.#native.matvecAsync(x, optionsObject(options).out));
  }

  /**
   * SDDMM over this matrix's pattern on the GPU: `dot(x[i, :], y[j, :])` at each stored `(i, j)`,
   * in storage order (`nnz` values); x is `[rows, n]`, y `[cols, n]` (see {@link sddmm}).
   */
  sddmmValues(x: Float32Array, y: Float32Array, n: number, options?: { out?: Float32Array }): Float32Array {
    return this.#native.sddmm(x, y, n, optionsObject(options).out);
  }

  sddmmValuesAsync(x: Float32Array, y: Float32Array, n: number, options?: { out?: Float32Array }): Promise<Float32Array> {
    return withCallerStack(async () => this.#native.sddmmAsync(x, y, n, optionsObject(options).out));
  }

  /** Frees the device memory (after an in-flight product, if one runs); later calls throw. */
  dispose(): void {
    this.#native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
