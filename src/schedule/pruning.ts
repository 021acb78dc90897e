/**
 * Pruning schedules: when to prune and to what sparsity, planned in TypeScript as a list of
 * (step, sparsity) events that the native epochs execute at those steps.
 */
import { rangeError, typeError } from '../errors.js';

export type PruningSchedule =
  /** Prune once, to `sparsity`, at the start of epoch `atEpoch` (default 0), then fine-tune. */
  | { kind: 'oneShot'; sparsity: number; atEpoch?: number }
  /**
   * Zhu & Gupta (2017): s_t = s_f + (s_i − s_f)·(1 − (t − t0)/(n·Δt))³ every Δt = `frequency`
   * steps (default 100) from the start of `startEpoch` to the start of `endEpoch`.
   */
  | { kind: 'gradual'; initialSparsity?: number; finalSparsity: number; startEpoch?: number; endEpoch: number; frequency?: number }
  /** Prune `rate` of what remains every `everyEpochs` epochs (from epoch 0), until `finalSparsity`. */
  | { kind: 'iterative'; rate: number; everyEpochs: number; finalSparsity: number }
  /**
   * Iterative magnitude pruning with rewinding (the lottery ticket): like iterative, and after each
   * pruning step the kept weights go back to their values before optimizer step `rewindStep`
   * (default 0: the initialisation; k > 0: "late rewinding" to step k) and the momentum is cleared.
   */
  | { kind: 'lotteryTicket'; rate: number; everyEpochs: number; finalSparsity: number; rewindStep?: number }
  /**
   * Accuracy-guarded: before each epoch after the first, prune `step` more (default 0.2) and
   * evaluate on the validation set. If accuracy fell more than `tolerance` (default 0.01) below the
   * dense model's, undo that step, halve the step and fine-tune; else keep it and grow the step by
   * half. (A negative tolerance demands a gain over the dense model.) Stops at `finalSparsity`, or at a step that leaves accuracy below `floor` (that step is undone).
   * Needs `validation` and at least two epochs.
   */
  | { kind: 'adaptive'; finalSparsity: number; step?: number; tolerance?: number; floor?: number }
  /**
   * Dynamic sparse training at constant sparsity: prune to `sparsity` by magnitude before the first
   * step, then every `updateEvery` steps (default 100) until the start of `endEpoch` (default: three
   * quarters of the run) drop the fraction f_t = fraction/2 · (1 + cos(π·t/T_end)) (default
   * fraction 0.3) of each layer's kept weights with the smallest |w| and regrow as many: RigL by the
   * largest dense gradient, SET at random. Regrown weights start at zero.
   */
  | { kind: 'rigl' | 'set'; sparsity: number; updateEvery?: number; fraction?: number; endEpoch?: number };

/** A drop-and-grow step of dynamic sparse training (RigL, SET). */
export interface RegrowEvent {
  /** Global step after which it happens. */
  step: number;
  /** Fraction of each layer's kept weights replaced. */
  fraction: number;
  random: boolean;
}

/** The drop-and-grow steps of a RigL / SET schedule. */
export function planRegrowth(schedule: PruningSchedule, epochs: number, stepsPerEpoch: number): RegrowEvent[] {
  if (schedule.kind !== 'rigl' && schedule.kind !== 'set') return [];
  const every = count(schedule.updateEvery ?? 100, 'pruning.schedule.updateEvery', 1);
  const alpha = schedule.fraction ?? 0.3;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha <= 1)) throw rangeError('pruning.schedule.fraction', 'a fraction in (0, 1]', alpha);
  const endEpoch = schedule.endEpoch ?? Math.max(1, Math.floor(epochs * 0.75));
  count(endEpoch, 'pruning.schedule.endEpoch', 1);
  const tEnd = Math.min(epochs, endEpoch) * stepsPerEpoch;
  const out: RegrowEvent[] = [];
  for (let t = every; t < tEnd; t += every) out.push({ step: t - 1, fraction: (alpha / 2) * (1 + Math.cos((Math.PI * t) / tEnd)), random: schedule.kind === 'set' });
  return out;
}

export interface PlannedEvent {
  /** Global optimizer step (0-based) before which pruning happens. */
  step: number;
  /** Target sparsity after it (fraction of the pruned weights). */
  sparsity: number;
  /** Rewind the kept weights afterwards (lottery ticket). */
  rewind?: boolean;
}

function fraction(v: unknown, name: string): number {
  if (typeof v !== 'number') throw typeError(name, 'a sparsity in [0, 1)', v);
  if (!(v >= 0 && v < 1)) throw rangeError(name, 'a sparsity in [0, 1)', v);
  return v;
}

function count(v: unknown, name: string, min = 0): number {
  if (typeof v !== 'number') throw typeError(name, `an integer >= ${min}`, v);
  if (!Number.isInteger(v) || v < min) throw rangeError(name, `an integer >= ${min}`, v);
  return v;
}

/** The gradual schedule's sparsity at step t (Zhu & Gupta 2017). */
export function gradualSparsity(t: number, s: { initialSparsity?: number; finalSparsity: number; t0: number; steps: number }): number {
  const si = s.initialSparsity ?? 0;
  if (t <= s.t0) return si;
  if (t >= s.t0 + s.steps) return s.finalSparsity;
  return s.finalSparsity + (si - s.finalSparsity) * (1 - (t - s.t0) / s.steps) ** 3;
}

/** Checks a schedule and lists its events for a run of `epochs` × `stepsPerEpoch` steps. */
export function planPruning(schedule: PruningSchedule, epochs: number, stepsPerEpoch: number): PlannedEvent[] {
  if (typeof schedule !== 'object' || schedule === null) throw typeError('pruning.schedule', 'a schedule object', schedule);
  const total = epochs * stepsPerEpoch;
  const events: PlannedEvent[] = [];
  switch (schedule.kind) {
    case 'oneShot': {
      const s = fraction(schedule.sparsity, 'pruning.schedule.sparsity');
      const at = count(schedule.atEpoch ?? 0, 'pruning.schedule.atEpoch');
      if (at >= epochs) throw rangeError('pruning.schedule.atEpoch', `an epoch below ${epochs}`, at);
      events.push({ step: at * stepsPerEpoch, sparsity: s });
      break;
    }
    case 'gradual': {
      const sf = fraction(schedule.finalSparsity, 'pruning.schedule.finalSparsity');
      const si = fraction(schedule.initialSparsity ?? 0, 'pruning.schedule.initialSparsity');
      const start = count(schedule.startEpoch ?? 0, 'pruning.schedule.startEpoch');
      const end = count(schedule.endEpoch, 'pruning.schedule.endEpoch', start + 1);
      if (end > epochs) throw rangeError('pruning.schedule.endEpoch', `at most the ${epochs} epochs`, end);
      const dt = count(schedule.frequency ?? 100, 'pruning.schedule.frequency', 1);
      const t0 = start * stepsPerEpoch, steps = (end - start) * stepsPerEpoch;
      for (let t = t0; t < t0 + steps; t += dt) events.push({ step: t, sparsity: gradualSparsity(t, { initialSparsity: si, finalSparsity: sf, t0, steps }) });
      // The final sparsity is reached at the end step (before the next step runs, or after the run).
      events.push({ step: t0 + steps, sparsity: sf });
      break;
    }
    case 'iterative':
    case 'lotteryTicket': {
      const rate = fraction(schedule.rate, 'pruning.schedule.rate');
      if (rate === 0) throw rangeError('pruning.schedule.rate', 'a rate in (0, 1)', rate);
      const every = count(schedule.everyEpochs, 'pruning.schedule.everyEpochs', 1);
      const sf = fraction(schedule.finalSparsity, 'pruning.schedule.finalSparsity');
      let kept = 1;
      for (let e = every; e < epochs && 1 - kept < sf; e += every) {
        kept = Math.max(1 - sf, kept * (1 - rate));
        events.push({ step: e * stepsPerEpoch, sparsity: 1 - kept, rewind: schedule.kind === 'lotteryTicket' });
      }
      // It prunes at the start of epochs every, 2·every, …: a shorter run would train dense.
      if (sf > 0 && events.length === 0)
        throw rangeError('epochs', `more than everyEpochs (${every}) epochs: the ${schedule.kind} schedule first prunes at the start of epoch ${every}`, epochs);
      break;
    }
    case 'adaptive': {
      const sf = fraction(schedule.finalSparsity, 'pruning.schedule.finalSparsity');
      if (sf > 0 && epochs < 2) throw rangeError('epochs', 'at least 2 epochs: the adaptive schedule prunes before each epoch after the first', epochs);
      const floor = schedule.floor;
      if (floor !== undefined && (typeof floor !== 'number' || !(floor >= 0 && floor <= 1))) throw rangeError('pruning.schedule.floor', 'an accuracy in [0, 1]', floor);
      const step = schedule.step ?? 0.2;
      if (typeof step !== 'number' || !(step > 0 && step < 1)) throw rangeError('pruning.schedule.step', 'a sparsity step in (0, 1)', step);
      const tol = schedule.tolerance ?? 0.01;
      if (typeof tol !== 'number' || !(tol > -1 && tol < 1)) throw rangeError('pruning.schedule.tolerance', 'an accuracy drop in (-1, 1) (negative: demand a gain)', tol);
      break; // decided epoch by epoch from validation accuracy (Trainer.fit)
    }
    case 'rigl':
    case 'set':
      events.push({ step: 0, sparsity: fraction(schedule.sparsity, 'pruning.schedule.sparsity') });
      planRegrowth(schedule, Math.max(epochs, 1), Math.max(stepsPerEpoch, 1)); // validates
      break;
    default:
      throw rangeError('pruning.schedule.kind', "'oneShot', 'gradual', 'iterative', 'lotteryTicket', 'adaptive', 'rigl' or 'set'", (schedule as { kind: unknown }).kind);
  }
  return events.filter((e) => e.step <= total);
}
