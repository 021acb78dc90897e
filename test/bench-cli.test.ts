/**
 * `shears bench` end to end on a folder of small generated matrices (JSON checked field by field,
 * the exit code when a file is broken), and the format advisor (fill pruning, caching, errors).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { advise, blockFill, BsrMatrix, CsrMatrix, cudaUsable, writeSparse } from '../src/index.js';
import { caseRng, expectThrows } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'shears-bench-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomCsr(rows: number, cols: number, density: number, r: () => number): CsrMatrix {
  const d = Float32Array.from({ length: rows * cols }, () => (r() < density ? r() - 0.5 : 0));
  return CsrMatrix.fromDense(d, rows, cols);
}

describe('shears bench', () => {
  it('times every kernel and format over a folder and reports every field as JSON; a broken file sets the exit code', () => {
    const r = caseRng();
    const folder = path.join(dir, 'mats');
    mkdirSync(path.join(folder, 'nested'), { recursive: true });
    writeSparse(path.join(folder, 'a.mtx'), randomCsr(32, 48, 0.2, r));
    writeSparse(path.join(folder, 'nested', 'b.npz'), randomCsr(16, 16, 0.3, r));
    writeSparse(path.join(folder, 'c.smtx'), randomCsr(8, 24, 0.25, r));
    writeFileSync(path.join(folder, 'notes.txt'), 'ignored: not a matrix extension');
    for (const kernel of ['spmm', 'spmv', 'spmmt', 'sddmm']) {
      const res = spawnSync(process.execPath, [cli, 'bench', kernel, folder, '--n', '8,16', '--formats', 'csr,bsr:4x4,dense', '--repeat', '3', '--json'], { cwd: root });
      expect(res.status, res.stderr.toString()).toBe(0);
      const out = JSON.parse(res.stdout.toString());
      expect(out.meta).toMatchObject({ kernel, device: 'cpu', isa: expect.any(String), threads: expect.any(Number), cores: expect.any(Number), shears: expect.any(String) });
      const ns = kernel === 'spmv' ? [1] : [8, 16];
      expect(out.rows).toHaveLength(3 * ns.length * 3);
      for (const row of out.rows) {
        expect(['a.mtx', 'b.npz', 'c.smtx']).toContain(path.basename(row.file));
        expect(ns).toContain(row.n);
        if (row.skipped) {
          expect(row.format).toBe('bsr:4x4');
          continue;
        }
        expect(row.medianMs).toBeGreaterThan(0);
        expect(row.minMs).toBeLessThanOrEqual(row.medianMs);
        expect(row.maxMs).toBeGreaterThanOrEqual(row.medianMs);
        expect(row.samples).toBeGreaterThanOrEqual(3);
        expect(row.gflops).toBeCloseTo((2 * row.nnz * row.n) / (row.medianMs * 1e6), 6);
        expect(row.vsDense).toBeGreaterThan(0);
        expect(row.measuredMs).toBeGreaterThanOrEqual(row.samples * row.minMs);
      }
      expect(out.summary.map((s: { format: string }) => s.format)).toEqual(['csr', 'bsr:4x4', 'dense']);
      expect(out.failed).toEqual([]);
    }
    writeFileSync(path.join(folder, 'broken.mtx'), '%%MatrixMarket matrix coordinate real general\n2 2 1\n9 9 1\n');
    const res = spawnSync(process.execPath, [cli, 'bench', 'spmm', folder, '--n', '8', '--formats', 'csr', '--json'], { cwd: root });
    expect(res.status).toBe(1);
    const out = JSON.parse(res.stdout.toString());
    expect(out.failed).toEqual([{ file: path.join(folder, 'broken.mtx'), error: expect.stringContaining('line 3') }]);
    expect(out.rows.length).toBe(3); // the other files still ran
    const csv = spawnSync(process.execPath, [cli, 'bench', 'spmv', path.join(folder, 'a.mtx'), '--csv'], { cwd: root }).stdout.toString().trim().split('\n');
    expect(csv[0]).toBe('file,rows,cols,nnz,n,format,medianMs,minMs,maxMs,samples,gflops,vsDense,vsTorchMm,vsTorchSparse,measuredMs,skipped,kernelPath');
    const bad = spawnSync(process.execPath, [cli, 'bench', 'spmm', folder, '--formats', 'ell'], { cwd: root });
    expect(bad.stderr.toString()).toMatch(/--formats/);
    const cpuBf16 = spawnSync(process.execPath, [cli, 'bench', 'spmm', folder, '--precision', 'bf16'], { cwd: root });
    expect(cpuBf16.status).not.toBe(0);
    expect(cpuBf16.stderr.toString()).toMatch(/--device cuda with --precision bf16/);
    const badPrecision = spawnSync(process.execPath, [cli, 'bench', 'spmm', folder, '--precision', 'fp8'], { cwd: root });
    expect(badPrecision.stderr.toString()).toMatch(/'fp32', 'tf32' or 'bf16' for precision/);
    if (!cudaUsable()) {
      const noGpu = spawnSync(process.execPath, [cli, 'bench', 'spmm', folder, '--device', 'cuda'], { cwd: root });
      expect(noGpu.status).not.toBe(0);
      expect(noGpu.stderr.toString()).toMatch(/device 'cuda'/);
    }
  });

  it('a format that fails on one matrix is reported in its row; BSR files are not densified; folder links are walked once', () => {
    const folder = path.join(dir, 'odd');
    mkdirSync(folder, { recursive: true });
    // 200000 × 200000 with two 2×2 blocks: densifying it would take 149 GiB.
    const big = new BsrMatrix(200000, 200000, { blockRows: 2, blockCols: 2 }, Int32Array.from({ length: 100001 }, (_, i) => (i === 0 ? 0 : i < 3 ? i : 2)), Int32Array.of(0, 7), Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    writeSparse(path.join(folder, 'big-bsr.npz'), big);
    symlinkSync('.', path.join(folder, 'loop')); // a cycle
    symlinkSync(path.join(folder, 'missing.txt'), path.join(folder, 'dangling.txt')); // not a matrix
    // bsr:100000x100000 divides the matrix but its blocks (4e10 values) cannot be built.
    const res = spawnSync(process.execPath, [cli, 'bench', 'spmv', folder, '--formats', 'csr,bsr:100000x100000', '--repeat', '1', '--warmup', '0', '--json'], { cwd: root });
    expect(res.status, res.stderr.toString()).toBe(0);
    const out = JSON.parse(res.stdout.toString());
    expect(out.failed).toEqual([]);
    expect(out.rows.map((r: { file: string }) => path.basename(r.file))).toEqual(['big-bsr.npz', 'big-bsr.npz']);
    expect(out.rows[0]).toMatchObject({ format: 'csr', nnz: 8, rows: 200000 });
    expect(out.rows[0].medianMs).toBeGreaterThan(0);
    expect(out.rows[1]).toMatchObject({ format: 'bsr:100000x100000', skipped: expect.stringMatching(/^failed: /) });
    // Options: hex or exponent counts and empty blocks are refused; a repeated format runs once;
    // CSV quotes text the RFC 4180 way.
    for (const args of [['--n', '0x10'], ['--n', '1e1'], ['--formats', 'bsr:0x4']]) {
      const bad = spawnSync(process.execPath, [cli, 'bench', 'spmm', folder, ...args], { cwd: root });
      expect(bad.status, args.join(' ')).not.toBe(0);
      expect(bad.stderr.toString(), args.join(' ')).toMatch(new RegExp(args[0]));
    }
    const quoted = path.join(folder, 'say "hi".mtx');
    writeSparse(quoted, CsrMatrix.fromDense(Float32Array.of(1, 0, 0, 2), 2, 2));
    const csv = spawnSync(process.execPath, [cli, 'bench', 'spmv', quoted, '--formats', 'csr,csr', '--repeat', '1', '--warmup', '0', '--csv'], { cwd: root });
    const lines = csv.stdout.toString().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1].startsWith(`"${quoted.replace(/"/g, '""')}",2,2,2,1,"csr",`)).toBe(true);
    // advise takes --formats as its candidates.
    const adv = spawnSync(process.execPath, [cli, 'bench', 'advise', quoted, '--n', '4', '--formats', 'csr,dense', '--json'], { cwd: root });
    expect(adv.status, adv.stderr.toString()).toBe(0);
    const advice = JSON.parse(adv.stdout.toString()).advice;
    expect(advice[0].candidates.map((c: { format: string }) => c.format).sort()).toEqual(['csr', 'dense']);
  });

  it('advise measures the candidates, skips blocks whose fill is too high, and caches', () => {
    const r = caseRng();
    // 8×8 blocks of a 64×64 matrix: BSR 8×8 has no fill, 16×16 a lot.
    const d = new Float32Array(64 * 64);
    for (let I = 0; I < 8; I++) for (let J = 0; J < 8; J++) if (r() < 0.3) for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) d[(I * 8 + i) * 64 + J * 8 + j] = r() + 0.1;
    const a = CsrMatrix.fromDense(d, 64, 64);
    expect(blockFill(a, 8, 8)).toBe(0);
    const cacheFile = path.join(dir, 'advice.json');
    const first = advise(a, 32, { candidates: ['csr', 'dense', 'bsr:8x8', 'bsr:3x3'], maxFill: 0.2, minMs: 2, cacheFile });
    expect(first.cached).toBe(false);
    const timed = first.candidates.filter((c) => c.ms !== undefined);
    expect(timed.map((c) => c.format).sort()).toEqual(['bsr:8x8', 'csr', 'dense']);
    expect(first.best).toBe(timed.reduce((x, y) => (y.ms! < x.ms! ? y : x)).format);
    expect(first.candidates.find((c) => c.format === 'bsr:3x3')!.skipped).toMatch(/does not divide/);
    const again = advise(a, 32, { candidates: ['csr', 'dense', 'bsr:8x8', 'bsr:3x3'], maxFill: 0.2, minMs: 2, cacheFile });
    expect(again).toEqual({ ...first, cached: true });
    // A BSR matrix (as readSparse returns for a BSR .npz) is advised on as the entries it holds:
    // the same matrix, so the same cached advice.
    expect(advise(BsrMatrix.fromDense(d, 64, 64, { blockRows: 8, blockCols: 8 }), 32, { candidates: ['csr', 'dense', 'bsr:8x8', 'bsr:3x3'], maxFill: 0.2, minMs: 2, cacheFile })).toEqual({ ...first, cached: true });
    expectThrows(() => advise(new Float32Array(4) as never, 4), TypeError, 'CsrMatrix or BsrMatrix', 'Float32Array of length 4');
    const high = advise(a, 32, { candidates: ['csr', 'bsr:16x16'], maxFill: 0.01, minMs: 2 });
    expect(high.candidates.find((c) => c.format === 'bsr:16x16')!.skipped).toMatch(/fill/);
    expectThrows(() => advise(a, 0), RangeError, 'n');
    expectThrows(() => advise(a, 4, { candidates: ['ell' as 'csr'] }), RangeError, 'candidates');
    expectThrows(() => advise(a, 4, { device: 'tpu' as never }), RangeError, 'device');
    expectThrows(() => advise(a, 4, { precision: 'fp8' as never }), RangeError, 'precision');
    // 'auto' without a usable GPU advises for the CPU (the cache key says so: the answer is the CPU one).
    if (!cudaUsable()) {
      expect(advise(a, 32, { candidates: ['csr', 'dense', 'bsr:8x8', 'bsr:3x3'], maxFill: 0.2, minMs: 2, device: 'auto' }).cached).toBe(true);
      expect(() => advise(a, 32, { device: 'cuda' })).toThrow(expect.objectContaining({ code: 'ERR_SHEARS_CUDA' }));
    }
  });
});
