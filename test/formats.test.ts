/** Conversions: dense ↔ CSR/BSR round trips are exact, CSR ↔ COO, transpose twice is the identity. */
import { describe, expect, it } from 'vitest';

import { BsrMatrix, CsrMatrix } from '../src/index.js';
import { caseRng, expectEqualArrays, sparseDense, transposeDense } from './helpers.js';

const shapes: [number, number, number][] = [[0, 0, 0.5], [0, 4, 0.5], [3, 0, 0.5], [1, 1, 1], [7, 9, 0], [31, 17, 0.3], [64, 100, 0.05], [129, 65, 0.6]];

describe('CSR', () => {
  it('dense → CSR → dense is exact, with sorted columns and the documented fields', async () => {
    for (const [rows, cols, density] of shapes) {
      const d = sparseDense(rows, cols, density, caseRng(), true);
      const a = CsrMatrix.fromDense(d, rows, cols);
      const nz = d.filter((v) => v !== 0).length;
      expect(a.nnz).toBe(nz);
      expect(a.rowPtr.length).toBe(rows + 1);
      expect(a.density).toBe(rows * cols === 0 ? 0 : nz / (rows * cols));
      expect(a.bytes).toBe(4 * (rows + 1) + 8 * nz);
      for (let i = 0; i < rows; i++) for (let p = a.rowPtr[i] + 1; p < a.rowPtr[i + 1]; p++) expect(a.colIdx[p]).toBeGreaterThan(a.colIdx[p - 1]);
      expectEqualArrays(a.toDense(), d, `roundtrip ${rows}x${cols}`);
      expectEqualArrays(await a.toDenseAsync(), d, `roundtrip async ${rows}x${cols}`);
      const b = await CsrMatrix.fromDenseAsync(d, rows, cols);
      expectEqualArrays(b.colIdx, a.colIdx, 'fromDenseAsync colIdx');
    }
  });

  it('fromDense honours mask (explicit zeros kept) and threshold', () => {
    const r = caseRng();
    const rows = 20, cols = 30;
    const d = sparseDense(rows, cols, 0.5, r);
    const mask = new Uint8Array(rows * cols).map(() => (r() < 0.3 ? 1 : 0));
    const m = CsrMatrix.fromDense(d, rows, cols, { mask });
    expect(m.nnz).toBe(mask.reduce((s, v) => s + v, 0));
    expectEqualArrays(m.toDense(), d.map((v, i) => (mask[i] ? v : 0)), 'mask');
    const t = CsrMatrix.fromDense(d, rows, cols, { threshold: 0.5 });
    expectEqualArrays(t.toDense(), d.map((v) => (Math.abs(v) > 0.5 ? v : 0)), 'threshold');
    const both = CsrMatrix.fromDense(d, rows, cols, { mask, threshold: 0.5 });
    expectEqualArrays(both.toDense(), d.map((v, i) => (mask[i] && Math.abs(v) > 0.5 ? v : 0)), 'mask and threshold');
  });

  it('CSR → COO → CSR is the identity, in any entry order; duplicates are summed', async () => {
    for (const [rows, cols, density] of shapes) {
      const r = caseRng();
      const a = CsrMatrix.fromDense(sparseDense(rows, cols, density, r), rows, cols);
      const ri: number[] = [], ci: number[] = [], vi: number[] = [];
      for (let i = 0; i < rows; i++) for (let p = a.rowPtr[i]; p < a.rowPtr[i + 1]; p++) { ri.push(i); ci.push(a.colIdx[p]); vi.push(a.values[p]); }
      const order = ri.map((_, i) => i).sort(() => r() - 0.5);
      const b = CsrMatrix.fromCoo(rows, cols, Int32Array.from(order, (i) => ri[i]), Int32Array.from(order, (i) => ci[i]), Float32Array.from(order, (i) => vi[i]));
      expectEqualArrays(b.rowPtr, a.rowPtr, 'rowPtr');
      expectEqualArrays(b.colIdx, a.colIdx, 'colIdx');
      expectEqualArrays(b.values, a.values, 'values');
      const c = await CsrMatrix.fromCooAsync(rows, cols, Int32Array.from(ri), Int32Array.from(ci), Float32Array.from(vi), { duplicates: 'error' });
      expectEqualArrays(c.values, a.values, 'async values');
    }
    const dup = CsrMatrix.fromCoo(2, 3, Int32Array.of(1, 0, 1, 1), Int32Array.of(2, 1, 2, 0), Float32Array.of(1.5, 2, 2.25, 7));
    expectEqualArrays(dup.rowPtr, [0, 1, 3], 'dup rowPtr');
    expectEqualArrays(dup.colIdx, [1, 0, 2], 'dup colIdx');
    expectEqualArrays(dup.values, [2, 7, 3.75], 'dup values');
  });

  it('transpose matches the dense transpose, and twice is the identity', async () => {
    for (const [rows, cols, density] of shapes) {
      const d = sparseDense(rows, cols, density, caseRng(), true);
      const a = CsrMatrix.fromDense(d, rows, cols);
      const t = a.transpose();
      expect([t.rows, t.cols]).toEqual([cols, rows]);
      expectEqualArrays(t.toDense(), transposeDense(d, rows, cols), 'transpose');
      const tt = (await t.transposeAsync());
      expectEqualArrays(tt.rowPtr, a.rowPtr, 'rowPtr');
      expectEqualArrays(tt.colIdx, a.colIdx, 'colIdx');
      expectEqualArrays(tt.values, a.values, 'values');
    }
  });

  it('the validated constructor accepts a valid structure, unsorted columns included', () => {
    const a = new CsrMatrix(2, 3, Int32Array.of(0, 2, 3), Int32Array.of(2, 0, 1), Float32Array.of(1, 2, 3));
    expectEqualArrays(a.toDense(), [2, 0, 1, 0, 3, 0], 'unsorted');
  });
});

describe('BSR', () => {
  const blocks: [number, number][] = [[1, 4], [4, 4], [8, 8], [16, 16], [32, 32], [4, 2]];

  it('dense → BSR → dense is exact; blocks with any kept entry are stored', async () => {
    for (const [br, bc] of blocks)
      for (const density of [0, 0.01, 0.2, 1]) {
        const rows = br * 3, cols = bc * 4;
        const d = sparseDense(rows, cols, density, caseRng());
        const a = BsrMatrix.fromDense(d, rows, cols, { blockRows: br, blockCols: bc });
        let kept = 0;
        for (let I = 0; I < 3; I++)
          for (let J = 0; J < 4; J++) {
            let any = false;
            for (let i = 0; i < br; i++) for (let j = 0; j < bc; j++) any ||= d[(I * br + i) * cols + J * bc + j] !== 0;
            kept += any ? 1 : 0;
          }
        expect(a.nnzBlocks).toBe(kept);
        expect(a.nnz).toBe(kept * br * bc);
        expectEqualArrays(a.toDense(), d, `bsr ${br}x${bc} d=${density}`);
        const b = await BsrMatrix.fromDenseAsync(d, rows, cols, { blockRows: br, blockCols: bc });
        expectEqualArrays(b.values, a.values, 'async');
      }
  });

  it('BSR from a mask zeroes the entries not kept inside stored blocks', () => {
    const d = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const mask = Uint8Array.of(0, 1, 0, 0, 0, 0, 0, 0);
    const a = BsrMatrix.fromDense(d, 2, 4, { blockRows: 2, blockCols: 2, mask });
    expect(a.nnzBlocks).toBe(1);
    expectEqualArrays(a.toDense(), [0, 2, 0, 0, 0, 0, 0, 0], 'masked');
  });

  it('CSR → BSR and COO → BSR keep every entry; transpose twice is the identity', async () => {
    for (const [br, bc] of blocks) {
      const rows = br * 5, cols = bc * 3;
      const d = sparseDense(rows, cols, 0.15, caseRng(), true);
      const csr = CsrMatrix.fromDense(d, rows, cols);
      const a = csr.toBsr({ blockRows: br, blockCols: bc });
      expectEqualArrays(a.toDense(), d, `toBsr ${br}x${bc}`);
      const ri: number[] = [], ci: number[] = [];
      for (let i = 0; i < rows; i++) for (let p = csr.rowPtr[i]; p < csr.rowPtr[i + 1]; p++) { ri.push(i); ci.push(csr.colIdx[p]); }
      const c = BsrMatrix.fromCoo(rows, cols, Int32Array.from(ri), Int32Array.from(ci), csr.values, { blockRows: br, blockCols: bc });
      expectEqualArrays(c.values, a.values, 'fromCoo');
      const t = a.transpose();
      expect([t.blockRows, t.blockCols]).toEqual([bc, br]);
      expectEqualArrays(t.toDense(), transposeDense(d, rows, cols), 'transpose');
      const tt = await t.transposeAsync();
      expectEqualArrays(tt.values, a.values, 'transpose twice values');
      expectEqualArrays(tt.colIdx, a.colIdx, 'transpose twice colIdx');
    }
  });
});
