/**
 * `shears train`: trains (and prunes) an MLP on MNIST, Fashion-MNIST or IDX files in a folder, with
 * a progress line and a closing table; `npm start` runs the embedded-MNIST demo through it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { datasets, Linear, ReLU, Sequential, Trainer, type Dataset, type EpochLog, type PruningSchedule } from '../index.js';
import type { Criterion } from '../train/trainer.js';
import type { Device } from '../tensor/device.js';

export interface TrainCliOptions {
  data: string;
  arch: string;
  epochs: string;
  batchSize: string;
  lr: string;
  momentum: string;
  weightDecay: string;
  sparsity: string;
  schedule: 'gradual' | 'one-shot' | 'iterative' | 'lottery' | 'adaptive' | 'rigl' | 'set' | 'none';
  criterion: Criterion;
  scope: 'global' | 'layer';
  seed: string;
  /** 'density' (by the kept fraction) or 'auto' (the format advisor times dense and CSR per layer). */
  sparseExecution?: string;
  /** Where the epochs run: cpu (default), cuda or auto (see TrainerOptions.device). */
  device?: string;
  out?: string;
  json?: boolean;
}

function num(text: string, name: string, check: (v: number) => boolean, expected: string): number {
  // Decimal notation only ('0x10' and '1e400' are numbers to Number(), not to a user).
  const v = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(text) ? Number(text) : Number.NaN;
  if (text.trim() === '' || !check(v)) throw new RangeError(`Expected ${expected} for ${name} but received '${text}'`);
  return v;
}

export function loadData(spec: string): { train: Dataset; test: Dataset; name: string } {
  if (spec === 'mnist') return { ...datasets.mnist(), name: 'embedded MNIST (npm mnist: 8,000 train / 2,000 test)' };
  if (spec === 'fashion-mnist') return { ...datasets.fashionMnist(), name: `Fashion-MNIST (${datasets.FASHION_MNIST_DIR})` };
  if (existsSync(spec)) return { ...datasets.fashionMnist(spec), name: `IDX files in ${path.resolve(spec)}` };
  throw new RangeError(`Expected mnist, fashion-mnist or a folder of IDX files for --data but received '${spec}'`);
}

function schedule(o: TrainCliOptions, sparsity: number, epochs: number): PruningSchedule | undefined {
  if (o.schedule === 'none' || sparsity === 0) return undefined;
  const prune = Math.max(1, Math.round(epochs * 0.6));
  switch (o.schedule) {
    case 'gradual':
      return { kind: 'gradual', finalSparsity: sparsity, endEpoch: Math.min(epochs, prune + 1) };
    case 'one-shot':
      return { kind: 'oneShot', sparsity, atEpoch: Math.min(epochs - 1, Math.floor(epochs / 3)) };
    case 'iterative':
    case 'lottery': {
      const rounds = Math.max(1, epochs - 1);
      const rate = 1 - (1 - sparsity) ** (1 / rounds);
      return { kind: o.schedule === 'lottery' ? 'lotteryTicket' : 'iterative', rate, everyEpochs: 1, finalSparsity: sparsity };
    }
    case 'adaptive':
      return { kind: 'adaptive', finalSparsity: sparsity, step: 0.2, tolerance: 0.01 };
    case 'rigl':
    case 'set':
      return { kind: o.schedule, sparsity };
    default:
      throw new RangeError(`Expected gradual, one-shot, iterative, lottery, adaptive, rigl, set or none for --schedule but received '${o.schedule}'`);
  }
}

/** Median time of batched inference over the test set, in ms. */
function inferenceMs(model: Sequential, test: Dataset): number {
  const t: number[] = [];
  model.predict(test.x, test.n);
  for (let i = 0; i < 5; i++) {
    const a = performance.now();
    model.predict(test.x, test.n);
    t.push(performance.now() - a);
  }
  return t.sort((a, b) => a - b)[2];
}

export async function runTrain(o: TrainCliOptions, stream: NodeJS.WriteStream = process.stderr): Promise<Record<string, unknown>> {
  // Each layer's weights must fit one typed array (2^31 - 1 floats).
  const sizes = o.arch.split('-').map((s) => num(s, '--arch', (v) => Number.isInteger(v) && v > 0 && v <= 2 ** 24, 'layer sizes like 784-300-100-10 (each at most 2^24)'));
  for (let i = 1; i < sizes.length; i++)
    if (sizes[i - 1] * sizes[i] > 2 ** 31 - 1) throw new RangeError(`Expected layers of at most 2^31 - 1 weights for --arch but ${sizes[i - 1]}-${sizes[i]} has ${sizes[i - 1] * sizes[i]}`);
  if (sizes.length < 2) throw new RangeError(`Expected at least two layer sizes for --arch but received '${o.arch}'`);
  const epochs = num(o.epochs, '--epochs', (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const batchSize = num(o.batchSize, '--batch-size', (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const lr = num(o.lr, '--lr', (v) => v > 0 && Number.isFinite(v), 'a learning rate > 0');
  const momentum = num(o.momentum, '--momentum', (v) => v >= 0 && v < 1, 'a momentum in [0, 1)');
  const weightDecay = num(o.weightDecay, '--weight-decay', (v) => v >= 0 && Number.isFinite(v), 'a weight decay >= 0');
  const sparsity = num(o.sparsity, '--sparsity', (v) => v >= 0 && v < 1, 'a sparsity in [0, 1)');
  const seed = num(o.seed, '--seed', (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32, 'an integer in [0, 2^32)');
  const { train, test, name } = loadData(o.data);
  if (sizes[0] !== train.features) throw new RangeError(`--arch starts with ${sizes[0]} inputs but ${name} has ${train.features} features`);
  if (sizes[sizes.length - 1] < train.classes) throw new RangeError(`--arch ends with ${sizes[sizes.length - 1]} outputs but ${name} has ${train.classes} classes`);
  const modules = sizes.slice(1).flatMap((out, i) => (i + 2 < sizes.length ? [new Linear(sizes[i], out), new ReLU()] : [new Linear(sizes[i], out)]));
  const sparseExecution = o.sparseExecution ?? 'density';
  if (sparseExecution !== 'density' && sparseExecution !== 'auto')
    throw new RangeError(`Expected density or auto for --sparse-execution but received '${sparseExecution}'`);
  const model = new Sequential(modules, { seed, sparseExecution });
  const sched = schedule(o, sparsity, epochs);
  const trainer = new Trainer(model, {
    optimizer: { lr, momentum, weightDecay },
    pruning: sched ? { schedule: sched, criterion: o.criterion, scope: o.scope } : undefined,
    seed,
    device: (o.device ?? 'cpu') as Device,
  });
  const tty = stream.isTTY && !o.json;
  const say = (line: string) => !o.json && stream.write(`${line}\n`);
  say(`shears train: ${o.arch} on ${name}, ${epochs} epochs, batch ${batchSize}, lr ${lr}, momentum ${momentum}` + (sched ? `, ${o.schedule} to ${(sparsity * 100).toFixed(0)}% (${o.criterion}, ${o.scope})` : ''));
  const layerSparsity = () => {
    const ls = model.linears();
    const total = ls.reduce((s, l) => s + l.mask.length, 0);
    return 1 - ls.reduce((s, l) => s + l.mask.reduce((a, b) => a + b, 0), 0) / total;
  };
  const logs: EpochLog[] = [];
  const started = performance.now();
  await trainer.fit(train, {
    epochs,
    batchSize,
    validation: test,
    onProgress: (p) => {
      if (!tty) return;
      const width = 24, done = Math.round((p.step / p.steps) * width);
      stream.write(`\r  epoch ${p.epoch + 1}/${epochs} [${'█'.repeat(done)}${' '.repeat(width - done)}] ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ${Math.round(p.samplesPerSecond)} samples/s  sparsity ${(layerSparsity() * 100).toFixed(1)}%   `);
    },
    onEpoch: (l) => {
      logs.push(l);
      if (tty) stream.write('\r\x1b[K');
      say(`  epoch ${l.epoch + 1}/${epochs}  loss ${l.loss.toFixed(4)}  train ${(l.trainAccuracy * 100).toFixed(2)}%  test ${((l.validation?.accuracy ?? 0) * 100).toFixed(2)}%  ${l.seconds.toFixed(2)} s  ${Math.round(l.samplesPerSecond)} samples/s  sparsity ${(layerSparsity() * 100).toFixed(1)}%`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const final = await trainer.evaluate(test);
  const sparseMs = inferenceMs(model, test);
  const saved = model.sparseBelow;
  const savedExecution = model.sparseExecution;
  model.sparseExecution = 'density';
  model.sparseBelow = -1; // every layer dense, for the comparison
  model.invalidate();
  const denseMs = inferenceMs(model, test);
  model.sparseBelow = saved;
  model.sparseExecution = savedExecution;
  model.invalidate();
  const rows = model.summary();
  if (o.out) model.save(o.out);
  const result = {
    accuracy: final.accuracy,
    loss: final.loss,
    sparsity: layerSparsity(),
    epochSeconds: logs.map((l) => l.seconds),
    seconds,
    inference: { samples: test.n, sparseMs, denseMs, speedup: denseMs / sparseMs },
    layers: rows.map((r) => ({ name: r.name, shape: r.shape, params: r.params, kept: r.kept, sparsity: r.sparsity, kernel: r.kernel })),
    out: o.out ?? null,
  };
  if (!o.json) {
    const lines = [
      ['layer', 'shape', 'params', 'kept', 'sparsity', 'kernel'],
      ...rows.map((r) => [r.name, `${r.shape[0]}×${r.shape[1]}`, String(r.params), String(r.kept), `${(r.sparsity * 100).toFixed(2)}%`, r.kernel]),
    ];
    const w = lines[0].map((_, c) => Math.max(...lines.map((l) => l[c].length)));
    console.log('');
    for (const l of lines) console.log(l.map((cell, c) => (c === 0 || c === 5 ? cell.padEnd(w[c]) : cell.padStart(w[c]))).join('  '));
    console.log(`\ntest accuracy ${(final.accuracy * 100).toFixed(2)}%  loss ${final.loss.toFixed(4)}  overall sparsity ${(result.sparsity * 100).toFixed(1)}%  training ${seconds.toFixed(1)} s`);
    console.log(`inference over ${test.n} test samples: ${sparseMs.toFixed(2)} ms as pruned (${rows.map((r) => r.kernel).join('/')}), ${denseMs.toFixed(2)} ms all dense (${result.inference.speedup.toFixed(2)}×)`);
    if (o.out) console.log(`model written to ${o.out}`);
  }
  return result;
}
