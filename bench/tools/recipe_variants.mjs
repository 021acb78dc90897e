/**
 * Accuracy of the issue-4 training recipe and its variants (LeNet-300-100 on Fashion-MNIST, 10
 * epochs, batch 128, lr 0.05, momentum 0.9, gradual pruning epochs 0–6), as seed means:
 *
 *   node bench/tools/recipe_variants.mjs [constant|cosine] [weightDecay] [seeds, e.g. 0,1,2]
 *   FREQ=469 node bench/tools/recipe_variants.mjs constant 0 0,1,2   # prune every 469 steps
 *
 * Needs Debian's dataset-fashion-mnist and a built package (npm ci).
 */
import { datasets, Linear, ReLU, Sequential, Trainer } from '../../dist/index.js';

const data = datasets.fashionMnist();
const schedule = process.argv[2] ?? 'constant';
const weightDecay = Number(process.argv[3] ?? 0);
const seeds = (process.argv[4] ?? '0').split(',').map(Number);
const frequency = Number(process.env.FREQ ?? 100);
for (const sparsity of [0, 0.9, 0.95, 0.98]) {
  const accs = [];
  for (const seed of seeds) {
    const model = new Sequential([new Linear(784, 300), new ReLU(), new Linear(300, 100), new ReLU(), new Linear(100, 10)], { seed });
    const trainer = new Trainer(model, {
      optimizer: { lr: 0.05, momentum: 0.9, weightDecay },
      lrSchedule: { schedule: { kind: schedule } },
      pruning: sparsity > 0 ? { schedule: { kind: 'gradual', finalSparsity: sparsity, endEpoch: 6, frequency } } : undefined,
      seed,
    });
    await trainer.fit(data.train, { epochs: 10, batchSize: 128 });
    accs.push((await trainer.evaluate(data.test)).accuracy * 100);
  }
  const mean = accs.reduce((a, b) => a + b) / accs.length;
  console.log(`${schedule} wd=${weightDecay} every ${frequency} steps, sparsity ${sparsity}: ${accs.map((a) => a.toFixed(2)).join(' ')}  mean ${mean.toFixed(2)}`);
}
