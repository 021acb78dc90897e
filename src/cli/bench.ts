/**
 * `shears bench spmm|spmv|spmmt|sddmm|advise <files or folders…>`: every kernel and format on the
 * user's own matrices, against dense GEMM on the same machine and, with `--peer torch`, against
 * torch.mm and PyTorch's CSR product measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { advise, BsrMatrix, CsrMatrix, gemm, info, readSparse, resolveDevice, sddmm, setIsa, setNumThreads, type BsrPrecision, type Isa } from '../index.js';
import type { Candidate } from '../sparse/advise.js';
import { bsrPrecision } from '../sparse/matrix.js';
import { native } from '../native.js';

export interface BenchCliOptions {
  n: string;
  /** Default csr,bsr:4x4,bsr:16x16,dense; for advise, its candidates (default: advise's own list). */
  formats?: string;
  threads?: string;
  isa?: string;
  device: string;
  precision?: string;
  repeat: string;
  warmup: string;
  peer?: string;
  json?: boolean;
  csv?: boolean;
}

type Kernel = 'spmm' | 'spmv' | 'spmmt' | 'sddmm' | 'advise';
const EXTENSIONS = ['.mtx', '.mtx.gz', '.smtx', '.npz'];

/** The matrix files under `inputs` (folders searched recursively), in a stable order. */
export function findMatrixFiles(inputs: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>(); // folders by real path: a symlink loop is walked once
  const isMatrix = (p: string) => EXTENSIONS.some((x) => p.toLowerCase().endsWith(x));
  const visit = (p: string, top: boolean) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      // A named input or a matrix file that cannot be read is reported as a load failure; other
      // unreadable entries of a folder (a dangling link to a README) are not matrices at all.
      if (top || isMatrix(p)) out.push(p);
      return;
    }
    if (st.isDirectory()) {
      const real = realpathSync(p);
      if (seen.has(real)) return;
      seen.add(real);
      for (const e of readdirSync(p).sort()) visit(path.join(p, e), false);
    } else if (top || isMatrix(p)) out.push(p);
  };
  for (const p of inputs) visit(p, true);
  return out;
}

export interface BenchRow {
  file: string;
  rows: number;
  cols: number;
  nnz: number;
  n: number;
  format: string;
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  samples?: number;
  gflops?: number;
  vsDense?: number;
  vsTorchMm?: number;
  vsTorchSparse?: number;
  /** Wall time of the whole measurement (warm-up and every timed run), for overhead accounting. */
  measuredMs?: number;
  skipped?: string;
  /** GPU BSR rows: the kernel that ran ('tf32-mma', 'bf16-mma' or 'fp32'). */
  kernelPath?: string;
}

/** Times `run`: `warmup` calls, then repeats until at least `repeat` samples and 50 ms. */
function measure(run: () => void, repeat: number, warmup: number): { median: number; min: number; max: number; samples: number; wall: number } {
  const begin = performance.now();
  for (let i = 0; i < warmup; i++) run();
  const t: number[] = [];
  const start = performance.now();
  while (t.length < repeat || performance.now() - start < 50) {
    const a = performance.now();
    run();
    t.push(performance.now() - a);
  }
  const wall = performance.now() - begin;
  t.sort((x, y) => x - y);
  return { median: t[t.length >> 1], min: t[0], max: t[t.length - 1], samples: t.length, wall };
}

function fill(length: number, salt: number): Float32Array {
  const a = new Float32Array(length);
  for (let i = 0; i < length; i++) a[i] = (((i + salt) * 2654435761) % 1000) / 1000 - 0.5;
  return a;
}

/** One kernel on one operand; the closure reuses its output (no allocation in the timed region). */
function kernelCall(kernel: Kernel, a: CsrMatrix | BsrMatrix | Float32Array, csr: CsrMatrix, n: number): () => void {
  const { rows, cols } = csr;
  if (a instanceof Float32Array) {
    // The dense reference of the same product.
    if (kernel === 'spmv' || kernel === 'spmm') {
      const b = fill(cols * n, 1), out = new Float32Array(rows * n);
      return () => gemm(a, b, rows, cols, n, { out });
    }
    if (kernel === 'spmmt') {
      const b = fill(rows * n, 2), out = new Float32Array(cols * n);
      return () => gemm(a, b, cols, rows, n, { transA: true, out });
    }
    const x = fill(rows * n, 3), y = fill(cols * n, 4), out = new Float32Array(rows * cols);
    return () => gemm(x, y, rows, n, cols, { transB: true, out });
  }
  if (kernel === 'spmv') {
    const x = fill(cols, 1), out = new Float32Array(rows);
    return () => a.matvec(x, { out });
  }
  if (kernel === 'spmm') {
    const b = fill(cols * n, 1), out = new Float32Array(rows * n);
    return () => a.matmul(b, n, { out });
  }
  if (kernel === 'spmmt') {
    const b = fill(rows * n, 2), out = new Float32Array(cols * n);
    return () => a.matmulT(b, n, { out });
  }
  const x = fill(rows * n, 3), y = fill(cols * n, 4), out = new Float32Array(a.values.length);
  return () => sddmm(a, x, y, n, { out });
}

function peerScript(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'peers', 'torch_file_peer.py');
}

/** torch.mm and torch.sparse.mm times (ms) per (file, n), or a note when PyTorch is absent. */
function runTorchPeer(jobs: { file: string; n: number; kernel: Kernel }[], threads: number): { times: Map<string, { mm?: number; sparse?: number }>; note?: string } {
  const python = [process.env.SHEARS_PEER_PYTHON, '/usr/bin/python3', 'python3'].find((p) => p && spawnSync(p, ['-c', 'import torch, scipy'], { stdio: 'ignore' }).status === 0);
  if (!python) return { times: new Map(), note: 'peer: no python3 with torch and scipy found (apt-get install python3-torch python3-scipy); torch columns left empty' };
  const r = spawnSync(python, [peerScript()], {
    input: JSON.stringify({ threads, jobs }),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) return { times: new Map(), note: `peer: ${python} failed (exit ${r.status}); torch columns left empty` };
  const parsed = JSON.parse(r.stdout) as Record<string, { mm?: number; sparse?: number }>;
  return { times: new Map(Object.entries(parsed)) };
}

const geomean = (xs: number[]) => (xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length) : Number.NaN);
const f = (x: number | undefined, digits = 3) => (x === undefined || Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toPrecision(digits));

export async function runBench(kernel: Kernel, inputs: string[], o: BenchCliOptions): Promise<number> {
  if (!['spmm', 'spmv', 'spmmt', 'sddmm', 'advise'].includes(kernel)) throw new RangeError(`Expected spmm, spmv, spmmt, sddmm or advise but received '${kernel}'`);
  if (o.device !== 'cpu' && o.device !== 'cuda') throw new RangeError(`Expected cpu or cuda for --device but received '${o.device}'`);
  const gpu = o.device === 'cuda';
  const precision = bsrPrecision({ precision: (o.precision ?? 'fp32') as BsrPrecision });
  if (precision !== 'fp32' && !gpu) throw new RangeError(`Expected --device cuda with --precision ${precision} (the CPU computes in FP32)`);
  if (gpu) resolveDevice('cuda'); // a clear ERR_SHEARS_CUDA error when no device is usable
  if (o.threads !== undefined) setNumThreads(Number(o.threads));
  if (o.isa !== undefined) setIsa(o.isa as Isa);
  const ns = kernel === 'spmv' ? [1] : o.n.split(',').map((s) => {
    const v = /^\s*\d+\s*$/.test(s) ? Number(s) : Number.NaN;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Expected dense column counts like 64,256 for --n but received '${o.n}'`);
    return v;
  });
  const formats = [...new Set((o.formats ?? (kernel === 'advise' ? 'csr,dense,bsr:2x2,bsr:4x4,bsr:8x8,bsr:16x16' : 'csr,bsr:4x4,bsr:16x16,dense')).split(',').map((s) => s.trim()))];
  for (const fm of formats) if (!/^(csr|dense|bsr:[1-9]\d*x[1-9]\d*)$/.test(fm)) throw new RangeError(`Expected csr, dense or bsr:RxC (R, C >= 1) in --formats but received '${fm}'`);
  const repeat = Number(o.repeat), warmup = Number(o.warmup);
  if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError(`Expected a positive integer for --repeat but received '${o.repeat}'`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`Expected an integer >= 0 for --warmup but received '${o.warmup}'`);
  if (o.peer !== undefined && o.peer !== 'torch') throw new RangeError(`Expected torch for --peer but received '${o.peer}'`);
  const files = findMatrixFiles(inputs);
  if (files.length === 0) throw new RangeError(`No .mtx, .mtx.gz, .smtx or .npz files in ${inputs.join(', ')}`);
  const i = info();
  const quiet = o.json || o.csv;
  const log = (s: string) => !quiet && console.log(s);
  log(`shears ${i.version} bench ${kernel}: ${files.length} file(s), n = ${ns.join(', ')}, ${kernel === 'advise' ? 'candidates' : 'formats'} ${formats.join(', ')}`);
  const gpuName = gpu ? i.cuda.devices.find((d) => d.usable)?.name : undefined;
  log(`  ${i.cpu || os.cpus()[0]?.model || 'unknown CPU'}, ${os.cpus().length} cores, ${i.threads} threads, ISA ${i.isa.active}, device ${gpu ? `cuda (${gpuName}; kernel-only times; dense: ${native.cudaGemmBackend()} GEMM${precision === 'fp32' ? '' : ' with TF32'}; BSR ${precision})` : 'cpu'}`);
  const tty = process.stderr.isTTY && !quiet;
  const rows: BenchRow[] = [];
  const failed: { file: string; error: string }[] = [];
  const advice: { file: string; n: number; best: string; candidates: unknown }[] = [];
  let done = 0;
  for (const file of files) {
    done++;
    let a: CsrMatrix;
    const started = performance.now();
    try {
      const m = readSparse(file);
      a = m instanceof BsrMatrix ? m.toCsr() : m;
    } catch (err) {
      failed.push({ file, error: (err as Error).message });
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}[${done}/${files.length}] ${file}: failed to load: ${(err as Error).message}\n`);
      continue;
    }
    for (const n of ns) {
      if (kernel === 'advise') {
        try {
          const r = advise(a, n, { minMs: 20, device: gpu ? 'cuda' : 'cpu', precision, candidates: formats as Candidate[] });
          advice.push({ file, n, best: r.best, candidates: r.candidates });
        } catch (err) {
          advice.push({ file, n, best: `failed: ${(err as Error).message}`, candidates: [] });
        }
        continue;
      }
      let denseMs: number | undefined;
      for (const format of ['dense', ...formats.filter((x) => x !== 'dense')]) {
        const row: BenchRow = { file, rows: a.rows, cols: a.cols, nnz: a.nnz, n, format };
        // A format that fails on this matrix (a conversion beyond memory, say) is reported in its
        // row; the other formats and files still run.
        try {
          if (gpu) {
            // On the GPU, kernel-only times: every CSR kernel; the dense reference is the GEMM of the
            // same product (cuBLAS FP32, TF32 with --precision tf32|bf16, or shears' fallback kernel);
            // BSR runs SpMM at --precision.
            let t: { median: number; min: number; max: number; samples: number };
            if (format === 'csr') t = native.cudaTimeKernel(kernel, a.rows, a.cols, a.rowPtr, a.colIdx, a.values, n, repeat, warmup);
            else if (format === 'dense') {
              if (a.rows * a.cols > 2 ** 30) {
                if (formats.includes('dense')) rows.push({ ...row, skipped: 'too large for a dense GEMM on the GPU' });
                continue;
              }
              const [m, k, nn] = kernel === 'spmmt' ? [a.cols, a.rows, n] : kernel === 'sddmm' ? [a.rows, n, a.cols] : [a.rows, a.cols, n];
              t = native.cudaTimeGemm(m, k, nn, precision !== 'fp32', repeat, warmup);
            } else {
              const [r, c] = format.slice(4).split('x').map(Number);
              if (kernel !== 'spmm' || a.rows % r !== 0 || a.cols % c !== 0) {
                rows.push({ ...row, skipped: kernel !== 'spmm' ? `not on CUDA (BSR ${kernel})` : `${r}×${c} does not divide ${a.rows}×${a.cols}` });
                continue;
              }
              const b = BsrMatrix.fromCsr(a, { blockRows: r, blockCols: c });
              t = native.cudaTimeBsr(b.rows, b.cols, r, c, b.rowPtr, b.colIdx, b.values, n, precision, repeat, warmup);
              row.kernelPath = native.cudaBsrPath(r, c, n, precision);
            }
            if (format === 'dense') denseMs = t.median;
            if (format === 'dense' && !formats.includes('dense')) continue;
            Object.assign(row, { medianMs: t.median, minMs: t.min, maxMs: t.max, samples: t.samples, gflops: (2 * a.nnz * n) / (t.median * 1e6) });
            if (denseMs !== undefined) row.vsDense = denseMs / t.median;
            rows.push(row);
            continue;
          }
          let operand: CsrMatrix | BsrMatrix | Float32Array;
          if (format === 'dense') {
            if (a.rows * a.cols > 2 ** 28) {
              row.skipped = 'too large to densify';
              if (formats.includes('dense')) rows.push(row);
              continue;
            }
            operand = a.toDense();
          } else if (format === 'csr') operand = a;
          else {
            const [r, c] = format.slice(4).split('x').map(Number);
            if (a.rows % r !== 0 || a.cols % c !== 0) {
              rows.push({ ...row, skipped: `${r}×${c} does not divide ${a.rows}×${a.cols}` });
              continue;
            }
            operand = BsrMatrix.fromCsr(a, { blockRows: r, blockCols: c });
          }
          const t = measure(kernelCall(kernel, operand, a, n), repeat, warmup);
          if (format === 'dense') denseMs = t.median;
          if (format === 'dense' && !formats.includes('dense')) continue;
          Object.assign(row, { medianMs: t.median, minMs: t.min, maxMs: t.max, samples: t.samples, measuredMs: t.wall, gflops: (2 * a.nnz * n) / (t.median * 1e6) });
          if (denseMs !== undefined) row.vsDense = denseMs / t.median;
          rows.push(row);
        } catch (err) {
          row.skipped = `failed: ${(err as Error).message}`;
          if (format !== 'dense' || formats.includes('dense')) rows.push(row);
        }
      }
    }
    const ms = performance.now() - started;
    if (tty) {
      const w = 30, k = Math.round((done / files.length) * w);
      process.stderr.write(`\r[${'█'.repeat(k)}${' '.repeat(w - k)}] ${done}/${files.length} ${path.basename(file)}\x1b[K`);
    } else if (!quiet) process.stderr.write(`[${done}/${files.length}] ${file} ${a.rows}×${a.cols} nnz ${a.nnz} (${ms.toFixed(0)} ms)\n`);
  }
  if (tty) process.stderr.write('\r\x1b[K');

  let peerNote: string | undefined;
  if (o.peer === 'torch' && kernel !== 'advise') {
    const jobs = [...new Set(rows.filter((r) => r.medianMs !== undefined).map((r) => `${r.file}\0${r.n}`))].map((k) => ({ file: k.split('\0')[0], n: Number(k.split('\0')[1]), kernel }));
    const peer = runTorchPeer(jobs, info().threads);
    peerNote = peer.note;
    for (const r of rows) {
      const p = peer.times.get(`${r.file}\0${r.n}`);
      if (p && r.medianMs !== undefined) {
        if (p.mm !== undefined) r.vsTorchMm = p.mm / r.medianMs;
        if (p.sparse !== undefined) r.vsTorchSparse = p.sparse / r.medianMs;
      }
    }
  }

  const summary = formats.map((format) => {
    const mine = rows.filter((r) => r.format === format && r.medianMs !== undefined);
    const gm = (pick: (r: BenchRow) => number | undefined) => geomean(mine.map(pick).filter((x): x is number => x !== undefined && x > 0));
    return { format, cases: mine.length, vsDense: gm((r) => r.vsDense), vsTorchMm: gm((r) => r.vsTorchMm), vsTorchSparse: gm((r) => r.vsTorchSparse) };
  });
  const meta = { shears: i.version, kernel, cpu: i.cpu, cores: os.cpus().length, threads: i.threads, isa: i.isa.active, device: gpu ? 'cuda' : 'cpu', gpu: gpuName ?? null, precision };
  if (o.json) console.log(JSON.stringify({ meta, rows, summary, advice, failed, peerNote: peerNote ?? null }, null, 2));
  else if (o.csv) {
    const cols: (keyof BenchRow)[] = ['file', 'rows', 'cols', 'nnz', 'n', 'format', 'medianMs', 'minMs', 'maxMs', 'samples', 'gflops', 'vsDense', 'vsTorchMm', 'vsTorchSparse', 'measuredMs', 'skipped', 'kernelPath'];
    console.log(cols.join(','));
    // RFC 4180: text fields quoted, quotes doubled.
    const cell = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(v));
    for (const r of rows) console.log(cols.map((c) => cell(r[c])).join(','));
  } else if (kernel === 'advise') {
    for (const a of advice) {
      const cands = a.candidates as { format: string; ms?: number; skipped?: string }[];
      console.log(`${a.file} n=${a.n}: ${a.best}   (${cands.map((c) => `${c.format} ${c.ms !== undefined ? `${f(c.ms)} ms` : c.skipped}`).join(', ')})`);
    }
  } else {
    const table = [['matrix', 'n', 'format', 'median ms', 'min–max ms', 'GFLOP/s', '×dense', '×torch.mm', '×torch.sparse']];
    for (const r of rows)
      table.push([path.basename(r.file), String(r.n), r.kernelPath ? `${r.format} (${r.kernelPath})` : r.format, r.skipped ? r.skipped : f(r.medianMs), r.skipped ? '' : `${f(r.minMs)}–${f(r.maxMs)}`, f(r.gflops), f(r.vsDense), f(r.vsTorchMm), f(r.vsTorchSparse)]);
    const w = table[0].map((_, c) => Math.max(...table.map((l) => l[c].length)));
    console.log('');
    for (const l of table) console.log(l.map((c, k) => (k < 3 ? c.padEnd(w[k]) : c.padStart(w[k]))).join('  '));
    console.log('\nGeometric means (reference time / shears time; > 1: this format is faster):');
    for (const s of summary) console.log(`  ${s.format.padEnd(10)} ${s.cases} cases  ×dense ${f(s.vsDense)}  ×torch.mm ${f(s.vsTorchMm)}  ×torch.sparse ${f(s.vsTorchSparse)}`);
    if (peerNote) console.log(peerNote);
    if (failed.length) console.log(`\n${failed.length} file(s) failed to load:\n${failed.map((x) => `  ${x.file}: ${x.error}`).join('\n')}`);
  }
  return failed.length ? 1 : 0;
}
