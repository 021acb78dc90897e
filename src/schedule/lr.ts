/**
 * Learning-rate schedules, evaluated per optimizer step (TypeScript plans them; the native epoch
 * receives the rate of each of its steps).
 */
import { optionsObject, rangeError, typeError } from '../errors.js';

export type LrSchedule =
  | { kind: 'constant' }
  /** Multiply by `gamma` every `stepSize` epochs (PyTorch's StepLR). */
  | { kind: 'step'; stepSize: number; gamma?: number }
  /** Cosine from the base rate to `minLr` over all epochs (CosineAnnealingLR). */
  | { kind: 'cosine'; minLr?: number };

export interface LrOptions {
  schedule?: LrSchedule;
  /** Linear warm-up from 0 over this many epochs (fractions allowed), then the schedule. */
  warmupEpochs?: number;
}

/** Checks a base learning rate: a finite number > 0. */
export function checkLr(lr: unknown, name = 'lr'): number {
  if (typeof lr !== 'number') throw typeError(name, 'a finite number > 0', lr);
  if (!(lr > 0) || !Number.isFinite(lr)) throw rangeError(name, 'a finite number > 0', lr);
  return lr;
}

/**
 * Checks a schedule's options up front (kind, stepSize, gamma, minLr, warmupEpochs), so a bad one
 * is rejected before any training; `name` prefixes the argument names in errors.
 */
export function checkLrOptions(options: LrOptions | undefined, name = 'options'): void {
  const o = optionsObject(options, name);
  const s = o.schedule ?? { kind: 'constant' };
  if (typeof s !== 'object' || s === null) throw typeError(`${name}.schedule`, 'a schedule object { kind, … }', s);
  const nonNegative = (v: unknown, field: string) => {
    if (v === undefined) return;
    if (typeof v !== 'number') throw typeError(`${name}.schedule.${field}`, 'a finite number >= 0', v);
    if (!(v >= 0) || !Number.isFinite(v)) throw rangeError(`${name}.schedule.${field}`, 'a finite number >= 0', v);
  };
  if (s.kind === 'step') {
    if (!(Number.isInteger(s.stepSize) && s.stepSize > 0)) throw rangeError(`${name}.schedule.stepSize`, 'a positive integer (epochs)', s.stepSize);
    nonNegative(s.gamma, 'gamma');
  } else if (s.kind === 'cosine') nonNegative(s.minLr, 'minLr');
  else if (s.kind !== 'constant') throw rangeError(`${name}.schedule.kind`, "'constant', 'step' or 'cosine'", (s as { kind: unknown }).kind);
  const warm = o.warmupEpochs;
  if (warm !== undefined && (typeof warm !== 'number' || !(warm >= 0) || !Number.isFinite(warm)))
    throw rangeError(`${name}.warmupEpochs`, 'a finite number >= 0', warm);
}

/**
 * The rate of optimizer step `step` (0-based, over the whole run) with `stepsPerEpoch` steps per
 * epoch and `epochs` epochs. Step-wise schedules change at epoch boundaries; cosine and warm-up
 * move every step (warm-up reaches the base rate at the end of its last step).
 */
export function learningRate(base: number, step: number, stepsPerEpoch: number, epochs: number, options?: LrOptions): number {
  checkLrOptions(options);
  return rateAt(base, step, stepsPerEpoch, epochs, optionsObject(options));
}

/** The rates of `count` consecutive steps from `first` (an epoch's, for the native job), checked once. */
export function learningRates(base: number, first: number, count: number, stepsPerEpoch: number, epochs: number, options?: LrOptions): Float32Array {
  checkLrOptions(options);
  const o = optionsObject(options);
  return Float32Array.from({ length: count }, (_, s) => rateAt(base, first + s, stepsPerEpoch, epochs, o));
}

function rateAt(base: number, step: number, stepsPerEpoch: number, epochs: number, o: LrOptions): number {
  const epoch = step / stepsPerEpoch;
  const s = o.schedule ?? { kind: 'constant' };
  let lr: number;
  if (s.kind === 'step') lr = base * (s.gamma ?? 0.1) ** Math.floor(epoch / s.stepSize);
  else if (s.kind === 'cosine') {
    const min = s.minLr ?? 0;
    lr = min + ((base - min) * (1 + Math.cos((Math.PI * Math.min(epoch, epochs)) / Math.max(epochs, 1e-12)))) / 2;
  } else lr = base;
  const warm = o.warmupEpochs ?? 0;
  const done = (step + 1) / stepsPerEpoch;
  return warm > 0 && done < warm ? (lr * done) / warm : lr;
}
