import { optionsObject, typeError } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { resolveDevice, type Device } from '../tensor/device.js';

/** What NaN scores do: 'error' (default) rejects them; 'prune' ranks them lowest; 'keep' highest. */
export type NanRule = 'error' | 'prune' | 'keep';

export interface SelectOptions {
  nan?: NanRule;
  /** Per buffer: only entries with eligible[i] = 1 take part (the rest stay 0 in the mask). */
  eligible?: (Uint8Array | undefined)[];
  /** Per buffer: where to write the masks (an eligible array may double as its own output). */
  masks?: (Uint8Array | undefined)[];
  /** Rank |score| instead of score. */
  absolute?: boolean;
  /** 'cpu' (default), 'cuda' (the GPU radix select; same masks) or 'auto'. */
  device?: Device;
}

export interface Selection {
  /** One mask per buffer: 0 for the k selected entries (and for ineligible ones), 1 elsewhere. */
  masks: Uint8Array[];
  /** The k-th smallest selected score (|score| with `absolute`); NaN when k = 0. */
  threshold: number;
  /** Entries that took part. */
  eligible: number;
}

function args(scores: Float32Array[], k: number, options?: SelectOptions) {
  if (!Array.isArray(scores)) throw typeError('scores', 'an Array of Float32Array', scores);
  const o = optionsObject(options);
  return [scores, k, o.nan, o.eligible, o.masks, o.absolute] as const;
}

/**
 * Exact selection of the k smallest scores over several buffers at once (no concatenation), by a
 * multithreaded radix select in O(n). Ties are broken by position: the lowest index (buffers in
 * order) is selected first, so equal scores always give the same masks. -0 equals +0.
 *
 * @example
 * const { masks } = selectSmallest([w1, w2], 1000, { absolute: true });  // global L1, 1000 pruned
 */
export function selectSmallest(scores: Float32Array[], k: number, options?: SelectOptions): Selection {
  const a = args(scores, k, options);
  return resolveDevice(options?.device) === 'cuda' ? native.cudaSelectSmallest(...a) : native.selectSmallest(...a);
}

export function selectSmallestAsync(scores: Float32Array[], k: number, options?: SelectOptions): Promise<Selection> {
  return withCallerStack(async () => {
    const a = args(scores, k, options);
    return resolveDevice(options?.device) === 'cuda' ? native.cudaSelectSmallestAsync(...a) : native.selectSmallestAsync(...a);
  });
}
