/**
 * The format advisor: which of CSR, BSR (at block sizes whose fill stays bounded) and dense runs a
 * product fastest on this machine for this matrix and this `n` — measured, not guessed, with every
 * candidate's time returned so the choice can be checked. Results are cached by (shape, structure
 * hash, n, ISA, threads — or the GPU and precision), in memory and optionally in a JSON file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import { optionsObject, rangeError, typeError } from '../errors.js';
import { info } from '../info.js';
import { native } from '../native.js';
import { resolveDevice, type Device } from '../tensor/device.js';
import { gemm } from '../tensor/gemm.js';
import { BsrMatrix } from './bsr.js';
import { CsrMatrix } from './csr.js';
import { bsrPrecision, type BsrPrecision } from './matrix.js';

export type Candidate = 'csr' | 'dense' | `bsr:${number}x${number}`;

export interface AdviseOptions {
  /**
   * 'cpu' (default), 'cuda' or 'auto' (the GPU when one is usable). On the GPU the candidates are
   * timed kernel-only with their operands resident (CUDA events), as `shears bench --device cuda`:
   * the advice for a matrix kept on the device.
   */
  device?: Device;
  /**
   * On the GPU: BSR's arithmetic ('fp32' default, 'tf32' or 'bf16' tensor cores where the shape
   * allows); with 'tf32' or 'bf16' the dense candidate is the TF32 GEMM. CSR stays FP32.
   */
  precision?: BsrPrecision;
  /** Formats to consider (default: csr, dense and BSR 2×2, 4×4, 8×8, 16×16 where the shape allows). */
  candidates?: Candidate[];
  /** BSR candidates whose stored zeros exceed this share of their stored values are not timed (default 0.5). */
  maxFill?: number;
  /**
   * Minimum time per candidate measurement in ms on the CPU (default 20): each is run until it has
   * that. The GPU timers take at least 10 samples and 50 ms each.
   */
  minMs?: number;
  /** A JSON file that keeps the results across processes. */
  cacheFile?: string;
}

export interface Advice {
  best: Candidate;
  n: number;
  /** Every candidate considered: measured time, or why it was skipped. */
  candidates: { format: Candidate; ms?: number; fill?: number; skipped?: string }[];
  cached: boolean;
}

const memory = new Map<string, Advice>();

/** FNV-1a over the structure (row pointers and column indices). */
function structureHash(a: CsrMatrix): string {
  let h = 0x811c9dc5;
  const mix = (v: number) => {
    h ^= v & 0xffff;
    h = Math.imul(h, 0x01000193);
    h ^= v >>> 16;
    h = Math.imul(h, 0x01000193);
  };
  for (let i = 0; i < a.rowPtr.length; i++) mix(a.rowPtr[i]);
  for (let i = 0; i < a.colIdx.length; i++) mix(a.colIdx[i]);
  return (h >>> 0).toString(16);
}

/** Stored zeros over stored values if the pattern were tiled in r×c blocks. */
export function blockFill(a: CsrMatrix, r: number, c: number): number {
  if (a.rows % r !== 0 || a.cols % c !== 0) return Number.NaN;
  const seen = new Int32Array(a.cols / c).fill(-1);
  let blocks = 0;
  for (let I = 0; I < a.rows / r; I++)
    for (let i = I * r; i < (I + 1) * r; i++)
      for (let p = a.rowPtr[i]; p < a.rowPtr[i + 1]; p++) {
        const J = Math.floor(a.colIdx[p] / c);
        if (seen[J] !== I) {
          seen[J] = I;
          blocks++;
        }
      }
  const stored = blocks * r * c;
  return stored === 0 ? 0 : 1 - a.nnz / stored;
}

/**
 * Measures the candidate formats for `C = A·B` with B of `n` columns and returns the fastest.
 *
 * @example
 * const { best, candidates } = advise(csr, 256);   // e.g. 'bsr:4x4', with each candidate's ms
 */
export function advise(input: CsrMatrix | BsrMatrix, n: number, options?: AdviseOptions): Advice {
  // A BSR matrix is advised on as the entries it holds (its format is one of the candidates).
  const matrix = input instanceof BsrMatrix ? input.toCsr() : input;
  if (!(matrix instanceof CsrMatrix)) throw typeError('matrix', 'a CsrMatrix or BsrMatrix', input);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw rangeError('n', 'a positive integer', n);
  const o = optionsObject(options);
  const gpu = resolveDevice(o.device) === 'cuda';
  const precision = bsrPrecision({ precision: o.precision });
  const maxFill = o.maxFill ?? 0.5;
  const minMs = o.minMs ?? 20;
  const candidates: Candidate[] = o.candidates ?? ['csr', 'dense', 'bsr:2x2', 'bsr:4x4', 'bsr:8x8', 'bsr:16x16'];
  const i = info();
  const where = gpu ? `cuda:${i.cuda.devices.find((d) => d.usable)?.name}:${precision}` : `${i.isa.active}:${i.threads}`;
  const key = `${matrix.rows}x${matrix.cols}:${matrix.nnz}:${structureHash(matrix)}:${n}:${where}:${candidates.join(',')}:${maxFill}`;
  let disk: Record<string, Advice> = {};
  if (o.cacheFile && existsSync(o.cacheFile)) {
    try {
      disk = JSON.parse(readFileSync(o.cacheFile, 'utf8')) as Record<string, Advice>;
    } catch {
      disk = {};
    }
  }
  const hit = memory.get(key) ?? disk[key];
  if (hit) return { ...hit, cached: true };

  if (gpu) return remember(key, adviseGpu(matrix, n, candidates, maxFill, precision), o.cacheFile, disk);
  const b = new Float32Array(matrix.cols * n);
  for (let k = 0; k < b.length; k++) b[k] = ((k * 2654435761) % 1000) / 1000 - 0.5;
  const out = new Float32Array(matrix.rows * n);
  const results: Advice['candidates'] = [];
  const runs: { entry: Advice['candidates'][number]; run: () => void; times: number[] }[] = [];
  for (const format of candidates) {
    if (format === 'csr') {
      const entry = { format } as Advice['candidates'][number];
      results.push(entry);
      runs.push({ entry, run: () => matrix.matmul(b, n, { out }), times: [] });
    } else if (format === 'dense') {
      if (matrix.rows * matrix.cols > 2 ** 28) {
        results.push({ format, skipped: 'too large to densify' });
        continue;
      }
      const d = matrix.toDense();
      const entry = { format } as Advice['candidates'][number];
      results.push(entry);
      runs.push({ entry, run: () => gemm(d, b, matrix.rows, matrix.cols, n, { out }), times: [] });
    } else {
      const bsr = bsrCandidate(matrix, format, maxFill, results);
      if (bsr) runs.push({ entry: results[results.length - 1], run: () => bsr.matmul(b, n, { out }), times: [] });
    }
  }
  // Three passes over the candidates, each a block of back-to-back calls (warm caches, as in real
  // use) lasting a third of `minMs`: a change in the machine's speed during the measurement is
  // spread over every candidate instead of landing on one.
  for (let pass = 0; pass < 3; pass++)
    for (const r of runs) {
      r.run();
      const start = performance.now();
      for (let k = 0; k < 3 || performance.now() - start < minMs / 3; k++) {
        const t = performance.now();
        r.run();
        r.times.push(performance.now() - t);
      }
    }
  for (const r of runs) {
    r.times.sort((x, y) => x - y);
    r.entry.ms = r.times[r.times.length >> 1];
  }
  return remember(key, pick(results, candidates, n), o.cacheFile, disk);
}

/** The BSR candidate `format` when its shape divides the matrix and its fill is bounded (its entry is pushed either way). */
function bsrCandidate(matrix: CsrMatrix, format: Candidate, maxFill: number, results: Advice['candidates']): BsrMatrix | undefined {
  const m = /^bsr:(\d+)x(\d+)$/.exec(format);
  if (!m) throw rangeError('candidates', "'csr', 'dense' or 'bsr:RxC'", format);
  const [r, c] = [Number(m[1]), Number(m[2])];
  const fill = blockFill(matrix, r, c);
  if (Number.isNaN(fill)) results.push({ format, skipped: `${r}×${c} does not divide ${matrix.rows}×${matrix.cols}` });
  else if (fill > maxFill) results.push({ format, fill, skipped: `fill ${(fill * 100).toFixed(0)}% > ${(maxFill * 100).toFixed(0)}%` });
  else {
    results.push({ format, fill });
    return BsrMatrix.fromCsr(matrix, { blockRows: r, blockCols: c });
  }
  return undefined;
}

/** The fastest timed candidate. */
function pick(results: Advice['candidates'], candidates: Candidate[], n: number): Advice {
  const timed = results.filter((c) => c.ms !== undefined);
  if (timed.length === 0) throw rangeError('candidates', 'at least one format that can be timed', candidates.join(', '));
  const best = timed.reduce((x, y) => (y.ms! < x.ms! ? y : x)).format;
  return { best, n, candidates: results, cached: false };
}

function remember(key: string, advice: Advice, cacheFile: string | undefined, disk: Record<string, Advice>): Advice {
  memory.set(key, advice);
  if (cacheFile) writeFileSync(cacheFile, `${JSON.stringify({ ...disk, [key]: advice }, null, 1)}\n`);
  return advice;
}

/** The GPU's kernel-only medians (CUDA events, operands resident; at least 10 samples and 50 ms). */
function adviseGpu(matrix: CsrMatrix, n: number, candidates: Candidate[], maxFill: number, precision: BsrPrecision): Advice {
  const results: Advice['candidates'] = [];
  const repeat = 10, warmup = 2;
  for (const format of candidates) {
    if (format === 'csr') {
      results.push({ format, ms: native.cudaTimeKernel('spmm', matrix.rows, matrix.cols, matrix.rowPtr, matrix.colIdx, matrix.values, n, repeat, warmup).median });
    } else if (format === 'dense') {
      if (matrix.rows * matrix.cols > 2 ** 30) results.push({ format, skipped: 'too large for a dense GEMM on the GPU' });
      else results.push({ format, ms: native.cudaTimeGemm(matrix.rows, matrix.cols, n, precision !== 'fp32', repeat, warmup).median });
    } else {
      const bsr = bsrCandidate(matrix, format, maxFill, results);
      if (bsr)
        results[results.length - 1].ms = native.cudaTimeBsr(bsr.rows, bsr.cols, bsr.blockRows, bsr.blockCols, bsr.rowPtr, bsr.colIdx, bsr.values, n, precision, repeat, warmup).median;
    }
  }
  return pick(results, candidates, n);
}
