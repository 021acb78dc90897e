/**
 * Every kernel against a plain float64 reference, on fresh random inputs, for every ISA this
 * machine supports, over shapes that hit every edge: empty matrices, empty rows, 1×1, dimensions
 * that are not multiples of the SIMD width, tile or block, n = 1, skewed rows and inputs that live
 * at a non-zero byteOffset. Outputs are pre-filled with NaN so an unwritten element shows.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { BsrMatrix, CsrMatrix, gemm, gemmAsync, info, sddmm, setIsa, setNumThreads } from '../src/index.js';
import {
  caseRng,
  expectClose,
  expectEqualArrays,
  isas,
  nanFilled,
  offsetCopy,
  refGemm,
  sparseDense,
  transposeDense,
  uniform,
  type Reference,
} from './helpers.js';

const defaultIsa = info().isa.active;
const defaultThreads = info().threads;
afterAll(() => {
  setIsa(defaultIsa);
  setNumThreads(defaultThreads);
});

// [m, k, n]: below, at and above the register tiles (6×16 AVX2, 14×32 AVX-512, 8×12 NEON) and the
// cache block depth (256/384).
const gemmShapes: [number, number, number][] = [
  [0, 0, 0], [0, 5, 3], [4, 0, 3], [1, 1, 1], [5, 7, 15], [6, 16, 16], [7, 17, 17], [13, 33, 31],
  [14, 255, 32], [29, 257, 33], [64, 384, 48], [150, 390, 70], [3, 600, 1], [1, 100, 200],
];

// [rows, cols, density, skewed]
const csrShapes: [number, number, number, boolean][] = [
  [0, 0, 0.5, false], [0, 7, 0.5, false], [6, 0, 0.5, false], [1, 1, 1, false], [3, 5, 0, false],
  [9, 13, 0.4, false], [17, 33, 0.3, true], [40, 70, 0.2, false], [65, 129, 0.1, true], [120, 90, 0.05, false],
];
const ns = [1, 3, 8, 17, 64, 100];

function denseRef(d: Float32Array, rows: number, cols: number, b: Float32Array, n: number): Reference {
  return refGemm(d, b, rows, cols, n);
}

function sddmmRef(d: Float32Array, rows: number, cols: number, x: Float32Array, y: Float32Array, n: number, keep: (i: number, j: number) => boolean): Reference {
  const vals: number[] = [], scales: number[] = [];
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      if (!keep(i, j)) continue;
      let s = 0, a = 0;
      for (let t = 0; t < n; t++) {
        const v = x[i * n + t] * y[j * n + t];
        s += v;
        a += Math.abs(v);
      }
      vals.push(s);
      scales.push(a);
    }
  void d;
  return { value: Float64Array.from(vals), scale: Float64Array.from(scales) };
}

describe.each(isas)('isa %s', (isa) => {
  it('gemm matches the reference for every shape and transpose combination', () => {
    setIsa(isa);
    for (const [m, k, n] of gemmShapes)
      for (const transA of [false, true])
        for (const transB of [false, true]) {
          const r = caseRng();
          const a = offsetCopy(uniform(m * k, r)), b = offsetCopy(uniform(k * n, r), 1);
          const out = nanFilled(m * n);
          const c = gemm(a, b, m, k, n, { transA, transB, out });
          expect(c).toBe(out);
          expectClose(c, refGemm(a, b, m, k, n, transA, transB), `${isa} gemm ${m}x${k}x${n} tA=${transA} tB=${transB}`);
        }
  });

  it('gemmAsync gives the same result as gemm', async () => {
    setIsa(isa);
    const r = caseRng();
    const [m, k, n] = [37, 300, 45];
    const a = uniform(m * k, r), b = uniform(k * n, r);
    expectEqualArrays(await gemmAsync(a, b, m, k, n), gemm(a, b, m, k, n), `${isa} gemmAsync`);
  });

  it('CSR matvec, matmul, matmulT and sddmm match the reference', () => {
    setIsa(isa);
    for (const [rows, cols, density, skewed] of csrShapes) {
      const r = caseRng();
      const d = sparseDense(rows, cols, density, r, skewed);
      const a = CsrMatrix.fromDense(d, rows, cols);
      const label = `${isa} csr ${rows}x${cols} d=${density}${skewed ? ' skewed' : ''}`;

      const x = offsetCopy(uniform(cols, r));
      const y = a.matvec(x, { out: nanFilled(rows) });
      expectClose(y, denseRef(d, rows, cols, x, 1), `${label} matvec`);

      for (const n of ns) {
        const b = offsetCopy(uniform(cols * n, r), 2);
        expectClose(a.matmul(b, n, { out: nanFilled(rows * n) }), denseRef(d, rows, cols, b, n), `${label} matmul n=${n}`);
        const bt = offsetCopy(uniform(rows * n, r), 1);
        expectClose(a.matmulT(bt, n, { out: nanFilled(cols * n) }), denseRef(transposeDense(d, rows, cols), cols, rows, bt, n), `${label} matmulT n=${n}`);
        const xs = uniform(rows * n, r), ys = uniform(cols * n, r);
        const s = sddmm(a, xs, ys, n, { out: nanFilled(a.nnz) });
        expect(s).toBeInstanceOf(CsrMatrix);
        expect(s.rowPtr).toBe(a.rowPtr);
        expectClose(s.values, sddmmRef(d, rows, cols, xs, ys, n, (i, j) => d[i * cols + j] !== 0), `${label} sddmm n=${n}`);
      }
    }
  });

  it('BSR matvec, matmul, matmulT and sddmm match the reference for every block shape', () => {
    setIsa(isa);
    const blocks: [number, number][] = [[1, 4], [4, 4], [8, 8], [16, 16], [32, 32], [2, 8], [3, 1]];
    for (const [br, bc] of blocks)
      for (const [R, C] of [[0, 2], [1, 1], [3, 5], [5, 3]]) {
        const rows = br * R, cols = bc * C;
        const r = caseRng();
        // Keep about 40% of blocks; inside kept blocks keep 70% of entries (explicit zeros happen).
        const d = new Float32Array(rows * cols);
        for (let I = 0; I < R; I++)
          for (let J = 0; J < C; J++)
            if (r() < 0.4)
              for (let i = 0; i < br; i++)
                for (let j = 0; j < bc; j++) if (r() < 0.7) d[(I * br + i) * cols + J * bc + j] = r() * 2 - 1;
        const a = BsrMatrix.fromDense(d, rows, cols, { blockRows: br, blockCols: bc });
        const label = `${isa} bsr ${br}x${bc} ${rows}x${cols}`;
        expectEqualArrays(a.toDense(), d, `${label} toDense`);
        const x = offsetCopy(uniform(cols, r));
        expectClose(a.matvec(x, { out: nanFilled(rows) }), denseRef(d, rows, cols, x, 1), `${label} matvec`);
        for (const n of [1, 5, 24, 33, 70]) {
          const b = offsetCopy(uniform(cols * n, r));
          expectClose(a.matmul(b, n, { out: nanFilled(rows * n) }), denseRef(d, rows, cols, b, n), `${label} matmul n=${n}`);
          const bt = uniform(rows * n, r);
          expectClose(a.matmulT(bt, n, { out: nanFilled(cols * n) }), denseRef(transposeDense(d, rows, cols), cols, rows, bt, n), `${label} matmulT n=${n}`);
          const xs = uniform(rows * n, r), ys = uniform(cols * n, r);
          const s = sddmm(a, xs, ys, n);
          expect(s).toBeInstanceOf(BsrMatrix);
          // The reference walks the stored blocks in storage order, every entry of each block.
          const ref: Reference = { value: new Float64Array(a.nnz), scale: new Float64Array(a.nnz) };
          for (let I = 0; I < R; I++)
            for (let p = a.rowPtr[I]; p < a.rowPtr[I + 1]; p++)
              for (let i = 0; i < br; i++)
                for (let j = 0; j < bc; j++) {
                  const gi = I * br + i, gj = a.colIdx[p] * bc + j;
                  for (let t = 0; t < n; t++) {
                    const v = xs[gi * n + t] * ys[gj * n + t];
                    ref.value[p * br * bc + i * bc + j] += v;
                    ref.scale[p * br * bc + i * bc + j] += Math.abs(v);
                  }
                }
          expectClose(s.values, ref, `${label} sddmm n=${n}`);
        }
      }
  });

  it('packed-B BSR SpMM (n of four column tiles and up) matches the reference: padded last tiles, several chunks, tail rows, empty block rows', () => {
    setIsa(isa);
    for (const [br, bc] of [[4, 4], [6, 4], [16, 16], [8, 1], [5, 8]] as const) {
      // 24 block columns at density 0.6: block rows hold more blocks than one L1 chunk (4-16 of 16x16).
      const R = 12, C = 24, rows = br * R, cols = bc * C;
      const r = caseRng();
      const d = new Float32Array(rows * cols);
      for (let I = 0; I < R; I++)
        for (let J = 0; J < C; J++)
          if (I !== 3 && r() < 0.6) for (let i = 0; i < br; i++) for (let j = 0; j < bc; j++) d[(I * br + i) * cols + J * bc + j] = r() * 2 - 1;
      const a = BsrMatrix.fromDense(d, rows, cols, { blockRows: br, blockCols: bc });
      expect(a.colIdx.length, 'blocks read each block column twice over').toBeGreaterThanOrEqual(2 * C);
      // 4 tiles of 3 vectors: 48 columns for NEON, 96 for AVX2, 192 for AVX-512; others pad the last tile.
      for (const n of [48, 96, 101, 192, 211]) {
        const b = offsetCopy(uniform(cols * n, r));
        expectClose(a.matmul(b, n, { out: nanFilled(rows * n) }), denseRef(d, rows, cols, b, n), `${isa} packed bsr ${br}x${bc} n=${n}`);
      }
    }
  });

  it('K-panelled paths (long sorted rows, B larger than L2) match the reference; unsorted rows fall back', () => {
    setIsa(isa);
    // 64 rows of ~600 entries over 3000 columns: B/Y (3000×48 floats) spans several 192 KiB panels.
    const [rows, cols, n] = [64, 3000, 48];
    const r = caseRng();
    const d = sparseDense(rows, cols, 0.2, r);
    const a = CsrMatrix.fromDense(d, rows, cols);
    const b = uniform(cols * n, r), bt = uniform(rows * n, r), xs = uniform(rows * n, r), ys = uniform(cols * n, r);
    const label = `${isa} panelled ${rows}x${cols} n=${n}`;
    expectClose(a.matmul(b, n, { out: nanFilled(rows * n) }), denseRef(d, rows, cols, b, n), `${label} matmul`);
    expectClose(a.matmulT(bt, n, { out: nanFilled(cols * n) }), denseRef(transposeDense(d, rows, cols), cols, rows, bt, n), `${label} matmulT`);
    const sRef = sddmmRef(d, rows, cols, xs, ys, n, (i, j) => d[i * cols + j] !== 0);
    expectClose(sddmm(a, xs, ys, n, { out: nanFilled(a.nnz) }).values, sRef, `${label} sddmm`);
    // The same entries with each row's columns reversed: not sorted, so the row-at-a-time kernels run.
    const colIdx = a.colIdx.slice(), values = a.values.slice();
    for (let i = 0; i < rows; i++) {
      colIdx.subarray(a.rowPtr[i], a.rowPtr[i + 1]).reverse();
      values.subarray(a.rowPtr[i], a.rowPtr[i + 1]).reverse();
    }
    const u = new CsrMatrix(rows, cols, a.rowPtr, colIdx, values);
    expectClose(u.matmul(b, n), denseRef(d, rows, cols, b, n), `${label} unsorted matmul`);
    expectClose(u.matmulT(bt, n), denseRef(transposeDense(d, rows, cols), cols, rows, bt, n), `${label} unsorted matmulT`);
    const us = sddmm(u, xs, ys, n).values;
    for (let i = 0; i < rows; i++) {
      const seg = us.subarray(a.rowPtr[i], a.rowPtr[i + 1]).slice().reverse();
      const ref = { value: sRef.value.subarray(a.rowPtr[i], a.rowPtr[i + 1]), scale: sRef.scale.subarray(a.rowPtr[i], a.rowPtr[i + 1]) };
      expectClose(seg, ref, `${label} unsorted sddmm row ${i}`);
    }
  });

  it('strip-packed SpMM (dense-ish rows, B far larger than L2) matches the reference, tail strips included', () => {
    setIsa(isa);
    // 2048 columns at density 0.3 with n = 100 (B 800 KiB; strips of 4/16/32/64 columns leave a
    // narrower last strip) and n = 256 over more rows than one block of C tiles holds.
    const r = caseRng();
    for (const [rows, n, empty] of [[70, 100, true], [400, 256, false]] as const) {
      const cols = 2048;
      const d = sparseDense(rows, cols, 0.3, r, empty);
      const a = CsrMatrix.fromDense(d, rows, cols);
      const b = uniform(cols * n, r);
      expectClose(a.matmul(b, n, { out: nanFilled(rows * n) }), denseRef(d, rows, cols, b, n), `${isa} strips ${rows}x${cols} n=${n} matmul`);
    }
  });

  it('matmulT with many output rows, few entries and narrow n (the transposed route, no per-thread copies of C) matches the reference', () => {
    setIsa(isa);
    setNumThreads(Math.max(2, defaultThreads));
    const r = caseRng();
    const n = 8;
    // C (cols × n) far larger than the work: 12,000 CSR entries over 20,000 columns; 1,000 4×4
    // blocks over 40,000 columns. Built from coordinates; the reference scatters them in float64.
    const cases: [string, number, number, number, (rr: Int32Array, cc: Int32Array, v: Float32Array) => CsrMatrix | BsrMatrix][] = [
      ['csr', 200, 20000, 12000, (rr, cc, v) => CsrMatrix.fromCoo(200, 20000, rr, cc, v)],
      ['bsr 4x4', 400, 40000, 1000 * 16, (rr, cc, v) => BsrMatrix.fromCoo(400, 40000, rr, cc, v, { blockRows: 4, blockCols: 4 })],
    ];
    for (const [label, rows, cols, count, make] of cases) {
      const rr = new Int32Array(count), cc = new Int32Array(count), v = uniform(count, r);
      for (let e = 0; e < count; e++) {
        if (label === 'csr') (rr[e] = Math.floor(r() * rows)), (cc[e] = Math.floor(r() * cols));
        else if (e % 16 === 0) (rr[e] = Math.floor(r() * (rows / 4)) * 4), (cc[e] = Math.floor(r() * (cols / 4)) * 4);
        else (rr[e] = rr[e - (e % 16)] + ((e % 16) >> 2)), (cc[e] = cc[e - (e % 16)] + (e % 4)); // fill the block
      }
      const bt = uniform(rows * n, r);
      const ref = { value: new Float64Array(cols * n), scale: new Float64Array(cols * n) };
      for (let e = 0; e < count; e++)
        for (let j = 0; j < n; j++) {
          const t = v[e] * bt[rr[e] * n + j];
          ref.value[cc[e] * n + j] += t;
          ref.scale[cc[e] * n + j] += Math.abs(t);
        }
      expectClose(make(rr, cc, v).matmulT(bt, n, { out: nanFilled(cols * n) }), ref, `${isa} ${label} matmulT ${rows}x${cols} n=${n}`);
    }
    setNumThreads(defaultThreads);
  });

  it('results do not depend on the thread count', () => {
    setIsa(isa);
    const r = caseRng();
    const d = sparseDense(300, 257, 0.1, r, true);
    const a = CsrMatrix.fromDense(d, 300, 257);
    const b = uniform(257 * 40, r), bt = uniform(300 * 40, r), g1 = uniform(130 * 300, r), g2 = uniform(300 * 70, r);
    const run = () => [a.matmul(b, 40), a.matmulT(bt, 40), a.matmulT(bt.subarray(0, 300), 1), a.matvec(b.subarray(0, 257)), gemm(g1, g2, 130, 300, 70)];
    setNumThreads(1);
    const one = run();
    setNumThreads(Math.max(2, defaultThreads));
    const many = run();
    setNumThreads(defaultThreads);
    // matmulT accumulates rows in a different order per thread when n is small: compare within
    // tolerance there, exactly elsewhere.
    expectEqualArrays(many[0], one[0], 'matmul');
    expectEqualArrays(many[3], one[3], 'matvec');
    expectEqualArrays(many[4], one[4], 'gemm');
    for (const i of [1, 2]) for (let e = 0; e < one[i].length; e++) expect(Math.abs(many[i][e] - one[i][e])).toBeLessThan(1e-4);
  });
});
