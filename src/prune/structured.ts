/**
 * torch.nn.utils.prune's structured methods: whole slices along `dim` (rows or columns of a Linear
 * weight, channels of a convolution) are pruned together. Composition follows PyTorch's
 * PruningContainer: with a current mask, only the slices that still hold a kept entry take part,
 * the amount counts among them, and (without explicit scores) entries already pruned count as 0.
 */
import { optionsObject, rangeError, typeError } from '../errors.js';
import { entriesToPrune, type Amount } from './amount.js';
import { selectSmallest, type NanRule } from './select.js';
import { asTensor, maskData, scoreData, Tensor } from './tensor.js';
import { randomScores, seedOf } from './random.js';

export interface StructuredOptions {
  amount: Amount;
  /** The dimension whose slices are pruned; negative counts from the end. */
  dim: number;
  mask?: Uint8Array;
  /**
   * A slice whose scores hold a NaN: rejected ('error', the default, naming the entry), ranked
   * below every other slice ('prune') or above them ('keep').
   */
  nan?: NanRule;
}

/** Resolves `dim` against the shape: [outer, size, inner] so index = (o * size + c) * inner + i. */
function layout(t: Tensor, dim: unknown): { outer: number; size: number; inner: number } {
  const nd = t.shape.length;
  if (typeof dim !== 'number') throw typeError('dim', `an integer in [${-nd}, ${nd - 1}]`, dim);
  if (!Number.isInteger(dim) || dim < -nd || dim >= nd) throw rangeError('dim', `an integer in [${-nd}, ${nd - 1}]`, dim);
  const d = dim < 0 ? nd + dim : dim;
  const outer = t.shape.slice(0, d).reduce((a, b) => a * b, 1);
  const inner = t.shape.slice(d + 1).reduce((a, b) => a * b, 1);
  return { outer, size: t.shape[d], inner };
}

/** For each slice along dim: whether it still holds a kept entry (all true without a mask). */
function keptSlices(mask: Uint8Array | undefined, outer: number, size: number, inner: number): Uint8Array {
  const kept = new Uint8Array(size);
  if (!mask) return kept.fill(1);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < size; c++) {
      if (kept[c]) continue;
      const base = (o * size + c) * inner;
      for (let i = 0; i < inner; i++)
        if (mask[base + i]) {
          kept[c] = 1;
          break;
        }
    }
  return kept;
}

/** Expands a per-slice keep flag to an element mask, combined with the current mask. */
function expand(keep: Uint8Array, mask: Uint8Array | undefined, outer: number, size: number, inner: number): Uint8Array {
  const out = new Uint8Array(outer * size * inner);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < size; c++) {
      if (!keep[c]) continue;
      const base = (o * size + c) * inner;
      for (let i = 0; i < inner; i++) out[base + i] = mask ? mask[base + i] : 1;
    }
  return out;
}

/** Ln norm of every slice along dim (n > 0 or Infinity), accumulated in float64. NaN propagates. */
function sliceNorms(s: Float32Array, n: number, outer: number, size: number, inner: number): Float32Array {
  const acc = new Float64Array(size);
  // One loop per norm, so the hot loop has no branch on n.
  const accumulate = (step: (a: number, v: number) => number) => {
    for (let o = 0; o < outer; o++)
      for (let c = 0; c < size; c++) {
        const base = (o * size + c) * inner;
        let a = acc[c];
        for (let i = 0; i < inner; i++) a = step(a, s[base + i]);
        acc[c] = a;
      }
  };
  if (n === Infinity) accumulate((a, v) => (v !== v ? v : Math.max(a, Math.abs(v))));
  else if (n === 1) accumulate((a, v) => a + Math.abs(v));
  else if (n === 2) accumulate((a, v) => a + v * v);
  else accumulate((a, v) => a + Math.abs(v) ** n);
  return Float32Array.from(acc, (a) => (n === Infinity || n === 1 ? a : n === 2 ? Math.sqrt(a) : a ** (1 / n)));
}

/** Throws the NaN error naming the first NaN entry of `scores` (called once a slice score is NaN). */
function rejectNaN(scores: Float32Array, mask: Uint8Array | undefined, what: string): never {
  const i = scores.findIndex((v, j) => Number.isNaN(v) && (!mask || mask[j] !== 0));
  throw rangeError('importanceScores', `scores without NaN (pass nan: 'prune' or 'keep' to rank ${what} holding NaN)`, `NaN at entry ${i}`);
}

/** Validates the `nan` option. */
export function nanRule(nan: unknown): NanRule {
  if (nan === undefined) return 'error';
  if (nan !== 'error' && nan !== 'prune' && nan !== 'keep') throw rangeError('nan', "'error', 'prune' or 'keep'", nan);
  return nan;
}

function structuredMask(t: Tensor, o: Partial<StructuredOptions>, scoresOf: (keptCount: number, size: number) => Float32Array, nanEntries?: Float32Array): Uint8Array {
  const { outer, size, inner } = layout(t, o.dim);
  const nan = nanRule(o.nan);
  const mask = maskData(o.mask, t);
  const kept = keptSlices(mask, outer, size, inner);
  const keptCount = kept.reduce((a, b) => a + b, 0);
  const k = entriesToPrune(o.amount!, keptCount);
  if (k === 0) return mask ? mask.slice() : new Uint8Array(t.size).fill(1);
  const scores = scoresOf(keptCount, size);
  if (nan === 'error' && nanEntries && scores.some((v, c) => kept[c] !== 0 && Number.isNaN(v))) rejectNaN(nanEntries, mask, 'slices');
  const keep = selectSmallest([scores], k, { eligible: [kept], nan }).masks[0];
  return expand(keep, mask, outer, size, inner);
}

/**
 * Prunes the `amount` slices along `dim` with the smallest Ln norm (PyTorch's `ln_structured`);
 * `n` is 1, 2, any p > 0, or Infinity.
 *
 * @example
 * const mask = prune.lnStructured(w, { amount: 0.5, n: 2, dim: 0 });  // half the output neurons
 */
export function lnStructured(t: Tensor, options: StructuredOptions & { n: number; importanceScores?: Tensor | Float32Array }): Uint8Array {
  asTensor(t);
  const o = optionsObject(options);
  if (typeof o.n !== 'number') throw typeError('n', 'a number > 0 or Infinity', o.n);
  if (!(o.n > 0)) throw rangeError('n', 'a number > 0 or Infinity', o.n);
  // Like PyTorch, which ranks the module's current (already masked) weight when no scores are
  // given: entries pruned earlier count as 0 in their slice's norm.
  const mask = maskData(o.mask, t);
  const scores = o.importanceScores !== undefined || !mask ? scoreData(o.importanceScores, t) : t.data.map((v, i) => (mask[i] ? v : 0));
  const { outer, size, inner } = layout(t, o.dim);
  return structuredMask(t, o, () => sliceNorms(scores, o.n!, outer, size, inner), scores);
}

/** Prunes `amount` slices along `dim` chosen at random; with a `seed`, reproducibly. */
export function randomStructured(t: Tensor, options: StructuredOptions & { seed?: number }): Uint8Array {
  asTensor(t);
  const o = optionsObject(options);
  const seed = seedOf(o.seed);
  return structuredMask(t, o, (_, size) => randomScores(size, seed));
}
