/**
 * Bad input is a clear, catchable TypeError/RangeError naming the argument, never a crash, and
 * nothing the caller passed (inputs or `out`) is modified when an operation fails.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { BsrMatrix, CsrMatrix, gemm, gemmAsync, sddmm, setIsa, setNumThreads } from '../src/index.js';
import { expectThrows, nanFilled } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rowPtr = () => Int32Array.of(0, 2, 3);
const colIdx = () => Int32Array.of(0, 2, 1);
const values = () => Float32Array.of(1, 2, 3);
const csr = () => new CsrMatrix(2, 3, rowPtr(), colIdx(), values());

function snapshot(...arrays: ArrayBufferView[]): () => void {
  const copies = arrays.map((a) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
  return () => arrays.forEach((a, i) => expect(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).toEqual(copies[i]));
}

describe('argument checks', () => {
  it('wrong typed-array kinds are TypeErrors naming the argument', () => {
    expectThrows(() => gemm(new Float64Array(4) as unknown as Float32Array, new Float32Array(4), 2, 2, 2), TypeError, 'Float32Array', 'for a', 'Float64Array');
    expectThrows(() => csr().matmul([1, 2, 3] as unknown as Float32Array, 1), TypeError, 'for b', 'Array of length 3');
    expectThrows(() => new CsrMatrix(2, 3, Uint32Array.of(0, 2, 3) as unknown as Int32Array, colIdx(), values()), TypeError, 'Int32Array', 'rowPtr');
    expectThrows(() => CsrMatrix.fromDense(new Float32Array(6), 2, 3, { mask: new Int8Array(6) as unknown as Uint8Array }), TypeError, 'mask');
  });

  it('lengths that do not match the shape are RangeErrors naming the argument', () => {
    expectThrows(() => gemm(new Float32Array(6), new Float32Array(5), 2, 3, 2), RangeError, 'for b', 'length 6', 'length 5');
    expectThrows(() => csr().matvec(new Float32Array(2)), RangeError, 'for x', 'length 3');
    expectThrows(() => csr().matmulT(new Float32Array(5), 3), RangeError, 'for b', 'length 6');
    expectThrows(() => new CsrMatrix(2, 3, Int32Array.of(0, 2), colIdx(), values()), RangeError, 'rowPtr', 'rows + 1');
    expectThrows(() => new CsrMatrix(2, 3, rowPtr(), colIdx(), Float32Array.of(1, 2)), RangeError, 'values');
    expectThrows(() => CsrMatrix.fromDense(new Float32Array(5), 2, 3), RangeError, 'data', 'length 6');
  });

  it('negative, fractional or non-number dimensions are rejected', () => {
    expectThrows(() => gemm(new Float32Array(0), new Float32Array(0), -1, 0, 0), RangeError, 'for m', '-1');
    expectThrows(() => csr().matmul(new Float32Array(3), 1.5), RangeError, 'for n', '1.5');
    expectThrows(() => csr().matmul(new Float32Array(3), '1' as unknown as number), TypeError, 'for n', 'string');
    expectThrows(() => csr().matmul(new Float32Array(3), Number.NaN), RangeError, 'for n', 'NaN');
    expectThrows(() => setNumThreads(0), RangeError, 'threads');
    expectThrows(() => setIsa('avx9' as 'avx2'), RangeError, 'isa');
  });

  it('malformed CSR structure is a RangeError naming rowPtr or colIdx', () => {
    expectThrows(() => new CsrMatrix(2, 3, Int32Array.of(1, 2, 3), colIdx(), values()), RangeError, 'rowPtr[0]');
    expectThrows(() => new CsrMatrix(2, 3, Int32Array.of(0, 3, 2), colIdx(), values()), RangeError, 'non-decreasing');
    expectThrows(() => new CsrMatrix(2, 3, Int32Array.of(0, 1, 2), colIdx(), values()), RangeError, 'rowPtr[2]', 'stored entries (3)');
    expectThrows(() => new CsrMatrix(2, 3, rowPtr(), Int32Array.of(0, 3, 1), values()), RangeError, 'colIdx', '[0, 3)', 'colIdx[1] = 3');
    expectThrows(() => new CsrMatrix(2, 3, rowPtr(), Int32Array.of(0, -1, 1), values()), RangeError, 'colIdx[1] = -1');
  });

  it('BSR shapes the block does not divide are rejected', () => {
    expectThrows(() => BsrMatrix.fromDense(new Float32Array(30), 5, 6, { blockRows: 4, blockCols: 2 }), RangeError, 'rows', 'multiple of blockRows (4)');
    expectThrows(() => BsrMatrix.fromDense(new Float32Array(30), 6, 5, { blockRows: 2, blockCols: 2 }), RangeError, 'cols', 'multiple of blockCols (2)');
    expectThrows(() => BsrMatrix.fromDense(new Float32Array(4), 2, 2, { blockRows: 0, blockCols: 2 }), RangeError, 'blockRows');
    expectThrows(() => csr().toBsr({ blockRows: 2, blockCols: 2 }), RangeError, 'cols');
  });

  it('options are checked', () => {
    expectThrows(() => CsrMatrix.fromCoo(2, 2, Int32Array.of(0), Int32Array.of(0), Float32Array.of(1), { duplicates: 'max' as 'sum' }), RangeError, 'duplicates');
    expectThrows(() => CsrMatrix.fromCoo(2, 2, Int32Array.of(0, 0), Int32Array.of(1, 1), Float32Array.of(1, 2), { duplicates: 'error' }), RangeError, 'duplicate', '(0, 1)');
    expectThrows(() => CsrMatrix.fromCoo(2, 2, Int32Array.of(0, 2), Int32Array.of(1, 1), Float32Array.of(1, 2)), RangeError, 'rowIndices');
    expectThrows(() => CsrMatrix.fromDense(new Float32Array(4), 2, 2, { threshold: -1 }), RangeError, 'threshold');
    expectThrows(() => gemm(new Float32Array(4), new Float32Array(4), 2, 2, 2, 'yes' as unknown as object), TypeError, 'options');
    expectThrows(() => sddmm({} as CsrMatrix, new Float32Array(2), new Float32Array(3), 1), TypeError, 'pattern');
  });
});

describe('requests beyond the machine', () => {
  // Checked before anything is allocated: V8 would abort on a typed array it cannot allocate, and
  // Linux would grant the pages lazily and let the OOM killer end the process when they are touched.
  const oom = (fn: () => unknown, ...mentions: string[]) => {
    let err: (Error & { code?: string }) | undefined;
    try {
      fn();
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err, 'expected an out-of-memory error').toBeInstanceOf(Error);
    expect(err!.code).toBe('ERR_SHEARS_OUT_OF_MEMORY');
    for (const m of ['to fit in memory', ...mentions]) expect(err!.message).toContain(m);
  };

  it('an output larger than memory is an ERR_SHEARS_OUT_OF_MEMORY error naming it, sync and async', async () => {
    // k = 0: the inputs are empty and valid, the [m x n] output would take 128 TiB.
    oom(() => gemm(new Float32Array(0), new Float32Array(0), 2 ** 31 - 1, 0, 2 ** 14), 'out [m x n]');
    const err = await gemmAsync(new Float32Array(0), new Float32Array(0), 2 ** 31 - 1, 0, 2 ** 14).catch((e: unknown) => e as Error & { code: string });
    expect(err.code).toBe('ERR_SHEARS_OUT_OF_MEMORY');
    // The same shape with room for it still works.
    expect(gemm(new Float32Array(0), new Float32Array(0), 3, 0, 2)).toEqual(new Float32Array(6));
  });

  it('SHEARS_MEMORY_LIMIT caps what one request may take', () => {
    // A 512 MiB output under a 300 MiB cap, in a child process (the cap is read once per process).
    const run = (limit: string) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', `
        import { gemm } from './dist/index.js';
        try { gemm(new Float32Array(0), new Float32Array(0), 2 ** 17, 0, 1024); console.log('allocated'); }
        catch (e) { console.log(e.code, e.message); }`], { cwd: root, encoding: 'utf8', env: { ...process.env, SHEARS_MEMORY_LIMIT: limit } });
    const capped = run('300M');
    expect(capped.stdout).toContain('ERR_SHEARS_OUT_OF_MEMORY Expected out [m x n] to fit in memory but it needs 512 MiB and 300 MiB is available');
    expect(run('2G').stdout.trim()).toBe('allocated');
  });

  it.skipIf(os.totalmem() > 48 * 2 ** 30)('a conversion whose working set exceeds memory is refused before it starts (machines under 48 GiB)', () => {
    // One entry, 2^31 - 1 rows: the row counts and pointers alone would take 56 GiB.
    oom(() => CsrMatrix.fromCoo(2 ** 31 - 1, 4, Int32Array.of(0), Int32Array.of(1), Float32Array.of(2)), 'a CSR of 2147483647 rows');
  });
});

describe('nothing is modified on failure', () => {
  it('an out that is too short or overlaps an input is rejected and left as it was', () => {
    const a = new Float32Array(6).fill(1), b = new Float32Array(6).fill(2);
    const short = nanFilled(3);
    const check = snapshot(a, b, short);
    expectThrows(() => gemm(a, b, 2, 3, 2, { out: short }), RangeError, 'for out', 'length 4');
    check();
    const shared = new Float32Array(10);
    const aa = shared.subarray(0, 6), out = shared.subarray(4, 8);
    expectThrows(() => gemm(aa, b, 2, 3, 2, { out }), RangeError, 'out', 'overlaps');
    const m = csr();
    expectThrows(() => m.matvec(m.values, { out: m.values.subarray(0, 2) }), RangeError, 'out', 'overlaps');
  });

  it('a matrix corrupted after construction fails cleanly in every product, out untouched', async () => {
    const m = csr();
    m.colIdx[1] = 1_000_000; // mutated behind the validated constructor's back
    const x = Float32Array.of(1, 2, 3);
    const ops: [string, () => unknown, Float32Array][] = [];
    const o1 = nanFilled(2), o2 = nanFilled(4), o3 = nanFilled(6), o4 = nanFilled(3), o5 = nanFilled(6);
    ops.push(['matvec', () => m.matvec(x, { out: o1 }), o1]);
    ops.push(['matmul', () => m.matmul(new Float32Array(6), 2, { out: o2 }), o2]);
    ops.push(['matmulT', () => m.matmulT(new Float32Array(4), 2, { out: o3 }), o3]);
    ops.push(['sddmm', () => sddmm(m, new Float32Array(2), new Float32Array(3), 1, { out: o4 }), o4]);
    ops.push(['toDense', () => m.toDense({ out: o5 }), o5]);
    for (const [name, fn, out] of ops) {
      const check = snapshot(out, x, m.rowPtr, m.colIdx, m.values);
      expectThrows(fn, RangeError, 'colIdx[1] = 1000000');
      check();
      expect(name).toBeTruthy();
    }
    expectThrows(() => m.transpose(), RangeError, 'colIdx');
    await expect(m.matmulAsync(new Float32Array(6), 2, { out: o2 })).rejects.toThrow(/colIdx\[1\] = 1000000/);
    expect(o2.every(Number.isNaN)).toBe(true);
    m.rowPtr[1] = 5;
    expectThrows(() => m.matvec(x, { out: o1 }), RangeError, 'rowPtr');
    expect(o1.every(Number.isNaN)).toBe(true);
  });

  it('async forms reject with the same errors, carrying the caller stack', async () => {
    const err = await gemmAsync(new Float32Array(6), new Float32Array(5), 2, 3, 2).catch((e: unknown) => e as RangeError & { code: string });
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_SHEARS_OUT_OF_RANGE');
    expect(err.message).toContain('for b');
    expect(err.stack).toContain('errors.test.ts');
    await expect(csr().matmulTAsync(new Float64Array(3) as unknown as Float32Array, 1)).rejects.toBeInstanceOf(TypeError);
    await expect(CsrMatrix.fromDenseAsync(new Float32Array(5), 2, 3)).rejects.toBeInstanceOf(RangeError);
  });
});
