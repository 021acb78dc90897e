import { rangeError, typeError } from '../errors.js';

/** Seeded uniform scores in [0, 1) (xoshiro128**), so random pruning is reproducible. */
export function randomScores(n: number, seed: number): Float32Array {
  let a = seed >>> 0 || 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = Math.imul(seed, 0x9e3779b1) >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c = (c ^ t) >>> 0;
    d = ((d << 11) | (d >>> 21)) >>> 0;
    out[i] = (r >>> 8) / 16777216;
  }
  return out;
}

/** mulberry32: a small seeded generator of uniform numbers in [0, 1) (initialisation, shuffles, fill values). */
export function uniformGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedOf(seed: unknown): number {
  if (seed === undefined) return Math.floor(Math.random() * 2 ** 32);
  if (typeof seed !== 'number') throw typeError('seed', 'an integer', seed);
  if (!Number.isInteger(seed)) throw rangeError('seed', 'an integer', seed);
  return seed >>> 0;
}

