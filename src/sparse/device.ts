/**
 * CSR matrices resident on the GPU: uploaded once by `CsrMatrix.toDevice()`, multiplied many
 * times, released with `dispose()` (or a `using` declaration). Their device memory is reported to
 * V8, so the garbage collector sees it.
 *
 * @example
 * using w = csr.toDevice();                 // needs the CUDA build and a usable GPU
 * const y = await w.matmulAsync(x, 256);    // x uploaded, the product run, y downloaded
 */
import { optionsObject } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { resolveDevice } from '../tensor/device.js';

interface NativeDeviceCsr {
  matmul(b: Float32Array, n: number, out?: Float32Array): Float32Array;
  matmulAsync(b: Float32Array, n: number, out?: Float32Array): Promise<Float32Array>;
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

  /** Frees the device memory (after an in-flight product, if one runs); later calls throw. */
  dispose(): void {
    this.#native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
