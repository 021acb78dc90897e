/**
 * Seeded random inputs for the benchmarks: dense arrays and sparse matrices with uniformly random
 * positions. Every generator is O(output): sparse patterns are drawn by geometric skipping over the
 * row-major positions (the gap between two kept positions of a Bernoulli(1 − s) sequence is
 * geometric), so a 32768² matrix at s = 0.99 costs its 10.7 M entries, not 1.07 G coin flips.
 * torch_peer.py draws its matrices from the same distribution (not the same numbers).
 */
import { BsrMatrix, CsrMatrix } from '../../dist/index.js';
import { uniformGenerator } from '../../dist/prune/random.js';

/** The library's seeded uniform generator (mulberry32): a function giving floats in [0, 1). */
export const prng = uniformGenerator;

/** `length` floats uniform in [-1, 1). */
export function randomDense(length, seed) {
  const next = prng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = 2 * next() - 1;
  return out;
}

/**
 * A row-major `rows × cols` pattern where each position is kept independently with probability
 * 1 − sparsity. Returns `{ rowPtr, colIdx }` (columns sorted within each row).
 */
export function randomPattern(rows, cols, sparsity, seed) {
  if (!(sparsity >= 0 && sparsity <= 1)) throw new RangeError(`sparsity must lie in [0, 1], got ${sparsity}`);
  const next = prng(seed);
  const logS = Math.log(sparsity); // -Infinity at s = 0 (keep all), 0 at s = 1 (keep none)
  // Positions skipped before the next kept one: floor(ln U / ln s) with U uniform in (0, 1].
  const skip = () => Math.floor(Math.log(1 - next()) / logS);
  const total = rows * cols;
  const expected = total * (1 - sparsity);
  let capacity = Math.ceil(expected + 6 * Math.sqrt(expected) + 16);
  let colIdx = new Int32Array(capacity);
  const rowPtr = new Int32Array(rows + 1);
  let nnz = 0;
  for (let pos = skip(); pos < total; pos += 1 + skip()) {
    if (nnz === capacity) {
      capacity *= 2;
      const grown = new Int32Array(capacity);
      grown.set(colIdx);
      colIdx = grown;
    }
    const r = Math.floor(pos / cols);
    colIdx[nnz++] = pos - r * cols;
    rowPtr[r + 1]++;
  }
  for (let r = 0; r < rows; r++) rowPtr[r + 1] += rowPtr[r];
  return { rowPtr, colIdx: colIdx.slice(0, nnz) };
}

/** A `rows × cols` CSR matrix at element sparsity `sparsity`, values uniform in [-1, 1). */
export function randomCsr(rows, cols, sparsity, seed) {
  const { rowPtr, colIdx } = randomPattern(rows, cols, sparsity, seed);
  return new CsrMatrix(rows, cols, rowPtr, colIdx, randomDense(colIdx.length, seed + 1));
}

/**
 * A BSR matrix whose `blockRows × blockCols` blocks are each kept with probability 1 − sparsity
 * (block sparsity); kept blocks are fully dense, values uniform in [-1, 1).
 */
export function randomBsr(rows, cols, blockRows, blockCols, sparsity, seed) {
  const { rowPtr, colIdx } = randomPattern(rows / blockRows, cols / blockCols, sparsity, seed);
  const values = randomDense(colIdx.length * blockRows * blockCols, seed + 1);
  return new BsrMatrix(rows, cols, { blockRows, blockCols }, rowPtr, colIdx, values);
}
