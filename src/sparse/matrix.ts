/**
 * What CSR and BSR matrices share: the compressed-row structure, the products and their async
 * twins. Each product is one native call over the caller's memory (no copies).
 */
import { optionsObject, rangeError, typeError } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { resolveDevice, type Device } from '../tensor/device.js';

export interface OutOptions {
  /** Where to write the result (exact length, sharing no memory with the inputs); new otherwise. */
  out?: Float32Array;
}

export interface DeviceOutOptions extends OutOptions {
  /**
   * 'cpu' (default), 'cuda' or 'auto' (the GPU when one is usable). On 'cuda' the arrays are
   * copied to the GPU and back per call; keep a matrix resident with `CsrMatrix.toDevice()`.
   * CSR runs matvec, matmul, matmulT and sddmm on the GPU; BSR runs matmul.
   */
  device?: Device;
}

/** The arithmetic of a BSR product on the GPU. */
export type BsrPrecision = 'fp32' | 'tf32' | 'bf16';

export interface MatmulOptions extends DeviceOutOptions {
  /**
   * BSR on the GPU only (the CPU computes in FP32):
   * - 'fp32' (default): FP32 on CUDA cores.
   * - 'tf32': TF32 tensor cores (blocks of 16, 32, 48 or 64 rows, block columns a multiple of 8,
   *   n a multiple of 16, sm_80+): inputs rounded to a 10-bit mantissa, sums in FP32.
   * - 'bf16': BF16 tensor cores (the same block rows, block columns and n multiples of 16, sm_80+):
   *   A's values and B rounded to BF16 (8-bit mantissa) on the device, sums in FP32.
   * Where the shape or the device does not allow tensor cores the product runs in FP32;
   * `bsrKernelPath()` says which kernel runs.
   */
  precision?: BsrPrecision;
  /** `true` is `precision: 'tf32'` (as PyTorch's `allow_tf32`); off by default. */
  tf32?: boolean;
}

const PRECISIONS: readonly BsrPrecision[] = ['fp32', 'tf32', 'bf16'];

/** The precision `o` asks for, checked: a `tf32: true` that contradicts `precision` is an error. */
export function bsrPrecision(o: Partial<MatmulOptions>): BsrPrecision {
  if (o.tf32 !== undefined && typeof o.tf32 !== 'boolean') throw typeError('tf32', 'a boolean', o.tf32);
  if (o.precision === undefined) return o.tf32 ? 'tf32' : 'fp32';
  if (typeof o.precision !== 'string') throw typeError('precision', "'fp32', 'tf32' or 'bf16'", o.precision);
  if (!PRECISIONS.includes(o.precision)) throw rangeError('precision', "'fp32', 'tf32' or 'bf16'", o.precision);
  if (o.tf32 === true && o.precision !== 'tf32') throw rangeError('tf32', `false or absent with precision '${o.precision}'`, o.tf32);
  return o.precision;
}

/**
 * The kernel a BSR product with blocks of `blockRows × blockCols` and `n` dense columns runs on the
 * GPU at `precision`: 'tf32-mma' or 'bf16-mma' (tensor cores) or 'fp32' (CUDA cores). Throws where
 * no GPU is usable.
 *
 *   bsrKernelPath(16, 16, 256, 'bf16') // 'bf16-mma' on an A100 or H100
 */
export function bsrKernelPath(blockRows: number, blockCols: number, n: number, precision: BsrPrecision = 'fp32'): 'tf32-mma' | 'bf16-mma' | 'fp32' {
  return native.cudaBsrPath(blockRows, blockCols, n, bsrPrecision({ precision }));
}

type Op = 'Matvec' | 'Matmul' | 'MatmulT' | 'ToDense' | 'Sddmm';
type AnyFn = (...args: unknown[]) => unknown;
/** The method an op is called by ('MatmulT' → 'matmulT'). */
const method = (op: Op): string => op[0].toLowerCase() + op.slice(1);
/** The operations each format runs on the GPU. */
const cudaOps: Record<'csr' | 'bsr', readonly Op[]> = { csr: ['Matvec', 'Matmul', 'MatmulT', 'Sddmm'], bsr: ['Matmul'] };

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

  /** Runs `op` on the CPU or, when `device` resolves to 'cuda', on the GPU (`extra` goes to the GPU call only). */
  private run(op: Op, async: boolean, device: unknown, args: unknown[], extra: unknown[] = []): unknown {
    const onGpu = cudaOps[this.format].includes(op);
    // 'auto' runs what the GPU lacks on the CPU; 'cuda' asks for the GPU, so it is an error there.
    if (device === 'cuda' && !onGpu)
      throw rangeError('device', `'cpu' or 'auto' for ${this.format.toUpperCase()} ${method(op)} (on CUDA: ${cudaOps[this.format].map(method).join(', ')})`, device);
    if (resolveDevice(device) === 'cpu' || !onGpu) return this.call(op, async, ...args);
    const format = this.format === 'csr' ? 'Csr' : 'Bsr';
    const fn = (native as unknown as Record<string, AnyFn>)[`cuda${format}${op}${async ? 'Async' : ''}`];
    return fn(...this.nativeArgs(), ...args, ...extra);
  }

  /** The async twin: bad options and arguments reject the promise instead of throwing. */
  private runAsync<T>(options: unknown, call: (o: MatmulOptions) => [op: Op, args: unknown[], extra?: unknown[]]): Promise<T> {
    return withCallerStack(async () => {
      const o = optionsObject(options as MatmulOptions);
      const [op, args, extra] = call(o);
      return this.run(op, true, o.device, args, extra) as Promise<T>;
    });
  }

  /** y = A·x, x has `cols` values, y has `rows`. */
  matvec(x: Float32Array, options?: DeviceOutOptions): Float32Array {
    const o = optionsObject(options);
    return this.run('Matvec', false, o.device, [x, o.out]) as Float32Array;
  }

  matvecAsync(x: Float32Array, options?: DeviceOutOptions): Promise<Float32Array> {
    return this.runAsync(options, (o) => ['Matvec', [x, o.out]]);
  }

  /** C = A·B with B dense row-major `[cols, n]`; C is `[rows, n]`. */
  matmul(b: Float32Array, n: number, options?: MatmulOptions): Float32Array {
    const o = optionsObject(options);
    return this.run('Matmul', false, o.device, [b, n, o.out], this.format === 'bsr' ? [bsrPrecision(o)] : []) as Float32Array;
  }

  matmulAsync(b: Float32Array, n: number, options?: MatmulOptions): Promise<Float32Array> {
    return this.runAsync(options, (o) => ['Matmul', [b, n, o.out], this.format === 'bsr' ? [bsrPrecision(o)] : []]);
  }

  /** C = Aᵀ·B with B dense row-major `[rows, n]`; C is `[cols, n]` (the backward pass). */
  matmulT(b: Float32Array, n: number, options?: DeviceOutOptions): Float32Array {
    const o = optionsObject(options);
    return this.run('MatmulT', false, o.device, [b, n, o.out]) as Float32Array;
  }

  matmulTAsync(b: Float32Array, n: number, options?: DeviceOutOptions): Promise<Float32Array> {
    return this.runAsync(options, (o) => ['MatmulT', [b, n, o.out]]);
  }

  /** The dense row-major `[rows, cols]` matrix (duplicate entries summed). */
  toDense(options?: OutOptions): Float32Array {
    return this.call('ToDense', false, optionsObject(options).out) as Float32Array;
  }

  toDenseAsync(options?: OutOptions): Promise<Float32Array> {
    return withCallerStack(async () => this.call('ToDense', true, optionsObject(options).out) as Promise<Float32Array>);
  }

  /** SDDMM values over this matrix's pattern (see {@link sddmm}). */
  sddmmValues(x: Float32Array, y: Float32Array, n: number, out?: Float32Array, device?: Device): Float32Array {
    return this.run('Sddmm', false, device, [x, y, n, out]) as Float32Array;
  }

  sddmmValuesAsync(x: Float32Array, y: Float32Array, n: number, out?: Float32Array, device?: Device): Promise<Float32Array> {
    return this.runAsync({ device }, () => ['Sddmm', [x, y, n, out]]);
  }
}
