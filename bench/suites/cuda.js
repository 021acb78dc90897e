/**
 * The `cuda` suite (issue 5, section 4), for a machine with an NVIDIA GPU and the CUDA build
 * (`npm run build:cuda`): the device's copy bandwidth, CSR SpMM kernel times for M = K ∈ {4096,
 * 8192}, n ∈ {256, 1024, 4096} over the sparsities of the issue, the GPU selection of 10% of 1e8
 * scores, and the fused masked SGD step over 1e8 parameters against the copy bandwidth. Where no
 * device is usable it says why and reports every target as not measured.
 *
 * Dense references: cuBLAS SGEMM of the same shape (FP32, and TF32 for the tensor-core BSR) where
 * the build linked cuBLAS; with shears' own fallback GEMM the cuBLAS targets are not measured.
 * BSR 16×16 at block sparsity 0.9 runs on tensor cores (TF32).
 *
 * Training: one epoch of LeNet-300-100 and of a 784-4096-4096-10 MLP over 60,000 synthetic
 * Fashion-MNIST-sized samples (the GPU machines have no dataset package; epoch time does not depend
 * on the pixel values), dense and 95% sparse, on the GPU, and LeNet on the CPU for comparison.
 *
 * The peer (bench/peers/torch_cuda_peer.py, when a Python with CUDA-enabled torch is found:
 * SHEARS_PEER_PYTHON, python3, /usr/bin/python3) gives cuSPARSE SpMM (torch.sparse.mm on CUDA CSR)
 * for the same shapes and sparsities, and torch.topk / torch.kthvalue over 1e8 and 1e9 scores,
 * against shears' selection of resident scores (kernel time, no host transfers).
 */
import { BsrMatrix, CsrMatrix, cudaUsable, info, Linear, ReLU, selectSmallest, Sequential, Trainer } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { median } from '../lib/measure.js';
import { renderTable, sig } from '../lib/table.js';

const peerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'peers', 'torch_cuda_peer.py');

/** The first Python whose torch sees a CUDA device, or undefined. */
function findCudaPython() {
  for (const python of new Set([process.env.SHEARS_PEER_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean))) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.cuda.is_available())'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0 && r.stdout.trim().endsWith('True')) return python;
  }
  return undefined;
}

function runCudaPeer(python, request) {
  const r = spawnSync(python, [peerScript], { input: JSON.stringify(request), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024, timeout: 60 * 60_000 });
  if (r.status !== 0) {
    console.error(`peer: ${python} torch_cuda_peer.py failed (exit ${r.status}); peer columns skipped`);
    return undefined;
  }
  return JSON.parse(r.stdout);
}

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

/** A random m×k CSR at sparsity s, built row by row (no dense intermediate). */
function randomCsr(m, k, s, seed) {
  const r = rng(seed);
  const ptr = new Int32Array(m + 1), idx = [], val = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++)
      if (r() >= s) {
        idx.push(j);
        val.push(r() - 0.5);
      }
    ptr[i + 1] = idx.length;
  }
  return new CsrMatrix(m, k, ptr, Int32Array.from(idx), Float32Array.from(val));
}

/** A random m×k BSR with br×bc blocks, each block kept with probability 1 − s. */
function randomBsr(m, k, br, bc, s, seed) {
  const r = rng(seed);
  const ptr = new Int32Array(m / br + 1), idx = [];
  for (let I = 0; I < m / br; I++) {
    for (let J = 0; J < k / bc; J++) if (r() >= s) idx.push(J);
    ptr[I + 1] = idx.length;
  }
  const values = Float32Array.from({ length: idx.length * br * bc }, () => r() - 0.5);
  return new BsrMatrix(m, k, { blockRows: br, blockCols: bc }, ptr, Int32Array.from(idx), values);
}

/** Seconds of the second epoch (the first one prunes at its step 0 and warms up) on `device`. */
async function epochSeconds(sizes, sparsity, device, data, batch) {
  const layers = sizes.slice(1).flatMap((out, k) => (k + 2 < sizes.length ? [new Linear(sizes[k], out), new ReLU()] : [new Linear(sizes[k], out)]));
  const model = new Sequential(layers, { seed: 0 });
  const pruning = sparsity > 0 ? { schedule: { kind: 'oneShot', sparsity } } : undefined;
  const fit = await new Trainer(model, { optimizer: { lr: 0.01, momentum: 0.9 }, pruning, device }).fit(data, { epochs: 2, batchSize: batch });
  return { seconds: fit.epochs[1].seconds, kernels: fit.epochs[1].kernels.join('/') };
}

async function trainingCases(quick, targets) {
  const n = quick ? 6000 : 60000, features = 784;
  const r = rng(9);
  const data = { x: Float32Array.from({ length: n * features }, () => r()), y: Int32Array.from({ length: n }, () => Math.floor(r() * 10)), n, features, classes: 10 };
  const rowsOut = [];
  const lenet = [784, 300, 100, 10], wide = [784, 4096, 4096, 10];
  const res = {};
  for (const [name, sizes, cpuToo] of [['LeNet-300-100', lenet, true], ['784-4096-4096-10', wide, false]])
    for (const s of [0, 0.95]) {
      const g = await epochSeconds(sizes, s, 'cuda', data, 128);
      const c = cpuToo ? await epochSeconds(sizes, s, 'cpu', data, 128) : undefined;
      res[`${name}/${s}`] = { g, c };
      rowsOut.push([name, `${s * 100}%`, g.kernels, sig(g.seconds), c ? sig(c.seconds) : '—', c ? `${sig(c.seconds / g.seconds)}×` : '—']);
    }
  console.log(`## One training epoch, ${n} samples × 784, batch 128 (second epoch; one-shot pruning at its start)`);
  console.log(renderTable(['model', 'sparsity', 'GPU kernels', 'GPU s', 'CPU s', 'CPU / GPU'], rowsOut));
  const w = res['784-4096-4096-10/0'].g.seconds / res['784-4096-4096-10/0.95'].g.seconds;
  targets.push({ target: '784-4096-4096-10: 95%-sparse GPU epoch vs its dense GPU epoch', measured: `${sig(w)}×`, goal: '≥ 3×', ratio: w / 3, pass: w >= 3 });
  for (const s of [0, 0.95]) {
    const { g, c } = res[`LeNet-300-100/${s}`];
    const x = c.seconds / g.seconds;
    targets.push({ target: `LeNet-300-100 ${s * 100}% GPU epoch vs shears' CPU epoch`, measured: `${sig(x)}×`, goal: '≥ 1×', ratio: x, pass: x >= 1 });
  }
}

async function run({ quick, peerWanted }) {
  const targets = [];
  const na = (target, goal, why) => targets.push({ target, measured: why, goal, ratio: undefined, pass: undefined });
  if (!cudaUsable()) {
    const i = info().cuda;
    const why = !i.compiled ? 'CPU build' : `no usable device${i.error ? ` (${i.error})` : ''}`;
    console.log(`## CUDA: skipped — ${why}. Build with npm run build:cuda on a machine with an NVIDIA GPU.\n`);
    na('CSR SpMM vs cuSPARSE (s ≥ 0.9, n ≥ 256)', '≥ 2×', why);
    na('Fused masked SGD 1e8: share of device copy bandwidth', '≥ 80%', why);
    na('CSR SpMM s ≥ 0.9 vs cuBLAS SGEMM (FP32)', '> 1×, ≥ 5× at 0.98', why);
    na('BSR 16×16 s=0.9 TF32 vs cuBLAS TF32 GEMM', '≥ 3×', why);
    na('Top-k 10% of 1e8 / 1e9 vs torch.topk and torch.kthvalue on the GPU', '≥ 5×', why);
    na('784-4096-4096-10: 95%-sparse GPU epoch vs its dense GPU epoch', '≥ 3×', why);
    na("LeNet-300-100 GPU epochs vs shears' CPU epochs", '≥ 1×', why);
    return { targets };
  }
  const gpu = info().cuda.devices.find((d) => d.usable);
  const copyBytes = 1 << 30;
  const copy = native.cudaProbe('copy', copyBytes, 10);
  const bandwidth = (2 * copyBytes) / (copy.median / 1000) / 1e9;
  console.log(`## CUDA on ${gpu.name} (sm_${gpu.computeCapability.replace('.', '')}, ${(gpu.totalMemory / 2 ** 30).toFixed(0)} GiB)`);
  console.log(`device copy bandwidth ${sig(bandwidth)} GB/s (1 GiB device to device, read + write, median of ${copy.samples})\n`);

  const backend = native.cudaGemmBackend();
  const cublas = backend === 'cublas';
  const sizes = quick ? [4096] : [4096, 8192], ns = quick ? [256] : [256, 1024, 4096];
  const dense = new Map(); // `${size}/${n}/${tf32}` -> GEMM median ms
  const gemmMs = (size, n, tf32) => {
    const key = `${size}/${n}/${tf32}`;
    if (!dense.has(key)) dense.set(key, native.cudaTimeGemm(size, size, n, tf32, 10, 2).median);
    return dense.get(key);
  };
  const denseRows = [];
  for (const size of sizes)
    for (const n of ns)
      for (const tf32 of [false, true]) {
        const ms = gemmMs(size, n, tf32);
        denseRows.push([`${size}×${size}×${n}`, tf32 ? 'TF32' : 'FP32', sig(ms), sig((2 * size * size * n) / (ms * 1e6))]);
      }
  console.log(`## Dense GEMM (${cublas ? 'cuBLAS' : "shears' fallback kernel: this build has no cuBLAS"}), kernel only`);
  console.log(renderTable(['shape', 'math', 'median ms', 'GFLOP/s'], denseRows));

  const rows = [];
  const spmmCases = []; // { id, size, s, n, ms } for the cuSPARSE comparison
  const vsDense = new Map(); // s -> speed-up over FP32 GEMM at 4096², n = 256
  for (const size of sizes)
    for (const s of quick ? [0.9, 0.98] : [0.7, 0.8, 0.9, 0.95, 0.98, 0.99]) {
      const a = randomCsr(size, size, s, size + Math.round(s * 100));
      for (const n of ns) {
        const t = native.cudaTimeKernel('spmm', a.rows, a.cols, a.rowPtr, a.colIdx, a.values, n, 10, 2);
        const x = gemmMs(size, n, false) / t.median;
        if (size === 4096 && n === 256) vsDense.set(s, x);
        spmmCases.push({ id: `spmm/${size}/${s}/${n}`, size, s, n, ms: t.median });
        rows.push([`${size}² s=${s} n=${n}`, sig(a.nnz), sig(t.median), sig((2 * a.nnz * n) / (t.median * 1e6)), `${sig(x)}×`]);
      }
    }
  console.log('\n## CSR SpMM, kernel only (CUDA events)');
  console.log(renderTable(['case', 'nnz', 'median ms', 'GFLOP/s', `× ${backend} FP32 GEMM`], rows));

  const bsrRows = [];
  let bsrVsTf32;
  for (const size of sizes) {
    const a = randomBsr(size, size, 16, 16, 0.9, size + 16);
    for (const n of ns) {
      const args = [a.rows, a.cols, 16, 16, a.rowPtr, a.colIdx, a.values, n];
      const [tf32, bf16, fp32] = ['tf32', 'bf16', 'fp32'].map((p) => native.cudaTimeBsr(...args, p, 10, 2).median);
      const x = gemmMs(size, n, true) / tf32;
      if (size === 4096 && n === 256) bsrVsTf32 = x;
      const paths = `${native.cudaBsrPath(16, 16, n, 'tf32')}/${native.cudaBsrPath(16, 16, n, 'bf16')}`;
      bsrRows.push([`${size}² n=${n}`, paths, sig(tf32), sig(bf16), sig(fp32), sig((2 * a.nnz * n) / (tf32 * 1e6)), `${sig(x)}×`,
        `${sig(gemmMs(size, n, true) / bf16)}×`, `${sig(gemmMs(size, n, false) / fp32)}×`]);
    }
  }
  console.log('\n## BSR 16×16 at block sparsity 0.9, kernel only (BF16: operands converted once, outside the timed launches)');
  console.log(renderTable(['case', 'kernels', 'TF32 ms', 'BF16 ms', 'FP32 ms', 'TF32 GFLOP/s', `TF32 × ${backend} TF32 GEMM`,
    `BF16 × ${backend} TF32 GEMM`, `FP32 × ${backend} FP32 GEMM`], bsrRows));

  // 2:4 through cuSPARSELt (BF16), where the build found it; no issue target, figures for the record.
  if (info().cuda.libraries?.cusparselt) {
    const rows24 = [];
    for (const size of sizes)
      for (const n of ns) {
        const t = native.cudaTimeSpmm24(size, size, n, 10, 2).median;
        rows24.push([`${size}² n=${n}`, sig(t), sig((size * size * n) / (t * 1e6)), `${sig(gemmMs(size, n, true) / t)}×`, `${sig(gemmMs(size, n, false) / t)}×`]);
      }
    console.log('\n## 2:4 semi-structured (cuSPARSELt, BF16 in and out, FP32 sums), kernel only; GFLOP/s on the kept half');
    console.log(renderTable(['case', 'ms', 'GFLOP/s', `× ${backend} TF32 GEMM`, `× ${backend} FP32 GEMM`], rows24));
  } else console.log('\n## 2:4 semi-structured: not run (this CUDA build has no cuSPARSELt; set CUSPARSELT_ROOT and rebuild)');
  const why = 'no cuBLAS in this build';
  for (const [s, goal] of [[0.9, 1], [0.95, 1], [0.98, 5], [0.99, 1]]) {
    const x = vsDense.get(s);
    if (!cublas || x === undefined) na(`CSR SpMM s=${s} n=256 vs cuBLAS SGEMM (FP32)`, `≥ ${goal}×`, cublas ? 'not run (--quick)' : why);
    else targets.push({ target: `CSR SpMM s=${s} n=256 vs cuBLAS SGEMM (FP32)`, measured: `${sig(x)}×`, goal: goal === 1 ? '> 1×' : `≥ ${goal}×`, ratio: x / goal, pass: goal === 1 ? x > 1 : x >= goal });
  }
  if (!cublas) na('BSR 16×16 s=0.9 TF32 vs cuBLAS TF32 GEMM', '≥ 3×', why);
  else targets.push({ target: 'BSR 16×16 s=0.9 n=256 TF32 vs cuBLAS TF32 GEMM', measured: `${sig(bsrVsTf32)}×`, goal: '≥ 3×', ratio: bsrVsTf32 / 3, pass: bsrVsTf32 >= 3 });

  const n = quick ? 1e7 : 1e8;
  const scores = new Float32Array(n);
  const r = rng(3);
  for (let i = 0; i < n; i++) scores[i] = r();
  const masks = [new Uint8Array(n)];
  selectSmallest([scores], n / 10, { masks, device: 'cuda' });
  const sel = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    selectSmallest([scores], n / 10, { masks, device: 'cuda' });
    sel.push(performance.now() - t0);
  }
  console.log(`\n## Selection of 10% of ${n.toExponential(0)} scores on the GPU: ${sig(median(sel))} ms (host arrays: the upload and the mask download included)`);
  const selectSizes = quick ? [1e7] : [1e8, 1e9];
  const resident = new Map(selectSizes.map((size) => [size, native.cudaProbe('select', size, size >= 1e9 ? 3 : 10).median]));
  for (const [size, ms] of resident) console.log(`   resident scores, kernel time: 10% of ${size.toExponential(0)} in ${sig(ms)} ms`);

  const sgdN = quick ? 1e7 : 1e8;
  const sgd = native.cudaProbe('sgd', sgdN, 10);
  const sgdGbs = (21 * sgdN) / (sgd.median / 1000) / 1e9;
  console.log(`## Fused masked SGD over ${sgdN.toExponential(0)} resident parameters: ${sig(sgd.median)} ms, ${sig(sgdGbs)} GB/s (${sig((100 * sgdGbs) / bandwidth)}% of the copy bandwidth)\n`);
  targets.push({ target: 'Fused masked SGD: share of device copy bandwidth', measured: `${sig((100 * sgdGbs) / bandwidth)}%`, goal: '≥ 80%', ratio: sgdGbs / bandwidth / 0.8, pass: sgdGbs / bandwidth >= 0.8 });
  await trainingCases(quick, targets);

  const python = peerWanted === false ? undefined : findCudaPython();
  const request = {
    spmm: spmmCases.map(({ id, size, s: sp, n: nn }) => ({ id, size, s: sp, n: nn })),
    select: selectSizes.flatMap((size) => ['topk', 'kthvalue'].map((op) => ({ id: `${op}/${size}`, n: size, op }))),
  };
  const res = python ? runCudaPeer(python, request)?.results : undefined;
  if (!res) {
    const why = python ? 'the peer failed' : 'no Python with CUDA torch';
    na('CSR SpMM vs cuSPARSE (s ≥ 0.9, n ≥ 256)', '≥ 2×', why);
    na('Top-k 10% of 1e8 / 1e9 vs torch.topk and torch.kthvalue on the GPU', '≥ 5×', why);
    return { targets };
  }
  const cmp = spmmCases.filter((c) => res[c.id]).map((c) => ({ ...c, x: res[c.id].median_ms / c.ms }));
  console.log('\n## CSR SpMM against cuSPARSE (torch.sparse.mm on CUDA CSR), kernel times');
  console.log(renderTable(['case', 'shears ms', 'cuSPARSE ms', '×cuSPARSE'], cmp.map((c) => [`${c.size}² s=${c.s} n=${c.n}`, sig(c.ms), sig(res[c.id].median_ms), `${sig(c.x)}×`])));
  const due = cmp.filter((c) => c.s >= 0.9 && c.n >= 256);
  if (due.length) {
    const worst = due.reduce((a, b) => (b.x < a.x ? b : a));
    targets.push({ target: `CSR SpMM vs cuSPARSE, s ≥ 0.9, n ≥ 256 (worst: ${worst.size}² s=${worst.s} n=${worst.n})`, measured: `${sig(worst.x)}×`, goal: '≥ 2×', ratio: worst.x / 2, pass: worst.x >= 2 });
  }
  for (const size of selectSizes)
    for (const op of ['topk', 'kthvalue']) {
      const p = res[`${op}/${size}`];
      if (!p) continue;
      const x = p.median_ms / resident.get(size);
      targets.push({ target: `Selection of 10% of ${size.toExponential(0)} vs torch.${op} on the GPU`, measured: `${sig(x)}×`, goal: '≥ 5×', ratio: x / 5, pass: x >= 5 });
    }
  return { targets };
}

export function cudaSuite() {
  return { name: 'cuda', standalone: true, groups: [], run };
}
