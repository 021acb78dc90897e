/**
 * Importance criteria that PyTorch's pruning module lacks, accumulated over batches by native
 * loops: gradient magnitude, first-order Taylor |w·g|, empirical Fisher (mean g²), second-order OBD
 * ½·w²·F, movement −Σ w·g; neuron activation statistics (mean |a| and APoZ, the fraction of zero
 * activations); and the adaptive combined score. Feed any of them to a pruning method as
 * `importanceScores`.
 *
 * @example
 * const taylor = new ImportanceAccumulator(w.length, 'taylor');
 * for (const { weights, grads } of batches) taylor.accumulate(weights, grads);
 * const mask = prune.l1Unstructured(t, { amount: 0.9, importanceScores: taylor.scores() });
 */
import { rangeError, typeError } from '../errors.js';
import { native, withCallerStack } from '../native.js';

export type Criterion = 'magnitude' | 'gradient' | 'taylor' | 'fisher' | 'obd' | 'movement';

const KIND: Record<Exclude<Criterion, 'magnitude'>, string> = {
  gradient: 'abs',
  taylor: 'taylor',
  fisher: 'square',
  obd: 'square',
  movement: 'movement',
};

export class ImportanceAccumulator {
  private readonly acc: Float32Array;
  /** Batches accumulated so far. */
  batches = 0;

  constructor(
    readonly size: number,
    readonly criterion: Criterion,
  ) {
    if (!Number.isInteger(size) || size < 0) throw rangeError('size', 'a non-negative integer', size);
    if (!['magnitude', 'gradient', 'taylor', 'fisher', 'obd', 'movement'].includes(criterion))
      throw rangeError('criterion', "'magnitude', 'gradient', 'taylor', 'fisher', 'obd' or 'movement'", criterion);
    this.acc = new Float32Array(size);
  }

  private checkBatch(weights: unknown, grads: unknown): void {
    for (const [v, name] of [[weights, 'weights'], [grads, 'grads']] as const) {
      if (!(v instanceof Float32Array)) throw typeError(name, 'Float32Array', v);
      if (v.length !== this.size) throw rangeError(name, `length ${this.size} (the accumulator's size)`, v);
    }
  }

  /**
   * Scores are signed for 'movement' (rank them with `signed: true` in l1Unstructured and
   * globalUnstructured: the weights moving toward zero go first); the others are non-negative.
   */
  get signed(): boolean {
    return this.criterion === 'movement';
  }

  /** Adds one batch's gradients (and the weights they were taken at). */
  accumulate(weights: Float32Array, grads: Float32Array): void {
    this.checkBatch(weights, grads);
    if (this.criterion !== 'magnitude') native.scoresAccumulate(KIND[this.criterion], this.acc, grads, weights);
    this.batches++;
  }

  /** {@link accumulate} on the addon's thread pool. */
  accumulateAsync(weights: Float32Array, grads: Float32Array): Promise<void> {
    return withCallerStack(async () => {
      this.checkBatch(weights, grads);
      if (this.criterion !== 'magnitude') await native.scoresAccumulateAsync(KIND[this.criterion], this.acc, grads, weights);
      this.batches++;
    });
  }

  /**
   * The scores (higher = more important): magnitude |w|; gradient mean |g|; taylor mean |w·g|;
   * fisher mean g²; obd ½·w²·mean g²; movement −Σ w·g. `weights` is needed for magnitude and obd.
   */
  scores(weights?: Float32Array): Float32Array {
    const needW = this.criterion === 'magnitude' || this.criterion === 'obd';
    if (needW && !(weights instanceof Float32Array)) throw typeError('weights', `Float32Array (the ${this.criterion} score needs the weights)`, weights);
    if (needW && weights!.length !== this.size) throw rangeError('weights', `length ${this.size}`, weights);
    if (this.criterion === 'magnitude') return weights!.map(Math.abs);
    if (this.criterion === 'movement') return this.acc.slice();
    const n = Math.max(1, this.batches);
    if (this.criterion === 'obd') return this.acc.map((f, i) => 0.5 * weights![i] * weights![i] * (f / n));
    return this.acc.map((v) => v / n);
  }

  reset(): void {
    this.acc.fill(0);
    this.batches = 0;
  }
}

/** Per-neuron activation statistics over feature-major [features, batch] blocks. */
export class ActivationStats {
  private readonly sumAbs: Float64Array;
  private readonly zeros: Float64Array;
  /** Samples seen (batch columns). */
  samples = 0;

  constructor(readonly features: number) {
    if (!Number.isInteger(features) || features < 0) throw rangeError('features', 'a non-negative integer', features);
    this.sumAbs = new Float64Array(features);
    this.zeros = new Float64Array(features);
  }

  accumulate(activations: Float32Array, batch: number): void {
    if (!(activations instanceof Float32Array)) throw typeError('activations', 'Float32Array', activations);
    native.activationStats(activations, this.features, batch, this.sumAbs, this.zeros);
    this.samples += batch;
  }

  /** Mean |a| per feature. */
  meanAbs(): Float32Array {
    return Float32Array.from(this.sumAbs, (s) => (this.samples ? s / this.samples : 0));
  }

  /** Average percentage of zeros (APoZ) per feature, as a fraction in [0, 1]. */
  apoz(): Float32Array {
    return Float32Array.from(this.zeros, (z) => (this.samples ? z / this.samples : 0));
  }
}

/**
 * The adaptive combined score I = ĝ / (ĝ + α·â) for an [out, in] weight: ĝ is a per-weight
 * gradient score and â the activation score of the weight's output neuron, each divided by its
 * layer mean so layers compare on one scale (0 where both are 0).
 */
export function adaptiveScores(gradient: Float32Array, activation: Float32Array, shape: readonly [number, number], alpha = 1): Float32Array {
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw rangeError('shape', '[out, in] with non-negative integers', shape);
  const [out, inp] = shape;
  if (!(gradient instanceof Float32Array)) throw typeError('gradient', 'Float32Array', gradient);
  if (gradient.length !== out * inp) throw rangeError('gradient', `length ${out * inp} (out × in)`, gradient);
  if (!(activation instanceof Float32Array)) throw typeError('activation', 'Float32Array', activation);
  if (activation.length !== out) throw rangeError('activation', `length ${out} (one per output neuron)`, activation);
  if (typeof alpha !== 'number' || !(alpha >= 0)) throw rangeError('alpha', 'a number >= 0', alpha);
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length) || 1;
  const gm = mean(gradient), am = mean(activation);
  const result = new Float32Array(gradient.length);
  for (let o = 0; o < out; o++) {
    const a = (alpha * activation[o]) / am;
    for (let i = 0; i < inp; i++) {
      const g = gradient[o * inp + i] / gm;
      result[o * inp + i] = g + a === 0 ? 0 : g / (g + a);
    }
  }
  return result;
}
