/**
 * Dense GEMM rate two ways in one process: a plain timed loop and the suites' benchmark.js harness
 * (bench/lib/measure.js), for the shapes the spmm suite's GEMM targets use. A check on the harness,
 * not a benchmark of record.
 *
 *   node bench/tools/gemm_check.mjs
 */
import { gemm } from '../../dist/index.js';
import { timeIt } from '../lib/measure.js';
import { randomDense } from '../lib/random.js';

for (const [m, k, n] of [[1024, 1024, 1024], [4096, 4096, 256]]) {
  const a = randomDense(m * k, 1), b = randomDense(k * n, 2), out = new Float32Array(m * n);
  const run = () => gemm(a, b, m, k, n, { out });
  for (let r = 0; r < 3; r++) run();
  const loop = [];
  for (let r = 0; r < 10; r++) {
    const t = performance.now();
    run();
    loop.push(performance.now() - t);
  }
  loop.sort((x, y) => x - y);
  const h = timeIt(run, { maxTime: 2, minSamples: 5 });
  const gf = (ms) => ((2 * m * k * n) / (ms * 1e6)).toFixed(1);
  console.log(`${m}×${k}×${n}: loop median ${loop[5].toFixed(2)} ms (${gf(loop[5])} GFLOP/s), harness median ${(h.median * 1e3).toFixed(2)} ms (${gf(h.median * 1e3)} GFLOP/s, ${h.samples} samples)`);
}
