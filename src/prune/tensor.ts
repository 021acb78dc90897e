import { typeError, rangeError } from '../errors.js';

/** A dense float32 tensor: row-major data and its shape (a Linear weight is `[out, in]`). */
export class Tensor {
  readonly size: number;

  constructor(
    readonly data: Float32Array,
    readonly shape: readonly number[],
  ) {
    if (!(data instanceof Float32Array)) throw typeError('data', 'Float32Array', data);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
      throw rangeError('shape', 'an array of non-negative integers', shape);
    this.size = shape.reduce((a, b) => a * b, 1);
    if (this.size !== data.length) throw rangeError('data', `length ${this.size} (shape [${shape.join(', ')}])`, data);
  }
}

/** The scores a method ranks: a Tensor or Float32Array of the tensor's size. */
export function scoreData(scores: Tensor | Float32Array | undefined, t: Tensor, name = 'importanceScores'): Float32Array {
  if (scores === undefined) return t.data;
  const data = scores instanceof Tensor ? scores.data : scores;
  if (!(data instanceof Float32Array)) throw typeError(name, 'Tensor or Float32Array', scores);
  if (data.length !== t.size) throw rangeError(name, `length ${t.size} (the tensor's size)`, data);
  return data;
}

/** The current mask of t: the given one (checked) or all ones. */
export function maskData(mask: Uint8Array | undefined, t: Tensor, name = 'mask'): Uint8Array | undefined {
  if (mask === undefined) return undefined;
  if (!(mask instanceof Uint8Array)) throw typeError(name, 'Uint8Array', mask);
  if (mask.length !== t.size) throw rangeError(name, `length ${t.size} (the tensor's size)`, mask);
  return mask;
}

export function asTensor(t: unknown, name = 't'): Tensor {
  if (!(t instanceof Tensor)) throw typeError(name, 'Tensor', t);
  return t;
}
