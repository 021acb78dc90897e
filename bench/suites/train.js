/**
 * The `train` suite (issue 4, section 8): LeNet-300-100 on Fashion-MNIST (Debian's
 * dataset-fashion-mnist), batch 128, SGD lr 0.05 momentum 0.9, 10 epochs, gradual pruning (global
 * magnitude) from epoch 0 to 6 to 90 / 95 / 98% — shears natively, beside PyTorch with
 * torch.nn.utils.prune doing the same (bench/peers/torch_train.py, run after shears); the fused
 * masked SGD step over 1e7 and 1e8 parameters against the memory bandwidth and PyTorch's
 * optimizer step plus mask multiply; and the `npm start` demo's wall time.
 *
 * Whole training runs take seconds each, so this suite times them itself (one run per
 * configuration, per-epoch times as medians) instead of through benchmark.js.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { datasets, Linear, ReLU, Sequential, Trainer } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { measureBandwidth, median } from '../lib/measure.js';
import { renderTable, sig } from '../lib/table.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RECIPE = { epochs: 10, batch: 128, lr: 0.05, momentum: 0.9, pruneEpochs: 6, frequency: 100, seed: 0, inferenceBatch: 256 };
/** Bytes the fused step moves per parameter: reads w, g, v (4 B each) and the mask (1 B), writes w and v. */
const SGD_BYTES = 21;

function lenet(seed) {
  return new Sequential([new Linear(784, 300), new ReLU(), new Linear(300, 100), new ReLU(), new Linear(100, 10)], { seed });
}

/** Samples per second of batched inference at `batch` over the first `batch` test images. */
function inferenceRate(model, test, batch) {
  const x = test.x.subarray(0, batch * test.features);
  for (let i = 0; i < 3; i++) model.predict(x, batch, batch);
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    model.predict(x, batch, batch);
    runs++;
  }
  return (runs * batch) / ((performance.now() - start) / 1000);
}

async function trainRun(sparsity, train, test, epochs) {
  const model = lenet(RECIPE.seed);
  const trainer = new Trainer(model, {
    optimizer: { lr: RECIPE.lr, momentum: RECIPE.momentum },
    pruning: sparsity > 0 ? { schedule: { kind: 'gradual', finalSparsity: sparsity, endEpoch: Math.min(RECIPE.pruneEpochs, epochs), frequency: RECIPE.frequency } } : undefined,
    seed: RECIPE.seed,
  });
  const fit = await trainer.fit(train, {
    epochs,
    batchSize: RECIPE.batch,
    onEpoch: (l) => console.error(`[train] s=${sparsity} epoch ${l.epoch + 1}/${epochs} ${l.seconds.toFixed(2)} s loss ${l.loss.toFixed(4)} (${l.kernels.join('/')})`),
  });
  const { accuracy } = await trainer.evaluate(test);
  const seconds = fit.epochs.map((l) => l.seconds);
  const layers = model.summary();
  const kept = layers.reduce((s, r) => s + r.kept, 0), total = layers.reduce((s, r) => s + r.shape[0] * r.shape[1], 0);
  return {
    sparsity,
    accuracy,
    epochSeconds: seconds,
    // Epochs after pruning ended run at the final sparsity: the sparse-speed figure.
    finalEpochMedian: median(seconds.slice(Math.min(RECIPE.pruneEpochs, epochs))),
    medianEpoch: median(seconds),
    inferencePerSecond: inferenceRate(model, test, RECIPE.inferenceBatch),
    reached: 1 - kept / total,
    kernels: layers.map((r) => r.kernel).join('/'),
  };
}

function sgdRun(n) {
  const w = new Float32Array(n).fill(0.5), g = new Float32Array(n).fill(0.01), v = new Float32Array(n);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i += 10) mask[i] = 1;
  native.maskedSgd(w, g, v, mask, 0.01, 0.9, 0, false);
  const times = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    native.maskedSgd(w, g, v, mask, 0.01, 0.9, 0, false);
    times.push((performance.now() - t) / 1000);
  }
  return { n, median: median(times), min: Math.min(...times), max: Math.max(...times) };
}

function startDemo() {
  const t = performance.now();
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'start'], { encoding: 'utf8' });
  return { seconds: (performance.now() - t) / 1000, ok: r.status === 0 };
}

async function run({ quick, peer, threads }) {
  let data;
  try {
    data = datasets.fashionMnist();
  } catch (err) {
    console.log(`## Training\n${err.message}; the training cases are skipped.`);
    data = undefined;
  }
  const epochs = quick ? 2 : RECIPE.epochs;
  const sparsities = quick ? [0, 0.95] : [0, 0.9, 0.95, 0.98];
  const runs = [];
  if (data) for (const s of sparsities) runs.push(await trainRun(s, data.train, data.test, epochs));
  // The copy bandwidth again, right before the optimizer step it judges.
  const bandwidth = measureBandwidth(Math.max(64 * 1024 ** 2, 2 * 32 * 1024 ** 2), 9);
  const sgd = (quick ? [1e7] : [1e7, 1e8]).map(sgdRun);
  const demo = startDemo();

  let torch;
  if (peer && data) {
    const r = spawnSync(peer.python, [path.join(root, 'bench', 'peers', 'torch_train.py')], {
      input: JSON.stringify({ ...RECIPE, epochs, threads, dir: datasets.FASHION_MNIST_DIR, sparsities, sgd: sgd.map((s) => s.n) }),
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60 * 60_000,
    });
    if (r.status === 0) torch = JSON.parse(r.stdout);
    else console.error(`peer: torch_train.py failed (exit ${r.status}); PyTorch columns skipped`);
  }

  const pct = (x) => (x === undefined ? '—' : `${(x * 100).toFixed(2)}%`);
  const ratio = (x) => (x === undefined || !Number.isFinite(x) ? '—' : `${sig(x)}×`);
  const t = (s) => torch?.runs?.[String(s)];
  console.log(`## LeNet-300-100 on Fashion-MNIST, ${epochs} epochs, batch ${RECIPE.batch}, lr ${RECIPE.lr}, momentum ${RECIPE.momentum}, gradual pruning epochs 0–${RECIPE.pruneEpochs} (global magnitude)`);
  console.log('Epoch ms: median over all epochs; "pruned epoch": median of the epochs after pruning ended (at the final sparsity). Inference at batch 256.');
  console.log(
    renderTable(
      ['sparsity', 'kernels', 'test acc', 'torch acc', 'epoch ms', 'torch epoch ms', '×torch', 'pruned epoch ms', '×torch', 'infer /s', '×torch dense'],
      runs.map((r) => {
        const p = t(r.sparsity), dense = t(0);
        const pEpoch = p && median(p.epochSeconds), pFinal = p && median(p.epochSeconds.slice(Math.min(RECIPE.pruneEpochs, epochs)));
        return [
          `${(r.sparsity * 100).toFixed(0)}% (${(r.reached * 100).toFixed(1)})`,
          r.kernels,
          pct(r.accuracy),
          pct(p?.accuracy),
          sig(r.medianEpoch * 1e3),
          p ? sig(pEpoch * 1e3) : '—',
          ratio(p && pEpoch / r.medianEpoch),
          sig(r.finalEpochMedian * 1e3),
          ratio(p && pFinal / r.finalEpochMedian),
          sig(r.inferencePerSecond),
          ratio(dense && r.inferencePerSecond / dense.inferencePerSecond),
        ];
      }),
    ),
  );
  console.log('');
  console.log('## Fused masked SGD step (momentum 0.9, 90% of the weights masked)');
  console.log(`GB/s: ${SGD_BYTES} bytes per parameter (read w, g, v, mask; write w, v) against the copy bandwidth measured just before (${sig(bandwidth.median)} GB/s, median of 9); torch: optimizer.step() then w.mul_(mask).`);
  console.log(
    renderTable(
      ['parameters', 'median ms', 'min–max ms', 'GB/s', 'of bandwidth', 'torch ms', '×torch'],
      sgd.map((s) => {
        const gbs = (SGD_BYTES * s.n) / s.median / 1e9;
        const p = torch?.sgd?.[String(s.n)];
        return [sig(s.n), sig(s.median * 1e3), `${sig(s.min * 1e3)}–${sig(s.max * 1e3)}`, sig(gbs), pct(gbs / bandwidth.median), p ? sig(p.median * 1e3) : '—', ratio(p && p.median / s.median)];
      }),
    ),
  );
  console.log(`\nnpm start (the embedded-MNIST demo): ${demo.seconds.toFixed(1)} s${demo.ok ? '' : ' (failed!)'}\n`);

  // ── Targets ──
  const targets = [];
  const add = (target, measured, goal, ratioToGoal) =>
    targets.push({ target, measured, goal, ratio: ratioToGoal, pass: ratioToGoal === undefined || Number.isNaN(ratioToGoal) ? undefined : ratioToGoal >= 1 });
  const accGoal = { 0: 0.885, 0.9: 0.886, 0.95: 0.886, 0.98: 0.88 };
  for (const r of runs) {
    add(`Accuracy, ${(r.sparsity * 100).toFixed(0)}% sparse`, pct(r.accuracy), `≥ ${pct(accGoal[r.sparsity])}`, r.accuracy / accGoal[r.sparsity]);
    const p = t(r.sparsity);
    // "Within run-to-run noise": half a point.
    if (p) add(`Accuracy, ${(r.sparsity * 100).toFixed(0)}% sparse, vs PyTorch (−0.5 pt noise)`, pct(r.accuracy), `≥ ${pct(p.accuracy - 0.005)}`, r.accuracy / (p.accuracy - 0.005));
  }
  const dense = runs.find((r) => r.sparsity === 0), s95 = runs.find((r) => r.sparsity === 0.95);
  if (dense && t(0)) {
    const x = median(t(0).epochSeconds) / dense.medianEpoch;
    add('Dense epoch vs PyTorch dense epoch', ratio(x), '≥ 2×', x / 2);
  }
  if (s95 && t(0.95)) {
    const x = median(t(0.95).epochSeconds.slice(RECIPE.pruneEpochs)) / s95.finalEpochMedian;
    add('95%-sparse epoch vs PyTorch masked epoch', ratio(x), '≥ 4×', x / 4);
    const y = s95.inferencePerSecond / t(0).inferencePerSecond;
    add('95%-sparse inference vs PyTorch dense (batch 256)', ratio(y), '≥ 4×', y / 4);
  }
  for (const s of sgd) {
    const share = (SGD_BYTES * s.n) / s.median / 1e9 / bandwidth.median;
    add(`Fused masked SGD, ${sig(s.n)} parameters: share of bandwidth`, pct(share), '≥ 70%', share / 0.7);
  }
  add('npm start demo', `${demo.seconds.toFixed(1)} s`, '< 90 s', demo.ok ? 90 / demo.seconds : 0);
  return { targets };
}

export function trainSuite() {
  return { name: 'train', standalone: true, groups: [], run };
}
