/**
 * Importance criteria: every accumulation kind on every ISA against a float32 reference, at lengths
 * around the SIMD widths and at a non-zero byteOffset; activation statistics; the finished scores.
 * |g| and |w·g| match bit for bit; g² and −w·g may be fused into one FMA by the compiler (GCC's
 * default -ffp-contract=fast), one rounding instead of two, so they are compared within 2^-21 of
 * the sum of |terms| (movement's terms cancel, so |result| is no scale).
 */
import { afterAll, describe, expect, it } from 'vitest';

import { info, prune, setIsa } from '../src/index.js';
import { caseRng, expectEqualArrays, expectThrows, isas, offsetCopy, uniform } from './helpers.js';

const f = Math.fround;
const defaultIsa = info().isa.active;
afterAll(() => setIsa(defaultIsa));

describe.each(isas)('isa %s', (isa) => {
  it('gradient, fisher, taylor and movement accumulate exactly over batches', () => {
    setIsa(isa);
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 33, 1000, 70_001]) {
      const r = caseRng();
      for (const criterion of ['gradient', 'fisher', 'taylor', 'movement', 'obd'] as const) {
        const acc = new prune.ImportanceAccumulator(n, criterion);
        const ref = new Float32Array(n), scale = new Float64Array(n);
        let w = new Float32Array(0);
        for (let b = 0; b < 3; b++) {
          w = offsetCopy(uniform(n, r));
          const g = offsetCopy(uniform(n, r), 1);
          acc.accumulate(w, g);
          for (let i = 0; i < n; i++) {
            const t = criterion === 'gradient' ? Math.abs(g[i]) : criterion === 'taylor' ? Math.abs(f(w[i] * g[i])) : criterion === 'movement' ? -f(w[i] * g[i]) : f(g[i] * g[i]);
            ref[i] = f(ref[i] + t);
            scale[i] += Math.abs(t);
          }
        }
        const want = criterion === 'movement' ? ref : criterion === 'obd' ? ref.map((v, i) => 0.5 * w[i] * w[i] * (v / 3)) : ref.map((v) => v / 3);
        const got = acc.scores(w);
        if (criterion === 'gradient' || criterion === 'taylor') expectEqualArrays(got, want, `${isa} ${criterion} n=${n}`);
        else {
          const sc = criterion === 'obd' ? (i: number) => 0.5 * w[i] * w[i] * (scale[i] / 3) : (i: number) => scale[i];
          for (let i = 0; i < n; i++) expect(Math.abs(got[i] - want[i]), `${isa} ${criterion} n=${n} [${i}]`).toBeLessThanOrEqual(sc(i) * 2 ** -21 + 1e-30);
        }
      }
    }
  });
});

describe('criteria', () => {
  it('activation statistics: mean |a| and APoZ per feature over feature-major batches', async () => {
    const stats = new prune.ActivationStats(3);
    stats.accumulate(Float32Array.of(0, 1, -2, 0, 0, 0, 3, 3, 3), 3); // [features=3, batch=3]
    stats.accumulate(Float32Array.of(1, 0, 0, 0, -6, 0), 2);
    // Feature 0 saw 0, 1, −2 | 1, 0; feature 1 only zeros; feature 2 saw 3, 3, 3 | −6, 0.
    expectEqualArrays(stats.meanAbs(), Float32Array.of(4 / 5, 0, 15 / 5), 'mean |a|');
    expectEqualArrays(stats.apoz(), Float32Array.of(2 / 5, 5 / 5, 1 / 5), 'APoZ');
    expect(stats.samples).toBe(5);
    expectThrows(() => stats.accumulate(new Float32Array(5), 2), RangeError, 'activations');
  });

  it('magnitude and obd need the weights; async accumulation matches; bad input is rejected', async () => {
    const m = new prune.ImportanceAccumulator(3, 'magnitude');
    expectEqualArrays(m.scores(Float32Array.of(-2, 0.5, 0)), [2, 0.5, 0], 'magnitude');
    expectThrows(() => m.scores(), TypeError, 'weights');
    const a = new prune.ImportanceAccumulator(4, 'taylor'), b = new prune.ImportanceAccumulator(4, 'taylor');
    const w = Float32Array.of(1, -2, 3, 0.5), g = Float32Array.of(0.5, 0.25, -1, 4);
    a.accumulate(w, g);
    await b.accumulateAsync(w, g);
    expectEqualArrays(b.scores(), a.scores(), 'async');
    expectThrows(() => a.accumulate(w, new Float32Array(3)), RangeError, 'grads');
    expectThrows(() => new prune.ImportanceAccumulator(4, 'snip' as 'taylor'), RangeError, 'criterion');
    const acc = new prune.ImportanceAccumulator(4, 'gradient');
    expectThrows(() => acc.accumulate(w, new Float64Array(4) as unknown as Float32Array), TypeError, 'grads');
  });

  it('the adaptive score combines layer-normalised gradient and activation scores', () => {
    const g = Float32Array.of(1, 3, 0, 4); // [2, 2]
    const act = Float32Array.of(2, 6); // per output neuron
    const s = prune.adaptiveScores(g, act, [2, 2], 1);
    // ĝ = g / 2, â = a / 4: row 0: 0.5/(0.5+0.5), 1.5/(1.5+0.5); row 1: 0, 2/(2+1.5).
    expectEqualArrays(s, Float32Array.of(0.5, 0.75, 0, 2 / 3.5), 'adaptive');
    const mask = prune.l1Unstructured(new prune.Tensor(new Float32Array(4), [2, 2]), { amount: 2, importanceScores: s });
    expectEqualArrays(mask, [0, 1, 0, 1], 'used as importance scores');
    expectThrows(() => prune.adaptiveScores(g, Float32Array.of(1), [2, 2]), RangeError, 'activation');
    expectThrows(() => prune.adaptiveScores(Array.from(g) as never, act, [2, 2]), TypeError, 'gradient');
    expectThrows(() => prune.adaptiveScores(g, act, [2] as never), RangeError, 'shape');
  });
});
