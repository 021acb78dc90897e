/**
 * CUDA kernels against the CPU kernels on fresh random inputs and edge shapes. Skips, saying why,
 * where no CUDA device is usable (the CPU build, or a CUDA build without a GPU); the error a
 * 'cuda' request gives there is tested everywhere.
 */
import { describe, expect, it } from 'vitest';

import {
  advise, BsrMatrix, bsrKernelPath, CsrMatrix, cudaUsable, gemm, gemmAsync, info, prune, sddmm, sddmmAsync, selectSmallest, semiStructuredMatmul,
  semiStructuredMatmulAsync, Tensor,
} from '../../src/index.js';
import { native } from '../../src/native.js';
import { caseRng, seed } from '../helpers.js';

const gpu = cudaUsable();
const i = info().cuda;
/** Tensor cores (TF32, BF16) need compute capability 8.0 or later (the build compiles sm_80+ code). */
const sm80 = gpu && Number(i.devices.find((d) => d.usable)!.computeCapability.split('.')[0]) >= 8;
const reason = !i.compiled ? 'this is the CPU build (npm run build:cuda)' : `no usable CUDA device${i.error ? `: ${i.error}` : ''}`;

/** Elementwise |got − want| ≤ abs + rel·|want| (float32 reductions in another order). */
function expectClose(got: Float32Array, want: Float32Array, label: string, rel: number, abs = 1e-5): void {
  expect(got.length, label).toBe(want.length);
  for (let k = 0; k < got.length; k++)
    if (!(Math.abs(got[k] - want[k]) <= abs + rel * Math.abs(want[k]))) expect.fail(`${label}: element ${k} is ${got[k]}, expected ${want[k]}`);
}

function randomCsr(rows: number, cols: number, density: number, r: () => number): CsrMatrix {
  return CsrMatrix.fromDense(Float32Array.from({ length: rows * cols }, () => (r() < density ? r() * 2 - 1 : 0)), rows, cols);
}

describe('CUDA requests without a usable device', () => {
  it.skipIf(gpu)(`fail with ERR_SHEARS_CUDA and fall back with 'auto' (${reason})`, async () => {
    const a = randomCsr(4, 3, 0.5, caseRng());
    const b = new Float32Array(3 * 2).fill(1);
    let caught: (Error & { code?: string }) | undefined;
    try {
      a.matmul(b, 2, { device: 'cuda' });
    } catch (e) {
      caught = e as Error & { code?: string };
    }
    expect(caught?.code).toBe('ERR_SHEARS_CUDA');
    expect(caught?.message).toMatch(/cuda/i);
    expect(Array.from(a.matmul(b, 2, { device: 'auto' }))).toEqual(Array.from(a.matmul(b, 2)));
    await expect(a.matmulAsync(b, 2, { device: 'cuda' })).rejects.toMatchObject({ code: 'ERR_SHEARS_CUDA' });
    if (!i.compiled) expect(() => native.cudaMemory()).toThrow(/no CUDA/);
    expect(() => selectSmallest([Float32Array.of(1, 2)], 1, { device: 'cuda' })).toThrow(/cuda/i);
    expect(() => a.toDevice()).toThrow(/cuda/i);
    expect(Array.from(selectSmallest([Float32Array.of(3, 1, 2)], 1, { device: 'auto' }).masks[0])).toEqual([1, 0, 1]);
    const x = Float32Array.of(1, 2, 3);
    for (const run of [
      () => a.matvec(x, { device: 'cuda' }),
      () => a.matmulT(new Float32Array(4 * 2), 2, { device: 'cuda' }),
      () => BsrMatrix.fromDense(new Float32Array(16).fill(1), 4, 4, { blockRows: 2, blockCols: 2 }).matmul(new Float32Array(8), 2, { device: 'cuda' }),
      () => gemm(new Float32Array(4), new Float32Array(4), 2, 2, 2, { device: 'cuda' }),
      () => sddmm(a, new Float32Array(4 * 2), new Float32Array(3 * 2), 2, { device: 'cuda' }),
    ])
      expect(run).toThrow(expect.objectContaining({ code: 'ERR_SHEARS_CUDA' }));
    await expect(a.matvecAsync(x, { device: 'cuda' })).rejects.toMatchObject({ code: 'ERR_SHEARS_CUDA' });
    expect(Array.from(a.matvec(x, { device: 'auto' }))).toEqual(Array.from(a.matvec(x)));
    expect(Array.from(gemm(Float32Array.of(1, 2), Float32Array.of(3, 4), 1, 2, 1, { device: 'auto' }))).toEqual([11]);
  });
});

describe('device options that no GPU can take', () => {
  it("an operation without a CUDA kernel is a RangeError on 'cuda' and runs on the CPU with 'auto'", async () => {
    const d = Float32Array.from({ length: 16 }, (_, k) => (k % 3 ? k : 0));
    const b = BsrMatrix.fromDense(d, 4, 4, { blockRows: 2, blockCols: 2 });
    const y = Float32Array.from({ length: 8 }, (_, k) => k - 3);
    expect(() => b.matmulT(y, 2, { device: 'cuda' })).toThrow(RangeError);
    expect(() => b.matmulT(y, 2, { device: 'cuda' })).toThrow(/'cpu' or 'auto' for BSR matmulT \(on CUDA: matmul\) for device/);
    await expect(b.matvecAsync(y.subarray(0, 4), { device: 'cuda' })).rejects.toThrow(RangeError);
    expect(Array.from(b.matmulT(y, 2, { device: 'auto' }))).toEqual(Array.from(b.matmulT(y, 2)));
    expect(() => b.matmul(y, 2, { device: 'gpu' as never })).toThrow(/'cpu', 'cuda' or 'auto'/);
  });

  it('a BSR precision that is not fp32, tf32 or bf16, or contradicts tf32, is an error naming the option', async () => {
    const b = BsrMatrix.fromDense(Float32Array.from({ length: 16 }, (_, k) => k), 4, 4, { blockRows: 2, blockCols: 2 });
    const y = new Float32Array(8).fill(1);
    expect(() => b.matmul(y, 2, { precision: 'fp16' as never })).toThrow(RangeError);
    expect(() => b.matmul(y, 2, { precision: 'fp16' as never })).toThrow(/'fp32', 'tf32' or 'bf16' for precision/);
    expect(() => b.matmul(y, 2, { precision: 16 as never })).toThrow(TypeError);
    expect(() => b.matmul(y, 2, { tf32: 'yes' as never })).toThrow(TypeError);
    expect(() => b.matmul(y, 2, { tf32: true, precision: 'bf16' })).toThrow(/false or absent with precision 'bf16' for tf32/);
    await expect(b.matmulAsync(y, 2, { precision: 'half' as never })).rejects.toThrow(RangeError);
    // The CPU computes in FP32 whatever the precision asks of a GPU.
    expect(Array.from(b.matmul(y, 2, { precision: 'bf16' }))).toEqual(Array.from(b.matmul(y, 2)));
    if (!gpu) expect(() => bsrKernelPath(16, 16, 64, 'bf16')).toThrow(/cuda/i);
    expect(() => bsrKernelPath(16, 16, 64, 'int8' as never)).toThrow(/for precision/);
  });
});

describe.skipIf(!gpu)(`CUDA kernels (${gpu ? i.devices.find((d) => d.usable)!.name : `skipped: ${reason}`})`, () => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1], [0, 5, 3, 0.5], [7, 0, 3, 0.5], [33, 17, 1, 0.3], [64, 64, 31, 0.2], [129, 70, 130, 0.1], [256, 512, 256, 0.05], [300, 200, 64, 0],
  ];

  it('CSR SpMM matches the CPU kernel (edge shapes, empty rows, n across the 128-column passes)', () => {
    for (const [rows, cols, n, density] of shapes) {
      const r = caseRng();
      const a = randomCsr(rows, cols, density, r);
      const b = Float32Array.from({ length: cols * n }, () => r() - 0.5);
      const want = a.matmul(b, n);
      const got = a.matmul(b, n, { device: 'cuda' });
      expectClose(got, want, `spmm ${rows}×${cols}×${n} (seed ${seed})`, 1e-4);
    }
  });

  it('CSR SpMV and transposed SpMM match the CPU kernels (sync and async)', async () => {
    for (const [rows, cols, n, density] of shapes) {
      const r = caseRng();
      const a = randomCsr(rows, cols, density, r);
      const x = Float32Array.from({ length: cols }, () => r() - 0.5);
      expectClose(a.matvec(x, { device: 'cuda' }), a.matvec(x), `spmv ${rows}×${cols} (seed ${seed})`, 1e-4);
      const b = Float32Array.from({ length: rows * n }, () => r() - 0.5);
      const want = a.matmulT(b, n);
      expectClose(a.matmulT(b, n, { device: 'cuda', out: new Float32Array(cols * n).fill(Number.NaN) }), want, `spmmt ${rows}×${cols}×${n} (seed ${seed})`, 1e-4);
      expectClose(await a.matmulTAsync(b, n, { device: 'cuda' }), want, `spmmt async ${rows}×${cols}×${n}`, 1e-4);
    }
  });

  it('BSR SpMM matches the CPU kernel: FP32 on CUDA cores, TF32 and BF16 tensor cores within their rounding', async () => {
    const cases: [rows: number, cols: number, br: number, bc: number, n: number, density: number][] = [
      [32, 32, 16, 16, 16, 0.5], [64, 48, 16, 16, 32, 0.3], [96, 64, 32, 32, 48, 0.4], [128, 64, 64, 8, 16, 0.5],
      [48, 40, 16, 8, 80, 0.5], [64, 64, 16, 16, 17, 0.5], [12, 20, 4, 4, 5, 0.5], [30, 30, 3, 5, 7, 0.6], [32, 32, 16, 16, 16, 0],
    ];
    for (const [rows, cols, br, bc, n, density] of cases) {
      const r = caseRng();
      const dense = new Float32Array(rows * cols);
      for (let I = 0; I < rows / br; I++)
        for (let J = 0; J < cols / bc; J++)
          if (r() < density) for (let i = 0; i < br; i++) for (let j = 0; j < bc; j++) dense[(I * br + i) * cols + J * bc + j] = r() - 0.5;
      const a = BsrMatrix.fromDense(dense, rows, cols, { blockRows: br, blockCols: bc });
      const b = Float32Array.from({ length: cols * n }, () => r() - 0.5);
      const label = `bsr ${br}×${bc} ${rows}×${cols}×${n} (seed ${seed})`;
      const want = a.matmul(b, n);
      expectClose(a.matmul(b, n, { device: 'cuda', out: new Float32Array(rows * n).fill(Number.NaN) }), want, `${label} fp32`, 1e-4);
      // TF32 keeps 10 mantissa bits of each input: each product is within ~2^-10 of exact, so the
      // error is bounded by a multiple of Σ|a||b| (the product of the absolute values).
      const scale = BsrMatrix.fromDense(dense.map(Math.abs), rows, cols, { blockRows: br, blockCols: bc }).matmul(b.map(Math.abs), n);
      const got = await a.matmulAsync(b, n, { device: 'cuda', tf32: true });
      for (let k = 0; k < got.length; k++)
        if (!(Math.abs(got[k] - want[k]) <= 1e-5 + 2e-3 * scale[k])) expect.fail(`${label} tf32: element ${k} is ${got[k]}, expected ${want[k]} (scale ${scale[k]})`);
      // BF16 keeps 8 mantissa bits: each product within ~2^-8 of exact. Where the shape allows
      // (block rows 16..64, block columns and n multiples of 16) the tensor-core kernel must be the one that ran.
      const path = bsrKernelPath(br, bc, n, 'bf16');
      expect(path, label).toBe(br % 16 === 0 && br <= 64 && bc % 16 === 0 && n % 16 === 0 && sm80 ? 'bf16-mma' : 'fp32');
      expect(bsrKernelPath(br, bc, n, 'tf32'), label).toBe(br % 16 === 0 && br <= 64 && bc % 8 === 0 && n % 16 === 0 && sm80 ? 'tf32-mma' : 'fp32');
      expect(bsrKernelPath(br, bc, n), label).toBe('fp32');
      const got16 = a.matmul(b, n, { device: 'cuda', precision: 'bf16', out: new Float32Array(rows * n).fill(Number.NaN) });
      for (let k = 0; k < got16.length; k++)
        if (!(Math.abs(got16[k] - want[k]) <= 1e-5 + 8e-3 * scale[k])) expect.fail(`${label} bf16 (${path}): element ${k} is ${got16[k]}, expected ${want[k]} (scale ${scale[k]})`);
      if (path === 'bf16-mma' && density > 0) {
        // Rounded inputs, exact arithmetic otherwise: the result is not the FP32 one bit for bit.
        let differs = false;
        for (let k = 0; k < got16.length && !differs; k++) differs = got16[k] !== want[k];
        expect(differs, `${label}: BF16 rounding left no trace`).toBe(true);
      }
    }
  });

  it(`2:4 products ${i.libraries?.cusparselt ? 'through cuSPARSELt match the CPU within BF16 rounding' : 'say the build has no cuSPARSELt'}`, async () => {
    const r = caseRng();
    const random24 = (m: number, k: number) => {
      const w = new Tensor(Float32Array.from({ length: m * k }, () => r() - 0.5), [m, k]);
      return prune.remove(w, prune.nm(w, { n: 2, m: 4 })).data;
    };
    if (!i.libraries?.cusparselt) {
      const a = random24(16, 32), b = Float32Array.from({ length: 32 * 16 }, () => r());
      expect(() => semiStructuredMatmul(a, b, 16, 32, 16, { device: 'cuda' })).toThrow(/cuSPARSELt/);
      expect(Array.from(semiStructuredMatmul(a, b, 16, 32, 16, { device: 'auto' }))).toEqual(Array.from(gemm(a, b, 16, 32, 16)));
      return;
    }
    for (const [m, k, n] of [[16, 16, 16], [64, 128, 32], [256, 512, 128], [128, 64, 272]] as const) {
      const a = random24(m, k), b = Float32Array.from({ length: k * n }, () => r() - 0.5);
      const label = `2:4 ${m}×${k}×${n} (seed ${seed})`;
      const want = gemm(a, b, m, k, n);
      const scale = gemm(a.map(Math.abs), b.map(Math.abs), m, k, n);
      const got = await semiStructuredMatmulAsync(a, b, m, k, n, { device: 'cuda', out: new Float32Array(m * n).fill(Number.NaN) });
      // A, B and C each rounded to BF16 (2^-9 relative): within a few 2^-9 of Σ|a||b|.
      for (let q = 0; q < got.length; q++)
        if (!(Math.abs(got[q] - want[q]) <= 1e-5 + 1.2e-2 * scale[q])) expect.fail(`${label}: element ${q} is ${got[q]}, expected ${want[q]} (scale ${scale[q]})`);
    }
    const dense = Float32Array.from({ length: 16 * 32 }, () => r() + 0.1);
    await expect(semiStructuredMatmulAsync(dense, new Float32Array(32 * 16), 16, 32, 16, { device: 'cuda' })).rejects.toThrow(/in row 0, columns 0\.\.3/);
    // Empty products answer as on the CPU; -0 counts as zero in the pattern.
    expect(semiStructuredMatmul(new Float32Array(0), new Float32Array(16 * 32), 0, 16, 32, { device: 'cuda' }).length).toBe(0);
    expect(Array.from(semiStructuredMatmul(new Float32Array(0), new Float32Array(0), 16, 0, 16, { device: 'cuda', out: new Float32Array(256).fill(Number.NaN) }))).toEqual(new Array(256).fill(0));
    const negZero = random24(16, 16).map((v) => (v === 0 ? -0 : v));
    const bz = Float32Array.from({ length: 16 * 16 }, () => r() - 0.5);
    const gz = semiStructuredMatmul(negZero, bz, 16, 16, 16, { device: 'cuda' }), wz = gemm(negZero, bz, 16, 16, 16);
    const sz = gemm(negZero.map(Math.abs), bz.map(Math.abs), 16, 16, 16);
    for (let q = 0; q < gz.length; q++) if (!(Math.abs(gz[q] - wz[q]) <= 1e-5 + 1.2e-2 * sz[q])) expect.fail(`-0 pattern: element ${q} is ${gz[q]}, expected ${wz[q]}`);
    expect(() => native.cudaTimeSpmm24(0, 16, 16, 1, 0)).toThrow(RangeError);
    const t = native.cudaTimeSpmm24(256, 256, 256, 3, 1);
    expect(t.samples).toBeGreaterThanOrEqual(3);
    expect(t.min).toBeGreaterThan(0);
  });

  it(`dense GEMM on the GPU (${gpu ? native.cudaGemmBackend() : ''}) matches the CPU GEMM for every transpose and edge shape`, async () => {
    const shapes3: [number, number, number][] = [[1, 1, 1], [0, 4, 3], [5, 0, 3], [3, 4, 0], [17, 33, 65], [64, 64, 64], [130, 70, 129], [256, 300, 200]];
    for (const [m, k, n] of shapes3)
      for (const transA of [false, true])
        for (const transB of [false, true]) {
          const r = caseRng();
          const a = Float32Array.from({ length: m * k }, () => r() - 0.5), b = Float32Array.from({ length: k * n }, () => r() - 0.5);
          const label = `gemm ${m}×${k}×${n} tA=${transA} tB=${transB} (seed ${seed})`;
          const want = gemm(a, b, m, k, n, { transA, transB });
          expectClose(gemm(a, b, m, k, n, { transA, transB, device: 'cuda', out: new Float32Array(m * n).fill(Number.NaN) }), want, label, 1e-4);
          const scale = gemm(a.map(Math.abs), b.map(Math.abs), m, k, n, { transA, transB });
          const t = await gemmAsync(a, b, m, k, n, { transA, transB, device: 'cuda', tf32: true });
          for (let q = 0; q < t.length; q++)
            if (!(Math.abs(t[q] - want[q]) <= 1e-5 + 2e-3 * scale[q])) expect.fail(`${label} tf32: element ${q} is ${t[q]}, expected ${want[q]}`);
        }
    expect(() => gemm(new Float32Array(3), new Float32Array(4), 2, 2, 2, { device: 'cuda' })).toThrow(RangeError);
  });

  it('CSR SDDMM matches the CPU kernel (sync and async)', async () => {
    for (const [rows, cols, n, density] of shapes) {
      const r = caseRng();
      const a = randomCsr(rows, cols, density, r);
      const x = Float32Array.from({ length: rows * n }, () => r() - 0.5), y = Float32Array.from({ length: cols * n }, () => r() - 0.5);
      const want = sddmm(a, x, y, n).values;
      expectClose(sddmm(a, x, y, n, { device: 'cuda' }).values, want, `sddmm ${rows}×${cols}×${n} (seed ${seed})`, 1e-4);
      expectClose((await sddmmAsync(a, x, y, n, { device: 'cuda', out: new Float32Array(a.nnz).fill(Number.NaN) })).values, want, `sddmm async ${rows}×${cols}×${n}`, 1e-4);
    }
  });

  it('a resident device CSR runs matmul, matmulT, matvec and SDDMM like the CPU, reports its bytes and frees on dispose', async () => {
    const r = caseRng();
    const a = randomCsr(300, 200, 0.1, r);
    const b = Float32Array.from({ length: 200 * 40 }, () => r() - 0.5);
    const before = native.cudaMemory().inUse;
    {
      using d = a.toDevice();
      expect(d.bytes).toBe((2 * 300 + 1 + 2 * a.nnz) * 4); // rowPtr, the row order, colIdx, values
      expectClose(d.matmul(b, 40), a.matmul(b, 40), 'resident spmm', 1e-4);
      expectClose(await d.matmulAsync(b, 40), a.matmul(b, 40), 'resident spmm async', 1e-4);
      const bt = Float32Array.from({ length: 300 * 24 }, () => r() - 0.5);
      expectClose(d.matmulT(bt, 24, { out: new Float32Array(200 * 24).fill(Number.NaN) }), a.matmulT(bt, 24), 'resident spmmT', 1e-4);
      expectClose(await d.matmulTAsync(bt, 24), a.matmulT(bt, 24), 'resident spmmT async', 1e-4);
      const x = Float32Array.from({ length: 200 }, () => r() - 0.5);
      expectClose(d.matvec(x), a.matvec(x), 'resident spmv', 1e-4);
      expectClose(await d.matvecAsync(x, { out: new Float32Array(300).fill(Number.NaN) }), a.matvec(x), 'resident spmv async', 1e-4);
      const xs = Float32Array.from({ length: 300 * 16 }, () => r() - 0.5), ys = Float32Array.from({ length: 200 * 16 }, () => r() - 0.5);
      expectClose(d.sddmmValues(xs, ys, 16), sddmm(a, xs, ys, 16).values, 'resident sddmm', 1e-4);
      expectClose(await d.sddmmValuesAsync(xs, ys, 16), sddmm(a, xs, ys, 16).values, 'resident sddmm async', 1e-4);
      // Shapes are checked against the resident matrix, naming the argument.
      expect(() => d.matvec(new Float32Array(199))).toThrow(/length 200 \(\[cols\]\) for x/);
      expect(() => d.matmulT(b, 40)).toThrow(/\[rows x n\]\) for b/);
      expect(() => d.sddmmValues(xs, xs, 16)).toThrow(/\[cols x n\]\) for y/);
      expect(native.cudaMemory().inUse).toBeGreaterThan(before);
    }
    expect(native.cudaMemory().inUse).toBe(before);
    const d2 = a.toDevice();
    d2.dispose();
    expect(() => d2.matmul(b, 40)).toThrow(/disposed/);
    expect(() => d2.matvec(new Float32Array(200))).toThrow(/disposed/);
  });

  it('the format advisor measures the GPU kernels (kernel-only) and caches per GPU and precision', () => {
    const r = caseRng();
    const d = new Float32Array(256 * 256);
    for (let I = 0; I < 16; I++) for (let J = 0; J < 16; J++) if (r() < 0.2) for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) d[(I * 16 + i) * 256 + J * 16 + j] = r() - 0.5;
    const a = CsrMatrix.fromDense(d, 256, 256);
    for (const precision of ['fp32', 'tf32'] as const) {
      const first = advise(a, 64, { device: 'cuda', precision, candidates: ['csr', 'dense', 'bsr:16x16', 'bsr:3x3'] });
      expect(first.cached).toBe(false);
      for (const c of first.candidates) if (c.format !== 'bsr:3x3') expect(c.ms, `${precision} ${c.format}`).toBeGreaterThan(0);
      expect(first.candidates.find((c) => c.format === 'bsr:3x3')!.skipped).toMatch(/does not divide/);
      const fastest = Math.min(...first.candidates.filter((c) => c.ms !== undefined).map((c) => c.ms!));
      expect(first.candidates.find((c) => c.format === first.best)!.ms).toBe(fastest);
      expect(advise(a, 64, { device: 'cuda', precision, candidates: ['csr', 'dense', 'bsr:16x16', 'bsr:3x3'] }).cached).toBe(true);
    }
  });

  it('kernel-only timing (shears bench --device cuda) returns sane figures', () => {
    const a = randomCsr(512, 512, 0.1, caseRng());
    for (const kernel of ['spmm', 'spmv', 'spmmt', 'sddmm']) {
      const t = native.cudaTimeKernel(kernel, a.rows, a.cols, a.rowPtr, a.colIdx, a.values, kernel === 'spmv' ? 1 : 64, 5, 1);
      expect(t.samples).toBeGreaterThanOrEqual(5);
      expect(t.min).toBeGreaterThan(0);
      expect(t.min).toBeLessThanOrEqual(t.median);
      expect(t.median).toBeLessThanOrEqual(t.max);
    }
    for (const what of ['copy', 'sgd', 'select'] as const) {
      const p = native.cudaProbe(what, 1 << 20, 3);
      expect(p.samples).toBeGreaterThanOrEqual(3);
      expect(p.median).toBeGreaterThan(0);
    }
    expect(() => native.cudaProbe('topk' as never, 10, 1)).toThrow(/'copy', 'sgd' or 'select'/);
    expect(() => native.cudaTimeKernel('spmmv', a.rows, a.cols, a.rowPtr, a.colIdx, a.values, 8, 1, 0)).toThrow(/spmm, spmv, spmmt or sddmm/);
    const bsr = BsrMatrix.fromCsr(a, { blockRows: 16, blockCols: 16 });
    for (const precision of ['fp32', 'tf32', 'bf16'] as const) {
      const t = native.cudaTimeBsr(bsr.rows, bsr.cols, 16, 16, bsr.rowPtr, bsr.colIdx, bsr.values, 64, precision, 3, 1);
      expect(t.samples).toBeGreaterThanOrEqual(3);
      expect(t.min).toBeGreaterThan(0);
      const g = native.cudaTimeGemm(256, 256, 256, precision !== 'fp32', 3, 1);
      expect(g.median).toBeGreaterThan(0);
    }
    expect(() => native.cudaTimeBsr(bsr.rows, bsr.cols, 16, 16, bsr.rowPtr, bsr.colIdx, bsr.values, 64, 'fp8' as never, 3, 1)).toThrow(/for precision/);
  });

  it('radix selection on the GPU gives the CPU engine\'s masks (ties by index, ±0, NaN policies, eligibility, several buffers)', () => {
    const r = caseRng();
    const make = (n: number, kind: number) =>
      Float32Array.from({ length: n }, () => [r() - 0.5, Math.floor(r() * 4) - 2, [0, -0, Infinity, -Infinity][Math.floor(r() * 4)], r() < 0.02 ? Number.NaN : r()][kind] as number);
    for (const sizes of [[1], [1000, 0, 37], [70_000, 65_536], [1_000_003]])
      for (let kind = 0; kind < 4; kind++)
        for (const absolute of [false, true]) {
          const scores = sizes.map((n) => make(n, kind));
          const eligible = sizes.map((n, b) => (b % 2 ? Uint8Array.from({ length: n }, () => (r() < 0.7 ? 1 : 0)) : undefined));
          const nan = kind === 3 ? (['prune', 'keep'] as const)[Math.floor(r() * 2)] : undefined;
          const total = scores.reduce((s2, a, b) => s2 + (eligible[b] ? eligible[b]!.reduce((x, y) => x + y, 0) : a.length), 0);
          for (const k of [0, 1, Math.floor(total / 10), total]) {
            const want = selectSmallest(scores, k, { eligible, absolute, nan });
            const got = selectSmallest(scores, k, { eligible, absolute, nan, device: 'cuda' });
            got.masks.forEach((m, b) => expect(Array.from(m), `sizes ${sizes} kind ${kind} abs ${absolute} k ${k} buffer ${b} (seed ${seed})`).toEqual(Array.from(want.masks[b])));
            expect(got.eligible).toBe(want.eligible);
            if (k > 0) expect(got.threshold).toBe(want.threshold);
          }
        }
    expect(() => selectSmallest([Float32Array.of(1, Number.NaN)], 1, { device: 'cuda' })).toThrow(/scores\[0\]\[1\] is NaN/);
    expect(() => selectSmallest([Float32Array.of(1, 2)], 3, { device: 'cuda' })).toThrow(/2 eligible/);
    // No scores at all: as on the CPU, k = 0 selects nothing and k = 1 is a RangeError.
    for (const empty of [[], [new Float32Array(0)], [new Float32Array(0), new Float32Array(0)]]) {
      const want = selectSmallest(empty, 0);
      const got = selectSmallest(empty, 0, { device: 'cuda' });
      expect(got.eligible).toBe(want.eligible);
      expect(got.masks.length).toBe(want.masks.length);
      expect(() => selectSmallest(empty, 1, { device: 'cuda' })).toThrow(RangeError);
    }
  });

  it('the fused masked SGD step matches the CPU step; pruned entries are exactly +0; the allocator caches', () => {
    const r = caseRng();
    for (const n of [1, 1000, 1 << 20]) {
      const w = Float32Array.from({ length: n }, () => r() - 0.5), g = Float32Array.from({ length: n }, () => r() - 0.5);
      const v = Float32Array.from({ length: n }, () => r() - 0.5), mask = Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
      const [w2, v2] = [w.slice(), v.slice()];
      native.maskedSgd(w, g, v, mask, 0.05, 0.9, 1e-3, true);
      native.cudaMaskedSgd(w2, g, v2, mask, 0.05, 0.9, 1e-3, true);
      expectClose(w2, w, `sgd w n=${n}`, 1e-6);
      expectClose(v2, v, `sgd v n=${n}`, 1e-6);
      mask.forEach((m, k) => m || expect(Object.is(w2[k], 0)).toBe(true));
    }
    const mem = native.cudaMemory();
    expect(mem.inUse).toBe(0);
    expect(mem.cached).toBeGreaterThan(0);
    native.cudaEmptyCache();
    expect(native.cudaMemory().cached).toBe(0);
  });
});
