/**
 * torch.nn.utils.prune's unstructured methods as pure functions: each takes a tensor (and its
 * current mask) and returns the new mask. Applying a method to an already masked tensor composes
 * the way PyTorch's PruningContainer does: the amount counts among the entries still kept, and
 * pruned entries stay pruned.
 */
import { optionsObject, rangeError, typeError } from '../errors.js';
import { entriesToPrune, type Amount } from './amount.js';
import { withCallerStack } from '../native.js';
import { selectSmallest, selectSmallestAsync, type NanRule } from './select.js';
import { randomScores, seedOf } from './random.js';
import { asTensor, maskData, scoreData, Tensor } from './tensor.js';

export interface UnstructuredOptions {
  amount: Amount;
  /** The current mask (1 = kept); the new mask only removes entries from it. */
  mask?: Uint8Array;
  nan?: NanRule;
}

function signedOption(v: unknown): boolean {
  if (v !== undefined && typeof v !== 'boolean') throw typeError('signed', 'a boolean', v);
  return v === true;
}

function kept(mask: Uint8Array | undefined, size: number): number {
  if (!mask) return size;
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i] !== 0 ? 1 : 0;
  return n;
}

/** A mask that keeps everything (PyTorch's `identity`). */
export function identity(t: Tensor): Uint8Array {
  return new Uint8Array(asTensor(t).size).fill(1);
}

/**
 * Prunes the `amount` entries of smallest |score| (scores default to the tensor itself), exactly
 * PyTorch's `l1_unstructured`; ties prune the lowest index first (PyTorch's tie order is not
 * specified, so with tied scores its mask may differ). With `signed: true` the scores themselves
 * rank (lowest pruned), for signed criteria such as movement scores.
 *
 * @example
 * const mask = prune.l1Unstructured(w, { amount: 0.9 });         // 90% of the entries
 * const again = prune.l1Unstructured(w, { amount: 0.5, mask });  // half of what remains
 */
export function l1Unstructured(t: Tensor, options: L1Options): Uint8Array {
  return selectSmallest(...l1Args(t, options)).masks[0];
}

/** {@link l1Unstructured} on the addon's thread pool (the selection does not block the event loop). */
export function l1UnstructuredAsync(t: Tensor, options: L1Options): Promise<Uint8Array> {
  return withCallerStack(async () => (await selectSmallestAsync(...l1Args(t, options))).masks[0]);
}

export type L1Options = UnstructuredOptions & { importanceScores?: Tensor | Float32Array; signed?: boolean };

function l1Args(t: Tensor, options: L1Options): Parameters<typeof selectSmallest> {
  asTensor(t);
  const o = optionsObject(options);
  const signed = signedOption(o.signed);
  const scores = scoreData(o.importanceScores, t);
  const mask = maskData(o.mask, t);
  const k = entriesToPrune(o.amount!, kept(mask, t.size));
  return [[scores], k, { nan: o.nan, eligible: [mask], absolute: !signed }];
}

/** Prunes `amount` entries chosen uniformly at random; with a `seed`, reproducibly. */
export function randomUnstructured(t: Tensor, options: UnstructuredOptions & { seed?: number }): Uint8Array {
  asTensor(t);
  const o = optionsObject(options);
  const mask = maskData(o.mask, t);
  const k = entriesToPrune(o.amount!, kept(mask, t.size));
  return selectSmallest([randomScores(t.size, seedOf(o.seed))], k, { eligible: [mask] }).masks[0];
}

export interface GlobalOptions {
  amount: Amount;
  method: 'l1' | 'random';
  /** One per tensor; default: the tensors themselves. */
  importanceScores?: (Tensor | Float32Array | undefined)[];
  /** One per tensor: the current masks. */
  masks?: (Uint8Array | undefined)[];
  seed?: number;
  nan?: NanRule;
  /**
   * Rank each tensor's |scores| divided by their mean over its kept entries (l1 only), so one
   * threshold treats layers of different scales alike instead of emptying the smallest-valued.
   */
  normalize?: boolean;
  /** Rank the scores themselves, lowest pruned, instead of |score| (signed criteria: movement). */
  signed?: boolean;
}

/**
 * One threshold across all tensors (PyTorch's `global_unstructured`): the amount counts over every
 * entry still kept in every tensor. Returns one mask per tensor. Nothing is concatenated: the
 * selection runs over the tensors' own buffers.
 */
export function globalUnstructured(tensors: Tensor[], options: GlobalOptions): Uint8Array[] {
  return selectSmallest(...globalArgs(tensors, options)).masks;
}

/** {@link globalUnstructured} on the addon's thread pool (the selection does not block the event loop). */
export function globalUnstructuredAsync(tensors: Tensor[], options: GlobalOptions): Promise<Uint8Array[]> {
  return withCallerStack(async () => (await selectSmallestAsync(...globalArgs(tensors, options))).masks);
}

function globalArgs(tensors: Tensor[], options: GlobalOptions): Parameters<typeof selectSmallest> {
  if (!Array.isArray(tensors)) throw typeError('tensors', 'an Array of Tensor', tensors);
  tensors.forEach((t, i) => asTensor(t, `tensors[${i}]`));
  const o = optionsObject(options);
  if (o.method !== 'l1' && o.method !== 'random') throw rangeError('method', "'l1' or 'random'", o.method);
  const signed = signedOption(o.signed);
  const masks = tensors.map((t, i) => maskData(o.masks?.[i], t, `masks[${i}]`));
  const total = tensors.reduce((s, t, i) => s + kept(masks[i], t.size), 0);
  const k = entriesToPrune(o.amount!, total);
  if (o.method === 'random') {
    const seed = seedOf(o.seed);
    const scores = tensors.map((t, i) => randomScores(t.size, (seed + i * 0x9e3779b9) >>> 0));
    return [scores, k, { eligible: masks }];
  }
  let scores = tensors.map((t, i) => scoreData(o.importanceScores?.[i], t, `importanceScores[${i}]`));
  if (o.normalize) {
    scores = scores.map((s, i) => {
      let sum = 0, n = 0;
      s.forEach((v, j) => {
        if (!masks[i] || masks[i]![j]) {
          sum += Math.abs(v);
          n++;
        }
      });
      const mean = n && sum ? sum / n : 1;
      return s.map((v) => (signed ? v : Math.abs(v)) / mean);
    });
  }
  return [scores, k, { nan: o.nan, eligible: masks, absolute: !signed }];
}

/** Uses a given 0/1 mask (PyTorch's `custom_from_mask`), combined with the current one. */
export function customFromMask(t: Tensor, mask: Uint8Array, options?: { mask?: Uint8Array }): Uint8Array {
  asTensor(t);
  const m = maskData(mask, t, 'mask')!;
  const current = maskData(optionsObject(options).mask, t, 'options.mask');
  const out = new Uint8Array(t.size);
  for (let i = 0; i < m.length; i++) {
    if (m[i] > 1) throw rangeError('mask', 'only 0 and 1 values', `${m[i]} at index ${i}`);
    out[i] = m[i] & (current ? current[i] : 1);
  }
  return out;
}

/** Makes pruning permanent (PyTorch's `remove`): a new tensor whose pruned entries are 0. */
export function remove(t: Tensor, mask: Uint8Array): Tensor {
  asTensor(t);
  const m = maskData(mask, t, 'mask')!;
  const data = new Float32Array(t.size);
  for (let i = 0; i < data.length; i++) data[i] = m[i] ? t.data[i] : 0;
  return new Tensor(data, [...t.shape]);
}
