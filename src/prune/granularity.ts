/**
 * Granularities beyond single entries: N:M groups along the input dimension (the pattern sparse
 * tensor cores run: 2:4, 1:4, 4:8) and r×c blocks of a 2-D weight pooled by L1, L2 or max.
 */
import { optionsObject, positiveInteger, rangeError, typeError } from '../errors.js';
import { entriesToPrune, type Amount } from './amount.js';
import { native, withCallerStack } from '../native.js';
import { selectSmallest, type NanRule } from './select.js';
import { nanRule } from './structured.js';
import { asTensor, maskData, scoreData, Tensor } from './tensor.js';

export interface NMOptions {
  /** Entries kept in every group. */
  n: number;
  /**
   * Group size along the input dimension, which it must divide: the last dimension of a 1-D or
   * 2-D tensor (a Linear's `[out, in]`), dimension 1 of a convolution's `[out, in, k…]` (groups of
   * input channels at each kernel position, as NVIDIA's ASP prunes them).
   */
  m: number;
  importanceScores?: Tensor | Float32Array;
  mask?: Uint8Array;
  /** NaN scores: rejected ('error', the default), ranked lowest ('prune') or highest ('keep'). */
  nan?: NanRule;
}

/**
 * N:M pruning: in every group of `m` consecutive entries along the input dimension, keeps the `n`
 * with the largest |score| and prunes the rest (ties prune the lowest index first). Entries pruned
 * by the current mask stay pruned and rank below every kept one.
 *
 * @example
 * const mask = prune.nm(w, { n: 2, m: 4 });   // 2:4, 50% sparse, tensor-core friendly
 */
export function nm(t: Tensor, options: NMOptions): Uint8Array {
  const a = nmArgs(t, options);
  return a.unpermute(native.nmMask(...a.native));
}

/** {@link nm} on the addon's thread pool (the ranking does not block the event loop). */
export function nmAsync(t: Tensor, options: NMOptions): Promise<Uint8Array> {
  return withCallerStack(async () => {
    const a = nmArgs(t, options);
    return a.unpermute(await native.nmMaskAsync(...a.native));
  });
}

function nmArgs(t: Tensor, options: NMOptions): { native: Parameters<typeof native.nmMask>; unpermute: (mask: Uint8Array) => Uint8Array } {
  asTensor(t);
  const o = optionsObject(options);
  const m = positiveInteger(o.m, 'm', 64);
  if (typeof o.n !== 'number') throw typeError('n', `an integer between 0 and m (${m})`, o.n);
  if (!Number.isInteger(o.n) || o.n < 0 || o.n > m) throw rangeError('n', `an integer between 0 and m (${m})`, o.n);
  const n = o.n;
  const conv = t.shape.length >= 3;
  const inner = t.shape.length === 0 ? 1 : t.shape[conv ? 1 : t.shape.length - 1];
  if (inner % m !== 0) throw rangeError('m', `a divisor of the input dimension (${inner}, dimension ${conv ? 1 : t.shape.length - 1} of [${t.shape}])`, m);
  nanRule(o.nan);
  const scores = scoreData(o.importanceScores, t), mask = maskData(o.mask, t);
  // Native: pairwise ranks inside each group, groups in parallel.
  if (!conv) return { native: [scores, m, n, mask, o.nan], unpermute: (x) => x };
  // [out, in, k…] → [out, k…, in] so the groups are contiguous, and the mask back.
  const outs = t.shape[0], ins = inner, rest = t.size / Math.max(outs * ins, 1);
  // to[p]: where entry p of [out, in, k…] lands in [out, k…, in].
  const to = new Int32Array(t.size);
  for (let a = 0, p = 0; a < outs; a++) for (let i = 0; i < ins; i++) for (let r = 0; r < rest; r++, p++) to[p] = (a * rest + r) * ins + i;
  const toInner = <T extends Float32Array | Uint8Array>(src: T, dst: T): T => {
    for (let p = 0; p < to.length; p++) dst[to[p]] = src[p];
    return dst;
  };
  const unpermute = (permuted: Uint8Array) => Uint8Array.from(to, (q) => permuted[q]);
  return { native: [toInner(scores, new Float32Array(t.size)), m, n, mask && toInner(mask, new Uint8Array(t.size)), o.nan], unpermute };
}

function rejectNaN(at: number): never {
  throw rangeError('importanceScores', "scores without NaN (pass nan: 'prune' or 'keep' to rank blocks holding NaN)", `NaN at entry ${at}`);
}

export interface BlockOptions {
  amount: Amount;
  blockRows: number;
  blockCols: number;
  /** How a block's |scores| become its score: sum (l1), root of the sum of squares (l2), or max. */
  pool?: 'l1' | 'l2' | 'max';
  importanceScores?: Tensor | Float32Array;
  mask?: Uint8Array;
  /** A block holding a NaN score: rejected ('error', the default), pruned first ('prune') or kept ('keep'). */
  nan?: NanRule;
}

/**
 * Block pruning of a 2-D weight: scores are pooled per `blockRows × blockCols` block and the
 * `amount` weakest blocks (among those still holding a kept entry) are pruned whole; a layout that
 * BSR kernels turn into speed.
 */
export function blockUnstructured(t: Tensor, options: BlockOptions): Uint8Array {
  asTensor(t);
  const o = optionsObject(options);
  if (t.shape.length !== 2) throw rangeError('t', 'a 2-D tensor', `shape [${t.shape.join(', ')}]`);
  const [rows, cols] = t.shape;
  const br = positiveInteger(o.blockRows, 'blockRows'), bc = positiveInteger(o.blockCols, 'blockCols');
  if (rows % br !== 0) throw rangeError('rows', `a multiple of blockRows (${br})`, rows);
  if (cols % bc !== 0) throw rangeError('cols', `a multiple of blockCols (${bc})`, cols);
  const pool = o.pool ?? 'l1';
  if (pool !== 'l1' && pool !== 'l2' && pool !== 'max') throw rangeError('pool', "'l1', 'l2' or 'max'", pool);
  const nan = nanRule(o.nan);
  const scores = scoreData(o.importanceScores, t);
  const mask = maskData(o.mask, t);
  const nbr = rows / br, nbc = cols / bc;
  const blockScore = new Float64Array(nbr * nbc);
  const alive = new Uint8Array(nbr * nbc).fill(mask ? 0 : 1);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const b = Math.floor(i / br) * nbc + Math.floor(j / bc);
      const v = mask && !mask[i * cols + j] ? 0 : Math.abs(scores[i * cols + j]);
      if (mask && mask[i * cols + j]) alive[b] = 1;
      if (v !== v && nan === 'error') rejectNaN(i * cols + j);
      blockScore[b] = v !== v ? v : pool === 'max' ? Math.max(blockScore[b], v) : blockScore[b] + (pool === 'l2' ? v * v : v);
    }
  const pooled = Float32Array.from(blockScore, (s) => (pool === 'l2' ? Math.sqrt(s) : s));
  const k = entriesToPrune(o.amount!, alive.reduce((a, b) => a + b, 0));
  const keep = selectSmallest([pooled], k, { eligible: [alive], nan }).masks[0];
  const out = new Uint8Array(t.size);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const e = i * cols + j;
      out[e] = keep[Math.floor(i / br) * nbc + Math.floor(j / bc)] ? (mask ? mask[e] : 1) : 0;
    }
  return out;
}
