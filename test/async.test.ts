/**
 * Async forms run on the addon's own pool: the event loop keeps turning while they run, and
 * buffers whose only reference is the in-flight call survive a forced garbage collection.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { BsrMatrix, CsrMatrix, gemm, info, sddmmAsync } from '../src/index.js';
import { caseRng, expectEqualArrays, uniform } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gc = (globalThis as { gc?: () => void }).gc;

/** A 4096×4096 CSR matrix at the given density, built row by row (fast). */
function bigCsr(density: number, r: () => number): CsrMatrix {
  const n = 4096, perRow = Math.round(n * density);
  const rowPtr = new Int32Array(n + 1), colIdx = new Int32Array(n * perRow), values = new Float32Array(n * perRow);
  for (let i = 0; i < n; i++) {
    rowPtr[i + 1] = (i + 1) * perRow;
    const start = Math.floor(r() * n);
    for (let p = 0; p < perRow; p++) {
      colIdx[i * perRow + p] = (start + p * Math.floor(n / perRow)) % n;
      values[i * perRow + p] = r() - 0.5;
    }
    colIdx.subarray(i * perRow, (i + 1) * perRow).sort();
  }
  return new CsrMatrix(n, n, rowPtr, colIdx, values);
}

describe('async', () => {
  it('a 4096×4096 SpMM in flight does not stop a 1 ms interval timer', async () => {
    const a = bigCsr(0.5, caseRng());
    const b = uniform(4096 * 256, caseRng());
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let settled = false;
    const pending = a.matmulAsync(b, 256).then((c) => {
      settled = true;
      return c;
    });
    const ticksAtStart = ticks;
    // The promise cannot settle before this turn of the loop ends: the work is on another thread.
    expect(settled).toBe(false);
    const c = await pending;
    clearInterval(timer);
    expect(c.length).toBe(4096 * 256);
    // ~4 GFLOP takes well over 10 ms here; the interval must have fired while it ran.
    expect(ticks - ticksAtStart).toBeGreaterThanOrEqual(2);
  });

  it('buffers referenced only by the in-flight call survive a forced GC', async () => {
    expect(gc, 'vitest runs with --expose-gc').toBeTypeOf('function');
    const r = caseRng();
    const rows = 2048, cols = 2048, n = 64;
    const dense = new Float32Array(rows * cols).map(() => (r() < 0.2 ? r() - 0.5 : 0));
    const bData = uniform(cols * n, r);
    const expected = CsrMatrix.fromDense(dense, rows, cols).matmul(bData, n);
    const expectedGemm = gemm(dense.subarray(0, 256 * 512), bData.subarray(0, 512 * n), 256, 512, n);

    const start = () => {
      // Every input is a fresh copy that nothing but the native call references once we return.
      const a = CsrMatrix.fromDense(dense.slice(), rows, cols);
      return [a.matmulAsync(bData.slice(), n), import('../src/index.js').then((m) => m.gemmAsync(dense.slice(0, 256 * 512), bData.slice(0, 512 * n), 256, 512, n))] as const;
    };
    const [p1, p2] = start();
    for (let i = 0; i < 5; i++) {
      gc!();
      // Churn the heap so a freed buffer would be reused and show up as wrong results.
      for (let j = 0; j < 20; j++) new Float32Array(1 << 16).fill(j);
      await new Promise((res) => setImmediate(res));
    }
    expectEqualArrays(await p1, expected, 'matmulAsync after GC');
    expectEqualArrays(await p2, expectedGemm, 'gemmAsync after GC');
  });

  it('many concurrent async calls all settle with correct results', async () => {
    const r = caseRng();
    const a = CsrMatrix.fromDense(new Float32Array(64 * 48).map(() => (r() < 0.3 ? r() : 0)), 64, 48);
    const inputs = Array.from({ length: 40 }, () => uniform(48 * 5, r));
    const results = await Promise.all(inputs.map((b) => a.matmulAsync(b, 5)));
    results.forEach((c, i) => expectEqualArrays(c, a.matmul(inputs[i], 5), `call ${i}`));
  });
});

describe('environment', () => {
  const run = (env: Record<string, string>) =>
    JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', "import('./dist/index.js').then(m => console.log(JSON.stringify(m.info())))"], {
        cwd: root,
        env: { ...process.env, ...env },
      }).toString(),
    );

  it('SHEARS_ISA forces a variant and SHEARS_NUM_THREADS sets the pool size', () => {
    for (const isa of info().isa.available) expect(run({ SHEARS_ISA: isa }).isa.active).toBe(isa);
    expect(run({ SHEARS_NUM_THREADS: '1' }).threads).toBe(1);
    const i = run({});
    expect(i.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(i.isa.available).toContain('scalar');
    expect(typeof i.cuda.compiled).toBe('boolean');
    expect(Array.isArray(i.cuda.devices)).toBe(true);
  });
});

describe('async inputs written by JavaScript mid-call', () => {
  it('writing a matrix or a conversion input while its async call runs never crashes: the call settles', async () => {
    // The job reads private copies of rowPtr and colIdx; a conversion whose input changed between
    // its passes is refused. Each call settles with a result or a coded error, and the process lives.
    const R = 512, C = 512, n = 32;
    const dense = new Float32Array(R * C).map((_, i) => (i % 13 === 0 ? 1 : 0));
    const spin = (ms: number) => {
      const t = performance.now();
      while (performance.now() - t < ms);
    };
    const settle = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        expect((e as { code?: string }).code).toMatch(/^ERR_SHEARS_/);
      }
    };
    for (let iter = 0; iter < 40; iter++) {
      const a = CsrMatrix.fromDense(dense, R, C);
      const b = BsrMatrix.fromDense(dense, R, C, { blockRows: 4, blockCols: 4 });
      const x = new Float32Array(C * n).fill(1);
      const calls = [a.matmulAsync(x, n), a.matmulTAsync(x, n), a.transposeAsync(), a.toDenseAsync(), a.matvecAsync(x.subarray(0, C)), sddmmAsync(a, x, x, n), b.matmulAsync(x, n), b.matmulTAsync(x, n), b.transposeAsync()];
      const data = dense.slice();
      calls.push(CsrMatrix.fromDenseAsync(data, R, C), BsrMatrix.fromDenseAsync(data, R, C, { blockRows: 4, blockCols: 4 }));
      spin((iter % 8) * 0.25);
      for (const m of [a, b]) {
        m.colIdx.fill(0x3fffffff);
        m.rowPtr.fill(2 ** 31 - 1, 1);
      }
      data.fill(iter % 2 ? 1 : 0);
      for (const c of calls) await settle(c);
      // Written through: every later product of it is refused before any kernel runs.
      await expect(a.matmulAsync(x, n)).rejects.toMatchObject({ code: 'ERR_SHEARS_OUT_OF_RANGE' });
    }
  });
});
