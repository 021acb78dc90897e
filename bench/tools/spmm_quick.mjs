/**
 * A quick CSR SpMM timing outside the benchmark harness: 4096×4096 at the given sparsities, the
 * given n, 15 timed calls after 3 warm-ups, median and minimum (for before/after checks of a
 * kernel change; the benchmark of record is `npm run bench -- spmm`).
 *
 *   node bench/tools/spmm_quick.mjs [n, e.g. 256,64] [sparsities, e.g. 0.5,0.9]
 */
import { CsrMatrix } from '../../dist/index.js';
const M = 4096, K = 4096;
const ns = (process.argv[2] ?? '256').split(',').map(Number);
const ss = (process.argv[3] ?? '0.5,0.8,0.9,0.95,0.98,0.99').split(',').map(Number);
let seed = 1; const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
for (const s of ss) {
  const d = new Float32Array(M * K); for (let i = 0; i < d.length; i++) d[i] = rnd() < s ? 0 : rnd() - 0.5;
  const a = CsrMatrix.fromDense(d, M, K);
  for (const n of ns) {
    const b = new Float32Array(K * n); for (let i = 0; i < b.length; i++) b[i] = rnd() - 0.5;
    const out = new Float32Array(M * n);
    for (let i = 0; i < 3; i++) a.matmul(b, n, { out });
    const t = [];
    for (let i = 0; i < 15; i++) { const t0 = performance.now(); a.matmul(b, n, { out }); t.push(performance.now() - t0); }
    t.sort((x, y) => x - y);
    let sum = 0; for (let i = 0; i < out.length; i += 97) sum += out[i];
    console.log(`s=${s} n=${n} median ${t[7].toFixed(2)} ms min ${t[0].toFixed(2)}  GF/s ${(2 * a.nnz * n / t[7] / 1e6).toFixed(1)} chk ${sum.toFixed(4)}`);
  }
}
