/**
 * Layer-level pruning over a whole state dict: `apply` runs a plan (rules matched by tensor name,
 * each with its method, amount, granularity and scope, applied in order so masks compose), and
 * `sensitivity` prunes each layer alone at each level and asks the caller's evaluator what it cost.
 */
import { optionsObject, rangeError, typeError } from '../errors.js';
import type { StateEntry } from '../io/safetensors.js';
import type { Amount } from './amount.js';
import { blockUnstructured, nm } from './granularity.js';
import { randomScores, seedOf } from './random.js';
import { lnStructured, randomStructured } from './structured.js';
import { globalUnstructured, l1Unstructured, randomUnstructured } from './unstructured.js';

export type StateDict = Map<string, StateEntry>;

export interface PlanRule {
  /** Tensors this rule prunes: a RegExp, or a string matched as a RegExp against the name. */
  match: RegExp | string;
  /** How much to prune (as in l1Unstructured); not used, and not accepted, with N:M granularity. */
  amount?: Amount;
  /** 'l1' (|w|), 'l2' (row norms by L2; same as l1 for elements), 'random'. Default 'l1'. */
  method?: 'l1' | 'l2' | 'random';
  /** 'element' (default), 'row' (output neurons, dim 0), 'column' (inputs, dim 1), {n, m}, or a block. */
  granularity?: 'element' | 'row' | 'column' | { n: number; m: number } | { blockRows: number; blockCols: number };
  /** 'layer' (default): the amount per tensor; 'global': one threshold over every matched tensor. */
  scope?: 'layer' | 'global';
  seed?: number;
}

/** A state dict, or what loadSafetensors returns (its `tensors`). */
function stateOf(state: StateDict | { tensors: StateDict }): StateDict {
  const s = state instanceof Map ? state : (state as { tensors?: unknown } | null)?.tensors;
  if (!(s instanceof Map)) throw typeError('state', 'a Map of name -> { tensor, mask? } (or loadSafetensors(path), whose tensors it is)', state);
  return s as StateDict;
}

function matcher(m: RegExp | string, i: number): RegExp {
  if (m instanceof RegExp) return m;
  if (typeof m === 'string') return new RegExp(m);
  throw typeError(`plan[${i}].match`, 'a RegExp or a string', m);
}

/**
 * Applies a pruning plan to a state dict and returns a new one with masks (the input is not
 * modified). Rules run in order; a tensor matched by several rules gets their composition.
 *
 * @example
 * const pruned = prune.apply(state, [
 *   { match: /^0\.weight$/, amount: 0.5 },                                  // gentle on the first layer
 *   { match: /weight$/, amount: 0.8, scope: 'global' },                      // then 80% over all
 *   { match: /^2\.weight$/, granularity: { n: 2, m: 4 } },                   // and 2:4 on one layer
 * ]);
 */
export function apply(stateDict: StateDict | { tensors: StateDict }, plan: PlanRule[]): StateDict {
  const state = stateOf(stateDict);
  if (!Array.isArray(plan)) throw typeError('plan', 'an Array of rules', plan);
  const out: StateDict = new Map([...state].map(([k, v]) => [k, { ...v }]));
  plan.forEach((raw, i) => {
    const rule = optionsObject(raw, `plan[${i}]`);
    const re = matcher(rule.match!, i);
    const names = [...out.keys()].filter((n) => re.test(n));
    if (names.length === 0) throw rangeError(`plan[${i}].match`, 'a pattern that matches at least one tensor', String(re));
    const method = rule.method ?? 'l1';
    if (!['l1', 'l2', 'random'].includes(method)) throw rangeError(`plan[${i}].method`, "'l1', 'l2' or 'random'", method);
    const g = rule.granularity ?? 'element';
    if ((rule.scope ?? 'layer') === 'global') {
      if (g !== 'element') throw rangeError(`plan[${i}].granularity`, "'element' with scope 'global'", g);
      const masks = globalUnstructured(names.map((n) => out.get(n)!.tensor), {
        amount: rule.amount!,
        method: method === 'random' ? 'random' : 'l1',
        masks: names.map((n) => out.get(n)!.mask),
        seed: rule.seed,
      });
      names.forEach((n, j) => (out.get(n)!.mask = masks[j]));
      return;
    }
    for (const n of names) {
      const e = out.get(n)!;
      const t = e.tensor, mask = e.mask, amount = rule.amount!;
      if (g === 'element') {
        e.mask = method === 'random' ? randomUnstructured(t, { amount, mask, seed: rule.seed }) : l1Unstructured(t, { amount, mask });
      } else if (g === 'row' || g === 'column') {
        const dim = g === 'row' ? 0 : 1;
        e.mask = method === 'random' ? randomStructured(t, { amount, dim, mask, seed: rule.seed }) : lnStructured(t, { amount, n: method === 'l2' ? 2 : 1, dim, mask });
      } else if (typeof g === 'object' && 'n' in g) {
        // N:M keeps n of every m: an amount would mean nothing, so none (or 0) is accepted.
        if (rule.amount !== undefined && rule.amount !== 0) throw rangeError(`plan[${i}].amount`, 'no amount with N:M granularity (it keeps n of every m)', rule.amount);
        // 'random': uniform scores, so each group keeps a random n of its m.
        e.mask = nm(t, { n: g.n, m: g.m, mask, importanceScores: method === 'random' ? randomScores(t.size, seedOf(rule.seed)) : undefined });
      } else if (typeof g === 'object' && 'blockRows' in g) {
        // 'random': the max of uniform scores ranks equal-sized blocks uniformly at random.
        const random = method === 'random';
        e.mask = blockUnstructured(t, { amount, blockRows: g.blockRows, blockCols: g.blockCols, pool: random ? 'max' : method === 'l2' ? 'l2' : 'l1', mask, importanceScores: random ? randomScores(t.size, seedOf(rule.seed)) : undefined });
      } else {
        throw rangeError(`plan[${i}].granularity`, "'element', 'row', 'column', { n, m } or { blockRows, blockCols }", g);
      }
    }
  });
  return out;
}

export interface SensitivityRow {
  layer: string;
  level: number;
  /** What `evaluate` returned with only this layer pruned to `level`. */
  metric: number;
  /** baseline − metric (for accuracy: the drop). */
  drop: number;
}

export interface SensitivityOptions {
  /** Fractions to try per layer (default 0.1 … 0.9). */
  levels?: number[];
  /** Layers to analyse (default: names ending in "weight" with two or more dimensions). */
  match?: RegExp | string;
  method?: 'l1' | 'l2';
  granularity?: 'element' | 'row';
  onProgress?: (done: number, total: number, row: SensitivityRow) => void;
  signal?: AbortSignal;
}

/**
 * Sensitivity analysis: prunes each layer alone at each level, awaits `evaluate(state)` (say, the
 * validation accuracy of the model built from that state) and returns the rows, with the baseline,
 * from which per-layer sparsities can be chosen.
 */
export async function sensitivity(
  stateDict: StateDict | { tensors: StateDict },
  evaluate: (state: StateDict) => number | Promise<number>,
  options?: SensitivityOptions,
): Promise<{ baseline: number; rows: SensitivityRow[] }> {
  const state = stateOf(stateDict);
  if (typeof evaluate !== 'function') throw typeError('evaluate', 'a function', evaluate);
  const o = optionsObject(options);
  const levels = o.levels ?? [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  if (!Array.isArray(levels) || levels.some((l) => typeof l !== 'number' || !(l >= 0 && l <= 1)))
    throw rangeError('levels', 'an Array of fractions in [0, 1]', levels);
  const re = o.match === undefined ? /(^|\.)weight$/ : matcher(o.match, 0);
  const layers = [...state].filter(([n, e]) => re.test(n) && e.tensor.shape.length >= 2).map(([n]) => n);
  const check = () => {
    if (o.signal?.aborted) throw o.signal.reason ?? new Error('sensitivity analysis aborted');
  };
  check();
  const baseline = await evaluate(state);
  const rows: SensitivityRow[] = [];
  const total = layers.length * levels.length;
  for (const layer of layers)
    for (const level of levels) {
      check();
      const pruned = apply(state, [{ match: new RegExp(`^${layer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), amount: { fraction: level }, method: o.method ?? 'l1', granularity: o.granularity ?? 'element' }]);
      const metric = await evaluate(pruned);
      const row = { layer, level, metric, drop: baseline - metric };
      rows.push(row);
      o.onProgress?.(rows.length, total, row);
    }
  return { baseline, rows };
}
