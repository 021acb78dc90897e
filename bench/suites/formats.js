/**
 * The `formats` suite (issue 7, section 5): Matrix Market parse rate on a 5M-entry (~130 MB) file
 * against scipy.io.mmread; .npz load time against reading its bytes (stored) and against the
 * inflate library (compressed); `shears bench spmm`'s per-matrix overhead over 100 small
 * matrices; and how often the format advisor's pick is within 10% of the fastest format measured
 * independently, over a sweep of generated matrices.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { unzipSync } from 'fflate';

import { advise, BsrMatrix, CsrMatrix, gemm, readSparse, writeSparse } from '../../dist/index.js';
import { median } from '../lib/measure.js';
import { renderTable, sig } from '../lib/table.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

function randomCoo(rows, cols, nnz, seed) {
  const r = rng(seed);
  const ri = new Int32Array(nnz), ci = new Int32Array(nnz), v = new Float32Array(nnz);
  for (let i = 0; i < nnz; i++) {
    ri[i] = Math.floor(r() * rows);
    ci[i] = Math.floor(r() * cols);
    v[i] = r() * 2 - 1;
  }
  return CsrMatrix.fromCoo(rows, cols, ri, ci, v);
}

function timeRuns(fn, runs) {
  fn();
  const t = [];
  for (let i = 0; i < runs; i++) {
    const a = performance.now();
    fn();
    t.push(performance.now() - a);
  }
  return median(t);
}

function denseMatrix(n, sparsity, block, seed) {
  const r = rng(seed);
  const d = new Float32Array(n * n);
  for (let I = 0; I < n; I += block)
    for (let J = 0; J < n; J += block)
      if (r() >= sparsity) for (let i = I; i < I + block; i++) for (let j = J; j < J + block; j++) d[i * n + j] = r() - 0.5;
  return CsrMatrix.fromDense(d, n, n);
}

/** The fastest format by a slower, independent measurement (at least 200 ms per candidate). */
function truth(a, n, formats) {
  const b = new Float32Array(a.cols * n).fill(0.5), out = new Float32Array(a.rows * n);
  const times = {};
  for (const f of formats) {
    let run;
    if (f === 'csr') run = () => a.matmul(b, n, { out });
    else if (f === 'dense') {
      const d = a.toDense();
      run = () => gemm(d, b, a.rows, a.cols, n, { out });
    } else {
      const [r, c] = f.slice(4).split('x').map(Number);
      const m = BsrMatrix.fromCsr(a, { blockRows: r, blockCols: c });
      run = () => m.matmul(b, n, { out });
    }
    run();
    const t = [];
    const start = performance.now();
    while (t.length < 5 || performance.now() - start < 200) {
      const s = performance.now();
      run();
      t.push(performance.now() - s);
    }
    times[f] = median(t);
  }
  return times;
}

async function run({ quick, peer }) {
  const dir = path.join(os.tmpdir(), `shears-formats-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const targets = [];
  const add = (target, measured, goal, ratio) => targets.push({ target, measured, goal, ratio, pass: ratio === undefined || Number.isNaN(ratio) ? undefined : ratio >= 1 });
  try {
    // ── Matrix Market ──
    const nnz = quick ? 1e6 : 5.4e6;
    const big = randomCoo(250_000, 250_000, nnz, 7);
    const mtx = path.join(dir, 'big.mtx');
    writeSparse(mtx, big);
    const mb = statSync(mtx).size / 1e6;
    const bytes = readFileSync(mtx);
    const endToEnd = timeRuns(() => readSparse(mtx), 5);
    const fromBytes = timeRuns(() => readSparse(bytes, { format: 'mtx' }), 5);
    const readOnly = timeRuns(() => readFileSync(mtx), 5);
    let scipyMs;
    if (peer) {
      const r = spawnSync(peer.python, ['-c', `import time, scipy.io as s\nt=time.perf_counter(); s.mmread(${JSON.stringify(mtx)}); print((time.perf_counter()-t)*1e3)`], { encoding: 'utf8', timeout: 600_000 });
      if (r.status === 0) scipyMs = Number(r.stdout.trim());
    }
    console.log(`## Matrix Market parse: ${sig(big.nnz)} entries, ${sig(mb)} MB (coordinate real general, float32 digits)`);
    console.log(
      renderTable(
        ['what', 'median ms', 'MB/s', '×scipy.io.mmread'],
        [
          ['readSparse(path): read + parse + CSR', sig(endToEnd), sig(mb / (endToEnd / 1000)), scipyMs ? `${sig(scipyMs / endToEnd)}×` : '—'],
          ['readSparse(bytes): parse + CSR', sig(fromBytes), sig(mb / (fromBytes / 1000)), scipyMs ? `${sig(scipyMs / fromBytes)}×` : '—'],
          ['readFileSync alone', sig(readOnly), sig(mb / (readOnly / 1000)), '—'],
          ['scipy.io.mmread (1 run)', scipyMs ? sig(scipyMs) : '—', scipyMs ? sig(mb / (scipyMs / 1000)) : '—', '1×'],
        ],
      ),
    );
    add('Matrix Market parse rate, end to end', `${sig(mb / (endToEnd / 1000))} MB/s`, '≥ 250 MB/s', mb / (endToEnd / 1000) / 250);
    if (scipyMs) add('Matrix Market vs scipy.io.mmread', `${sig(scipyMs / endToEnd)}×`, '≥ 6×', scipyMs / endToEnd / 6);

    // ── npz ──
    const stored = path.join(dir, 'stored.npz'), deflated = path.join(dir, 'deflated.npz');
    writeSparse(stored, big, { compressed: false });
    writeSparse(deflated, big, { compressed: true });
    const storedMs = timeRuns(() => readSparse(stored), 5);
    const storedRead = timeRuns(() => readFileSync(stored), 5);
    const deflatedMs = timeRuns(() => readSparse(deflated), 3);
    const inflateMs = timeRuns(() => unzipSync(readFileSync(deflated)), 3);
    console.log(`\n## scipy .npz (the same matrix)`);
    console.log(
      renderTable(
        ['file', 'MB', 'readSparse ms', 'reference', 'reference ms', 'ratio'],
        [
          ['stored', sig(statSync(stored).size / 1e6), sig(storedMs), 'readFileSync', sig(storedRead), `${sig(storedMs / storedRead)}×`],
          ['deflated', sig(statSync(deflated).size / 1e6), sig(deflatedMs), 'read + fflate unzip', sig(inflateMs), `${sig(deflatedMs / inflateMs)}×`],
        ],
      ),
    );
    add('Stored .npz load / reading its bytes', `${sig(storedMs / storedRead)}×`, '≤ 2×', 2 / (storedMs / storedRead));
    add('Deflated .npz load / inflate alone', `${sig(deflatedMs / inflateMs)}×`, '≤ 1.5× (the inflate rate)', 1.5 / (deflatedMs / inflateMs));

    // ── shears bench overhead over 100 small matrices ──
    const folder = path.join(dir, 'small');
    mkdirSync(folder, { recursive: true });
    const count = quick ? 30 : 100;
    for (let i = 0; i < count; i++) writeSparse(path.join(folder, `m${String(i).padStart(3, '0')}.mtx`), randomCoo(64 + (i % 5) * 32, 96, 600 + i * 13, 100 + i));
    const cli = path.join(root, 'dist', 'cli', 'main.js');
    const t0 = performance.now();
    spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8' });
    const startup = performance.now() - t0;
    const t1 = performance.now();
    const r = spawnSync(process.execPath, [cli, 'bench', 'spmm', folder, '--n', '64', '--formats', 'csr,dense', '--repeat', '3', '--warmup', '1', '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const wall = performance.now() - t1;
    const out = JSON.parse(r.stdout);
    // Time inside measurements: each row's whole timed loop, warm-up included (the dense rows are
    // the ×dense reference); the rest is the harness: loading, building operands, reporting.
    const kernelMs = out.rows.reduce((s, row) => s + (row.measuredMs ?? 0), 0);
    const overhead = (wall - startup - kernelMs) / count;
    console.log(`\n## shears bench spmm over ${count} small matrices (n = 64, csr + dense)`);
    console.log(`wall ${sig(wall)} ms, process start ${sig(startup)} ms, in measurements ${sig(kernelMs)} ms → ${sig(overhead)} ms per matrix beyond the kernels`);
    add(`shears bench per-matrix overhead (${count} matrices)`, `${sig(overhead)} ms`, '< 5 ms', 5 / overhead);

    // ── Advisor sweep ──
    const sweep = [];
    const formats = ['csr', 'dense', 'bsr:4x4', 'bsr:8x8', 'bsr:16x16'];
    for (const s of quick ? [0.5, 0.95] : [0.5, 0.7, 0.9, 0.95, 0.99])
      for (const block of [1, 8])
        for (const n of [16, 256]) {
          const a = denseMatrix(512, s, block, Math.round(s * 1000) + block + n);
          const pick = advise(a, n, { candidates: formats, minMs: 20 });
          const considered = pick.candidates.filter((c) => c.ms !== undefined).map((c) => c.format);
          const t = truth(a, n, considered);
          const fastest = Math.min(...Object.values(t));
          sweep.push({ s, block, n, pick: pick.best, pickMs: t[pick.best], fastest: Object.keys(t).find((k) => t[k] === fastest), fastestMs: fastest });
        }
    const good = sweep.filter((x) => x.pickMs <= 1.1 * x.fastestMs).length;
    console.log(`\n## Advisor: picks vs an independent measurement (512×512, block 1 = unstructured)`);
    console.log(renderTable(['s', 'block', 'n', 'advised', 'its ms', 'fastest', 'fastest ms', 'within 10%'], sweep.map((x) => [String(x.s), String(x.block), String(x.n), x.pick, sig(x.pickMs), x.fastest, sig(x.fastestMs), x.pickMs <= 1.1 * x.fastestMs ? 'yes' : 'NO'])));
    add('Advisor pick within 10% of the fastest', `${good}/${sweep.length}`, '≥ 90%', good / sweep.length / 0.9);
    console.log('');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { targets };
}

export function formatsSuite() {
  return { name: 'formats', standalone: true, groups: [], run };
}
