/**
 * Shared test harness: seeded random inputs (the seed is printed in every failure message and can
 * be replayed with SHEARS_TEST_SEED), plain float64 references, and the comparison rule.
 *
 * Tolerance: |got − ref| ≤ 1e-6 + 1e-5·S, where S is the sum of |terms| that make up the output
 * element (S = |ref| for non-reductions). For a float32 reduction the forward error is bounded by
 * a multiple of ε·Σ|terms|, not of |ref|: when the terms cancel, |ref| can be ~0 while the rounding
 * error is not, so 1e-5·|ref| alone would fail correct kernels on random data.
 */
import { expect } from 'vitest';

import { info, Linear, ReLU, Sequential, setIsa, type Dataset, type Isa } from '../src/index.js';

export const seed = Number(process.env.SHEARS_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, fast, good enough for test data. */
export function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let counter = 0;
/** A fresh generator for one case, derived from the run seed. */
export function caseRng(): () => number {
  return rng(seed * 7919 + ++counter);
}

export function uniform(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

/** Dense [rows, cols] with about `density` non-zeros; `skewed` puts most of them in a few rows. */
export function sparseDense(rows: number, cols: number, density: number, r: () => number, skewed = false): Float32Array {
  const a = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const d = skewed ? (i % 7 === 0 ? Math.min(1, density * 6) : i % 3 === 0 ? 0 : density / 4) : density;
    for (let j = 0; j < cols; j++) if (r() < d) a[i * cols + j] = r() * 2 - 1 || 0.5;
  }
  return a;
}

/** A Float32Array living at a non-zero byteOffset inside a larger buffer. */
export function offsetCopy(src: Float32Array, offset = 3): Float32Array {
  const big = new Float32Array(src.length + offset + 5).fill(Number.NaN);
  const view = big.subarray(offset, offset + src.length);
  view.set(src);
  return view;
}

export function nanFilled(n: number): Float32Array {
  return new Float32Array(n).fill(Number.NaN);
}

export interface Reference {
  value: Float64Array;
  scale: Float64Array;
}

/** C = op(A)·op(B) in float64, with Σ|a·b| per element. */
export function refGemm(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA = false, transB = false): Reference {
  const value = new Float64Array(m * n), scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const av = transA ? a[p * m + i] : a[i * k + p];
      if (av === 0) continue;
      for (let j = 0; j < n; j++) {
        const t = av * (transB ? b[j * k + p] : b[p * n + j]);
        value[i * n + j] += t;
        scale[i * n + j] += Math.abs(t);
      }
    }
  return { value, scale };
}

/** Transposes a dense row-major [rows, cols] array. */
export function transposeDense(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

/** Asserts every element is within tolerance; reports the first failing index with the seed. */
export function expectClose(got: Float32Array, ref: Reference, label: string): void {
  expect(got.length, `${label}: length (seed ${seed})`).toBe(ref.value.length);
  for (let i = 0; i < got.length; i++) {
    const r = ref.value[i];
    const tol = 1e-6 + 1e-5 * Math.max(ref.scale[i], Math.abs(r));
    if (!(Math.abs(got[i] - r) <= tol)) {
      expect.fail(`${label}: element ${i} is ${got[i]}, expected ${r} ± ${tol} (seed ${seed}, replay with SHEARS_TEST_SEED=${seed})`);
    }
  }
}

/** Exact equality with a readable failure. */
export function expectEqualArrays(got: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  expect(got.length, `${label}: length (seed ${seed})`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i]) && !(got[i] === 0 && want[i] === 0)) {
      expect.fail(`${label}: element ${i} is ${got[i]}, expected ${want[i]} (seed ${seed})`);
    }
  }
}

/** Every ISA this machine can run: the suites run once per ISA. */
export const isas: Isa[] = info().isa.available;

export function useIsa(isa: Isa): void {
  setIsa(isa);
}

/** Expects fn to throw `type` whose message mentions every string in `mentions`. */
export function expectThrows(fn: () => unknown, type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, ...mentions: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a ${type.name} mentioning ${mentions.join(', ')}`).toBeInstanceOf(type);
  for (const m of mentions) expect((caught as Error).message).toContain(m);
  expect((caught as { code?: string }).code).toMatch(/^ERR_SHEARS_/);
}

/** An MLP of the given layer sizes with ReLU between the linear layers. */
export function mlp(sizes: number[], s = 0): Sequential {
  return new Sequential(
    sizes.slice(1).flatMap((out, i) => (i + 2 < sizes.length ? [new Linear(sizes[i], out), new ReLU()] : [new Linear(sizes[i], out)])),
    { seed: s },
  );
}

/** n random samples in [-1, 1) with random labels. */
export function randomData(n: number, features: number, classes: number, r: () => number): Dataset {
  return {
    x: Float32Array.from({ length: n * features }, () => r() * 2 - 1),
    y: Int32Array.from({ length: n }, () => Math.floor(r() * classes)),
    n,
    features,
    classes,
  };
}
