/**
 * 2:4 semi-structured products on the CPU (the GPU path, through cuSPARSELt, is in test/cuda):
 * the pattern check, the shape rules shared with the GPU, and the product against a float64
 * reference on fresh random 2:4 matrices from prune.nm.
 */
import { describe, expect, it } from 'vitest';

import { cudaUsable, find24Violation, info, prune, semiStructuredMatmul, semiStructuredMatmulAsync, Tensor } from '../src/index.js';
import { caseRng, expectClose, expectThrows, nanFilled, refGemm, uniform } from './helpers.js';

/** A random [m, k] matrix pruned to 2:4 along its rows by magnitude. */
function random24(m: number, k: number, r: () => number): Float32Array {
  const w = new Tensor(uniform(m * k, r), [m, k]);
  return prune.remove(w, prune.nm(w, { n: 2, m: 4 })).data;
}

describe('2:4 semi-structured products', () => {
  it('find24Violation finds the first group of four with more than two nonzeros (NaN counts, ±0 does not)', () => {
    const r = caseRng();
    const a = random24(5, 16, r);
    expect(find24Violation(a, 5, 16)).toBeNull();
    const b = a.slice();
    const q = 3 * 16 + 8; // row 3, group at column 8
    for (let t = 0; t < 4; t++) if (b[q + t] === 0) { b[q + t] = Number.NaN; break; }
    expect(find24Violation(b, 5, 16)).toEqual({ row: 3, col: 8, nonzeros: 3 });
    const c = new Float32Array(8).fill(-0);
    c[0] = 1;
    c[5] = 2;
    expect(find24Violation(c, 2, 4)).toBeNull();
    expect(find24Violation(new Float32Array([1, 1, 1, 0, 1, 1, 1, 1]), 1, 8)).toEqual({ row: 0, col: 0, nonzeros: 3 });
    expectThrows(() => find24Violation(new Float32Array(6), 1, 6), RangeError, 'cols', 'multiple of 4');
    expectThrows(() => find24Violation(new Float32Array(7), 1, 8), RangeError, 'length 8');
  });

  it('on the CPU the product matches the float64 reference for every shape the GPU takes', async () => {
    for (const [m, k, n] of [[16, 16, 16], [32, 64, 48], [48, 128, 16], [0, 16, 32], [16, 32, 0], [64, 32, 80]] as const) {
      const r = caseRng();
      const a = random24(m, k, r), b = uniform(k * n, r);
      expect(find24Violation(a, m, k)).toBeNull();
      const ref = refGemm(a, b, m, k, n);
      expectClose(semiStructuredMatmul(a, b, m, k, n, { out: nanFilled(m * n) }), ref, `2:4 ${m}×${k}×${n}`);
      expectClose(await semiStructuredMatmulAsync(a, b, m, k, n), ref, `2:4 async ${m}×${k}×${n}`);
      // 'auto' runs on the CPU where no GPU with cuSPARSELt is usable, and gives the same product there.
      if (!cudaUsable() || !info().cuda.libraries?.cusparselt) expectClose(semiStructuredMatmul(a, b, m, k, n, { device: 'auto' }), ref, `2:4 auto ${m}×${k}×${n}`);
    }
  });

  it('rejects shapes cuSPARSELt cannot take and matrices that are not 2:4, naming the argument, leaving out untouched', async () => {
    const r = caseRng();
    const a = random24(16, 32, r), b = uniform(32 * 16, r);
    expectThrows(() => semiStructuredMatmul(a, b, 16, 30, 16), RangeError, 'k', 'multiple of 16');
    expectThrows(() => semiStructuredMatmul(a, b, 8, 32, 16), RangeError, 'm', 'multiple of 16');
    expectThrows(() => semiStructuredMatmul(a, b, 16, 32, 20), RangeError, 'n', 'multiple of 16');
    const dense = uniform(16 * 32, r);
    const out = nanFilled(16 * 16);
    expectThrows(() => semiStructuredMatmul(dense, b, 16, 32, 16, { out }), RangeError, 'a', 'in row 0, columns 0..3', '2:4');
    expect(out.every(Number.isNaN)).toBe(true);
    await expect(semiStructuredMatmulAsync(dense, b, 16, 32, 16)).rejects.toThrow(RangeError);
    expectThrows(() => semiStructuredMatmul(a, b.subarray(1), 16, 32, 16), RangeError, 'b');
    expectThrows(() => semiStructuredMatmul(a as never as Float64Array as never, new Int32Array(4) as never, 16, 32, 16), TypeError, 'b');
    if (!cudaUsable()) expect(() => semiStructuredMatmul(a, b, 16, 32, 16, { device: 'cuda' })).toThrow(expect.objectContaining({ code: 'ERR_SHEARS_CUDA' }));
  });
});
