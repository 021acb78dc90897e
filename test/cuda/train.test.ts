/**
 * The trainer's GPU epoch against the CPU epoch: same start, same shuffle and steps, so the weights
 * agree within float32 summation-order differences; masked weights and momentum stay exactly zero;
 * pruning events inside an epoch reach the CPU's sparsities; abort and divergence behave as on the
 * CPU; a short MNIST run lands in the CPU's accuracy band. Skips, saying why, without a usable GPU;
 * the device option's errors are tested everywhere.
 */
import { describe, expect, it } from 'vitest';

import { cudaUsable, datasets, Dropout, info, Linear, ReLU, Sequential, Trainer, type TrainerOptions } from '../../src/index.js';
import { native } from '../../src/native.js';
import { caseRng, mlp, randomData, seed } from '../helpers.js';

const gpu = cudaUsable();
const i = info().cuda;
const reason = !i.compiled ? 'this is the CPU build (npm run build:cuda)' : `no usable CUDA device${i.error ? `: ${i.error}` : ''}`;

describe('the trainer\'s device option', () => {
  it('takes every configuration on \'cuda\' and rejects unknown devices before any work', () => {
    const model = mlp([6, 5, 3]);
    const opt = { lr: 0.1 };
    expect(() => new Trainer(model, { optimizer: opt, device: 'gpu' as never })).toThrow(/'cpu', 'cuda' or 'auto'/);
    // Distillation runs on the GPU epoch (the teacher resident beside the student).
    expect(() => new Trainer(model, { optimizer: opt, device: 'cuda', distillation: { teacher: mlp([6, 4, 3]) } })).not.toThrow();
    // Score criteria run on the GPU epoch: only a missing GPU can stop them (at fit).
    expect(() => new Trainer(model, { optimizer: opt, device: 'cuda', pruning: { schedule: { kind: 'oneShot', sparsity: 0.5 }, criterion: 'taylor' } })).not.toThrow();
    // RigL and SET run on the GPU epoch (regrowth on the host arrays between steps).
    expect(() => new Trainer(model, { optimizer: opt, device: 'cuda', pruning: { schedule: { kind: 'rigl', sparsity: 0.5 } } as TrainerOptions['pruning'] })).not.toThrow();
    // Dropout runs on the GPU epoch too.
    const dropped = new Sequential([new Linear(6, 5), new ReLU(), new Dropout(0.2), new Linear(5, 3)]);
    expect(() => new Trainer(dropped, { optimizer: opt, device: 'cuda' })).not.toThrow();
  });

  it.skipIf(gpu)(`'cuda' without a usable GPU rejects the fit with ERR_SHEARS_CUDA; 'auto' trains on the CPU bit for bit (${reason})`, async () => {
    const r = caseRng();
    const data = randomData(40, 6, 3, r);
    await expect(new Trainer(mlp([6, 5, 3]), { optimizer: { lr: 0.1 }, device: 'cuda' }).fit(data, { epochs: 1, batchSize: 8 })).rejects.toMatchObject({ code: 'ERR_SHEARS_CUDA' });
    const [a, b] = [mlp([6, 5, 3], 4), mlp([6, 5, 3], 4)];
    await new Trainer(a, { optimizer: { lr: 0.1, momentum: 0.9 }, device: 'auto' }).fit(data, { epochs: 2, batchSize: 8 });
    await new Trainer(b, { optimizer: { lr: 0.1, momentum: 0.9 } }).fit(data, { epochs: 2, batchSize: 8 });
    expect(Array.from(a.linears()[0].weight)).toEqual(Array.from(b.linears()[0].weight));
    // The native option itself: an unknown device is a RangeError; 'cuda' in a CPU build says so.
    const layers = mlp([6, 5, 3]).nativeLayers(true);
    const options = { batchSize: 8, lr: new Float32Array(5).fill(0.1), momentum: 0, weightDecay: 0, nesterov: false, seed: 0, sparseBelow: 0.3 };
    expect(() => native.trainEpoch(layers, data.x, data.y, { ...options, device: 'tpu' as never })).toThrow(/options\.device/);
    if (!i.compiled) expect(() => native.trainEpoch(layers, data.x, data.y, { ...options, device: 'cuda' })).toThrow(/no CUDA/);
  });
});

describe.skipIf(!gpu)(`the GPU epoch (${gpu ? i.devices.find((d) => d.usable)!.name : `skipped: ${reason}`})`, () => {
  /**
   * Twin models (same sizes and seed, `sparseBelow` set), one fitted on the CPU and one on the GPU
   * with the same options and fit settings.
   */
  const fitTwins = async (sizes: number[], modelSeed: number, sparseBelow: number, options: (device: 'cpu' | 'cuda') => TrainerOptions,
    data: Parameters<Trainer['fit']>[0], fit: Parameters<Trainer['fit']>[1]) => {
    const [cpu, gpuModel] = [mlp(sizes, modelSeed), mlp(sizes, modelSeed)];
    for (const m of [cpu, gpuModel]) m.sparseBelow = sparseBelow;
    const fc = await new Trainer(cpu, options('cpu')).fit(data, fit);
    const fg = await new Trainer(gpuModel, options('cuda')).fit(data, fit);
    return { cpu, gpuModel, fc, fg };
  };
  /** Entries where two masks differ. */
  const maskDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((n, m, q) => n + +(m !== b[q]), 0);
  const close = (got: Float32Array, want: Float32Array, label: string, tol = 2e-4) => {
    for (let k = 0; k < want.length; k++)
      if (!(Math.abs(got[k] - want[k]) <= tol * (1 + Math.abs(want[k])))) expect.fail(`${label}: element ${k} is ${got[k]}, expected ${want[k]} (seed ${seed})`);
  };

  it('dense and sparse (CSR) execution match the CPU epoch; masked weights and momentum stay exactly zero', async () => {
    for (const sparseBelow of [0, 1]) {
      const r = caseRng();
      const data = randomData(200, 20, 4, r);
      const options = (device: 'cpu' | 'cuda'): TrainerOptions => ({ optimizer: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.6 } }, device, seed: 5 });
      const { cpu, gpuModel } = await fitTwins([20, 16, 12, 4], 3, sparseBelow, options, data, { epochs: 2, batchSize: 32 });
      cpu.linears().forEach((l, k) => {
        const g = gpuModel.linears()[k];
        expect(Array.from(g.mask), `mask ${k} sparseBelow ${sparseBelow}`).toEqual(Array.from(l.mask));
        close(g.weight, l.weight, `weight ${k} sparseBelow ${sparseBelow}`);
        close(g.bias!, l.bias!, `bias ${k} sparseBelow ${sparseBelow}`);
        g.mask.forEach((m, q) => m || (expect(Object.is(g.weight[q], 0)).toBe(true), expect(g.velocity?.weight[q] ?? 0).toBe(0)));
      });
    }
  });

  it('score criteria accumulate on the GPU as on the CPU (dense and CSR layers), and prune the same weights', async () => {
    for (const criterion of ['gradient', 'taylor', 'fisher', 'movement'] as const)
      for (const sparseBelow of [0, 1]) {
        const r = caseRng();
        const data = randomData(160, 12, 3, r);
        // Prune half by the accumulated scores after the first epoch, then train on: the second
        // epoch accumulates over the CSR pattern where sparseBelow allows.
        const options = (device: 'cpu' | 'cuda'): TrainerOptions => ({
          optimizer: { lr: 0.05, momentum: 0.9 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.5, atEpoch: 1 }, criterion }, device, seed: 2,
        });
        const { cpu, gpuModel } = await fitTwins([12, 10, 3], 7, sparseBelow, options, data, { epochs: 2, batchSize: 32 });
        cpu.linears().forEach((l, k) => {
          const g = gpuModel.linears()[k];
          const label = `${criterion} layer ${k} sparseBelow ${sparseBelow}`;
          expect(g.score, label).toBeDefined();
          close(g.score!, l.score!, `${label} score`, 1e-3);
          // Sums in another order can swap two near-tied scores at the cut: at most a pair may differ.
          expect(maskDiff(g.mask, l.mask), `${label} mask entries that differ`).toBeLessThanOrEqual(2);
        });
      }
  });

  it('distillation on the GPU matches the CPU epoch (loss, weights), dense and CSR students', async () => {
    for (const sparseBelow of [0, 1]) {
      const r = caseRng();
      const data = randomData(160, 12, 4, r);
      const teacher = mlp([12, 20, 4], 11);
      await new Trainer(teacher, { optimizer: { lr: 0.1, momentum: 0.9 } }).fit(data, { epochs: 3, batchSize: 32 });
      const options = (device: 'cpu' | 'cuda'): TrainerOptions => ({
        optimizer: { lr: 0.05, momentum: 0.9 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.5 } },
        distillation: { teacher, alpha: 0.3, temperature: 3 }, device, seed: 8,
      });
      const { cpu, gpuModel, fc, fg } = await fitTwins([12, 8, 4], 5, sparseBelow, options, data, { epochs: 2, batchSize: 32 });
      const lc = fc.epochs.at(-1)!.loss, lg = fg.epochs.at(-1)!.loss;
      expect(Math.abs(lg - lc), `loss GPU ${lg} CPU ${lc}`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(lc)));
      cpu.linears().forEach((l, k) => close(gpuModel.linears()[k].weight, l.weight, `distilled weight ${k} sparseBelow ${sparseBelow}`));
    }
  });

  it('RigL and SET on the GPU regrow as the CPU epoch does: constant sparsity, the CPU run\'s masks, zeros where pruned', async () => {
    for (const kind of ['rigl', 'set'] as const)
      for (const sparseBelow of [0, 1]) {
        const r = caseRng();
        const data = randomData(120, 12, 4, r);
        const options = (device: 'cpu' | 'cuda'): TrainerOptions => ({
          optimizer: { lr: 0.1, momentum: 0.9 }, pruning: { schedule: { kind, sparsity: 0.7, updateEvery: 3, fraction: 0.5 }, scope: 'layer' }, device, seed: 2,
        });
        const { cpu, gpuModel } = await fitTwins([12, 10, 4], 6, sparseBelow, options, data, { epochs: 2, batchSize: 16 });
        gpuModel.linears().forEach((l, k) => {
          const label = `${kind} layer ${k} sparseBelow ${sparseBelow}`;
          expect(l.mask.reduce((a, b) => a + b, 0), label).toBe(l.mask.length - Math.round(0.7 * l.mask.length));
          l.mask.forEach((m, q) => m || expect(Object.is(l.weight[q], 0), label).toBe(true));
          // Both draw the CPU's random stream and rank the same quantities; weights and gradients
          // summed in another order may swap a near-tied pair at one of the few regrowth events.
          expect(maskDiff(l.mask, cpu.linears()[k].mask), `${label}: mask entries that differ from the CPU run`).toBeLessThanOrEqual(4);
        });
      }
  });

  it('dropout on the GPU: reproducible for a seed, a different mask per seed, masked weights stay zero, accuracy in the CPU band', async () => {
    const r = caseRng();
    // Learnable labels (the argmax of a fixed linear map), so accuracy measures training, not luck.
    const data = randomData(400, 16, 3, r);
    const proj = Float32Array.from({ length: 3 * 16 }, () => r() * 2 - 1);
    for (let j = 0; j < data.n; j++) {
      let best = 0, arg = 0;
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let f = 0; f < 16; f++) v += proj[c * 16 + f] * data.x[j * 16 + f];
        if (c === 0 || v > best) [best, arg] = [v, c];
      }
      data.y[j] = arg;
    }
    const make = () => new Sequential([new Linear(16, 24), new ReLU(), new Dropout(0.3), new Linear(24, 3)], { seed: 9 });
    const run = async (device: 'cpu' | 'cuda', seed: number) => {
      const m = make();
      m.sparseBelow = 0; // dense layers: cuBLAS sums in a fixed order, so runs repeat bit for bit
      const t = new Trainer(m, { optimizer: { lr: 0.1, momentum: 0.9 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.5 } }, device, seed });
      await t.fit(data, { epochs: 4, batchSize: 40 });
      return { m, acc: (await t.evaluate(data)).accuracy };
    };
    const [a, b, c, cpu] = [await run('cuda', 1), await run('cuda', 1), await run('cuda', 2), await run('cpu', 1)];
    expect(Array.from(a.m.linears()[0].weight)).toEqual(Array.from(b.m.linears()[0].weight));
    expect(Array.from(a.m.linears()[0].weight)).not.toEqual(Array.from(c.m.linears()[0].weight));
    a.m.linears().forEach((l) => l.mask.forEach((k, q) => k || expect(Object.is(l.weight[q], 0)).toBe(true)));
    expect(Math.abs(a.acc - cpu.acc), `GPU ${a.acc} vs CPU ${cpu.acc}`).toBeLessThan(0.1);
  });

  it('activation statistics accumulate on the GPU as on the CPU (dense and CSR layers, across a pruning event)', async () => {
    for (const sparseBelow of [0, 1]) {
      const r = caseRng();
      const data = randomData(150, 10, 3, r);
      const options = (device: 'cpu' | 'cuda'): TrainerOptions => ({
        optimizer: { lr: 0.05 }, pruning: { schedule: { kind: 'gradual', finalSparsity: 0.5, endEpoch: 1, frequency: 2 } }, device, seed: 3,
      });
      const { cpu, gpuModel } = await fitTwins([10, 12, 8, 3], 4, sparseBelow, options, data, { epochs: 2, batchSize: 25, activationStats: true });
      cpu.linears().forEach((l, k) => {
        const g = gpuModel.linears()[k];
        const label = `layer ${k} sparseBelow ${sparseBelow}`;
        expect(g.activations, label).toBeDefined();
        for (let q = 0; q < l.outFeatures; q++) {
          expect(Math.abs(g.activations!.meanAbs[q] - l.activations!.meanAbs[q]), `${label} meanAbs ${q}`).toBeLessThanOrEqual(1e-3 * (1 + l.activations!.meanAbs[q]));
          expect(Math.abs(g.activations!.apoz[q] - l.activations!.apoz[q]), `${label} apoz ${q}`).toBeLessThanOrEqual(0.01);
        }
      });
    }
  });

  it('gradual pruning inside epochs reaches the CPU sparsities; the logs agree', async () => {
    const r = caseRng();
    const data = randomData(256, 24, 5, r);
    const run = async (device: 'cpu' | 'cuda') => {
      const model = mlp([24, 32, 5], 7);
      const fit = await new Trainer(model, { optimizer: { lr: 0.05, momentum: 0.9 }, pruning: { schedule: { kind: 'gradual', finalSparsity: 0.8, endEpoch: 2, frequency: 3 } }, device }).fit(data, { epochs: 3, batchSize: 32 });
      return fit.epochs.map((e) => e.sparsity);
    };
    const [c, g] = [await run('cpu'), await run('cuda')];
    g.forEach((s, e) => s.forEach((v, l) => expect(v, `epoch ${e} layer ${l}`).toBeCloseTo(c[e][l], 2)));
  });

  it('abort mid-epoch leaves a consistent model; a diverging loss stops with an error naming the step', async () => {
    const r = caseRng();
    const data = randomData(400, 10, 3, r);
    const model = mlp([10, 8, 3]);
    const controller = new AbortController();
    const fit = await new Trainer(model, { optimizer: { lr: 0.05 }, device: 'cuda' }).fit(data, { epochs: 1, batchSize: 8, signal: controller.signal, onProgress: () => controller.abort() });
    expect(fit.aborted).toBe(true);
    for (const l of model.linears()) for (const w of l.weight) expect(Number.isFinite(w)).toBe(true);
    const huge = new Trainer(mlp([10, 8, 3]), { optimizer: { lr: 1e30 }, device: 'cuda' });
    await expect(huge.fit(data, { epochs: 1, batchSize: 100 })).rejects.toThrow(/loss became (NaN|infinite) at step \d+/);
  });

  it('2,000 embedded MNIST digits: the GPU-trained model lands in the CPU-trained model\'s accuracy band', async () => {
    const { train, test } = datasets.mnist();
    const small = { ...train, n: 2000, x: train.x.subarray(0, 2000 * 784), y: train.y.subarray(0, 2000) };
    const acc = async (device: 'cpu' | 'cuda') => {
      const t = new Trainer(mlp([784, 128, 10], 1), { optimizer: { lr: 0.05, momentum: 0.9 }, pruning: { schedule: { kind: 'gradual', finalSparsity: 0.9, endEpoch: 4 } }, device });
      await t.fit(small, { epochs: 5, batchSize: 64 });
      return (await t.evaluate(test)).accuracy;
    };
    const [c, g] = [await acc('cpu'), await acc('cuda')];
    expect(g).toBeGreaterThan(0.85);
    expect(Math.abs(g - c)).toBeLessThan(0.02);
  });
});
