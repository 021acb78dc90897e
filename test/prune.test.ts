/**
 * Pruning: masks equal torch.nn.utils.prune's bit for bit (safetensors fixtures made by
 * test/fixtures/make_prune_fixtures.py with PyTorch), the selection engine agrees with a full sort
 * on random, constant, tied and ±0 inputs, and the amount rules and errors follow PyTorch's.
 */
import { fileURLToPath } from 'node:url';

import { beforeEach, describe, expect, it } from 'vitest';

import { loadSafetensors, prune, selectSmallest, selectSmallestAsync, Tensor, type StateEntry } from '../src/index.js';
import { caseRng, expectEqualArrays, expectThrows, isas, seed, useIsa } from './helpers.js';

type AmountJson = { count: number } | { fraction: number };
/**
 * The cases of a fixture written by make_prune_fixtures.py, read with shears' own safetensors
 * reader: __metadata__.cases lists them, with each array field naming its tensor(s).
 */
function loadCases(name: string): Record<string, unknown>[] {
  const file = loadSafetensors(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)));
  const isTensor = (v: unknown) => typeof v === 'string' && (file.tensors.has(v) || file.raw.has(v));
  const values = (tname: string): number[] => {
    const t = file.tensors.get(tname);
    return t ? Array.from(t.tensor.data) : Array.from(file.raw.get(tname)!.bytes);
  };
  const cases = JSON.parse(file.metadata.cases) as Record<string, unknown>[];
  return cases.map((c) =>
    Object.fromEntries(
      Object.entries(c).map(([k, v]) => {
        if (isTensor(v)) return [k, values(v as string)];
        if (Array.isArray(v) && v.length > 0 && v.every(isTensor)) return [k, (v as string[]).map(values)];
        return [k, v];
      }),
    ),
  );
}

const fixtures = { cases: loadCases('prune-unstructured.safetensors') };

const tensor = (data: number[], shape: number[]) => new Tensor(Float32Array.from(data), shape);
const ones = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);

/** Reference: indices of the k smallest by (key, index), the documented tie rule. */
function referenceMask(scores: Float32Array[], k: number, eligible?: (Uint8Array | undefined)[], absolute = false): Uint8Array[] {
  const all: { key: number; b: number; i: number; g: number }[] = [];
  let g = 0;
  scores.forEach((s, b) =>
    s.forEach((v, i) => {
      if (!eligible?.[b] || eligible[b]![i]) all.push({ key: absolute ? Math.abs(v) : v, b, i, g });
      g++;
    }),
  );
  all.sort((x, y) => x.key - y.key || x.g - y.g);
  const masks = scores.map((s, b) => Uint8Array.from(s, (_, i) => (eligible?.[b] && !eligible[b]![i] ? 0 : 1)));
  for (const e of all.slice(0, k)) masks[e.b][e.i] = 0;
  return masks;
}

describe('parity with torch.nn.utils.prune', () => {
  it(`l1Unstructured, importance scores, iterative composition and global pruning match (${fixtures.cases.length} cases)`, () => {
    for (const c of fixtures.cases) {
      const label = `${c.kind} ${JSON.stringify(c.shape ?? c.shapes)} ${JSON.stringify(c.amount ?? c.amounts)}`;
      if (c.kind === 'l1') {
        const t = tensor(c.data as number[], c.shape as number[]);
        const importanceScores = c.scores ? Float32Array.from(c.scores as number[]) : undefined;
        expectEqualArrays(prune.l1Unstructured(t, { amount: c.amount as AmountJson, importanceScores }), c.mask as number[], label);
      } else if (c.kind === 'l1-iterative') {
        const t = tensor(c.data as number[], c.shape as number[]);
        const [a1, a2] = c.amounts as AmountJson[];
        const first = prune.l1Unstructured(t, { amount: a1 });
        expectEqualArrays(first, c.first as number[], `${label} first`);
        expectEqualArrays(prune.l1Unstructured(t, { amount: a2, mask: first }), c.mask as number[], `${label} second`);
      } else {
        const ts = (c.data as number[][]).map((d, i) => tensor(d, (c.shapes as number[][])[i]));
        const before = (c.before as number[][]).map((m) => Uint8Array.from(m));
        const masks = prune.globalUnstructured(ts, { amount: c.amount as AmountJson, method: 'l1', masks: before });
        masks.forEach((m, i) => expectEqualArrays(m, (c.masks as number[][])[i], `${label} tensor ${i}`));
      }
    }
  });
});

describe('parity with torch.nn.utils.prune: structured', () => {
  const structured = {
    cases: loadCases('prune-structured.safetensors') as unknown as { kind: string; shape: number[]; data: number[]; n: number | 'Infinity'; dim: number; amount: AmountJson; before?: number[]; mask: number[] }[],
  };

  it(`lnStructured along every dim, n = 1, 2, 3, ∞, alone and composed (${structured.cases.length} cases)`, () => {
    for (const c of structured.cases) {
      const t = tensor(c.data, c.shape);
      const n = c.n === 'Infinity' ? Infinity : c.n;
      const mask = c.before ? Uint8Array.from(c.before) : undefined;
      const label = `${c.kind} ${JSON.stringify(c.shape)} dim=${c.dim} n=${c.n} ${JSON.stringify(c.amount)}`;
      expectEqualArrays(prune.lnStructured(t, { amount: c.amount, n, dim: c.dim, mask }), c.mask, label);
    }
  });

  it('randomStructured prunes whole slices, exactly the amount, reproducibly; bad dim and n are rejected', () => {
    const t = new Tensor(new Float32Array(4 * 6 * 5).fill(1), [4, 6, 5]);
    const m = prune.randomStructured(t, { amount: 2, dim: 1, seed: 11 });
    const slices = [0, 1, 2, 3, 4, 5].map((c) => {
      const vals = [];
      for (let o = 0; o < 4; o++) for (let i = 0; i < 5; i++) vals.push(m[(o * 6 + c) * 5 + i]);
      return vals;
    });
    for (const v of slices) expect(new Set(v).size).toBe(1); // a slice is all kept or all pruned
    expect(slices.filter((v) => v[0] === 0).length).toBe(2);
    expectEqualArrays(prune.randomStructured(t, { amount: 2, dim: 1, seed: 11 }), m, 'same seed');
    expectThrows(() => prune.lnStructured(t, { amount: 1, n: 2, dim: 3 }), RangeError, 'dim', '[-3, 2]');
    expectThrows(() => prune.lnStructured(t, { amount: 1, n: 0, dim: 0 }), RangeError, 'for n');
    expectThrows(() => prune.lnStructured(t, { amount: 7, n: 2, dim: 1 }), RangeError, 'amount', '6 entries');
  });
});

describe.each(isas)('selection engine, isa %s', (isa) => {
  beforeEach(() => useIsa(isa));
  const inputs: [string, (n: number, r: () => number) => Float32Array][] = [
    ['random', (n, r) => Float32Array.from({ length: n }, () => r() * 2 - 1)],
    ['constant', (n) => new Float32Array(n).fill(0.25)],
    ['heavily tied', (n, r) => Float32Array.from({ length: n }, () => Math.floor(r() * 4) - 2)],
    ['±0 and ±inf', (n, r) => Float32Array.from({ length: n }, () => [0, -0, Infinity, -Infinity, 1e-30, -1e-30][Math.floor(r() * 6)])],
  ];

  it('agrees with a full sort (ties: lowest index first) over several buffers, with eligibility', () => {
    for (const [name, make] of inputs)
      for (const sizes of [[1], [10], [1000, 1, 0, 257], [70_000, 65_536]])
        for (const absolute of [false, true]) {
          const r = caseRng();
          const scores = sizes.map((n) => make(n, r));
          const eligible = sizes.map((n, b) => (b % 2 ? Uint8Array.from({ length: n }, () => (r() < 0.7 ? 1 : 0)) : undefined));
          const total = scores.reduce((s, a, b) => s + (eligible[b] ? ones(eligible[b]!) : a.length), 0);
          for (const k of new Set([0, 1, Math.floor(total / 3), total - 1, total].filter((x) => x >= 0))) {
            const got = selectSmallest(scores, k, { eligible, absolute });
            const want = referenceMask(scores, k, eligible, absolute);
            got.masks.forEach((m, b) => expectEqualArrays(m, want[b], `${name} sizes=${sizes} k=${k} abs=${absolute} buffer ${b}`));
            expect(got.eligible).toBe(total);
          }
        }
  });

  it('large inputs (sampled fast path and its exact fallback) select exactly k, ordered, ties by index', () => {
    /** The complete characterisation of a correct selection, checked in O(n). */
    const check = (scores: Float32Array[], eligible: (Uint8Array | undefined)[], masks: Uint8Array[], k: number, label: string) => {
      let pruned = 0, maxPruned = -Infinity, minKept = Infinity, ineligibleKept = 0;
      for (let b = 0; b < scores.length; b++) {
        const s = scores[b], m = masks[b], e = eligible[b];
        for (let i = 0; i < s.length; i++) {
          if (e && !e[i]) ineligibleKept += m[i];
          else if (m[i] === 0) { pruned++; if (s[i] > maxPruned) maxPruned = s[i]; }
          else if (s[i] < minKept) minKept = s[i];
        }
      }
      expect(ineligibleKept, `${label}: ineligible entries kept`).toBe(0);
      expect(pruned, label).toBe(k);
      expect(maxPruned <= minKept, `${label}: ${maxPruned} > ${minKept}`).toBe(true);
      if (maxPruned === minKept) {
        // At the threshold, every pruned entry comes before every kept one (global index order).
        let seenKept = false, prunedAfterKept = 0;
        for (let b = 0; b < scores.length; b++)
          for (let i = 0; i < scores[b].length; i++) {
            if (scores[b][i] !== maxPruned || (eligible[b] && !eligible[b]![i])) continue;
            if (masks[b][i]) seenKept = true;
            else if (seenKept) prunedAfterKept++;
          }
        expect(prunedAfterKept, `${label}: ties pruned after a kept one`).toBe(0);
      }
    };
    const r = caseRng();
    const n = 1_500_000;
    const random = [Float32Array.from({ length: n }, () => r() - 0.5), Float32Array.from({ length: n }, () => Math.round((r() - 0.5) * 100) / 4)];
    const elig = [undefined, Uint8Array.from({ length: n }, () => (r() < 0.8 ? 1 : 0))];
    for (const k of [1, 300_000, 1_400_000]) check(random, elig, selectSmallest(random, k, { eligible: elig }).masks, k, `random k=${k}`);
    // The sample takes every stride-th entry from stride/2, with stride = n / S and
    // S = clamp(cbrt(n)², 4096, 2^20) (select.cc). Making exactly those entries large misleads the
    // sample about the quantile, so the exact radix path has to take over.
    const tn = 3_000_000;
    const stride = Math.floor(tn / Math.min(2 ** 20, Math.max(4096, Math.floor(Math.cbrt(tn) * Math.cbrt(tn)))));
    const trap = Float32Array.from({ length: tn }, (_, i) => (i % stride === stride >> 1 ? 1000 + (i % 7) : (i % 13) * 1e-3));
    for (const k of [100_000, 2_900_000]) check([trap], [undefined], selectSmallest([trap], k).masks, k, `trap k=${k}`);
  });

  it('NaN policies on large inputs (the per-ISA passes) rank NaN lowest or highest, ties by index', () => {
    const r = caseRng();
    const n = 60_001;
    const raw = Float32Array.from({ length: n }, () => (r() < 0.01 ? Number.NaN : (r() * 2 - 1) || 0.5));
    const elig = Uint8Array.from({ length: n }, () => (r() < 0.9 ? 1 : 0));
    for (const absolute of [false, true])
      for (const nan of ['prune', 'keep'] as const) {
        // The same order with NaN replaced by a value below (or above) every other score.
        const stand = nan === 'prune' ? (absolute ? 0 : -Infinity) : Infinity;
        const substituted = raw.map((v) => (Number.isNaN(v) ? stand : v));
        for (const eligible of [undefined, elig]) {
          const total = eligible ? ones(eligible) : n;
          for (const k of [1, 700, Math.floor(total / 2), total - 5]) {
            const got = selectSmallest([raw], k, { nan, absolute, eligible: [eligible] });
            const want = referenceMask([substituted], k, [eligible], absolute);
            expectEqualArrays(got.masks[0], want[0], `nan=${nan} abs=${absolute} elig=${!!eligible} k=${k}`);
          }
        }
      }
    expectThrows(() => selectSmallest([raw], 10), RangeError, 'is NaN');
  });

  it('NaN scores: rejected by default, ranked lowest with prune, highest with keep', async () => {
    const s = Float32Array.of(0.5, Number.NaN, -1, 2);
    expectThrows(() => selectSmallest([s], 1), RangeError, 'scores[0][1] is NaN');
    expectEqualArrays(selectSmallest([s], 1, { nan: 'prune' }).masks[0], [1, 0, 1, 1], 'prune');
    expectEqualArrays(selectSmallest([s], 3, { nan: 'keep' }).masks[0], [0, 1, 0, 0], 'keep');
    expectEqualArrays((await selectSmallestAsync([s], 2, { nan: 'prune' })).masks[0], [1, 0, 0, 1], 'async');
  });

  it('rejects a k larger than the eligible entries and writes nothing', () => {
    const out = new Uint8Array(3).fill(7);
    expectThrows(() => selectSmallest([Float32Array.of(1, 2, 3)], 4, { masks: [out] }), RangeError, '3 eligible', '4');
    expectEqualArrays(out, [7, 7, 7], 'out untouched');
    expectThrows(() => selectSmallest([new Float64Array(2) as unknown as Float32Array], 1), TypeError, 'scores[0]');
    expectThrows(() => selectSmallest([Float32Array.of(1)], 1, { eligible: [new Uint8Array(2)] }), RangeError, 'eligible[0]');
    // Outputs may not alias the scores (even at the same address) or each other; an eligibility
    // mask may be its own output (in-place composition).
    const scores = Float32Array.of(5, 4, 3, 2, 1, 0, 9, 8);
    expectThrows(() => selectSmallest([scores], 2, { masks: [new Uint8Array(scores.buffer, 0, 8)] }), RangeError, 'masks[0]', 'shares no memory with the scores');
    expectEqualArrays(new Uint8Array(scores.buffer), new Uint8Array(Float32Array.of(5, 4, 3, 2, 1, 0, 9, 8).buffer), 'scores untouched');
    const shared = new Uint8Array(4);
    expectThrows(() => selectSmallest([Float32Array.of(1, 2), Float32Array.of(3, 4)], 1, { masks: [shared.subarray(0, 2), shared.subarray(1, 3)] }), RangeError, 'masks[1]', 'other masks');
    const eligible = Uint8Array.of(1, 1, 0, 1);
    selectSmallest([Float32Array.of(4, 3, 2, 1)], 1, { eligible: [eligible], masks: [eligible] });
    expectEqualArrays(eligible, [1, 1, 0, 0], 'in place');
  });
});

describe('prune methods', () => {
  const t = tensor([0.3, -0.1, 0.2, -0.4, 0.05, 0.6, -0.7, 0.15], [2, 4]);

  it('amount: integers count, fractions round half to even, out-of-range amounts throw', () => {
    expect(ones(prune.l1Unstructured(t, { amount: 3 }))).toBe(5);
    expect(ones(prune.l1Unstructured(t, { amount: 0.3 }))).toBe(6); // round(2.4) = 2
    expect(ones(prune.l1Unstructured(t, { amount: { fraction: 1 } }))).toBe(0);
    expect(ones(prune.l1Unstructured(t, { amount: { count: 1 } }))).toBe(7);
    expect(prune.roundHalfEven(2.5)).toBe(2);
    expect(prune.roundHalfEven(3.5)).toBe(4);
    expect(prune.roundHalfEven(-2.5)).toBe(-2);
    expectThrows(() => prune.l1Unstructured(t, { amount: 9 }), RangeError, 'amount', '8 entries');
    expectThrows(() => prune.l1Unstructured(t, { amount: -1 }), RangeError, 'amount');
    expectThrows(() => prune.l1Unstructured(t, { amount: 1.5 }), RangeError, 'amount');
    expectThrows(() => prune.l1Unstructured(t, { amount: '0.5' as unknown as number }), TypeError, 'amount');
    expectThrows(() => prune.l1Unstructured({} as Tensor, { amount: 1 }), TypeError, 'Tensor');
    expectThrows(() => prune.l1Unstructured(t, { amount: 1, mask: new Uint8Array(3) }), RangeError, 'mask');
  });

  it('composition only shrinks masks and counts the amount among the kept entries', () => {
    const r = caseRng();
    const big = new Tensor(Float32Array.from({ length: 5000 }, () => r() - 0.5), [50, 100]);
    let mask = prune.identity(big);
    expect(ones(mask)).toBe(5000);
    for (const amount of [0.5, 0.3, 100, 0.999]) {
      const keptBefore = ones(mask);
      const next = prune.l1Unstructured(big, { amount, mask });
      const want = keptBefore - (Number.isInteger(amount) ? amount : prune.roundHalfEven(amount * keptBefore));
      expect(ones(next), `seed ${seed}`).toBe(want);
      for (let i = 0; i < mask.length; i++) if (!mask[i]) expect(next[i]).toBe(0);
      mask = next;
    }
  });

  it('randomUnstructured is exact in count and reproducible with a seed', () => {
    const big = new Tensor(new Float32Array(10_000), [100, 100]);
    const a = prune.randomUnstructured(big, { amount: 0.37, seed: 7 });
    expect(ones(a)).toBe(10_000 - 3700);
    expectEqualArrays(prune.randomUnstructured(big, { amount: 0.37, seed: 7 }), a, 'same seed');
    expect(prune.randomUnstructured(big, { amount: 0.37, seed: 8 })).not.toEqual(a);
    const again = prune.randomUnstructured(big, { amount: 0.5, seed: 1, mask: a });
    expect(ones(again)).toBe(6300 - 3150);
    const g = prune.globalUnstructured([big, new Tensor(new Float32Array(50), [50])], { amount: 25, method: 'random', seed: 3 });
    expect(ones(g[0]) + ones(g[1])).toBe(10_025);
  });

  it('global pruning on per-layer normalised scores treats layers of different scales alike', () => {
    const r = caseRng();
    const small = new Tensor(Float32Array.from({ length: 400 }, () => (r() - 0.5) * 0.01), [20, 20]);
    const large = new Tensor(Float32Array.from({ length: 400 }, () => (r() - 0.5) * 10), [20, 20]);
    const plain = prune.globalUnstructured([small, large], { amount: 0.5, method: 'l1' });
    expect(ones(plain[0])).toBeLessThanOrEqual(5); // raw magnitudes all but empty the small-valued layer
    const norm = prune.globalUnstructured([small, large], { amount: 0.5, method: 'l1', normalize: true });
    expect(ones(norm[0]) + ones(norm[1])).toBe(400);
    expect(ones(norm[0])).toBeGreaterThan(150);
    expect(ones(norm[1])).toBeGreaterThan(150);
  });

  it('customFromMask combines masks; remove bakes zeros into a new tensor', () => {
    const m = Uint8Array.of(1, 0, 1, 1, 0, 1, 1, 1);
    expectEqualArrays(prune.customFromMask(t, m), m, 'custom');
    expectEqualArrays(prune.customFromMask(t, m, { mask: Uint8Array.of(0, 1, 1, 1, 1, 1, 1, 0) }), [0, 0, 1, 1, 0, 1, 1, 0], 'combined');
    expectThrows(() => prune.customFromMask(t, new Uint8Array(8).fill(2)), RangeError, 'mask', '0 and 1');
    const r = prune.remove(t, m);
    expect(r.shape).toEqual([2, 4]);
    expectEqualArrays(r.data, Float32Array.of(0.3, 0, 0.2, -0.4, 0, 0.6, -0.7, 0.15), 'removed');
    expect(t.data[1]).toBeCloseTo(-0.1);
  });
});

describe('granularities', () => {
  it('N:M keeps exactly n of every m along the last dimension, the largest |score|, ties pruning the lowest index', () => {
    const t = tensor([0.1, -0.9, 0.3, 0.2, 5, 5, 5, 5, -1, 0, 0, 2], [3, 4]);
    expectEqualArrays(prune.nm(t, { n: 2, m: 4 }), [0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1], '2:4');
    expectEqualArrays(prune.nm(t, { n: 1, m: 2 }), [0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1], '1:2');
    const r = caseRng();
    for (const [n, m] of [[2, 4], [1, 4], [4, 8]]) {
      const big = new Tensor(Float32Array.from({ length: 64 * 32 }, () => r() - 0.5), [64, 32]);
      const mask = prune.nm(big, { n, m });
      for (let g = 0; g < mask.length; g += m) {
        const kept = mask.subarray(g, g + m);
        expect(ones(kept), `${n}:${m} group ${g} (seed ${seed})`).toBe(n);
        const keptMin = Math.min(...[...kept].map((k, j) => (k ? Math.abs(big.data[g + j]) : Infinity)));
        const prunedMax = Math.max(...[...kept].map((k, j) => (k ? -Infinity : Math.abs(big.data[g + j]))));
        expect(keptMin).toBeGreaterThanOrEqual(prunedMax);
      }
      // With a mask, entries pruned before stay pruned and groups keep at most n.
      const first = prune.l1Unstructured(big, { amount: 0.6 });
      const both = prune.nm(big, { n, m, mask: first });
      for (let i = 0; i < both.length; i++) if (!first[i]) expect(both[i]).toBe(0);
      for (let g = 0; g < both.length; g += m) expect(ones(both.subarray(g, g + m))).toBeLessThanOrEqual(n);
    }
    expectThrows(() => prune.nm(t, { n: 2, m: 3 }), RangeError, 'm', 'divisor');
    expectThrows(() => prune.nm(t, { n: 5, m: 4 }), RangeError, 'for n');
  });

  it('N:M agrees with a sort-based reference (ties, ±0, masks, NaN policies; pairwise and sorted paths)', () => {
    /** Per group: order by (pruned-by-mask first, NaN per policy, |score|, index); keep the last n. */
    const reference = (s: Float32Array, n: number, m: number, mask: Uint8Array | undefined, nan: 'prune' | 'keep') => {
      const out = new Uint8Array(s.length);
      const rank = (i: number) => (mask && !mask[i] ? -2 : Number.isNaN(s[i]) ? (nan === 'prune' ? -1 : Infinity) : Math.abs(s[i]));
      for (let g = 0; g < s.length; g += m) {
        const order = Array.from({ length: m }, (_, j) => g + j).sort((a, b) => (rank(a) === rank(b) ? a - b : rank(a) - rank(b)));
        for (const i of order.slice(m - n)) out[i] = mask ? mask[i] : 1;
      }
      return out;
    };
    const r = caseRng();
    for (const [n, m] of [[2, 4], [1, 4], [4, 8], [3, 16], [5, 32], [0, 4], [4, 4]]) {
      const s = Float32Array.from({ length: 96 * m }, () => [0, -0, 0.5, -0.5, Number.NaN, r() - 0.5, r() - 0.5][Math.floor(r() * 7)]);
      const mask = Uint8Array.from(s, () => (r() < 0.7 ? 1 : 0));
      for (const nan of ['prune', 'keep'] as const)
        for (const mk of [undefined, mask]) {
          const t = new Tensor(s, [96, m]);
          expectEqualArrays(prune.nm(t, { n, m, mask: mk, nan }), reference(s, n, m, mk, nan), `${n}:${m} nan=${nan} mask=${!!mk} (seed ${seed})`);
        }
    }
    const withNan = new Tensor(Float32Array.of(1, 2, Number.NaN, 3), [1, 4]);
    expectThrows(() => prune.nm(withNan, { n: 2, m: 4 }), RangeError, 'scores[2] is NaN');
    expectThrows(() => prune.nm(withNan, { n: 2, m: 4, nan: 'drop' as 'keep' }), RangeError, 'nan');
  });

  it('N:M on convolution weights groups input channels at each kernel position (dim 1), as ASP does', () => {
    const r = caseRng();
    const [O, I, KH, KW] = [3, 8, 2, 3];
    const s = Float32Array.from({ length: O * I * KH * KW }, () => r() - 0.5);
    const mask = prune.nm(new Tensor(s, [O, I, KH, KW]), { n: 2, m: 4 });
    // Reference: for each (o, kh, kw) and each group of 4 input channels, keep the 2 largest |w|.
    const expected = new Uint8Array(s.length);
    const at = (o: number, i: number, k: number) => (o * I + i) * KH * KW + k;
    for (let o = 0; o < O; o++)
      for (let k = 0; k < KH * KW; k++)
        for (let g = 0; g < I; g += 4) {
          const group = [g, g + 1, g + 2, g + 3].sort((a, b) => Math.abs(s[at(o, b, k)]) - Math.abs(s[at(o, a, k)]));
          for (const i of group.slice(0, 2)) expected[at(o, i, k)] = 1;
        }
    expectEqualArrays(mask, expected, `conv 2:4 (seed ${seed})`);
    // A 1×1 convolution is a Linear: the same mask as its [out, in] view.
    const pointwise = Float32Array.from({ length: 8 * 8 }, () => r() - 0.5);
    expectEqualArrays(prune.nm(new Tensor(pointwise, [8, 8, 1, 1]), { n: 2, m: 4 }), prune.nm(new Tensor(pointwise, [8, 8]), { n: 2, m: 4 }), '1x1 conv');
    expectThrows(() => prune.nm(new Tensor(new Float32Array(4 * 3 * 9), [4, 3, 3, 3]), { n: 2, m: 4 }), RangeError, 'input dimension (3, dimension 1');
  });

  it('async forms (l1, global, N:M) give the sync masks and reject bad input the same way', async () => {
    const r = caseRng();
    const w = new Tensor(Float32Array.from({ length: 64 * 48 }, () => r() - 0.5), [64, 48]);
    const v = new Tensor(Float32Array.from({ length: 32 * 64 }, () => r() - 0.5), [32, 64]);
    const conv = new Tensor(Float32Array.from({ length: 8 * 16 * 3 * 3 }, () => r() - 0.5), [8, 16, 3, 3]);
    const mask = prune.l1Unstructured(w, { amount: 0.3 });
    expectEqualArrays(await prune.l1UnstructuredAsync(w, { amount: 0.5, mask }), prune.l1Unstructured(w, { amount: 0.5, mask }), 'l1');
    const [ga, gb] = await prune.globalUnstructuredAsync([w, v], { amount: 0.8, method: 'l1', masks: [mask, undefined] });
    const [sa, sb] = prune.globalUnstructured([w, v], { amount: 0.8, method: 'l1', masks: [mask, undefined] });
    expectEqualArrays(ga, sa, 'global[0]');
    expectEqualArrays(gb, sb, 'global[1]');
    expectEqualArrays(await prune.nmAsync(w, { n: 2, m: 4, mask }), prune.nm(w, { n: 2, m: 4, mask }), 'nm');
    expectEqualArrays(await prune.nmAsync(conv, { n: 1, m: 4 }), prune.nm(conv, { n: 1, m: 4 }), 'nm conv');
    await expect(prune.l1UnstructuredAsync(w, { amount: 2 ** 20 })).rejects.toBeInstanceOf(RangeError);
    await expect(prune.nmAsync(w, { n: 2, m: 5 })).rejects.toThrow(/divisor of the input dimension/);
  });

  it('signed scores (movement): signed: true prunes the lowest score, not the smallest |score|', () => {
    const acc = new prune.ImportanceAccumulator(3, 'movement');
    acc.accumulate(Float32Array.of(1, 1, 1), Float32Array.of(2, -1, 0)); // w0 shrinks, w1 grows, w2 stays
    const scores = acc.scores();
    expect(acc.signed).toBe(true);
    expect(new prune.ImportanceAccumulator(3, 'taylor').signed).toBe(false);
    const t = new Tensor(Float32Array.of(1, 1, 1), [3]);
    expectEqualArrays(prune.l1Unstructured(t, { amount: 1, importanceScores: scores, signed: true }), [0, 1, 1], 'l1 signed');
    expectEqualArrays(prune.l1Unstructured(t, { amount: 1, importanceScores: scores }), [1, 1, 0], 'l1 |score| (PyTorch)');
    expectEqualArrays(prune.globalUnstructured([t, t], { amount: 2, method: 'l1', importanceScores: [scores, Float32Array.of(-5, 3, 4)], signed: true })[1], [0, 1, 1], 'global signed');
    expectThrows(() => prune.l1Unstructured(t, { amount: 1, signed: 'yes' as never }), TypeError, 'signed');
    expectThrows(() => acc.accumulate('x' as never, Float32Array.of(1, 2, 3)), TypeError, 'weights');
    expectThrows(() => new prune.ImportanceAccumulator(3, 'magnitude').accumulate(Float32Array.of(1), Float32Array.of(1, 2, 3)), RangeError, 'weights', 'length 3');
  });

  it('lnStructured and blockUnstructured: NaN rejected by default (naming the entry), ranked lowest or highest by option', () => {
    // Rows 0..3 with L2 norms 1, 2, 3, 4; row 1 gets a NaN.
    const data = [1, 0, 0, 0, NaN, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4];
    const t = tensor(data, [4, 4]);
    expectThrows(() => prune.lnStructured(t, { amount: 1, n: 2, dim: 0 }), RangeError, 'importanceScores', 'NaN at entry 4');
    const row = (keep: number[]) => keep.flatMap((k) => [k, k, k, k]);
    expectEqualArrays(prune.lnStructured(t, { amount: 1, n: 2, dim: 0, nan: 'prune' }), row([1, 0, 1, 1]), 'ln nan=prune');
    expectEqualArrays(prune.lnStructured(t, { amount: 1, n: 2, dim: 0, nan: 'keep' }), row([0, 1, 1, 1]), 'ln nan=keep');
    expectEqualArrays(prune.lnStructured(t, { amount: 1, n: Infinity, dim: 0, nan: 'keep' }), row([0, 1, 1, 1]), 'ln ∞ nan=keep');
    // A NaN the mask already pruned takes no part.
    const mask = Uint8Array.from(data, (_, i) => (i === 4 ? 0 : 1));
    expectEqualArrays(prune.lnStructured(t, { amount: 1, n: 2, dim: 0, mask }), row([0, 1, 1, 1]).map((v, i) => (i === 4 ? 0 : v)), 'ln masked NaN');
    expectThrows(() => prune.lnStructured(t, { amount: 1, n: 2, dim: 0, nan: 'drop' as 'keep' }), RangeError, 'nan');
    // 2×2 blocks of a 4×4: L1 scores 1, 2 (NaN), 3, 4.
    const b = tensor([1, 0, 2, NaN, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0], [4, 4]);
    expectThrows(() => prune.blockUnstructured(b, { amount: 1, blockRows: 2, blockCols: 2 }), RangeError, 'NaN at entry 3');
    const blocks = (k: number[]) => [k[0], k[0], k[1], k[1], k[0], k[0], k[1], k[1], k[2], k[2], k[3], k[3], k[2], k[2], k[3], k[3]];
    expectEqualArrays(prune.blockUnstructured(b, { amount: 1, blockRows: 2, blockCols: 2, nan: 'prune' }), blocks([1, 0, 1, 1]), 'block nan=prune');
    expectEqualArrays(prune.blockUnstructured(b, { amount: 1, blockRows: 2, blockCols: 2, nan: 'keep', pool: 'max' }), blocks([0, 1, 1, 1]), 'block nan=keep');
  });

  it('block pruning removes the weakest whole blocks by L1, L2 or max pooling', () => {
    // 4×4 weight, 2×2 blocks with L1 sums 1, 8, 2.2, 40 and maxima 0.4, 2, 2, 10.
    const t = tensor([0.1, 0.2, 2, 2, 0.3, 0.4, 2, 2, 0.1, 0.1, 10, 10, 2, 0, 10, 10], [4, 4]);
    const m = prune.blockUnstructured(t, { amount: 2, blockRows: 2, blockCols: 2 });
    expectEqualArrays(m, [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1], 'l1');
    const mx = prune.blockUnstructured(t, { amount: 1, blockRows: 2, blockCols: 2, pool: 'max' });
    expectEqualArrays(mx, [0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 'max');
    const l2 = prune.blockUnstructured(t, { amount: 0.5, blockRows: 2, blockCols: 2, pool: 'l2' });
    expect(ones(l2)).toBe(8);
    // Composition: blocks already empty do not count towards the amount.
    const again = prune.blockUnstructured(t, { amount: 1, blockRows: 2, blockCols: 2, mask: m });
    // Blocks (0,0) and (1,0) are gone; of the two left, (0,1) (L1 = 8) is weaker than (1,1) (40).
    expectEqualArrays(again, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1], 'composed');
    expectThrows(() => prune.blockUnstructured(t, { amount: 1, blockRows: 3, blockCols: 2 }), RangeError, 'rows', 'blockRows (3)');
    expectThrows(() => prune.blockUnstructured(new Tensor(new Float32Array(8), [2, 2, 2]), { amount: 1, blockRows: 1, blockCols: 1 }), RangeError, '2-D');
  });
});

describe('thresholds and budgets', () => {
  it('threshold and k·σ prune below the magnitude and compose with a mask', () => {
    const t = tensor([0.5, -0.05, 0.2, -1, 0.1, 0.01], [2, 3]);
    expectEqualArrays(prune.threshold(t, { value: 0.15 }), [1, 0, 1, 1, 0, 0], 'abs');
    expectEqualArrays(prune.threshold(t, { value: 0.15, mask: Uint8Array.of(0, 1, 1, 1, 1, 1) }), [0, 0, 1, 1, 0, 0], 'with mask');
    const data = [0.5, -0.05, 0.2, -1, 0.1, 0.01];
    const mean = data.reduce((a, b) => a + b) / 6;
    const sd = Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / 6);
    expect(prune.sigmaThreshold(t, { k: 0.5 })).toBeCloseTo(0.5 * sd, 6);
    expectEqualArrays(prune.sigma(t, { k: 0.5 }), data.map((v) => (Math.abs(v) >= 0.5 * sd ? 1 : 0)), 'k sigma');
    expectThrows(() => prune.threshold(t, { value: -1 }), RangeError, 'value');
    expectThrows(() => prune.sigma(t, { k: Number.NaN }), RangeError, 'for k');
  });

  it('uniform and ERK budgets meet the global target; ERK favours small layers and caps density at 1', () => {
    const layers = [
      { name: '0.weight', shape: [300, 784] },
      { name: '2.weight', shape: [100, 300] },
      { name: '4.weight', shape: [10, 100] },
    ];
    const total = 300 * 784 + 100 * 300 + 1000;
    for (const distribution of ['uniform', 'erk'] as const)
      for (const sparsity of [0, 0.5, 0.9, 0.98]) {
        const b = prune.layerBudgets(layers, { sparsity, distribution });
        const kept = layers.reduce((a, l) => a + (1 - b.get(l.name)!) * l.shape[0] * l.shape[1], 0);
        expect(kept / total, `${distribution} ${sparsity}`).toBeCloseTo(1 - sparsity, 9);
        for (const v of b.values()) expect(v).toBeGreaterThanOrEqual(0);
        if (distribution === 'uniform') for (const v of b.values()) expect(v).toBeCloseTo(sparsity, 12);
      }
    const erk = prune.layerBudgets(layers, { sparsity: 0.9, distribution: 'erk' });
    expect(erk.get('0.weight')!).toBeGreaterThan(erk.get('2.weight')!);
    expect(erk.get('2.weight')!).toBeGreaterThan(erk.get('4.weight')!);
    // Hand-solved: density ε·(in+out)/(in·out). The 10×100 layer would need ε·110/1000 > 1, so it
    // is kept dense and ε is solved over the other two: ε = (0.1·N − 1000) / (1084 + 400).
    expect(erk.get('4.weight')).toBe(0);
    const eps = (0.1 * total - 1000) / (1084 + 400);
    expect(1 - erk.get('0.weight')!).toBeCloseTo((eps * 1084) / (300 * 784), 9);
    expect(1 - erk.get('2.weight')!).toBeCloseTo((eps * 400) / (100 * 300), 9);
    const withDense = prune.layerBudgets(layers, { sparsity: 0.9, distribution: 'uniform', dense: ['4.weight'] });
    expect(withDense.get('4.weight')).toBe(0);
    expectThrows(() => prune.layerBudgets(layers, { sparsity: 1.5, distribution: 'erk' }), RangeError, 'sparsity');
    expectThrows(() => prune.layerBudgets(layers, { sparsity: 0.5, distribution: 'rigl' as 'erk' }), RangeError, 'distribution');
    // A Tensor is not a layer description: it has a shape but no name.
    expectThrows(() => prune.layerBudgets([new Tensor(new Float32Array(6), [2, 3]) as never], { sparsity: 0.5, distribution: 'erk' }), TypeError, 'layers[0].name');
  });
});

describe('plans and sensitivity', () => {
  const r = caseRng();
  const state = () =>
    new Map<string, StateEntry>([
      ['0.weight', { tensor: new Tensor(Float32Array.from({ length: 20 * 16 }, () => r() - 0.5), [20, 16]) }],
      ['0.bias', { tensor: new Tensor(new Float32Array(20).fill(1), [20]) }],
      ['2.weight', { tensor: new Tensor(Float32Array.from({ length: 8 * 20 }, () => r() - 0.5), [8, 20]) }],
    ]);

  it('apply runs rules in order, composing masks, and leaves the input untouched', () => {
    const s = state();
    const out = prune.apply(s, [
      { match: /^0\.weight$/, amount: 0.5 },
      { match: 'weight$', amount: 0.5, scope: 'global' },
      { match: /^2\.weight$/, granularity: { n: 2, m: 4 } },
      { match: /^0\.weight$/, amount: 2, granularity: 'row', method: 'l2' },
    ]);
    expect(s.get('0.weight')!.mask).toBeUndefined();
    expect(out.get('0.bias')!.mask).toBeUndefined();
    const m0 = out.get('0.weight')!.mask!, m2 = out.get('2.weight')!.mask!;
    // 320 → 160 kept (layer rule), then half of the 160 + 160 kept overall → 160 kept in total.
    const first = prune.l1Unstructured(s.get('0.weight')!.tensor, { amount: 0.5 });
    const global = prune.globalUnstructured([s.get('0.weight')!.tensor, s.get('2.weight')!.tensor], { amount: 0.5, method: 'l1', masks: [first, undefined] });
    const nm = prune.nm(s.get('2.weight')!.tensor, { n: 2, m: 4, mask: global[1] });
    const rows = prune.lnStructured(s.get('0.weight')!.tensor, { amount: 2, n: 2, dim: 0, mask: global[0] });
    expectEqualArrays(m0, rows, '0.weight after its three rules');
    expectEqualArrays(m2, nm, '2.weight after global and 2:4');
    // method 'random' with N:M and blocks: random picks, reproducible by seed (not a silent l1).
    const w = s.get('0.weight')!.tensor;
    const rnd = (seed: number, granularity: { n: number; m: number } | { blockRows: number; blockCols: number }) =>
      prune.apply(s, [{ match: /^0\.weight$/, amount: 'n' in granularity ? undefined : 0.5, granularity, method: 'random', seed }]).get('0.weight')!.mask!;
    for (const g of [{ n: 2, m: 4 }, { blockRows: 4, blockCols: 4 }]) {
      const l1 = 'n' in g ? prune.nm(w, g) : prune.blockUnstructured(w, { amount: 0.5, ...g });
      expectEqualArrays(rnd(1, g), rnd(1, g), `random ${JSON.stringify(g)} reproducible`);
      expect(Array.from(rnd(1, g)), JSON.stringify(g)).not.toEqual(Array.from(rnd(2, g)));
      expect(Array.from(rnd(1, g)), JSON.stringify(g)).not.toEqual(Array.from(l1));
      expect(rnd(3, g).reduce((a, b) => a + b, 0)).toBe(160);
    }
    expectThrows(() => prune.apply(s, [{ match: /^nothing$/, amount: 0.5 }]), RangeError, 'plan[0].match');
    expectThrows(() => prune.apply(s, [{ match: /^2\.weight$/, amount: 0.5, granularity: { n: 2, m: 4 } }]), RangeError, 'plan[0].amount', 'N:M');
    // What loadSafetensors returns is taken as it is (its tensors are the state dict).
    expectEqualArrays(prune.apply({ tensors: s }, [{ match: /^0\.weight$/, amount: 0.5 }]).get('0.weight')!.mask!, first, 'from { tensors }');
    expectThrows(() => prune.apply({} as never, []), TypeError, 'state', 'loadSafetensors');
    expectThrows(() => prune.apply(s, [{ match: /weight/, amount: 0.5, scope: 'global', granularity: 'row' }]), RangeError, 'plan[0].granularity');
  });

  it('sensitivity prunes one layer at a time, reports progress and can be aborted', async () => {
    const s = state();
    // A stand-in evaluator: the fraction of weight mass still kept (1 at baseline).
    const evaluate = (st: Map<string, StateEntry>) => {
      let kept = 0, all = 0;
      for (const [n, e] of st) {
        if (!n.endsWith('weight')) continue;
        e.tensor.data.forEach((v, i) => {
          all += Math.abs(v);
          kept += !e.mask || e.mask[i] ? Math.abs(v) : 0;
        });
      }
      return kept / all;
    };
    const seen: number[] = [];
    const { baseline, rows } = await prune.sensitivity(s, evaluate, { levels: [0.25, 0.5, 0.9], onProgress: (d) => seen.push(d) });
    expect(baseline).toBe(1);
    expect(rows.map((x) => `${x.layer}@${x.level}`)).toEqual(['0.weight@0.25', '0.weight@0.5', '0.weight@0.9', '2.weight@0.25', '2.weight@0.5', '2.weight@0.9']);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    for (const layer of ['0.weight', '2.weight']) {
      const drops = rows.filter((x) => x.layer === layer).map((x) => x.drop);
      expect(drops[0]).toBeGreaterThan(0);
      expect(drops[1]).toBeGreaterThan(drops[0]);
      expect(drops[2]).toBeGreaterThan(drops[1]);
    }
    const ac = new AbortController();
    await expect(prune.sensitivity(s, evaluate, { levels: [0.5], onProgress: () => ac.abort(new Error('stop')), signal: ac.signal })).rejects.toThrow('stop');
    await expect(prune.sensitivity(s, evaluate, { levels: [1.5] })).rejects.toThrow(/levels/);
  });
});

