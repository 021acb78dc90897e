/** `shears start`: what this machine runs, and a short SpMM-vs-dense speed table. */
import { BsrMatrix, CsrMatrix, gemm, info } from '../index.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time of fn in ms over `reps` runs after one warm-up. */
function time(fn: () => void, reps = 5): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** Seeded dense matrix with about `density` non-zeros, kept in whole blocks when block > 1. */
function randomSparse(n: number, density: number, block: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const a = new Float32Array(n * n);
  for (let I = 0; I < n; I += block)
    for (let J = 0; J < n; J += block)
      if (rand() < density) for (let i = I; i < I + block; i++) for (let j = J; j < J + block; j++) a[i * n + j] = rand() - 0.5;
  return a;
}

export function printInfo(): void {
  const i = info();
  console.log(`shears ${i.version} (${i.build} build) on ${i.cpu || 'an unknown CPU'}`);
  console.log(`  SIMD: ${i.isa.active} (available: ${i.isa.available.join(', ')}), threads: ${i.threads}`);
  if (!i.cuda.compiled) console.log('  CUDA: not in this build (npm run build:cuda builds it where a CUDA toolkit is installed)');
  else if (i.cuda.devices.length === 0) console.log(`  CUDA: compiled in, no usable device${i.cuda.error ? ` (${i.cuda.error})` : ''}`);
  else for (const d of i.cuda.devices) console.log(`  CUDA ${d.index}: ${d.name} (sm_${d.computeCapability.replace('.', '')}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB)${d.usable ? '' : ` unusable: ${d.error}`}`);
}

export function speedTable(): void {
  const n = 2048, cols = 128;
  const b = new Float32Array(n * cols).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const out = new Float32Array(n * cols);
  const dense = randomSparse(n, 1, 1, 1);
  const denseMs = time(() => gemm(dense, b, n, n, cols, { out }));
  const gflops = (flops: number, ms: number) => (flops / ms / 1e6).toFixed(1);
  console.log(`\nSpMM C = A·B, A ${n}×${n} sparse, B ${n}×${cols} dense (median of 5 runs)`);
  console.log(`  dense GEMM: ${denseMs.toFixed(2)} ms, ${gflops(2 * n * n * cols, denseMs)} GFLOP/s`);
  console.log('  format     sparsity     ms   GFLOP/s  speed-up vs dense');
  for (const [format, s] of [['csr', 0.9], ['csr', 0.95], ['csr', 0.98], ['csr', 0.99], ['bsr 16x16', 0.9]] as const) {
    const block = format === 'csr' ? 1 : 16;
    const data = randomSparse(n, 1 - s, block, 7);
    const a = format === 'csr' ? CsrMatrix.fromDense(data, n, n) : BsrMatrix.fromDense(data, n, n, { blockRows: 16, blockCols: 16 });
    const ms = time(() => a.matmul(b, cols, { out }));
    console.log(`  ${format.padEnd(10)} ${s.toFixed(2).padStart(8)} ${ms.toFixed(2).padStart(7)} ${gflops(2 * a.nnz * cols, ms).padStart(8)} ${(denseMs / ms).toFixed(1).padStart(10)}×`);
  }
  console.log('\nFull benchmark with PyTorch as the peer: npm run bench -- spmm');
}

