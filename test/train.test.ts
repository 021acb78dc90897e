/**
 * The trainer: gradients against float64 finite differences, masked SGD invariants, sparse and
 * dense execution agreeing, schedules, determinism, a short MNIST run, abort, divergence, bad
 * configurations, and model files.
 */
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { datasets, gradualSparsity, learningRate, Linear, planPruning, planRegrowth, ReLU, saveSafetensors, Sequential, Tensor, Trainer, type Dataset, type PruningSchedule } from '../src/index.js';
import { native } from '../src/native.js';
import { caseRng, expectThrows, isas, mlp, randomData, seed, useIsa } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'shears-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


/** float64 forward of sample j (ReLU after every layer but the last): the logits; `hidden` sees each hidden pre-activation. */
function referenceLogits(ws: Float64Array[], bs: Float64Array[], shapes: [number, number][], x: Float32Array, j: number, hidden?: (z: number) => void): number[] {
  let a = Array.from(x.subarray(j * shapes[0][1], (j + 1) * shapes[0][1]), Number);
  shapes.forEach(([out, inp], l) => {
    const z = new Array<number>(out).fill(0);
    for (let r = 0; r < out; r++) {
      let s = bs[l][r];
      for (let c = 0; c < inp; c++) s += ws[l][r * inp + c] * a[c];
      if (l + 1 < shapes.length) hidden?.(s);
      z[r] = l + 1 < shapes.length ? Math.max(s, 0) : s;
    }
    a = z;
  });
  return a;
}

/** float64 reference: mean softmax cross-entropy of the model on x. */
function referenceLoss(ws: Float64Array[], bs: Float64Array[], shapes: [number, number][], x: Float32Array, y: Int32Array): number {
  const n = y.length;
  let loss = 0;
  for (let j = 0; j < n; j++) {
    const a = referenceLogits(ws, bs, shapes, x, j);
    const max = Math.max(...a);
    loss += max + Math.log(a.reduce((s, v) => s + Math.exp(v - max), 0)) - a[y[j]];
  }
  return loss / n;
}

describe('trainer', () => {
  afterEach(() => useIsa(isas[isas.length - 1]));
  it.each(isas)('gradients of every layer match central finite differences in float64 (dense and sparse execution, masks), isa %s', (isa) => {
    useIsa(isa);
    const r = caseRng();
    const model = mlp([7, 6, 5, 4], seed);
    const layers = model.linears();
    layers[1].mask.forEach((_, i, m) => (m[i] = r() < 0.6 ? 1 : 0));
    layers[1].weight.forEach((_, i, w) => (w[i] *= layers[1].mask[i]));
    const shapes = layers.map((l) => [l.outFeatures, l.inFeatures] as [number, number]);
    const ws = layers.map((l) => Float64Array.from(l.weight)), bs = layers.map((l) => Float64Array.from(l.bias!));
    // Central differences (h = 1e-4) are only right away from a ReLU's kink: draw samples until no
    // hidden pre-activation lies within 1e-3 of zero (a step moves one by at most ~1e-4 here).
    const margin = (d: Dataset) => {
      let m = Infinity;
      for (let j = 0; j < d.n; j++) referenceLogits(ws, bs, shapes, d.x, j, (z) => (m = Math.min(m, Math.abs(z))));
      return m;
    };
    let data = randomData(9, 7, 4, r);
    for (let tries = 0; margin(data) < 1e-3; tries++) {
      expect(tries, 'no sample set away from the ReLU kinks').toBeLessThan(100);
      data = randomData(9, 7, 4, r);
    }
    const loss0 = referenceLoss(ws, bs, shapes, data.x, data.y);
    for (const sparse of [false, true]) {
      const g = native.gradients(model.nativeLayers(), data.x, data.y, sparse);
      expect(g.loss).toBeCloseTo(loss0, 5);
      const h = 1e-4;
      const fd = (arr: Float64Array, i: number) => {
        const v = arr[i];
        arr[i] = v + h;
        const up = referenceLoss(ws, bs, shapes, data.x, data.y);
        arr[i] = v - h;
        const down = referenceLoss(ws, bs, shapes, data.x, data.y);
        arr[i] = v;
        return (up - down) / (2 * h);
      };
      layers.forEach((l, li) => {
        for (let i = 0; i < l.weight.length; i++) {
          const want = l.mask[i] ? fd(ws[li], i) : 0;
          expect(Math.abs(g.dw[li][i] - want), `sparse=${sparse} layer ${li} dw[${i}] (seed ${seed})`).toBeLessThan(2e-5 + 1e-3 * Math.abs(want));
        }
        for (let i = 0; i < l.outFeatures; i++) {
          const want = fd(bs[li], i);
          expect(Math.abs(g.db[li][i] - want), `sparse=${sparse} layer ${li} db[${i}]`).toBeLessThan(2e-5 + 1e-3 * Math.abs(want));
        }
      });
    }
  });

  it.each(isas)('masked weights and their momentum stay exactly zero; sparse and dense execution give the same model, isa %s', async (isa) => {
    useIsa(isa);
    const r = caseRng();
    const data = randomData(300, 20, 5, r);
    const run = async (sparseBelow: number) => {
      const model = mlp([20, 16, 12, 5], seed);
      model.sparseBelow = sparseBelow;
      const trainer = new Trainer(model, {
        optimizer: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 },
        pruning: { schedule: { kind: 'gradual', finalSparsity: 0.8, endEpoch: 2, frequency: 3 }, scope: 'layer' },
        seed: 3,
      });
      const fit = await trainer.fit(data, { epochs: 3, batchSize: 32 });
      return { model, fit };
    };
    const dense = await run(0);
    const sparse = await run(1);
    expect(dense.fit.epochs.at(-1)!.kernels).toEqual(['dense', 'dense', 'dense']);
    expect(sparse.fit.epochs.at(-1)!.kernels).toEqual(['csr', 'csr', 'csr']);
    for (const { model } of [dense, sparse])
      for (const l of model.linears()) {
        expect(l.mask.filter((m) => m === 0).length).toBe(Math.round(0.8 * l.mask.length));
        l.mask.forEach((m, i) => {
          if (!m) {
            expect(l.weight[i]).toBe(0);
            expect(l.velocity!.weight[i]).toBe(0);
          }
        });
      }
    dense.model.linears().forEach((l, li) => {
      const s = sparse.model.linears()[li];
      expect(Array.from(s.mask)).toEqual(Array.from(l.mask));
      l.weight.forEach((w, i) => expect(Math.abs(w - s.weight[i]), `layer ${li} w[${i}]`).toBeLessThan(1e-5));
    });
    const x = data.x.subarray(0, 40 * 20);
    const a = dense.model.predict(x, 40);
    const b = sparse.model.predict(x, 40);
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-5));
  });

  it('the fused masked SGD step matches torch.optim.SGD semantics on a plain reference', () => {
    const r = caseRng();
    for (const [n, momentum, wd, nesterov] of [[1, 0, 0, false], [1000, 0.9, 5e-4, false], [70_001, 0.9, 1e-3, true]] as const) {
      const w = Float32Array.from({ length: n }, () => r() - 0.5), g = Float32Array.from({ length: n }, () => r() - 0.5);
      const v = Float32Array.from({ length: n }, () => r() - 0.5), mask = Uint8Array.from({ length: n }, () => (r() < 0.3 ? 0 : 1));
      const [w0, v0] = [w.slice(), v.slice()];
      native.maskedSgd(w, g, v, mask, 0.05, momentum, wd, nesterov);
      for (let i = 0; i < n; i++) {
        const f = Math.fround;
        const grad = f(g[i] + f(wd * w0[i])), vel = f(f(momentum * v0[i]) + grad), step = nesterov ? f(grad + f(momentum * vel)) : vel;
        const [ww, vv] = mask[i] ? [f(w0[i] - f(0.05 * step)), vel] : [0, 0];
        expect(Math.abs(w[i] - ww), `w[${i}] n=${n}`).toBeLessThan(1e-6);
        expect(Math.abs(v[i] - vv), `v[${i}] n=${n}`).toBeLessThan(1e-6);
        if (!mask[i]) expect(Object.is(w[i], 0) && Object.is(v[i], 0)).toBe(true);
      }
    }
    expectThrows(() => native.maskedSgd(new Float32Array(3), new Float32Array(2), new Float32Array(3), undefined, 0.1, 0, 0, false), RangeError, 'g');
  });

  it('inference caches a sparse layer\'s CSR and drops it whenever training or loading changes the weights', async () => {
    const r = caseRng();
    const data = randomData(64, 10, 3, r);
    const model = mlp([10, 8, 3], seed);
    const trainer = new Trainer(model, { optimizer: { lr: 0.1 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.8 }, scope: 'layer' } });
    await trainer.fit(data, { epochs: 1, batchSize: 8 });
    const asDense = () => {
      const saved = model.sparseBelow;
      model.sparseBelow = -1;
      const out = model.predict(data.x, data.n);
      model.sparseBelow = saved;
      return out;
    };
    const first = model.predict(data.x, data.n);
    expect(model.linears()[0].inference?.csr).toBeDefined();
    asDense().forEach((v, i) => expect(Math.abs(v - first[i])).toBeLessThan(1e-5));
    await trainer.fit(data, { epochs: 1, batchSize: 8 });
    const second = model.predict(data.x, data.n);
    expect(Array.from(second)).not.toEqual(Array.from(first));
    asDense().forEach((v, i) => expect(Math.abs(v - second[i])).toBeLessThan(1e-5));
  });

  it("sparseExecution 'auto': the advisor picks each layer's kernel, and the results match density-based execution", async () => {
    const r = caseRng();
    const data = randomData(96, 40, 4, r);
    const run = async (sparseExecution: 'density' | 'auto') => {
      const model = new Sequential([new Linear(40, 64), new ReLU(), new Linear(64, 4)], { seed: 4, sparseExecution });
      const fit = await new Trainer(model, { optimizer: { lr: 0.05, momentum: 0.9 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.9 }, scope: 'layer' } }).fit(data, { epochs: 2, batchSize: 32 });
      return { model, fit };
    };
    const density = await run('density'), auto = await run('auto');
    for (const k of auto.fit.epochs[1].kernels) expect(['csr', 'dense']).toContain(k);
    const plan = auto.model.executionPlan(256); // timed now, cached until the weights change
    expect(auto.model.summary().map((row) => row.kernel)).toEqual(plan.map((p) => (p ? 'csr' : 'dense')));
    auto.model.linears().forEach((l, i) => l.weight.forEach((w, j) => expect(Math.abs(w - density.model.linears()[i].weight[j])).toBeLessThan(1e-5)));
    const a = auto.model.predict(data.x, data.n), b = density.model.predict(data.x, data.n);
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-4));
    expectThrows(() => new Sequential([new Linear(2, 2)], { sparseExecution: 'fast' as 'auto' }), RangeError, 'sparseExecution');
  });

  it('schedules: gradual, iterative and one-shot sparsities equal the hand-computed values', async () => {
    // Zhu & Gupta with s_i = 0, s_f = 0.9 over 2 epochs of 10 steps, every 5 steps.
    const g = planPruning({ kind: 'gradual', finalSparsity: 0.9, endEpoch: 2, frequency: 5 }, 3, 10);
    expect(g.map((e) => e.step)).toEqual([0, 5, 10, 15, 20]);
    const want = [0, 0.9 * (1 - 0.75 ** 3), 0.9 * (1 - 0.5 ** 3), 0.9 * (1 - 0.25 ** 3), 0.9];
    g.forEach((e, i) => expect(e.sparsity).toBeCloseTo(want[i], 12));
    expect(gradualSparsity(10, { finalSparsity: 0.9, t0: 0, steps: 20 })).toBeCloseTo(0.7875, 12);
    const it2 = planPruning({ kind: 'iterative', rate: 0.5, everyEpochs: 2, finalSparsity: 0.8 }, 9, 4);
    expect(it2).toEqual([
      { step: 8, sparsity: 0.5, rewind: false },
      { step: 16, sparsity: 0.75, rewind: false },
      { step: 24, sparsity: expect.closeTo(0.8, 12), rewind: false },
    ]);
    expect(planPruning({ kind: 'oneShot', sparsity: 0.6, atEpoch: 1 }, 3, 7)).toEqual([{ step: 7, sparsity: 0.6 }]);
    // Through the trainer: global scope prunes exactly round(s · total) over the layers.
    const r = caseRng();
    const model = mlp([10, 8, 3], seed);
    const trainer = new Trainer(model, { optimizer: { lr: 0.01 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.7 } } });
    const fit = await trainer.fit(randomData(50, 10, 3, r), { epochs: 1, batchSize: 16 });
    const pruned = model.linears().reduce((s, l) => s + l.mask.filter((m) => m === 0).length, 0);
    expect(pruned).toBe(Math.round(0.7 * (80 + 24)));
    expect(fit.epochs[0].pruned).toHaveLength(1);
    expect(fit.epochs[0].pruned[0]).toMatchObject({ step: 0, target: 0.7 });
    fit.epochs[0].pruned[0].sparsity.forEach((sp, i) => {
      const l = model.linears()[i];
      expect(sp).toBeCloseTo(l.mask.filter((m) => m === 0).length / l.mask.length, 12);
    });
    // Gradual, with validation: each event logs the sparsity right after it and the accuracy then.
    const g2 = new Trainer(mlp([10, 8, 3], seed), { optimizer: { lr: 0.01 }, pruning: { schedule: { kind: 'gradual', finalSparsity: 0.8, endEpoch: 1, frequency: 2 } } });
    const val = randomData(30, 10, 3, r);
    const fit2 = await g2.fit(randomData(64, 10, 3, r), { epochs: 2, batchSize: 8, validation: val });
    const logged = fit2.epochs[0].pruned;
    // Step 0's target is the initial sparsity 0: a no-op, not run or logged.
    expect(logged.map((e) => e.step)).toEqual([2, 4, 6]);
    logged.forEach((e) => {
      const total = e.sparsity[0] * 80 + e.sparsity[1] * 24;
      expect(Math.abs(total - Math.round(e.target * 104))).toBeLessThan(1e-9);
      expect(e.accuracy).toBeGreaterThanOrEqual(0);
    });
    expect(fit2.epochs[1].pruned.map((e) => e.target)).toEqual([0.8]);
  });

  it('RigL and SET keep every layer\'s kept count constant while the masks move', async () => {
    const r = caseRng();
    const data = randomData(160, 12, 4, r);
    const train = async (schedule: PruningSchedule) => {
      const model = mlp([12, 10, 4], seed);
      await new Trainer(model, { optimizer: { lr: 0.1, momentum: 0.9 }, pruning: { schedule, scope: 'layer' }, seed: 2 }).fit(data, { epochs: 3, batchSize: 16 });
      return model;
    };
    const fixed = await train({ kind: 'oneShot', sparsity: 0.7 });
    for (const kind of ['rigl', 'set'] as const) {
      const model = await train({ kind, sparsity: 0.7, updateEvery: 3, fraction: 0.5 });
      model.linears().forEach((l, i) => {
        const kept = l.mask.reduce((a, b) => a + b, 0);
        expect(kept, `${kind} layer ${i}`).toBe(l.mask.length - Math.round(0.7 * l.mask.length));
        expect(Array.from(l.mask), `${kind} layer ${i} masks moved`).not.toEqual(Array.from(fixed.linears()[i].mask));
        l.mask.forEach((m, j) => m || expect(l.weight[j]).toBe(0));
      });
    }
    expect(planRegrowth({ kind: 'rigl', sparsity: 0.9, updateEvery: 10, fraction: 0.3, endEpoch: 2 }, 4, 20).map((e) => e.step)).toEqual([9, 19, 29]);
    expect(planRegrowth({ kind: 'rigl', sparsity: 0.9, updateEvery: 10, fraction: 0.3, endEpoch: 2 }, 4, 20)[1].fraction).toBeCloseTo(0.15, 12);
  });

  it('activation statistics: mean |a| and APoZ per neuron match a float64 recount', async () => {
    const r = caseRng();
    const data = randomData(50, 6, 3, r);
    const model = mlp([6, 5, 3], seed);
    // lr 0: the weights stay put, so the statistics can be recomputed from the final model.
    const trainer = new Trainer(model, { optimizer: { lr: 1e-30 } });
    await trainer.fit(data, { epochs: 2, batchSize: 7, activationStats: true });
    const [l0] = model.linears();
    const sum = new Float64Array(5), zeros = new Float64Array(5);
    for (let j = 0; j < data.n; j++)
      for (let o = 0; o < 5; o++) {
        let z = l0.bias![o];
        for (let c = 0; c < 6; c++) z += l0.weight[o * 6 + c] * data.x[j * 6 + c];
        const a = Math.max(z, 0);
        sum[o] += a;
        zeros[o] += a === 0 ? 1 : 0;
      }
    expect(l0.activations!.samples).toBe(100);
    for (let o = 0; o < 5; o++) {
      expect(l0.activations!.meanAbs[o]).toBeCloseTo(sum[o] / 50, 4);
      expect(l0.activations!.apoz[o]).toBeCloseTo(zeros[o] / 50, 6);
    }
  });

  it('learning-rate schedules: step, cosine and linear warm-up give the hand-computed rates', () => {
    const spe = 10, epochs = 6;
    expect(learningRate(0.1, 0, spe, epochs)).toBe(0.1);
    expect(learningRate(0.1, 25, spe, epochs, { schedule: { kind: 'step', stepSize: 2, gamma: 0.5 } })).toBeCloseTo(0.05, 12);
    expect(learningRate(0.1, 45, spe, epochs, { schedule: { kind: 'step', stepSize: 2, gamma: 0.5 } })).toBeCloseTo(0.025, 12);
    expect(learningRate(0.1, 30, spe, epochs, { schedule: { kind: 'cosine' } })).toBeCloseTo(0.05, 12); // half-way
    expect(learningRate(0.1, 60, spe, epochs, { schedule: { kind: 'cosine', minLr: 0.01 } })).toBeCloseTo(0.01, 12);
    expect(learningRate(0.1, 4, spe, epochs, { warmupEpochs: 1 })).toBeCloseTo(0.05, 12); // after 5 of 10 steps
    expect(learningRate(0.1, 9, spe, epochs, { warmupEpochs: 1 })).toBeCloseTo(0.1, 12);
    expectThrows(() => learningRate(0.1, 0, spe, epochs, { schedule: { kind: 'step', stepSize: 0 } }), RangeError, 'stepSize');
  });

  it('distillation: alpha = 1 is plain training bit for bit; alpha = 0 pulls the student to the teacher', async () => {
    const r = caseRng();
    const data = randomData(256, 10, 4, r);
    const teacher = mlp([10, 16, 4], 7);
    await new Trainer(teacher, { optimizer: { lr: 0.1, momentum: 0.9 } }).fit(data, { epochs: 5, batchSize: 32 });
    const student = (distillation?: { alpha: number; temperature?: number }) => {
      const m = mlp([10, 16, 4], 3);
      return { m, t: new Trainer(m, { optimizer: { lr: 0.1, momentum: 0.9 }, distillation: distillation && { teacher, ...distillation } }) };
    };
    const plain = student(), alphaOne = student({ alpha: 1 });
    await plain.t.fit(data, { epochs: 2, batchSize: 32 });
    await alphaOne.t.fit(data, { epochs: 2, batchSize: 32 });
    expect(Array.from(alphaOne.m.linears()[0].weight)).toEqual(Array.from(plain.m.linears()[0].weight));
    const kd = student({ alpha: 0, temperature: 2 });
    const agree = (m: Sequential) => {
      const a = m.predict(data.x, data.n), b = teacher.predict(data.x, data.n);
      let same = 0;
      for (let j = 0; j < data.n; j++) {
        const arg = (v: Float32Array) => [0, 1, 2, 3].reduce((best, c) => (v[j * 4 + c] > v[j * 4 + best] ? c : best), 0);
        same += arg(a) === arg(b) ? 1 : 0;
      }
      return same / data.n;
    };
    const before = agree(kd.m);
    await kd.t.fit(data, { epochs: 20, batchSize: 32 });
    // The labels are random, so only the teacher's outputs can teach this agreement.
    expect(agree(kd.m), `seed ${seed}`).toBeGreaterThan(Math.max(0.6, before + 0.2));
    expect(agree(kd.m), `seed ${seed}`).toBeGreaterThan(agree(plain.m));
    expectThrows(() => new Trainer(mlp([10, 6, 3]), { optimizer: { lr: 0.1 }, distillation: { teacher } }), RangeError, 'distillation.teacher');
  });

  it('datasets: IDX files (plain and gzipped) load scaled to [0, 1]; a missing Fashion-MNIST names the package', () => {
    const images = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 51, 102, 1, 2, 3, 4]);
    const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]);
    writeFileSync(path.join(dir, 'img.idx'), images);
    writeFileSync(path.join(dir, 'lab.idx.gz'), gzipSync(labels));
    const d = datasets.loadIdx(path.join(dir, 'img.idx'), path.join(dir, 'lab.idx.gz'));
    expect(d.n).toBe(2);
    expect(d.features).toBe(4);
    expect(Array.from(d.x)).toEqual([0, 255, 51, 102, 1, 2, 3, 4].map((v) => Math.fround(v / 255)));
    expect(Array.from(d.y)).toEqual([7, 3]);
    writeFileSync(path.join(dir, 'short.idx'), images.subarray(0, 20));
    expectThrows(() => datasets.loadIdx(path.join(dir, 'short.idx'), path.join(dir, 'lab.idx.gz')), RangeError, 'short.idx', 'need 8 bytes');
    // A truncated gzip and a label count that does not match name their file.
    writeFileSync(path.join(dir, 'cut.idx.gz'), gzipSync(labels).subarray(0, 12));
    expectThrows(() => datasets.loadIdx(path.join(dir, 'img.idx'), path.join(dir, 'cut.idx.gz')), RangeError, 'cut.idx.gz', 'gzip');
    writeFileSync(path.join(dir, 'three.idx'), new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]));
    expectThrows(() => datasets.loadIdx(path.join(dir, 'img.idx'), path.join(dir, 'three.idx')), RangeError, 'three.idx', '3 labels for the 2 images');
    // No images: the features still come from the header's dimensions.
    writeFileSync(path.join(dir, 'none.idx'), new Uint8Array([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4]));
    writeFileSync(path.join(dir, 'nolab.idx'), new Uint8Array([0, 0, 8, 1, 0, 0, 0, 0]));
    expect(datasets.loadIdx(path.join(dir, 'none.idx'), path.join(dir, 'nolab.idx')).features).toBe(16);
    expect(() => datasets.fashionMnist(path.join(dir, 'nowhere'))).toThrow(/Fashion-MNIST not found/);
    const m = datasets.mnist();
    expect([m.train.n, m.test.n]).toEqual([8000, 2000]);
  });

  it('adaptive: steps grow while accuracy holds, and a step that costs too much is undone and halved', async () => {
    const r = caseRng();
    const data = randomData(200, 16, 3, r), val = randomData(60, 16, 3, r);
    // Tolerance 0.999: every step is kept; targets 0.2, then 0.2 + 0.3, then capped at the final 0.8.
    const free = new Trainer(mlp([16, 12, 3], seed), { optimizer: { lr: 0.05 }, pruning: { schedule: { kind: 'adaptive', finalSparsity: 0.8, step: 0.2, tolerance: 0.999 } } });
    const fit = await free.fit(data, { epochs: 5, batchSize: 20, validation: val });
    const steps = fit.epochs.flatMap((e) => e.pruned);
    expect(steps.map((p) => p.target)).toEqual([0.2, 0.5, 0.8]);
    expect(steps.every((p) => p.accepted)).toBe(true);
    // Tolerance -0.9 (demand a 90-point gain on 3 random classes): every step is undone, the masks stay, the step halves.
    const model = mlp([16, 12, 3], seed);
    const strict = new Trainer(model, { optimizer: { lr: 0.05 }, pruning: { schedule: { kind: 'adaptive', finalSparsity: 0.8, step: 0.4, tolerance: -0.9 } } });
    const fit2 = await strict.fit(data, { epochs: 4, batchSize: 20, validation: val });
    const tried = fit2.epochs.flatMap((e) => e.pruned);
    expect(tried.map((p) => p.target)).toEqual([0.4, 0.2, 0.1]);
    expect(tried.every((p) => p.accepted === false && p.accuracy !== undefined)).toBe(true);
    expect(model.linears().every((l) => l.mask.every((m) => m === 1))).toBe(true);
    await expect(strict.fit(data, { epochs: 2, batchSize: 20 })).rejects.toThrow(/validation/);
  });

  /**
   * The lottery ticket's fine-tuning run, rebuilt by hand: `start` (weights and biases) with the
   * masks `masks` applied and fresh momentum, trained one epoch in order.
   */
  async function maskedEpoch(start: Sequential, masks: Uint8Array[], data: Dataset): Promise<Sequential> {
    const state = new Map([...start.stateDict()].map(([k, e]) => [k, { tensor: new Tensor(e.tensor.data.slice(), [...e.tensor.shape]) }]));
    const twin = mlp([12, 10, 4], seed);
    twin.loadStateDict(state); // no masks yet: all kept, momentum cleared
    twin.linears().forEach((l, i) => {
      l.mask.set(masks[i]);
      l.weight.forEach((_, j, w) => (w[j] = masks[i][j] ? w[j] : 0));
    });
    await new Trainer(twin, { optimizer: { lr: 0.05, momentum: 0.9 } }).fit(data, { epochs: 1, batchSize: 16, shuffle: false });
    return twin;
  }

  const expectSameParameters = (a: Sequential, b: Sequential) =>
    a.linears().forEach((l, i) => {
      expect(Array.from(l.weight)).toEqual(Array.from(b.linears()[i].weight));
      expect(Array.from(l.bias!)).toEqual(Array.from(b.linears()[i].bias!));
      expect(Array.from(l.mask)).toEqual(Array.from(b.linears()[i].mask));
    });

  it('lottery ticket with late rewinding: weights and biases go back to their values before step k (inside an epoch)', async () => {
    const r = caseRng();
    const data = randomData(64, 12, 4, r);
    // Without shuffling, the first 3 steps are the whole of a 1-epoch run on the first 48 samples.
    const ref = mlp([12, 10, 4], seed);
    const first48: Dataset = { ...data, n: 48, x: data.x.slice(0, 48 * 12), y: data.y.slice(0, 48) };
    await new Trainer(ref, { optimizer: { lr: 0.05, momentum: 0.9 } }).fit(first48, { epochs: 1, batchSize: 16, shuffle: false });
    const model = mlp([12, 10, 4], seed);
    const trainer = new Trainer(model, {
      optimizer: { lr: 0.05, momentum: 0.9 },
      pruning: { schedule: { kind: 'lotteryTicket', rate: 0.5, everyEpochs: 1, finalSparsity: 0.5, rewindStep: 3 }, scope: 'layer' },
    });
    // Epoch 0 trains dense; epoch 1 starts by pruning half of each layer and rewinding to step 3.
    const fit = await trainer.fit(data, { epochs: 2, batchSize: 16, shuffle: false });
    expect(fit.epochs[1].pruned).toHaveLength(1);
    const masks = model.linears().map((l) => l.mask.slice());
    masks.forEach((m) => expect(m.filter((v) => v === 0).length).toBe(m.length / 2));
    expectSameParameters(model, await maskedEpoch(ref, masks, data));
    // A rewind point after the first pruning step (step 4 here) has nothing to rewind to.
    const late = new Trainer(mlp([12, 10, 4], seed), {
      optimizer: { lr: 0.05 },
      pruning: { schedule: { kind: 'lotteryTicket', rate: 0.5, everyEpochs: 1, finalSparsity: 0.5, rewindStep: 5 } },
    });
    await expect(late.fit(data, { epochs: 2, batchSize: 16 })).rejects.toThrow(/first pruning step \(4.*rewindStep/);
  });

  it('lottery ticket: weights and biases rewind exactly to the initialisation, momentum cleared', async () => {
    const r = caseRng();
    const data = randomData(64, 12, 4, r);
    const model = mlp([12, 10, 4], seed);
    const trainer = new Trainer(model, {
      optimizer: { lr: 0.05, momentum: 0.9 },
      pruning: { schedule: { kind: 'lotteryTicket', rate: 0.5, everyEpochs: 1, finalSparsity: 0.5 }, scope: 'layer' },
    });
    const fit = await trainer.fit(data, { epochs: 2, batchSize: 16, shuffle: false });
    expect(fit.aborted).toBe(false);
    expect(fit.epochs[1].pruned).toHaveLength(1);
    const masks = model.linears().map((l) => l.mask.slice());
    masks.forEach((m) => expect(m.filter((v) => v === 0).length).toBe(m.length / 2));
    expectSameParameters(model, await maskedEpoch(mlp([12, 10, 4], seed), masks, data));
  });

  it('an abort between epochs (from onEpoch) stops before the next pruning step, for every schedule', async () => {
    const r = caseRng();
    const data = randomData(64, 12, 4, r), val = randomData(32, 12, 4, r);
    const schedules: PruningSchedule[] = [
      { kind: 'lotteryTicket', rate: 0.5, everyEpochs: 1, finalSparsity: 0.5 },
      { kind: 'iterative', rate: 0.5, everyEpochs: 1, finalSparsity: 0.5 },
      { kind: 'adaptive', finalSparsity: 0.5, tolerance: 0.999 },
      { kind: 'gradual', finalSparsity: 0.8, endEpoch: 2, frequency: 1000 }, // its last step falls after the run
    ];
    for (const schedule of schedules) {
      const model = mlp([12, 10, 4], seed);
      const controller = new AbortController();
      let after: number[][] = [];
      const last = schedule.kind === 'gradual' ? 1 : 0;
      const fit = await new Trainer(model, { optimizer: { lr: 0.05, momentum: 0.9 }, pruning: { schedule } }).fit(data, {
        epochs: 2,
        batchSize: 16,
        validation: val,
        signal: controller.signal,
        onEpoch: (l) => {
          if (l.epoch !== last) return;
          after = model.linears().map((x) => Array.from(x.weight));
          controller.abort();
        },
      });
      expect(fit.aborted, schedule.kind).toBe(true);
      expect(fit.epochs, schedule.kind).toHaveLength(last + 1);
      expect(model.linears().map((x) => Array.from(x.weight)), schedule.kind).toEqual(after);
      expect(model.linears().every((x) => x.mask.every((m) => m === 1)), schedule.kind).toBe(true);
    }
    // Aborted before it starts: nothing runs, no epoch is logged.
    const model = mlp([12, 10, 4], seed);
    const before = model.linears().map((x) => Array.from(x.weight));
    const fit = await new Trainer(model, { optimizer: { lr: 0.05 } }).fit(data, { epochs: 2, batchSize: 16, signal: AbortSignal.abort(), onEpoch: () => expect.unreachable() });
    expect(fit).toEqual({ epochs: [], aborted: true });
    expect(model.linears().map((x) => Array.from(x.weight))).toEqual(before);
  });

  it('same seed, ISA and threads: bit-identical weights after an epoch (with dropout)', async () => {
    const r = caseRng();
    const data = randomData(200, 16, 4, r);
    const train = async () => {
      const model = new Sequential([new Linear(16, 12), new ReLU(), new (await import('../src/index.js')).Dropout(0.3), new Linear(12, 4)], { seed: 5 });
      await new Trainer(model, { optimizer: { lr: 0.1, momentum: 0.9 }, seed: 11 }).fit(data, { epochs: 2, batchSize: 24 });
      return model.linears().map((l) => Array.from(l.weight));
    };
    expect(await train()).toEqual(await train());
  });

  it('a short run on 2,000 embedded MNIST digits reaches 85% test accuracy', async () => {
    const { train, test } = datasets.mnist();
    const small: Dataset = { ...train, n: 2000, x: train.x.subarray(0, 2000 * 784), y: train.y.subarray(0, 2000) };
    const model = mlp([784, 100, 10], seed);
    const trainer = new Trainer(model, { optimizer: { lr: 0.1, momentum: 0.9 }, seed });
    await trainer.fit(small, { epochs: 5, batchSize: 64 });
    const { accuracy } = await trainer.evaluate(test);
    expect(accuracy, `seed ${seed}`).toBeGreaterThan(0.85);
  });

  it('abort mid-epoch leaves a consistent model; a diverging loss stops with an error naming the step', async () => {
    const r = caseRng();
    const data = randomData(20000, 64, 10, r);
    const model = mlp([64, 256, 256, 10], seed);
    const before = model.linears().map((l) => l.weight.slice());
    const controller = new AbortController();
    const trainer = new Trainer(model, { optimizer: { lr: 0.01, momentum: 0.9 }, pruning: { schedule: { kind: 'oneShot', sparsity: 0.5 } } });
    const fit = await trainer.fit(data, { epochs: 1, batchSize: 8, signal: controller.signal, onProgress: () => controller.abort() });
    expect(fit.aborted).toBe(true);
    expect(trainer.steps).toBeGreaterThan(0);
    expect(trainer.steps).toBeLessThan(2500);
    model.linears().forEach((l, li) => {
      expect(l.weight.every(Number.isFinite)).toBe(true);
      l.mask.forEach((m, i) => m || expect(l.weight[i]).toBe(0));
      expect(l.weight.some((w, i) => w !== before[li][i])).toBe(true);
    });
    const wild = mlp([64, 32, 10], seed);
    const huge = new Trainer(wild, { optimizer: { lr: 1e30 } });
    await expect(huge.fit(data, { epochs: 1, batchSize: 100 })).rejects.toThrow(/loss became (NaN|infinite) at step \d+/);
    expect(wild.linears().every((l) => l.weight.every(Number.isFinite))).toBe(true);
  });

  it('rejects bad configurations before any work', async () => {
    const r = caseRng();
    const model = mlp([4, 3, 2], seed);
    const data = randomData(10, 4, 2, r);
    expectThrows(() => new Trainer(model, { optimizer: { lr: 0 } }), RangeError, 'optimizer.lr');
    expectThrows(() => new Trainer(model, { optimizer: { lr: Number.NaN } }), RangeError, 'optimizer.lr');
    expectThrows(() => new Trainer(model, { optimizer: { lr: 0.1 }, pruning: { schedule: { kind: 'oneShot', sparsity: 1 } } }), RangeError, 'sparsity');
    expectThrows(() => new Trainer(model, { optimizer: { lr: 0.1 }, pruning: { schedule: { kind: 'gradual', finalSparsity: -0.1, endEpoch: 1 } } }), RangeError, 'finalSparsity');
    expectThrows(() => new Sequential([new Linear(4, 3), new ReLU(), new Linear(5, 2)]), RangeError, 'inFeatures', '3');
    const trainer = new Trainer(model, { optimizer: { lr: 0.1 } });
    const w0 = model.linears()[0].weight.slice();
    await expect(trainer.fit({ ...data, y: Int32Array.from(data.y, (v, i) => (i === 3 ? 2 : v)) }, { epochs: 1, batchSize: 4 })).rejects.toThrow(/labels in \[0, 2\).*y\[3\] = 2/);
    const nanX = data.x.slice();
    nanX[9] = Number.NaN;
    await expect(trainer.fit({ ...data, x: nanX }, { epochs: 1, batchSize: 4 })).rejects.toThrow(/finite inputs.*x\[9\]/);
    await expect(trainer.fit(data, { epochs: 1, batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(trainer.fit(data, { epochs: 0, batchSize: 2 })).rejects.toThrow(/epochs/);
    expect(Array.from(model.linears()[0].weight)).toEqual(Array.from(w0));
    // Options the constructor checks, not the first epoch that would use them.
    const opt = { lr: 0.1 };
    expectThrows(() => new Trainer(model, { optimizer: opt, lrSchedule: { schedule: { kind: 'step', stepSize: 2, gamma: -1 } } }), RangeError, 'lrSchedule.schedule.gamma');
    expectThrows(() => new Trainer(model, { optimizer: opt, lrSchedule: { schedule: { kind: 'step', stepSize: 0 } } }), RangeError, 'lrSchedule.schedule.stepSize');
    expectThrows(() => new Trainer(model, { optimizer: opt, lrSchedule: { schedule: { kind: 'cosine', minLr: -1 } } }), RangeError, 'lrSchedule.schedule.minLr');
    expectThrows(() => new Trainer(model, { optimizer: opt, lrSchedule: { schedule: { kind: 'bogus' } as never } }), RangeError, 'lrSchedule.schedule.kind');
    expectThrows(() => new Trainer(model, { optimizer: opt, lrSchedule: { warmupEpochs: Number.NaN } }), RangeError, 'lrSchedule.warmupEpochs');
    expectThrows(() => new Trainer(model, { optimizer: { lr: 0.1, momentum: 0.9, nesterov: 'yes' as never } }), TypeError, 'optimizer.nesterov');
    expectThrows(() => new Trainer(model, { optimizer: opt, distillation: { teacher: mlp([4, 3, 2], seed), alpha: 2 } }), RangeError, 'distillation.alpha');
    expectThrows(() => new Trainer(model, { optimizer: opt, distillation: { teacher: mlp([4, 3, 2], seed), temperature: 0 } }), RangeError, 'distillation.temperature');
    expectThrows(() => new Trainer(model, { optimizer: opt, pruning: { schedule: { kind: 'oneShot', sparsity: 0.5 }, dense: [7] } }), RangeError, 'pruning.dense', '[0, 2)');
    expectThrows(() => new Trainer(model, { optimizer: opt, pruning: { schedule: { kind: 'lotteryTicket', rate: 0.5, everyEpochs: 1, finalSparsity: 0.5, rewindStep: -1 } } }), RangeError, 'rewindStep');
    expectThrows(() => new Trainer(model, { optimizer: opt, pruning: { schedule: { kind: 'adaptive', finalSparsity: 0.5, floor: 2 } } }), RangeError, 'pruning.schedule.floor');
    // A run too short for the schedule to prune at all is refused rather than trained dense.
    const tooShort = async (schedule: PruningSchedule, epochs: number) => {
      const signal = new AbortController().signal;
      const t = new Trainer(model, { optimizer: opt, pruning: { schedule } });
      await expect(t.fit(data, { epochs, batchSize: 4, validation: data, signal })).rejects.toThrow(/for epochs/);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0); // nothing left behind on the signal
    };
    await tooShort({ kind: 'lotteryTicket', rate: 0.5, everyEpochs: 1, finalSparsity: 0.9 }, 1);
    await tooShort({ kind: 'iterative', rate: 0.5, everyEpochs: 3, finalSparsity: 0.9 }, 3);
    await tooShort({ kind: 'adaptive', finalSparsity: 0.9 }, 1);
    expect(Array.from(model.linears()[0].weight)).toEqual(Array.from(w0));
  });

  it('one fit at a time per model; no reading or replacing weights while an epoch runs; steps count over every fit', async () => {
    const r = caseRng();
    const data = randomData(40, 4, 2, r);
    const model = mlp([4, 3, 2], seed);
    const trainer = new Trainer(model, { optimizer: { lr: 0.1 } });
    const busy: string[] = [];
    const x = new Float32Array(4);
    const first = trainer.fit(data, {
      epochs: 2,
      batchSize: 10,
      // Between epochs (onEpoch) the model is the caller's to read.
      onEpoch: () => expect(model.predict(x, 1)).toHaveLength(2),
    });
    // The first epoch is in flight now (fit ran synchronously up to its native job).
    await expect(trainer.fit(data, { epochs: 1, batchSize: 10 })).rejects.toMatchObject({ code: 'ERR_SHEARS_BUSY' });
    await expect(new Trainer(model, { optimizer: { lr: 0.1 } }).fit(data, { epochs: 1, batchSize: 10 })).rejects.toMatchObject({ code: 'ERR_SHEARS_BUSY' });
    for (const [what, call] of [['predict', () => model.predict(x, 1)], ['reset', () => model.reset()], ['stateDict', () => model.stateDict()], ['loadStateDict', () => model.loadStateDict(new Map())]] as const) {
      try {
        call();
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_SHEARS_BUSY') busy.push(what);
      }
    }
    await expect(model.predictAsync(x, 1)).rejects.toMatchObject({ code: 'ERR_SHEARS_BUSY' });
    expect(busy).toEqual(['predict', 'reset', 'stateDict', 'loadStateDict']);
    await first;
    expect(trainer.steps).toBe(8);
    await trainer.fit(data, { epochs: 1, batchSize: 10 });
    expect(trainer.steps).toBe(12);
  });

  it('adaptive: a step that leaves accuracy under the floor is undone and ends the schedule', async () => {
    const r = caseRng();
    const data = randomData(200, 16, 3, r), val = randomData(60, 16, 3, r);
    const model = mlp([16, 12, 3], seed);
    // Tolerance 0.999 would keep every step; a floor of 1 (perfect accuracy) rejects the first.
    const t = new Trainer(model, { optimizer: { lr: 0.05 }, pruning: { schedule: { kind: 'adaptive', finalSparsity: 0.8, step: 0.2, tolerance: 0.999, floor: 1 } } });
    const fit = await t.fit(data, { epochs: 4, batchSize: 20, validation: val });
    const steps = fit.epochs.flatMap((e) => e.pruned);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ target: 0.2, accepted: false });
    expect(model.linears().every((l) => l.mask.every((m) => m === 1))).toBe(true);
  });

  it('models save and load (shears form and a plain PyTorch nn.Sequential state dict)', () => {
    const model = mlp([6, 5, 3], seed);
    model.linears()[0].mask[2] = 0;
    model.linears()[0].weight[2] = 0;
    const file = path.join(dir, 'model.safetensors');
    model.save(file);
    const back = Sequential.load(file);
    expect(back.architecture()).toEqual(model.architecture());
    back.linears().forEach((l, i) => {
      expect(Array.from(l.weight)).toEqual(Array.from(model.linears()[i].weight));
      expect(Array.from(l.mask)).toEqual(Array.from(model.linears()[i].mask));
    });
    // As torch.save(model.state_dict()) → safetensors would write it: no shears metadata.
    const plain = path.join(dir, 'plain.safetensors');
    saveSafetensors(plain, new Map([...model.stateDict()].map(([k, e]) => [k, { tensor: new Tensor(e.tensor.data, [...e.tensor.shape]) }])));
    const torchLike = Sequential.load(plain);
    expect(torchLike.architecture()).toEqual([['linear', 6, 5, true], ['relu'], ['linear', 5, 3, true]]);
    const x = Float32Array.from({ length: 12 }, (_, i) => i / 12);
    expect(Array.from(torchLike.predict(x, 2))).toEqual(Array.from(model.predict(x, 2)));
    // nn.Sequential(nn.Flatten(), nn.Linear, nn.ReLU, nn.Linear): keys 1.* and 3.*, a Flatten first.
    const flat = path.join(dir, 'flatten-first.safetensors');
    saveSafetensors(flat, new Map([...model.stateDict()].map(([k, e]) => [k.replace(/^(\d+)/, (d) => String(Number(d) + 1)), { tensor: new Tensor(e.tensor.data, [...e.tensor.shape]) }])));
    const withFlatten = Sequential.load(flat);
    expect(withFlatten.architecture()).toEqual([['flatten'], ['linear', 6, 5, true], ['relu'], ['linear', 5, 3, true]]);
    expect(Array.from(withFlatten.predict(x, 2))).toEqual(Array.from(model.predict(x, 2)));
  });

  it('loadStateDict checks every entry before copying anything', () => {
    const model = mlp([6, 5, 3], seed);
    const good = () => new Map([...mlp([6, 5, 3], seed + 1).stateDict()].map(([k, e]) => [k, { tensor: new Tensor(e.tensor.data.slice(), [...e.tensor.shape]) as Tensor, mask: undefined as Uint8Array | undefined }]));
    const snapshot = () => model.linears().flatMap((l) => [Array.from(l.weight), Array.from(l.bias!), Array.from(l.mask)]);
    const before = snapshot();
    const bad = (edit: (s: ReturnType<typeof good>) => void, type: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, ...mentions: string[]) => {
      const s = good();
      edit(s);
      expectThrows(() => model.loadStateDict(s), type, ...mentions);
      expect(snapshot()).toEqual(before);
    };
    // Same size, transposed shape.
    bad((s) => (s.get('0.weight')!.tensor = new Tensor(new Float32Array(30), [6, 5])), RangeError, "state.get('0.weight').tensor", 'shape [5,6]', 'shape [6,5]');
    bad((s) => (s.get('2.weight')!.mask = new Uint8Array(15).fill(2)), RangeError, "state.get('2.weight').mask", 'values 0 or 1', 'mask[0] = 2');
    bad((s) => (s.get('2.weight')!.mask = new Uint8Array(14)), RangeError, "state.get('2.weight').mask", '15 values');
    bad((s) => (s.get('0.bias')!.mask = new Uint8Array(5)), RangeError, "state.get('0.bias').mask");
    // A later entry missing: the earlier layers are not half-loaded.
    bad((s) => s.delete('2.bias'), RangeError, 'an entry 2.bias');
    bad((s) => s.set('4.weight', { tensor: new Tensor(new Float32Array(1), [1, 1]), mask: undefined }), RangeError, 'does not have: 4.weight', 'strict: false');
    const extra = good();
    extra.set('4.weight', { tensor: new Tensor(new Float32Array(1), [1, 1]), mask: undefined });
    model.loadStateDict(extra, { strict: false });
    expect(Array.from(model.linears()[1].weight)).toEqual(Array.from(extra.get('2.weight')!.tensor.data));
  });
});
