/**
 * Threshold rules and per-layer budgets: prune below an absolute magnitude, or below k·σ of the
 * layer's weights (the "quality parameter" rule of Han et al. 2015); and split a global sparsity
 * target into per-layer sparsities, uniformly or by Erdős–Rényi-kernel (ERK) as in RigL, so small
 * first and last layers are not starved.
 */
import { optionsObject, rangeError, typeError } from '../errors.js';
import { asTensor, maskData, scoreData, Tensor } from './tensor.js';

function finiteAtLeastZero(v: unknown, name: string): number {
  if (typeof v !== 'number') throw typeError(name, 'a finite number >= 0', v);
  if (!(v >= 0) || !Number.isFinite(v)) throw rangeError(name, 'a finite number >= 0', v);
  return v;
}

/** Prunes the entries with |score| < value (scores default to the tensor); composes with `mask`. */
export function threshold(t: Tensor, options: { value: number; importanceScores?: Tensor | Float32Array; mask?: Uint8Array }): Uint8Array {
  asTensor(t);
  const o = optionsObject(options);
  const value = finiteAtLeastZero(o.value, 'value');
  const scores = scoreData(o.importanceScores, t);
  const mask = maskData(o.mask, t);
  const out = new Uint8Array(t.size);
  for (let i = 0; i < out.length; i++) out[i] = (!mask || mask[i]) && Math.abs(scores[i]) >= value ? 1 : 0;
  return out;
}

/**
 * Prunes |w| < k·σ, σ the standard deviation of the layer's weights (of those still kept, with a
 * mask). Returns the mask; `sigmaThreshold` gives the threshold itself.
 */
export function sigma(t: Tensor, options: { k: number; mask?: Uint8Array }): Uint8Array {
  asTensor(t);
  const o = optionsObject(options);
  return threshold(t, { value: sigmaThreshold(t, o as { k: number; mask?: Uint8Array }), mask: o.mask });
}

export function sigmaThreshold(t: Tensor, options: { k: number; mask?: Uint8Array }): number {
  asTensor(t);
  const o = optionsObject(options);
  const k = finiteAtLeastZero(o.k, 'k');
  const mask = maskData(o.mask, t);
  let n = 0, mean = 0, m2 = 0;
  for (let i = 0; i < t.size; i++) {
    if (mask && !mask[i]) continue;
    if (!Number.isFinite(t.data[i])) throw rangeError('t', 'finite weights (σ is undefined otherwise)', `${t.data[i]} at entry ${i}`);
    const d = t.data[i] - mean;
    mean += d / ++n;
    m2 += d * (t.data[i] - mean);
  }
  return n === 0 ? 0 : k * Math.sqrt(m2 / n);
}

export interface LayerShape {
  name: string;
  /** A Linear weight is [out, in]; a convolution's [out, in, ...kernel]. */
  shape: readonly number[];
}

/**
 * Per-layer sparsities that meet a global `sparsity` over all layers' parameters:
 * 'uniform' gives every layer the target; 'erk' gives layer l a density proportional to
 * (Σ dims)/(Π dims) (Erdős–Rényi-kernel, RigL), scaled to meet the target, with layers that would
 * need a density above 1 kept dense and the rest re-solved. `dense` names layers to keep dense.
 *
 * @example
 * // LeNet-300-100 at 90%: the 10×100 output layer stays dense, the big first layer gives most.
 * prune.layerBudgets([{ name: '0.weight', shape: [300, 784] }, { name: '2.weight', shape: [100, 300] },
 *                     { name: '4.weight', shape: [10, 100] }], { sparsity: 0.9, distribution: 'erk' })
 * // → Map { '0.weight' => 0.92, '2.weight' => 0.77, '4.weight' => 0 }
 */
export function layerBudgets(layers: LayerShape[], options: { sparsity: number; distribution: 'uniform' | 'erk'; dense?: string[] }): Map<string, number> {
  if (!Array.isArray(layers)) throw typeError('layers', 'an Array of { name, shape }', layers);
  const o = optionsObject(options);
  if (typeof o.sparsity !== 'number') throw typeError('sparsity', 'a number in [0, 1]', o.sparsity);
  if (!(o.sparsity >= 0 && o.sparsity <= 1)) throw rangeError('sparsity', 'a number in [0, 1]', o.sparsity);
  if (o.distribution !== 'uniform' && o.distribution !== 'erk') throw rangeError('distribution', "'uniform' or 'erk'", o.distribution);
  const size = layers.map((l, i) => {
    if (!l || typeof l.name !== 'string') throw typeError(`layers[${i}].name`, 'a string (the layer name the budget is returned under)', l?.name);
    if (!Array.isArray(l.shape) || l.shape.length === 0 || l.shape.some((d) => !Number.isInteger(d) || d < 1))
      throw rangeError(`layers[${i}].shape`, 'a non-empty array of positive integers', l?.shape);
    return l.shape.reduce((a, b) => a * b, 1);
  });
  const total = size.reduce((a, b) => a + b, 0);
  const dense = new Set<number>(layers.map((l, i) => (o.dense?.includes(l.name) ? i : -1)).filter((i) => i >= 0));
  const density = new Array<number>(layers.length).fill(1);
  const raw = layers.map((l, i) => (o.distribution === 'uniform' ? 1 : l.shape.reduce((a, b) => a + b, 0) / size[i]));
  // Solve ε·Σ raw_l·N_l = (1 − S)·N − Σ_dense N_l; move any layer whose ε·raw_l > 1 to the dense set.
  for (;;) {
    const budget = (1 - o.sparsity) * total - [...dense].reduce((a, i) => a + size[i], 0);
    const weighted = layers.reduce((a, _, i) => a + (dense.has(i) ? 0 : raw[i] * size[i]), 0);
    if (budget < 0) throw rangeError('sparsity', 'a target the layers not kept dense can meet', o.sparsity);
    const eps = weighted === 0 ? 0 : budget / weighted;
    let worst = -1;
    layers.forEach((_, i) => {
      if (!dense.has(i) && eps * raw[i] > 1 && (worst < 0 || raw[i] > raw[worst])) worst = i;
    });
    if (worst < 0) {
      layers.forEach((_, i) => (density[i] = dense.has(i) ? 1 : eps * raw[i]));
      break;
    }
    dense.add(worst);
  }
  return new Map(layers.map((l, i) => [l.name, Math.min(1, Math.max(0, 1 - density[i]))]));
}
