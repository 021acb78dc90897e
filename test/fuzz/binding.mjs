#!/usr/bin/env node
/**
 * Boundary fuzzer for the raw native binding (no TypeScript checks in front of it): builds a valid
 * call of every entry point on small random shapes, applies 0–3 mutations to its arguments (a
 * wrong type, a dimension off by one or huge, a typed array cut short or grown, a corrupted index,
 * a nested field of a layer or an option replaced or deleted, arguments dropped) and makes the call.
 *
 * What must hold, for every call:
 * - the process survives (a crash, abort or hang fails the run: the test runs this in a child);
 * - an unmutated call succeeds (so the mutations stay near valid calls and reach the deep checks);
 * - a failure is an Error with one of shears' codes: ERR_SHEARS_INVALID_ARG_TYPE (TypeError),
 *   ERR_SHEARS_OUT_OF_RANGE (RangeError), ERR_SHEARS_OUT_OF_MEMORY, or ERR_SHEARS_CUDA (the GPU
 *   entry points in a build or on a machine without CUDA). ERR_SHEARS_INTERNAL, an error without a
 *   code or a thrown non-Error is a finding.
 *
 *   node test/fuzz/binding.mjs [--seed N] [--iters N] [--addon path/to/shears.node] [--only name] [--trace 1]
 *
 * The addon: --addon, else SHEARS_ADDON, else the CPU build in build/.
 *
 * --trace 1 prints each call (index, entry point, mutation count, arguments) to stderr before making it.
 *
 * Prints one JSON line { seed, calls, ok, rejected, findings: [...] } and exits 1 on a finding.
 * scripts/sanitize.sh runs it against an AddressSanitizer + UBSan build of the addon, where an
 * out-of-bounds access that would not crash a normal build aborts the run.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = new Map();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
// Calls whose shapes are valid but need gigabytes (a k = 0 product with a huge m, say) are refused
// as out of memory rather than made: the fuzzer must not compete for the machine's memory.
process.env.SHEARS_MEMORY_LIMIT ??= '1G';
const file = args.get('addon') ?? process.env.SHEARS_ADDON;
const addon = file ? require(path.resolve(file)) : require('bindings')({ bindings: 'shears.node', module_root: root });
const seed = Number(args.get('seed') ?? 1);
const iters = Number(args.get('iters') ?? 4000);
const only = args.get('only');
const trace = args.has('trace');

// xorshift32, seeded: a run is reproducible from its seed.
let state = (Math.imul(seed, 2654435761) >>> 0) || 1;
const rnd = () => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
};
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];
const f32 = (n) => Float32Array.from({ length: n }, () => rnd() * 2 - 1);
const dim = () => pick([0, 1, 2, 3, 5, 8, 17]);

/** [rows, cols, rowPtr, colIdx, values] with about `density` of the entries stored, sorted rows. */
function csr(rows, cols, density = 0.4) {
  const ptr = [0], idx = [], val = [];
  for (let i = 0; i < rows; ++i) {
    for (let j = 0; j < cols; ++j) if (rnd() < density) (idx.push(j), val.push(rnd() - 0.5));
    ptr.push(idx.length);
  }
  return [rows, cols, Int32Array.from(ptr), Int32Array.from(idx), Float32Array.from(val)];
}
/** [rows, cols, blockRows, blockCols, rowPtr, colIdx, values] over a random block pattern. */
function bsr() {
  const R = 1 + int(4), C = 1 + int(4), br = pick([1, 2, 4]), bc = pick([1, 2, 3]);
  const [, , ptr, idx] = csr(R, C, 0.5);
  return [R * br, C * bc, br, bc, ptr, idx, f32(idx.length * br * bc)];
}
/** Linear layers as the trainer's entry points take them (src/native.ts NativeLayer). */
function layers(sizes, optimizer) {
  return sizes.slice(1).map((out, l) => {
    const n = sizes[l] * out;
    const layer = {
      in: sizes[l], out, w: f32(n), b: f32(out), mask: Uint8Array.from({ length: n }, () => (rnd() < 0.7 ? 1 : 0)),
      vw: optimizer ? new Float32Array(n) : undefined, vb: optimizer ? new Float32Array(out) : undefined,
      score: new Float32Array(n), relu: l + 2 < sizes.length, dropout: pick([0, 0, 0.2]), execution: pick([-1, 0, 1, undefined]),
    };
    if (rnd() < 0.3) Object.assign(layer, { actAbs: new Float64Array(out), actZero: new Float64Array(out) });
    return layer;
  });
}
const sizes = () => Array.from({ length: 2 + int(3) }, () => 1 + int(9));
const labels = (n, classes) => Int32Array.from({ length: n }, () => int(classes));
const nanRule = () => pick([undefined, 'error', 'keep', 'prune']);

// One generator of valid arguments per entry point; `xAsync` shares x's.
const csrMatmul = () => { const a = csr(dim(), dim()), n = dim(); return [...a, f32(a[1] * n), n, undefined]; };
const csrMatmulT = () => { const a = csr(dim(), dim()), n = dim(); return [...a, f32(a[0] * n), n, undefined]; };
const csrMatvec = () => { const a = csr(dim(), dim()); return [...a, f32(a[1]), undefined]; };
const csrSddmm = () => { const a = csr(dim(), dim()), n = dim(); return [...a, f32(a[0] * n), f32(a[1] * n), n, undefined]; };
const gemm = () => { const m = dim(), k = dim(), n = dim(); return [f32(m * k), f32(k * n), m, k, n, rnd() < 0.5, rnd() < 0.5, rnd() < 0.3 ? f32(m * n) : undefined]; };
const bsrMatmul = () => { const a = bsr(), n = dim(); return [...a, f32(a[1] * n), n, undefined]; };
const maskedSgd = () => { const n = int(40); return [f32(n), f32(n), f32(n), rnd() < 0.5 ? new Uint8Array(n).fill(1) : undefined, 0.1, 0.9, 1e-4, rnd() < 0.5]; };
const selectSmallest = () => {
  const ts = Array.from({ length: 1 + int(3) }, () => f32(int(20)));
  const total = ts.reduce((s, t) => s + t.length, 0);
  return [ts, int(total + 1), nanRule(), rnd() < 0.3 ? ts.map((t) => new Uint8Array(t.length).fill(1)) : undefined,
    rnd() < 0.3 ? ts.map((t) => new Uint8Array(t.length)) : undefined, rnd() < 0.5];
};
const generators = {
  gemm,
  streamCopy: () => { const n = int(50); return [rnd() < 0.5 ? f32(n) : undefined, f32(n)]; },
  csrValidate: () => csr(dim(), dim()),
  csrMatvec, csrMatmul, csrMatmulT, csrSddmm,
  csrToDense: () => [...csr(dim(), dim()), undefined],
  csrTranspose: () => csr(dim(), dim()),
  csrFromDense: () => { const r = dim(), c = dim(); return [f32(r * c), r, c, rnd() < 0.5 ? new Uint8Array(r * c).fill(1) : undefined, rnd() < 0.5 ? 0.1 : undefined]; },
  csrFromCoo: () => {
    // Duplicates are summed, or (sumDuplicates false) an error: then the coordinates are distinct.
    const r = 1 + dim(), c = 1 + dim(), sum = rnd() < 0.5;
    const cells = Array.from({ length: int(10) }, () => int(r * c));
    const keys = sum ? cells : [...new Set(cells)];
    return [r, c, Int32Array.from(keys, (k) => Math.floor(k / c)), Int32Array.from(keys, (k) => k % c), f32(keys.length), sum];
  },
  bsrValidate: bsr,
  bsrMatvec: () => { const a = bsr(); return [...a, f32(a[1]), undefined]; },
  bsrMatmul,
  bsrMatmulT: () => { const a = bsr(), n = dim(); return [...a, f32(a[0] * n), n, undefined]; },
  bsrSddmm: () => { const a = bsr(), n = dim(); return [...a, f32(a[0] * n), f32(a[1] * n), n, undefined]; },
  bsrToDense: () => [...bsr(), undefined],
  bsrTranspose: bsr,
  bsrFromDense: () => {
    const br = pick([1, 2, 4]), bc = pick([1, 2, 3]), r = br * (1 + int(3)), c = bc * (1 + int(3));
    return [f32(r * c), r, c, br, bc, rnd() < 0.3 ? new Uint8Array(r * c).fill(1) : undefined, rnd() < 0.5 ? 0.2 : undefined];
  },
  bsrFromCsr: () => { const br = pick([1, 2]), bc = pick([1, 3]); return [...csr(br * (1 + int(4)), bc * (1 + int(4))), br, bc]; },
  scoresAccumulate: () => { const n = int(20); return [pick(['abs', 'taylor', 'square', 'movement']), f32(n), f32(n), f32(n)]; },
  activationStats: () => { const f = 1 + int(5), b = 1 + int(5); return [f32(f * b), f, b, new Float64Array(f), new Float64Array(f)]; },
  nmMask: () => { const m = pick([2, 4, 8]), rows = 1 + int(4); return [f32(rows * m), m, 1 + int(m - 1), rnd() < 0.3 ? new Uint8Array(rows * m) : undefined, nanRule()]; },
  selectSmallest,
  maskedSgd,
  trainEpoch: () => {
    const sz = sizes(), ls = layers(sz, true), classes = sz[sz.length - 1];
    const n = 1 + int(20), batchSize = 1 + int(8), steps = Math.ceil(n / Math.min(batchSize, n));
    const o = { batchSize, lr: new Float32Array(steps).fill(0.05), momentum: 0.9, weightDecay: 0, nesterov: rnd() < 0.5, seed: int(5), sparseBelow: 0.5 };
    if (rnd() < 0.3) o.criterion = pick(['magnitude', 'gradient', 'taylor', 'fisher', 'movement']);
    if (rnd() < 0.3) o.events = [{ step: int(steps + 1), global: rnd() < 0.5, target: Float64Array.from(ls, () => pick([0.5, -1, 0.9])) }];
    if (rnd() < 0.2) o.regrow = [{ step: int(steps), fraction: 0.3, random: rnd() < 0.5 }];
    if (rnd() < 0.2) Object.assign(o, { teacher: layers([sz[0], 4, classes], false), alpha: 0.5, temperature: 2 });
    if (rnd() < 0.2) {
      o.snapshot = { step: int(steps), weights: ls.map((l) => new Float32Array(l.w.length)) };
      if (rnd() < 0.5) o.snapshot.biases = ls.map((l) => (rnd() < 0.2 ? null : new Float32Array(l.out)));
    }
    if (rnd() < 0.2) { const v = 1 + int(5); Object.assign(o, { validationX: f32(v * sz[0]), validationY: labels(v, classes) }); }
    if (rnd() < 0.2) o.abort = new Int32Array(1);
    return [ls, f32(n * sz[0]), labels(n, classes), o, rnd() < 0.3 ? () => {} : undefined];
  },
  predict: () => { const sz = sizes(), n = int(10); return [layers(sz, false), f32(n * sz[0]), n, 1 + int(8), 0.5]; },
  gradients: () => { const sz = sizes(), n = 1 + int(10); return [layers(sz, false), f32(n * sz[0]), labels(n, sz[sz.length - 1]), rnd() < 0.5]; },
  pruneLayers: () => {
    const ls = layers(sizes(), true);
    return [ls, { step: 0, global: rnd() < 0.5, target: Float64Array.from(ls, () => pick([0.5, -1, 0])) }, pick(['magnitude', 'taylor', undefined])];
  },
  parseMatrixMarket: () => [new TextEncoder().encode(pick([
    '%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1.5\n3 2 -2\n',
    '%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n',
    '%%MatrixMarket matrix coordinate pattern symmetric\n3 3 2\n2 1\n3 3\n',
  ])), 'fuzz.mtx', rnd() < 0.5],
  // Settings: later calls then run at other thread counts and on other ISAs.
  setNumThreads: () => [1 + int(4)],
  setIsa: () => [pick(addon.info().isa.available)],
  // The GPU entry points: ERR_SHEARS_CUDA without a GPU, the kernels' own checks with one.
  cudaCsrMatmul: csrMatmul,
  cudaCsrMatmulT: csrMatmulT,
  cudaCsrMatvec: csrMatvec,
  cudaCsrSddmm: csrSddmm,
  cudaBsrMatmul: () => [...bsrMatmul(), pick(['fp32', 'tf32', 'bf16'])],
  cudaGemm: () => [...gemm(), rnd() < 0.5],
  cudaSpmm24: () => {
    // cuSPARSELt's shapes (multiples of 16) and a 2:4 A: two of every four entries along k are zero.
    const m = pick([16, 32]), k = pick([16, 32]), n = pick([16, 32]), a = f32(m * k);
    for (let g = 0; g < a.length; g += 4) for (const z of pick([[0, 1], [1, 3], [2, 3], [0, 2]])) a[g + z] = 0;
    return [a, f32(k * n), m, k, n, undefined];
  },
  cudaMaskedSgd: maskedSgd,
  cudaSelectSmallest: selectSmallest,
  cudaBsrPath: () => [pick([8, 16, 32]), pick([8, 16, 32]), dim(), pick(['fp32', 'tf32', 'bf16'])],
  cudaTimeGemm: () => [1 + int(64), 1 + int(64), 1 + int(64), rnd() < 0.5, 2, 1],
};
for (const name of Object.keys(generators)) if (typeof addon[`${name}Async`] === 'function') generators[`${name}Async`] = generators[name];
const missing = Object.keys(generators).filter((n) => typeof addon[n] !== 'function');
if (missing.length) throw new Error(`the binding has no ${missing.join(', ')}: update test/fuzz/binding.mjs`);

const strange = [undefined, null, 0, -1, 1, 2, 1.5, NaN, Infinity, -Infinity, -0, 2 ** 31, 2 ** 31 - 1, 2 ** 32 + 1, 2 ** 53, 1e300,
  'x', '', true, {}, [], () => {}, Symbol('fuzz'), 5n, new ArrayBuffer(8), new Float32Array(0), new Float32Array(3),
  new Float64Array(3), new Int32Array(3), new Uint8Array(3), Int32Array.of(0, 5, 2), Int32Array.of(2 ** 31 - 1), Int32Array.of(-5, 0)];

function mutate(v, depth = 0) {
  const r = rnd();
  if (r < 0.3) return pick(strange);
  if (typeof v === 'number') return pick([v + 1, v - 1, 2 * v + 1, 0, -v, v + 0.5, 65537, 2 ** 31, NaN]);
  if (ArrayBuffer.isView(v)) {
    if (r < 0.5) return v.subarray(0, Math.max(0, v.length - 1 - int(2)));
    const Kind = v.constructor;
    if (r < 0.6) {
      const longer = new Kind(v.length + 1 + int(3));
      longer.set(v);
      return longer;
    }
    const copy = new Kind(v);
    if (copy.length) copy[int(copy.length)] = pick([-1, 2 ** 31 - 1, 1000, 2, 255, NaN, Infinity]);
    return copy;
  }
  if (Array.isArray(v)) {
    const copy = v.slice();
    if (copy.length && rnd() < 0.7) copy[int(copy.length)] = mutate(copy[int(copy.length)], depth + 1);
    else if (rnd() < 0.5) copy.pop();
    else copy.push(pick(strange));
    return copy;
  }
  if (v && typeof v === 'object' && depth < 4) {
    const copy = { ...v }, keys = Object.keys(copy);
    if (keys.length) {
      const key = pick(keys);
      if (rnd() < 0.15) delete copy[key];
      else copy[key] = mutate(copy[key], depth + 1);
    }
    return copy;
  }
  return pick(strange);
}

/** A short description of an argument for --trace. */
function show(v, depth = 0) {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.length})`;
  if (Array.isArray(v)) return depth > 1 ? '[…]' : `[${v.map((x) => show(x, depth + 1)).join(', ')}]`;
  if (typeof v === 'function') return 'fn';
  if (typeof v === 'symbol' || typeof v === 'bigint') return String(v);
  if (v && typeof v === 'object') return depth > 1 ? '{…}' : `{${Object.entries(v).map(([k, x]) => `${k}: ${show(x, depth + 1)}`).join(', ')}}`;
  return JSON.stringify(v) ?? String(v);
}

const allowed = new Set(['ERR_SHEARS_INVALID_ARG_TYPE', 'ERR_SHEARS_OUT_OF_RANGE', 'ERR_SHEARS_OUT_OF_MEMORY', 'ERR_SHEARS_CUDA']);
const findings = [];
const names = Object.keys(generators).filter((n) => !only || n === only || n === `${only}Async`);
let ok = 0, rejected = 0;
const judge = (call, name, mutations, err) => {
  rejected++;
  const code = err instanceof Error ? err.code : undefined;
  const typed = code === 'ERR_SHEARS_INVALID_ARG_TYPE' ? err instanceof TypeError : code === 'ERR_SHEARS_OUT_OF_RANGE' ? err instanceof RangeError : true;
  const what = err instanceof Error ? `${err.constructor.name} ${code ?? '(no code)'}: ${err.message}` : `a thrown ${typeof err}`;
  if (!allowed.has(code) || !typed) findings.push({ call, name, what });
  else if (mutations === 0 && code !== 'ERR_SHEARS_CUDA' && code !== 'ERR_SHEARS_OUT_OF_MEMORY') findings.push({ call, name, what: `an unmutated call failed: ${what}` });
};
const pending = [];
for (let call = 0; call < iters; ++call) {
  const name = pick(names);
  let argv = generators[name]();
  const mutations = int(4);
  for (let m = 0; m < mutations; ++m) {
    if (rnd() < 0.1) argv = argv.slice(0, int(argv.length + 1));
    else {
      const i = int(argv.length);
      argv[i] = mutate(argv[i]);
    }
  }
  if (trace) process.stderr.write(`${call} ${name} ${mutations} (${argv.map(show).join(', ')})\n`);
  try {
    const result = addon[name](...argv);
    if (result instanceof Promise) pending.push(result.then(() => ok++, (err) => judge(call, name, mutations, err)));
    else ok++;
  } catch (err) {
    judge(call, name, mutations, err);
  }
}
await Promise.all(pending);
console.log(JSON.stringify({ seed, calls: iters, ok, rejected, findings: findings.slice(0, 20) }));
if (findings.length) process.exitCode = 1;
