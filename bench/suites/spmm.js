/**
 * The `spmm` suite: sparse products against dense GEMM, PyTorch, SciPy and the machine ceilings
 * (issue 2, section 6). Shapes are M = K = 4096 unless a case says otherwise; sparsity s is the
 * fraction of entries (CSR) or of blocks (BSR) that are zero, at uniformly random positions.
 *
 * A case describes what is timed (its `setup` builds the inputs, preallocates the output and
 * returns the call), how to rate it (flops, bytes, bound), and what it is compared with: the shears
 * dense GEMM case of the same shape (`dense`, an id) and the peer cases (`peers`, run by
 * torch_peer.py). Targets are checked from the finished rows; they report, never assert.
 */
import { CsrMatrix, gemm, sddmm } from '../../dist/index.js';
import { randomBsr, randomCsr, randomDense } from '../lib/random.js';

const M = 4096;
const K = 4096;
const F32 = 4;

const fmtS = (s) => s.toFixed(2);
const shape = (m, k, n) => `${m}×${k}×${n}`;

// ── Peer case specs (see peers/torch_peer.py); equal specs share an id and are timed once ──────

function mmPeer(m, k, n, { transA = false, transB = false } = {}) {
  const t = transA ? ' Aᵀ' : transB ? ' Bᵀ' : '';
  return { id: `torch.mm ${shape(m, k, n)}${t}`, kind: 'mm', m, k, n, transA, transB };
}

function sparsePeer(m, k, n, sparsity, block) {
  const b = block ? ` block ${block[0]}×${block[1]}` : '';
  return { id: `torch.sparse.mm ${shape(m, k, n)} s=${fmtS(sparsity)}${b}`, kind: 'sparse_mm', m, k, n, sparsity, block };
}

function scipyPeer(m, k, sparsity, block) {
  const b = block ? ` block ${block[0]}×${block[1]}` : '';
  return { id: `scipy csr@x ${m}×${k} s=${fmtS(sparsity)}${b}`, kind: 'spmv_scipy', m, k, sparsity, block };
}

function sddmmPeer(m, k, n) {
  return { id: `torch.mm X·Yᵀ ${shape(m, n, k)}`, kind: 'sddmm_dense', m, k, n };
}

// ── Rates ───────────────────────────────────────────────────────────────────────────────────────

/**
 * Minimum traffic of y = A·x: the matrix once (values, column indices, row pointers: `a.bytes`),
 * x once and y once. For CSR that is nnz·8 + (rows + 1)·4 + cols·4 + rows·4 bytes.
 */
const spmvBytes = (a) => a.bytes + (a.cols + a.rows) * F32;

// ── Cases ───────────────────────────────────────────────────────────────────────────────────────

function denseId(m, k, n, t = '') {
  return `gemm ${shape(m, k, n)}${t}`;
}

/** Dense GEMM cases: the targets at 1024³ and 4096×4096×256, and every sparse case's reference. */
function denseGroup(ns, seed) {
  const gemmCase = (m, k, n, { transA = false, transB = false, label } = {}) => ({
    id: denseId(m, k, n, transA ? ' Aᵀ' : transB ? ' Bᵀ' : ''),
    label: label ?? `${shape(m, k, n)}`,
    kernel: 'gemm',
    bound: n === 1 ? 'memory' : 'compute',
    peers: { mm: mmPeer(m, k, n, { transA, transB }) },
    setup(fx) {
      // The 4096² operand is shared by every 4096-row case (its values are irrelevant to speed).
      const a = fx.get(`dense ${m * k}`, () => randomDense(m * k, seed));
      const b = fx.get(`dense ${k}×${n}`, () => randomDense(k * n, seed + 1));
      const out = new Float32Array(m * n);
      const options = { transA, transB, out };
      return {
        run: () => gemm(a, b, m, k, n, options),
        flops: 2 * m * k * n,
        bytes: (m * k + k * n + m * n) * F32,
      };
    },
  });
  return {
    title: 'Dense GEMM (shears gemm vs torch.mm)',
    note: 'n = 1 is a matrix-vector product, rated by bandwidth; Aᵀ is the matmulT reference, X·Yᵀ the SDDMM one.',
    cases: [
      gemmCase(1024, 1024, 1024),
      ...ns.map((n) => gemmCase(M, K, n)).reverse(),
      gemmCase(M, K, 256, { transA: true, label: `Aᵀ·B ${shape(M, K, 256)}` }),
      gemmCase(M, 256, K, { transB: true, label: `X·Yᵀ ${M}×256 · 256×${K}` }),
    ],
  };
}

/** The product case of one sparse matrix and n: SpMV (matvec) for n = 1, SpMM (matmul) otherwise. */
function productCase({ id, label, matrix, sparsity, block, n, seed }) {
  const spmv = n === 1;
  return {
    id,
    label,
    kernel: spmv ? 'matvec' : 'matmul',
    bound: spmv ? 'memory' : 'compute',
    dense: denseId(M, K, n),
    peers: {
      mm: mmPeer(M, K, n),
      sparse: sparsePeer(M, K, n, sparsity, block),
      ...(spmv ? { scipy: scipyPeer(M, K, sparsity, block) } : {}),
    },
    setup(fx) {
      const a = fx.get(matrix.key, matrix.make);
      const b = fx.get(`dense ${K}×${n}`, () => randomDense(K * n, seed + 1));
      const out = new Float32Array(M * n);
      const options = { out };
      return {
        run: spmv ? () => a.matvec(b, options) : () => a.matmul(b, n, options),
        nnz: a.nnz,
        matrixBytes: a.bytes,
        flops: 2 * a.nnz * n,
        bytes: spmv ? spmvBytes(a) : undefined,
      };
    },
  };
}

function csrGroup(sparsities, ns, seed) {
  return {
    title: `CSR SpMM / SpMV, ${M}×${K}, unstructured`,
    note: 'n = 1 is matvec (rated in GB/s against the bandwidth ceiling); n > 1 is matmul (GFLOP/s = 2·nnz·n against the FMA peak).',
    cases: sparsities.flatMap((s) =>
      ns.map((n) =>
        productCase({
          id: `csr s=${fmtS(s)} n=${n}`,
          label: `s=${fmtS(s)} n=${n}`,
          matrix: { key: `csr ${s}`, make: () => randomCsr(M, K, s, seed) },
          sparsity: s,
          n,
          seed,
        }),
      ),
    ),
  };
}

function bsrGroup(bs, sparsities, ns, seed) {
  return {
    title: `BSR ${bs}×${bs}, ${M}×${K}, block sparsity s`,
    note: 'nnz counts the stored values (whole blocks); torch.sparse and SciPy get a block pattern of the same shape and sparsity, stored as CSR.',
    cases: sparsities.flatMap((s) =>
      ns.map((n) =>
        productCase({
          id: `bsr${bs} s=${fmtS(s)} n=${n}`,
          label: `s=${fmtS(s)} n=${n}`,
          matrix: { key: `bsr${bs} ${s}`, make: () => randomBsr(M, K, bs, bs, s, seed) },
          sparsity: s,
          block: [bs, bs],
          n,
          seed,
        }),
      ),
    ),
  };
}

/** SpMV on matrices well beyond the last-level cache, where it must run at memory bandwidth. */
function bigSpmvGroup(sizes, seed) {
  return {
    title: 'CSR SpMV beyond the last-level cache',
    note: 'No dense reference at these sizes (the dense matrix would take 1–4 GB).',
    cases: sizes.map(([rows, s]) => ({
      id: `csr spmv ${rows}² s=${fmtS(s)}`,
      label: `${rows}×${rows} s=${fmtS(s)}`,
      kernel: 'matvec',
      bound: 'memory',
      peers: { scipy: scipyPeer(rows, rows, s) },
      setup() {
        const a = randomCsr(rows, rows, s, seed);
        const x = randomDense(rows, seed + 1);
        const options = { out: new Float32Array(rows) };
        return {
          run: () => a.matvec(x, options),
          nnz: a.nnz,
          matrixBytes: a.bytes,
          flops: 2 * a.nnz,
          bytes: spmvBytes(a),
        };
      },
    })),
  };
}

function matmulTGroup(sparsities, seed) {
  const n = 256;
  return {
    title: `CSR matmulT (Aᵀ·B), ${M}×${K}, n = ${n}`,
    note: `×gemm is against gemm with transA (${shape(M, K, n)}); ×torch.mm against torch.mm(A.t(), B).`,
    cases: sparsities.map((s) => ({
      id: `csr matmulT s=${fmtS(s)} n=${n}`,
      label: `s=${fmtS(s)} n=${n}`,
      kernel: 'matmulT',
      bound: 'compute',
      dense: denseId(M, K, n, ' Aᵀ'),
      peers: { mm: mmPeer(M, K, n, { transA: true }) },
      setup(fx) {
        const a = fx.get(`csr ${s}`, () => randomCsr(M, K, s, seed));
        const b = randomDense(M * n, seed + 2);
        const options = { out: new Float32Array(K * n) };
        return { run: () => a.matmulT(b, n, options), nnz: a.nnz, flops: 2 * a.nnz * n };
      },
    })),
  };
}

function sddmmGroup(seed) {
  const s = 0.9;
  const n = 256;
  return {
    title: `SDDMM, pattern ${M}×${K} CSR s=${fmtS(s)}, n = ${n}`,
    note: `×gemm is against gemm(X, Y, ${M}, ${n}, ${K}, {transB}) (the dense X·Yᵀ); ×torch.mm against torch.mm(X, Y.t()).`,
    cases: [
      {
        id: `sddmm s=${fmtS(s)} n=${n}`,
        label: `s=${fmtS(s)} n=${n}`,
        kernel: 'sddmm',
        bound: 'compute',
        dense: denseId(M, n, K, ' Bᵀ'),
        peers: { mm: sddmmPeer(M, K, n) },
        setup() {
          const pattern = randomCsr(M, K, s, seed);
          const x = randomDense(M * n, seed + 3);
          const y = randomDense(K * n, seed + 4);
          const options = { out: new Float32Array(pattern.nnz) };
          return { run: () => sddmm(pattern, x, y, n, options), nnz: pattern.nnz, flops: 2 * pattern.nnz * n };
        },
      },
    ],
  };
}

function conversionGroup(seed) {
  const s = 0.9;
  return {
    title: 'Conversion',
    note: `×gemm = time of one gemm ${shape(M, K, 256)} / time of the conversion (target: > 4×, i.e. < 25% of a GEMM). Rated by the minimum traffic: read the dense matrix, write the CSR one.`,
    cases: [
      {
        id: `fromDense ${M}² s=${fmtS(s)}`,
        label: `CsrMatrix.fromDense ${M}×${K} s=${fmtS(s)}`,
        kernel: 'fromDense',
        bound: 'memory',
        dense: denseId(M, K, 256),
        peers: {},
        setup() {
          const csr = randomCsr(M, K, s, seed);
          const dense = csr.toDense();
          return {
            run: () => CsrMatrix.fromDense(dense, M, K),
            nnz: csr.nnz,
            bytes: M * K * F32 + csr.bytes,
          };
        },
      },
    ],
  };
}

/** The suite's groups of cases; `quick` keeps one or two points per curve for smoke runs. */
export function spmmSuite({ quick = false, seed = 1 } = {}) {
  const sparsities = quick ? [0.9, 0.99] : [0.5, 0.8, 0.9, 0.95, 0.98, 0.99];
  const ns = [1, 32, 256];
  const bsrSparsities = quick ? [0.9] : sparsities;
  // 16384² at s = 0.95 is 107 MB of CSR, 32768² at s = 0.99 is 86 MB: both well beyond a 32 MB LLC.
  const bigSpmv = quick ? [[16384, 0.95]] : [[16384, 0.95], [32768, 0.99]];
  return {
    name: 'spmm',
    groups: [
      denseGroup(ns, seed),
      csrGroup(sparsities, ns, seed),
      bsrGroup(4, bsrSparsities, ns, seed),
      bsrGroup(16, bsrSparsities, ns, seed),
      bigSpmvGroup(bigSpmv, seed),
      matmulTGroup(quick ? [0.9] : [0.9, 0.99], seed),
      sddmmGroup(seed),
      conversionGroup(seed),
    ],
    targets,
  };
}

// ── Targets (issue 2, section 6) ───────────────────────────────────────────────────────────────

/**
 * Checks every target whose cases ran. `rows` maps case id → finished row (see run.js); `llcBytes`
 * is the last-level cache size. Returns `{ target, row, measured, goal, ratio, pass }` entries:
 * `row` is the case id, measured/goal are display strings, ratio is measured/goal (≥ 1 passes),
 * and pass is true, false, or undefined when a reference is missing.
 */
function targets(rows, { llcBytes }) {
  const out = [];
  const fmt = (x, unit) => (x === undefined ? undefined : unit === '%' ? `${(x * 100).toFixed(1)}%` : `${x.toFixed(2)}×`);
  /** A "higher is better" target on row r: value ≥ goal. */
  const atLeast = (target, r, value, goal, unit = '×') =>
    out.push({ target, row: r.id, measured: fmt(value, unit), goal: `≥ ${fmt(goal, unit)}`, ratio: value / goal, pass: value === undefined ? undefined : value >= goal });
  /** A "lower is better" target on row r: value < goal. */
  const below = (target, r, value, goal, unit = '%') =>
    out.push({ target, row: r.id, measured: fmt(value, unit), goal: `< ${fmt(goal, unit)}`, ratio: goal / value, pass: value === undefined ? undefined : value < goal });
  const row = (id) => rows.get(id);

  for (const id of [denseId(1024, 1024, 1024), denseId(M, K, 256)]) {
    if (row(id)) atLeast(`Dense ${id} vs torch.mm`, row(id), row(id).vs.mm, 0.9);
  }
  for (const [s, goal] of [[0.9, 4], [0.95, 8], [0.98, 15], [0.99, 25]]) {
    const r = row(`csr s=${fmtS(s)} n=256`);
    if (r) atLeast(`CSR s=${fmtS(s)} n=256 vs dense torch.mm`, r, r.vs.mm, goal);
  }
  const r32 = row('csr s=0.90 n=32');
  if (r32) atLeast('CSR s=0.90 n=32 vs dense torch.mm', r32, r32.vs.mm, 3);
  for (const r of rows.values()) {
    if (r.id.startsWith('csr s=') && r.kernel === 'matmul') atLeast(`CSR ${r.label} vs torch.sparse.mm`, r, r.vs.sparse, 5);
  }
  const b16 = row('bsr16 s=0.90 n=256');
  if (b16) atLeast('BSR 16×16 s=0.90 n=256 vs dense torch.mm', b16, b16.vs.mm, 6);
  const spmv = [...rows.values()].filter((r) => r.kernel === 'matvec' && r.id.startsWith('csr'));
  for (const r of spmv.filter((r) => r.matrixBytes > llcBytes)) {
    atLeast(`SpMV ${r.label} (${(r.matrixBytes / 1e6).toFixed(0)} MB > LLC) of bandwidth`, r, r.ceiling, 0.6, '%');
  }
  for (const r of spmv) atLeast(`SpMV ${r.label} vs SciPy csr @ x`, r, r.vs.scipy, 1);
  const sd = row('sddmm s=0.90 n=256');
  if (sd) atLeast('SDDMM s=0.90 n=256 vs dense X·Yᵀ torch.mm', sd, sd.vs.mm, 4);
  const fd = row(`fromDense ${M}² s=0.90`);
  if (fd) below(`fromDense ${M}² s=0.90 / one gemm ${shape(M, K, 256)}`, fd, fd.vs.dense && 1 / fd.vs.dense, 0.25);
  return out;
}
