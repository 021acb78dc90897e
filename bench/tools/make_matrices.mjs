/**
 * Writes a small set of sparse matrices for `shears bench` runs on a machine without a matrix
 * collection (the GPU machine has no network): 4096² unstructured at s = 0.9, 0.95, 0.98 (.mtx)
 * and 16×16-block sparse at block sparsity 0.9 (.npz), seeded.
 *
 *   node bench/tools/make_matrices.mjs <folder>
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BsrMatrix, CsrMatrix, writeSparse } from '../../dist/index.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/tools/make_matrices.mjs <folder>');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const N = 4096;
for (const s of [0.9, 0.95, 0.98]) {
  const d = new Float32Array(N * N);
  for (let i = 0; i < d.length; i++) if (rnd() >= s) d[i] = rnd() - 0.5;
  const file = path.join(dir, `unstructured_${N}_s${s}.mtx`);
  writeSparse(file, CsrMatrix.fromDense(d, N, N));
  console.log(file);
}
const b = 16, d = new Float32Array(N * N);
for (let I = 0; I < N / b; I++)
  for (let J = 0; J < N / b; J++)
    if (rnd() >= 0.9) for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) d[(I * b + i) * N + J * b + j] = rnd() - 0.5;
const file = path.join(dir, `block16_${N}_s0.9.npz`);
writeSparse(file, BsrMatrix.fromDense(d, N, N, { blockRows: b, blockCols: b }));
console.log(file);
