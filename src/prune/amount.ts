import { rangeError, typeError } from '../errors.js';

/**
 * How much to prune, with `torch.nn.utils.prune`'s rules: an integer is a count, a non-integer
 * number in [0, 1] a fraction; `{ count }` and `{ fraction }` say it explicitly (JavaScript cannot
 * tell `1` from `1.0`: write `{ fraction: 1 }` to prune everything).
 */
export type Amount = number | { count: number } | { fraction: number };

interface Parsed {
  count?: number;
  fraction?: number;
}

/** Checks an amount when a method is created (PyTorch's `_validate_pruning_amount_init`). */
export function parseAmount(amount: Amount, name = 'amount'): Parsed {
  if (typeof amount === 'object' && amount !== null) {
    if ('count' in amount) return { count: parseCount(amount.count, `${name}.count`) };
    if ('fraction' in amount) return { fraction: parseFraction(amount.fraction, `${name}.fraction`) };
    throw typeError(name, 'a number, { count } or { fraction }', amount);
  }
  if (typeof amount !== 'number') throw typeError(name, 'a number, { count } or { fraction }', amount);
  return Number.isInteger(amount) ? { count: parseCount(amount, name) } : { fraction: parseFraction(amount, name) };
}

function parseCount(v: unknown, name: string): number {
  if (typeof v !== 'number') throw typeError(name, 'a non-negative integer', v);
  if (!Number.isInteger(v) || v < 0) throw rangeError(name, 'a non-negative integer', v);
  return v;
}

function parseFraction(v: unknown, name: string): number {
  if (typeof v !== 'number') throw typeError(name, 'a number in [0, 1]', v);
  if (!(v >= 0 && v <= 1)) throw rangeError(name, 'a fraction in [0, 1] or a non-negative integer', v);
  return v;
}

/** Python's round(): halves go to the even neighbour (round(2.5) == 2). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Entries to prune among `size` (PyTorch's `_compute_nparams_toprune` + `_validate_pruning_amount`). */
export function entriesToPrune(amount: Amount, size: number, name = 'amount'): number {
  const p = parseAmount(amount, name);
  const k = p.count ?? roundHalfEven(p.fraction! * size);
  if (k > size) throw rangeError(name, `at most the ${size} entries that can be pruned`, k);
  return k;
}
