/**
 * CUDA kernels against the CPU kernels on fresh random inputs and edge shapes. Skips, saying why,
 * where no CUDA device is usable (the CPU build, or a CUDA build without a GPU); the error a
 * 'cuda' request gives there is tested everywhere.
 */
import { describe, expect, it } from 'vitest';

import { CsrMatrix, cudaUsable, info, sddmm, selectSmallest } from '../../src/index.js';
import { native } from '../../src/native.js';
import { caseRng, seed } from '../helpers.js';

const gpu = cudaUsable();
const i = info().cuda;
const reason = !i.compiled ? 'this is the CPU build (npm run build:cuda)' : `no usable CUDA device${i.error ? `: ${i.error}` : ''}`;

/** Elementwise |got − want| ≤ abs + rel·|want| (float32 reductions in another order). */
function expectClose(got: Float32Array, want: Float32Array, label: string, rel: number, abs = 1e-5): void {
  expect(got.length, label).toBe(want.length);
  for (let k = 0; k < got.length; k++)
    if (!(Math.abs(got[k] - want[k]) <= abs + rel * Math.abs(want[k]))) expect.fail(`${label}: element ${k} is ${got[k]}, expected ${want[k]}`);
}

function randomCsr(rows: number, cols: number, density: number, r: () => number): CsrMatrix {
  return CsrMatrix.fromDense(Float32Array.from({ length: rows * cols }, () => (r() < density ? r() * 2 - 1 : 0)), rows, cols);
}

describe('CUDA requests without a usable device', () => {
  it.skipIf(gpu)(`fail with ERR_SHEARS_CUDA and fall back with 'auto' (${reason})`, async () => {
    const a = randomCsr(4, 3, 0.5, caseRng());
    const b = new Float32Array(3 * 2).fill(1);
    let caught: (Error & { code?: string }) | undefined;
    try {
      a.matmul(b, 2, { device: 'cuda' });
    } catch (e) {
      caught = e as Error & { code?: string };
    }
    expect(caught?.code).toBe('ERR_SHEARS_CUDA');
    expect(caught?.message).toMatch(/cuda/i);
    expect(Array.from(a.matmul(b, 2, { device: 'auto' }))).toEqual(Array.from(a.matmul(b, 2)));
    await expect(a.matmulAsync(b, 2, { device: 'cuda' })).rejects.toMatchObject({ code: 'ERR_SHEARS_CUDA' });
    if (!i.compiled) expect(() => native.cudaMemory()).toThrow(/no CUDA/);
    expect(() => selectSmallest([Float32Array.of(1, 2)], 1, { device: 'cuda' })).toThrow(/cuda/i);
    expect(() => a.toDevice()).toThrow(/cuda/i);
    expect(Array.from(selectSmallest([Float32Array.of(3, 1, 2)], 1, { device: 'auto' }).masks[0])).toEqual([1, 0, 1]);
  });
});

describe.skipIf(!gpu)(`CUDA kernels (${gpu ? i.devices.find((d) => d.usable)!.name : `skipped: ${reason}`})`, () => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1], [0, 5, 3, 0.5], [7, 0, 3, 0.5], [33, 17, 1, 0.3], [64, 64, 31, 0.2], [129, 70, 130, 0.1], [256, 512, 256, 0.05], [300, 200, 64, 0],
  ];

  it('CSR SpMM matches the CPU kernel (edge shapes, empty rows, n across the 128-column passes)', () => {
    for (const [rows, cols, n, density] of shapes) {
      const r = caseRng();
      const a = randomCsr(rows, cols, density, r);
      const b = Float32Array.from({ length: cols * n }, () => r() - 0.5);
      const want = a.matmul(b, n);
      const got = a.matmul(b, n, { device: 'cuda' });
      expectClose(got, want, `spmm ${rows}×${cols}×${n} (seed ${seed})`, 1e-4);
    }
  });

  it('CSR SDDMM matches the CPU kernel', () => {
    for (const [rows, cols, n, density] of shapes) {
      const r = caseRng();
      const a = randomCsr(rows, cols, density, r);
      const x = Float32Array.from({ length: rows * n }, () => r() - 0.5), y = Float32Array.from({ length: cols * n }, () => r() - 0.5);
      const want = sddmm(a, x, y, n).values;
      const got = native.cudaCsrSddmm(a.rows, a.cols, a.rowPtr, a.colIdx, a.values, x, y, n, undefined);
      expectClose(got, want, `sddmm ${rows}×${cols}×${n} (seed ${seed})`, 1e-4);
    }
  });

  it('a resident device CSR multiplies like the CPU, reports its bytes and frees on dispose', async () => {
    const r = caseRng();
    const a = randomCsr(300, 200, 0.1, r);
    const b = Float32Array.from({ length: 200 * 40 }, () => r() - 0.5);
    const before = native.cudaMemory().inUse;
    {
      using d = a.toDevice();
      expect(d.bytes).toBe((301 + 2 * a.nnz) * 4);
      expectClose(d.matmul(b, 40), a.matmul(b, 40), 'resident spmm', 1e-4);
      expectClose(await d.matmulAsync(b, 40), a.matmul(b, 40), 'resident spmm async', 1e-4);
      expect(native.cudaMemory().inUse).toBeGreaterThan(before);
    }
    expect(native.cudaMemory().inUse).toBe(before);
    const d2 = a.toDevice();
    d2.dispose();
    expect(() => d2.matmul(b, 40)).toThrow(/disposed/);
  });

  it('kernel-only timing (shears bench --device cuda) returns sane figures', () => {
    const a = randomCsr(512, 512, 0.1, caseRng());
    for (const kernel of ['spmm', 'spmv', 'sddmm']) {
      const t = native.cudaTimeKernel(kernel, a.rows, a.cols, a.rowPtr, a.colIdx, a.values, kernel === 'spmv' ? 1 : 64, 5, 1);
      expect(t.samples).toBeGreaterThanOrEqual(5);
      expect(t.min).toBeGreaterThan(0);
      expect(t.min).toBeLessThanOrEqual(t.median);
      expect(t.median).toBeLessThanOrEqual(t.max);
    }
    for (const what of ['copy', 'sgd'] as const) {
      const p = native.cudaProbe(what, 1 << 20, 3);
      expect(p.samples).toBeGreaterThanOrEqual(3);
      expect(p.median).toBeGreaterThan(0);
    }
    expect(() => native.cudaTimeKernel('spmmt', a.rows, a.cols, a.rowPtr, a.colIdx, a.values, 8, 1, 0)).toThrow(/spmm, spmv or sddmm/);
  });

  it('radix selection on the GPU gives the CPU engine\'s masks (ties by index, ±0, NaN policies, eligibility, several buffers)', () => {
    const r = caseRng();
    const make = (n: number, kind: number) =>
      Float32Array.from({ length: n }, () => [r() - 0.5, Math.floor(r() * 4) - 2, [0, -0, Infinity, -Infinity][Math.floor(r() * 4)], r() < 0.02 ? Number.NaN : r()][kind] as number);
    for (const sizes of [[1], [1000, 0, 37], [70_000, 65_536], [1_000_003]])
      for (let kind = 0; kind < 4; kind++)
        for (const absolute of [false, true]) {
          const scores = sizes.map((n) => make(n, kind));
          const eligible = sizes.map((n, b) => (b % 2 ? Uint8Array.from({ length: n }, () => (r() < 0.7 ? 1 : 0)) : undefined));
          const nan = kind === 3 ? (['prune', 'keep'] as const)[Math.floor(r() * 2)] : undefined;
          const total = scores.reduce((s2, a, b) => s2 + (eligible[b] ? eligible[b]!.reduce((x, y) => x + y, 0) : a.length), 0);
          for (const k of [0, 1, Math.floor(total / 10), total]) {
            const want = selectSmallest(scores, k, { eligible, absolute, nan });
            const got = selectSmallest(scores, k, { eligible, absolute, nan, device: 'cuda' });
            got.masks.forEach((m, b) => expect(Array.from(m), `sizes ${sizes} kind ${kind} abs ${absolute} k ${k} buffer ${b} (seed ${seed})`).toEqual(Array.from(want.masks[b])));
            expect(got.eligible).toBe(want.eligible);
            if (k > 0) expect(got.threshold).toBe(want.threshold);
          }
        }
    expect(() => selectSmallest([Float32Array.of(1, Number.NaN)], 1, { device: 'cuda' })).toThrow(/scores\[0\]\[1\] is NaN/);
    expect(() => selectSmallest([Float32Array.of(1, 2)], 3, { device: 'cuda' })).toThrow(/2 eligible/);
  });

  it('the fused masked SGD step matches the CPU step; pruned entries are exactly +0; the allocator caches', () => {
    const r = caseRng();
    for (const n of [1, 1000, 1 << 20]) {
      const w = Float32Array.from({ length: n }, () => r() - 0.5), g = Float32Array.from({ length: n }, () => r() - 0.5);
      const v = Float32Array.from({ length: n }, () => r() - 0.5), mask = Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
      const [w2, v2] = [w.slice(), v.slice()];
      native.maskedSgd(w, g, v, mask, 0.05, 0.9, 1e-3, true);
      native.cudaMaskedSgd(w2, g, v2, mask, 0.05, 0.9, 1e-3, true);
      expectClose(w2, w, `sgd w n=${n}`, 1e-6);
      expectClose(v2, v, `sgd v n=${n}`, 1e-6);
      mask.forEach((m, k) => m || expect(Object.is(w2[k], 0)).toBe(true));
    }
    const mem = native.cudaMemory();
    expect(mem.inUse).toBe(0);
    expect(mem.cached).toBeGreaterThan(0);
    native.cudaEmptyCache();
    expect(native.cudaMemory().cached).toBe(0);
  });
});
