/**
 * The trainer: masked SGD epochs run natively (one async job per epoch on the addon's pool), with
 * learning-rate and pruning schedules planned here and executed inside the epochs, distillation
 * from a teacher, validation, progress and cancellation.
 */
import { busyError, optionsObject, rangeError, typeError } from '../errors.js';
import { native, withCallerStack, type NativeEpochResult, type NativePruneEvent } from '../native.js';
import { layerBudgets } from '../prune/thresholds.js';
import { checkLr, checkLrOptions, learningRates, type LrOptions } from '../schedule/lr.js';
import { planPruning, planRegrowth, type PlannedEvent, type PruningSchedule } from '../schedule/pruning.js';
import { resolveDevice, type Device } from '../tensor/device.js';
import { Sequential } from './model.js';

/** A dataset: `n` samples `x` `[n, features]` (sample-major) with integer labels `y`. */
export interface Dataset {
  x: Float32Array;
  y: Int32Array;
  n: number;
  features: number;
  classes: number;
}

export type Criterion = 'magnitude' | 'gradient' | 'taylor' | 'fisher' | 'movement';

export interface TrainerOptions {
  optimizer: { lr: number; momentum?: number; nesterov?: boolean; weightDecay?: number };
  lrSchedule?: LrOptions;
  pruning?: {
    schedule: PruningSchedule;
    /** What ranks the weights: |w| (default) or a statistic accumulated during training. */
    criterion?: Criterion;
    /** One threshold over all layers ('global', default) or the same sparsity in each ('layer'). */
    scope?: 'global' | 'layer';
    /** Per-layer sparsities from the target with 'layer' scope: uniform (default) or ERK. */
    budget?: 'uniform' | 'erk';
    /** Fine-tune only the layers being pruned (default: all layers train). */
    onlyPruned?: boolean;
    /** Indices (into the linear layers) left dense; default none. */
    dense?: number[];
  };
  distillation?: { teacher: Sequential; alpha?: number; temperature?: number };
  seed?: number;
  /**
   * Where the epochs run: 'cpu' (default), 'cuda' (weights, masks and momentum stay on the GPU for
   * each epoch; the CUDA build and a usable GPU) or 'auto' (the GPU when one is usable). The GPU
   * epoch runs everything the CPU epoch does (criteria,
   * dropout, distillation, RigL/SET, activation statistics); evaluation and prediction run on the
   * CPU.
   */
  device?: Device;
}

export interface EpochLog {
  /** 0-based (the CLI prints it 1-based). */
  epoch: number;
  loss: number;
  trainAccuracy: number;
  seconds: number;
  samplesPerSecond: number;
  validation?: { accuracy: number; loss: number };
  /** Per linear layer, after the epoch. */
  sparsity: number[];
  kernels: ('dense' | 'csr')[];
  /**
   * The pruning steps of this epoch: global step, target and the sparsity reached per layer; for
   * the adaptive schedule also the validation accuracy after it and whether it was kept.
   */
  pruned: { step: number; target: number; sparsity: number[]; accuracy?: number; accepted?: boolean }[];
  lr: number;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  validation?: Dataset;
  signal?: AbortSignal;
  onEpoch?: (log: EpochLog) => void;
  /** Shuffle the samples every epoch (default true; seeded by the trainer's seed and the epoch). */
  shuffle?: boolean;
  /** Collect each layer's output statistics (mean |a|, APoZ) into `Linear.activations`. */
  activationStats?: boolean;
  /** Inside an epoch, at most every ~100 ms: steps done, running loss, samples/s. */
  onProgress?: (p: { epoch: number; step: number; steps: number; loss: number; samplesPerSecond: number }) => void;
}

export interface FitResult {
  epochs: EpochLog[];
  aborted: boolean;
}

/** Accuracy and mean cross-entropy of `logits` `[n, classes]` against `y`. */
export function scoreLogits(logits: Float32Array, y: Int32Array, classes: number): { accuracy: number; loss: number } {
  const n = y.length;
  let correct = 0, loss = 0;
  for (let j = 0; j < n; j++) {
    let max = -Infinity, arg = 0;
    for (let c = 0; c < classes; c++) if (logits[j * classes + c] > max) (max = logits[j * classes + c]), (arg = c);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[j * classes + c] - max);
    loss += max + Math.log(sum) - logits[j * classes + y[j]];
    if (arg === y[j]) correct++;
  }
  return { accuracy: n ? correct / n : 0, loss: n ? loss / n : 0 };
}

/** Checks a dataset against a model: shapes, labels in range, finite inputs. */
export function checkDataset(d: Dataset, model: Sequential, name: string): void {
  if (typeof d !== 'object' || d === null) throw typeError(name, 'a dataset { x, y, n, features, classes }', d);
  if (!(d.x instanceof Float32Array)) throw typeError(`${name}.x`, 'Float32Array', d.x);
  if (!(d.y instanceof Int32Array)) throw typeError(`${name}.y`, 'Int32Array', d.y);
  if (d.features !== model.inFeatures) throw rangeError(`${name}.features`, `${model.inFeatures} (the model's inputs)`, d.features);
  if (d.y.length !== d.n || d.x.length !== d.n * d.features) throw rangeError(name, `x of n × features and y of n values (n = ${d.n})`, `x ${d.x.length}, y ${d.y.length}`);
  const classes = model.outFeatures;
  for (let i = 0; i < d.n; i++)
    if (!(d.y[i] >= 0 && d.y[i] < classes)) throw rangeError(`${name}.y`, `labels in [0, ${classes})`, `y[${i}] = ${d.y[i]}`);
  for (let i = 0; i < d.x.length; i++)
    if (!Number.isFinite(d.x[i])) throw rangeError(`${name}.x`, 'finite inputs', `x[${i}] = ${d.x[i]} (sample ${Math.floor(i / d.features)})`);
}

/** The lottery ticket's rewind point: every linear layer's weights and bias (null without one). */
interface Snapshot {
  weights: Float32Array[];
  biases: (Float32Array | null)[];
}

function layerSparsity(model: Sequential): number[] {
  return model.linears().map((l) => {
    let kept = 0;
    for (let i = 0; i < l.mask.length; i++) kept += l.mask[i];
    return 1 - kept / l.mask.length;
  });
}

/**
 * @example
 * const trainer = new Trainer(model, {
 *   optimizer: { lr: 0.05, momentum: 0.9 },
 *   pruning: { schedule: { kind: 'gradual', finalSparsity: 0.9, endEpoch: 6 } },
 * });
 * await trainer.fit(train, { epochs: 10, batchSize: 128, validation: test });
 */
export class Trainer {
  readonly model: Sequential;
  readonly options: TrainerOptions;
  private step = 0;

  constructor(model: Sequential, options: TrainerOptions) {
    if (!(model instanceof Sequential)) throw typeError('model', 'a Sequential', model);
    const o = optionsObject(options);
    if (typeof o.optimizer !== 'object' || o.optimizer === null) throw typeError('optimizer', 'an object { lr, momentum?, … }', o.optimizer);
    checkLr(o.optimizer.lr, 'optimizer.lr');
    const m = o.optimizer.momentum ?? 0, wd = o.optimizer.weightDecay ?? 0;
    if (typeof m !== 'number' || !(m >= 0 && m < 1)) throw rangeError('optimizer.momentum', 'a number in [0, 1)', m);
    if (typeof wd !== 'number' || !(wd >= 0) || !Number.isFinite(wd)) throw rangeError('optimizer.weightDecay', 'a finite number >= 0', wd);
    if (o.optimizer.nesterov !== undefined && typeof o.optimizer.nesterov !== 'boolean') throw typeError('optimizer.nesterov', 'a boolean', o.optimizer.nesterov);
    if (o.optimizer.nesterov && m === 0) throw rangeError('optimizer.nesterov', 'momentum > 0 with Nesterov', m);
    if (o.lrSchedule !== undefined) checkLrOptions(o.lrSchedule, 'lrSchedule');
    const p = o.pruning;
    if (p) {
      if (typeof p !== 'object') throw typeError('pruning', 'an object { schedule, criterion?, … }', p);
      if (p.criterion !== undefined && !['magnitude', 'gradient', 'taylor', 'fisher', 'movement'].includes(p.criterion))
        throw rangeError('pruning.criterion', "'magnitude', 'gradient', 'taylor', 'fisher' or 'movement'", p.criterion);
      if (p.scope !== undefined && p.scope !== 'global' && p.scope !== 'layer') throw rangeError('pruning.scope', "'global' or 'layer'", p.scope);
      if (p.budget !== undefined && p.budget !== 'uniform' && p.budget !== 'erk') throw rangeError('pruning.budget', "'uniform' or 'erk'", p.budget);
      planPruning(p.schedule, 1e6, 1); // validates the schedule's own fields
      const layers = model.linears().length;
      if (p.dense !== undefined && (!Array.isArray(p.dense) || !p.dense.every((i) => Number.isInteger(i) && i >= 0 && i < layers)))
        throw rangeError('pruning.dense', `an array of linear-layer indices in [0, ${layers})`, p.dense);
      if (p.schedule.kind === 'lotteryTicket') {
        const r = p.schedule.rewindStep ?? 0;
        if (typeof r !== 'number' || !Number.isInteger(r) || r < 0) throw rangeError('pruning.schedule.rewindStep', 'an optimizer step >= 0', r);
      }
    }
    if (o.distillation) {
      const d = o.distillation;
      const t = d.teacher;
      if (!(t instanceof Sequential)) throw typeError('distillation.teacher', 'a Sequential', t);
      if (t.inFeatures !== model.inFeatures || t.outFeatures !== model.outFeatures)
        throw rangeError('distillation.teacher', `a model with ${model.inFeatures} inputs and ${model.outFeatures} outputs`, `${t.inFeatures} → ${t.outFeatures}`);
      if (d.alpha !== undefined && (typeof d.alpha !== 'number' || !(d.alpha >= 0 && d.alpha <= 1))) throw rangeError('distillation.alpha', 'a weight in [0, 1]', d.alpha);
      if (d.temperature !== undefined && (typeof d.temperature !== 'number' || !(d.temperature > 0) || !Number.isFinite(d.temperature)))
        throw rangeError('distillation.temperature', 'a finite number > 0', d.temperature);
    }
    if (o.device !== undefined && !['cpu', 'cuda', 'auto'].includes(o.device as string)) throw rangeError('device', "'cpu', 'cuda' or 'auto'", o.device);
    this.model = model;
    this.options = o as TrainerOptions;
  }

  /** Per-layer targets of a planned event (scope and budget applied), as the native event. */
  private nativeEvent(e: PlannedEvent, stepInEpoch: number): NativePruneEvent {
    const p = this.options.pruning!;
    const layers = this.model.linears();
    const dense = new Set(p.dense ?? []);
    if ((p.scope ?? 'global') === 'global') {
      // One threshold over the layers not kept dense (marked -1).
      return { step: stepInEpoch, global: true, target: Float64Array.from(layers, (_, i) => (dense.has(i) ? -1 : e.sparsity)) };
    }
    let targets: number[];
    if ((p.budget ?? 'uniform') === 'erk') {
      const shapes = layers.map((l, i) => ({ name: String(i), shape: [l.outFeatures, l.inFeatures] }));
      const b = layerBudgets(shapes, { sparsity: e.sparsity, distribution: 'erk', dense: [...dense].map(String) });
      targets = layers.map((_, i) => b.get(String(i)) ?? 0);
    } else targets = layers.map(() => e.sparsity);
    return { step: stepInEpoch, global: false, target: Float64Array.from(targets, (t, i) => (dense.has(i) ? -1 : t)) };
  }

  /** Trains for `epochs`, pruning as planned; resolves with the per-epoch logs. */
  async fit(train: Dataset, options: FitOptions): Promise<FitResult> {
    if (this.model.fitting) throw busyError('Expected one fit() at a time on this model but one is still running; await it first');
    return withCallerStack(async () => {
      const o = optionsObject(options);
      const model = this.model;
      checkDataset(train, model, 'train');
      if (o.validation) checkDataset(o.validation, model, 'validation');
      if (typeof o.epochs !== 'number' || !Number.isInteger(o.epochs) || o.epochs < 1) throw rangeError('epochs', 'a positive integer', o.epochs);
      if (typeof o.batchSize !== 'number' || !Number.isInteger(o.batchSize) || o.batchSize < 1) throw rangeError('batchSize', 'a positive integer', o.batchSize);
      if (train.n === 0) throw rangeError('train', 'at least one sample', 0);
      const device = resolveDevice(this.options.device); // every configuration runs on either
      const epochs = o.epochs;
      const batch = Math.min(o.batchSize, train.n);
      const stepsPerEpoch = Math.ceil(train.n / batch);
      const opt = this.options.optimizer;
      const pruning = this.options.pruning;
      // Pruning to sparsity 0 changes nothing: those events (a gradual schedule's first step) are
      // dropped rather than logged as pruning steps; rewinding events are kept.
      const planned = pruning ? planPruning(pruning.schedule, epochs, stepsPerEpoch).filter((e) => e.sparsity > 0 || e.rewind) : [];
      const regrowth = pruning ? planRegrowth(pruning.schedule, epochs, stepsPerEpoch) : [];
      const criterion = pruning?.criterion ?? 'magnitude';
      if (criterion !== 'magnitude') for (const l of model.linears()) l.score ??= new Float32Array(l.weight.length);
      const seed = this.options.seed ?? 0;
      const pruneTargets = new Set<number>();
      if (pruning) model.linears().forEach((_, i) => (pruning.dense ?? []).includes(i) || pruneTargets.add(i));

      const rewind = pruning?.schedule.kind === 'lotteryTicket' ? (pruning.schedule.rewindStep ?? 0) : undefined;
      // Rewinding to a step after the first pruning step would rewind to weights trained on a mask
      // that no longer exists (and that first step would have nothing to rewind to).
      if (rewind !== undefined && planned.length > 0 && rewind > planned[0].step)
        throw rangeError('pruning.schedule.rewindStep', `a step at or before the first pruning step (${planned[0].step}, with ${stepsPerEpoch} steps per epoch)`, rewind);
      const adaptive = pruning?.schedule.kind === 'adaptive' ? { ...pruning.schedule, current: 0, step: pruning.schedule.step ?? 0.2, reference: -1, stopped: false } : undefined;
      if (adaptive && !o.validation) throw rangeError('validation', 'a validation set for the adaptive schedule', 'none');
      const teacher = this.options.distillation?.teacher.nativeLayers();
      const fitStart = this.step;
      model.fitting = this;
      model.invalidate(); // weights change from here on
      const abort = new Int32Array(1);
      const onAbort = () => (abort[0] = 1);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      if (o.signal?.aborted) abort[0] = 1;
      let snapshot: Snapshot | undefined;
      const stats = o.activationStats ? model.linears().map((l) => ({ abs: new Float64Array(l.outFeatures), zero: new Float64Array(l.outFeatures) })) : undefined;
      let statSamples = 0;
      const logs: EpochLog[] = [];
      let aborted = false;
      try {
        for (let epoch = 0; epoch < epochs && !aborted; epoch++) {
          // An abort between epochs (from onEpoch, say) stops before anything else changes the model.
          if (abort[0]) {
            aborted = true;
            break;
          }
          const first = epoch * stepsPerEpoch;
          // The rewind point: at an epoch start here, inside an epoch by the native job.
          let nativeSnapshot: { step: number; weights: Float32Array[]; biases: (Float32Array | null)[] } | undefined;
          if (rewind === first) snapshot = { weights: model.linears().map((l) => l.weight.slice()), biases: model.linears().map((l) => l.bias?.slice() ?? null) };
          else if (rewind !== undefined && rewind > first && rewind < first + stepsPerEpoch) {
            const ls = model.linears();
            nativeSnapshot = { step: rewind - first, weights: ls.map((l) => new Float32Array(l.weight.length)), biases: ls.map((l) => (l.bias ? new Float32Array(l.bias.length) : null)) };
          }
          // Events at epoch boundaries with rewinding run here; the rest inside the native epoch.
          const inEpoch = planned.filter((e) => e.step >= first && e.step < first + stepsPerEpoch);
          const pruned: EpochLog['pruned'] = [];
          const between = inEpoch.filter((e) => e.rewind);
          for (const e of between) {
            model.invalidate();
            native.pruneLayers(model.nativeLayers(true), this.nativeEvent(e, 0), criterion);
            if (snapshot) this.rewindTo(snapshot);
            pruned.push({ step: e.step, target: e.sparsity, sparsity: layerSparsity(model) });
          }
          if (adaptive && epoch > 0 && !adaptive.stopped && adaptive.current < adaptive.finalSparsity) pruned.push(await this.adaptiveStep(adaptive, first, o.validation!));
          const events = inEpoch.filter((e) => !e.rewind).map((e) => this.nativeEvent(e, e.step - first));
          const lr = learningRates(opt.lr, first, stepsPerEpoch, stepsPerEpoch, epochs, this.options.lrSchedule);
          // Only-pruned fine-tuning freezes the layers no schedule touches.
          // 'auto' execution: the advisor's choice per layer for this epoch's batch size.
          const plan = model.sparseExecution === 'auto' ? model.executionPlan(batch, device) : undefined;
          const layers = model.nativeLayers(true).map((l, i) => ({
            ...l,
            execution: plan ? (plan[i] ? 1 : 0) : -1,
            frozen: pruning?.onlyPruned ? !pruneTargets.has(i) : false,
            actAbs: stats?.[i].abs,
            actZero: stats?.[i].zero,
          }));
          const started = performance.now();
          const progress = o.onProgress ? (p: { step: number; steps: number; loss: number; samplesPerSecond: number }) => o.onProgress!({ epoch, ...p }) : undefined;
          model.epochsInFlight++;
          let r: NativeEpochResult;
          try {
            r = await native.trainEpochAsync(
              layers,
              train.x,
              train.y,
              {
                batchSize: batch,
                lr,
                momentum: opt.momentum ?? 0,
                weightDecay: opt.weightDecay ?? 0,
                nesterov: opt.nesterov ?? false,
                seed: (seed * 1000003 + epoch) >>> 0,
                shuffle: o.shuffle ?? true,
                criterion,
                sparseBelow: model.sparseBelow,
                events,
                regrow: regrowth.filter((e) => e.step >= first && e.step < first + stepsPerEpoch).map((e) => ({ ...e, step: e.step - first })),
                teacher,
                alpha: this.options.distillation?.alpha,
                temperature: this.options.distillation?.temperature,
                abort,
                snapshot: nativeSnapshot,
                validationX: o.validation?.x,
                validationY: o.validation?.y,
                device,
              },
              progress,
            );
          } finally {
            model.epochsInFlight--;
          }
          const seconds = (performance.now() - started) / 1000;
          model.invalidate();
          this.step = fitStart + first + r.steps;
          if (stats) {
            statSamples += r.seen;
            model.linears().forEach((l, i) => {
              const n = Math.max(statSamples, 1);
              l.activations = { meanAbs: Float32Array.from(stats[i].abs, (v) => v / n), apoz: Float32Array.from(stats[i].zero, (v) => v / n), samples: statSamples };
            });
          }
          if (nativeSnapshot && r.steps > nativeSnapshot.step) snapshot = { weights: nativeSnapshot.weights, biases: nativeSnapshot.biases };
          // The native job reports each pruning event it ran, in order: sparsity right after it and
          // the validation accuracy then.
          const ran = inEpoch.filter((e) => !e.rewind);
          r.events.forEach((e, i) => pruned.push({ step: first + e.step, target: ran[i]?.sparsity ?? Number.NaN, sparsity: e.sparsity, accuracy: e.accuracy }));
          aborted = r.aborted;
          const log: EpochLog = {
            epoch,
            loss: r.loss,
            trainAccuracy: r.seen ? r.correct / r.seen : 0,
            seconds,
            samplesPerSecond: r.seen / Math.max(seconds, 1e-9),
            sparsity: layerSparsity(model),
            kernels: r.sparse.map((s) => (s ? 'csr' : 'dense')),
            pruned,
            lr: lr[0],
          };
          if (o.validation && !aborted) log.validation = await this.evaluate(o.validation);
          if (adaptive && epoch === 0 && log.validation) adaptive.reference = log.validation.accuracy;
          logs.push(log);
          o.onEpoch?.(log);
        }
        // Events planned for the very end (the gradual schedule's final step) prune after the last
        // epoch, unless the run was aborted after its last step.
        if (abort[0]) aborted = true;
        if (!aborted)
          for (const e of planned.filter((e) => e.step >= epochs * stepsPerEpoch)) native.pruneLayers(model.nativeLayers(true), this.nativeEvent(e, 0), criterion);
        model.invalidate();
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
        model.fitting = undefined;
      }
      return { epochs: logs, aborted };
    });
  }

  /**
   * One step of the adaptive schedule: prune `step` more, evaluate, keep or undo (see the schedule's
   * documentation). Returns the log entry.
   */
  private async adaptiveStep(
    a: { finalSparsity: number; step: number; tolerance?: number; floor?: number; current: number; reference: number; stopped: boolean },
    step: number,
    validation: Dataset,
  ): Promise<EpochLog['pruned'][number]> {
    const layers = this.model.linears();
    const saved = layers.map((l) => ({ w: l.weight.slice(), m: l.mask.slice(), v: l.velocity?.weight.slice() }));
    const target = Math.min(a.finalSparsity, a.current + a.step);
    this.model.invalidate();
    native.pruneLayers(this.model.nativeLayers(true), this.nativeEvent({ step, sparsity: target }, 0), this.options.pruning?.criterion ?? 'magnitude');
    const { accuracy } = await this.evaluate(validation);
    const sparsity = layerSparsity(this.model);
    // A step that leaves accuracy under the floor is undone like one over the tolerance, and ends
    // the schedule (the model never stays below the floor because of pruning).
    const underFloor = a.floor !== undefined && accuracy < a.floor;
    const accepted = !underFloor && a.reference - accuracy <= (a.tolerance ?? 0.01);
    this.model.invalidate();
    if (accepted) {
      a.current = target;
      a.step *= 1.5;
    } else {
      layers.forEach((l, i) => {
        l.weight.set(saved[i].w);
        l.mask.set(saved[i].m);
        if (saved[i].v) l.velocity!.weight.set(saved[i].v!);
      });
      a.step = Math.max(a.step / 2, 0.005);
    }
    if (underFloor) a.stopped = true;
    return { step, target, sparsity, accuracy, accepted };
  }

  /** Kept weights and biases back to the snapshot, pruned ones zero, momentum cleared (lottery ticket). */
  private rewindTo(snapshot: Snapshot): void {
    this.model.invalidate();
    this.model.linears().forEach((l, i) => {
      const w = snapshot.weights[i], b = snapshot.biases[i];
      for (let j = 0; j < l.weight.length; j++) l.weight[j] = l.mask[j] ? w[j] : 0;
      if (l.bias && b) l.bias.set(b);
      l.velocity?.weight.fill(0);
      l.velocity?.bias?.fill(0);
    });
  }

  /** Accuracy and mean cross-entropy on a dataset (batched native inference). */
  async evaluate(data: Dataset): Promise<{ accuracy: number; loss: number }> {
    checkDataset(data, this.model, 'data');
    const logits = await this.model.predictAsync(data.x, data.n);
    return scoreLogits(logits, data.y, this.model.outFeatures);
  }

  /** Optimizer steps taken so far, over every fit of this trainer. */
  get steps(): number {
    return this.step;
  }
}
