/**
 * The `prune` suite (issue 3, section 6): exact selection against torch.kthvalue / torch.topk and a
 * JS sort; pruning a 100M-weight MLP (8 layers of 3584×3584) globally by L1, by rows (Ln, n = 2)
 * and 2:4, against torch.nn.utils.prune; and safetensors load / save of that MLP (411 MB) against
 * `cp` of the same file.
 *
 * Rates: selection and pruning move at least the scores once and the masks once (5 bytes per
 * entry), so GB/s = 5·n / time, judged against the measured copy bandwidth; safetensors rates are
 * the file's bytes over the time.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { loadSafetensors, prune, saveSafetensors, selectSmallest, Tensor } from '../../dist/index.js';
import { prng } from '../lib/random.js';

const D = 3584;
const LAYERS = 8;
/** Runs that take seconds (the 400 MB file cases, PyTorch's global pruning): fewer samples. */
const SLOW_TIMING = { maxTime: 1, minSamples: 5 };

const exp10 = (n) => `1e${Math.round(Math.log10(n))}`;

function uniformScores(n, seed) {
  const r = prng(seed);
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = r();
  return s;
}

/** The MLP's weights: uniform in ±1/sqrt(d), nn.Linear's default initialisation range. */
function mlpWeights(seed) {
  const r = prng(seed);
  const bound = 1 / Math.sqrt(D);
  return Array.from({ length: LAYERS }, () => {
    const w = new Float32Array(D * D);
    for (let i = 0; i < w.length; i++) w[i] = (2 * r() - 1) * bound;
    return new Tensor(w, [D, D]);
  });
}

function selectionGroup(sizes, seed) {
  const cases = [];
  for (const n of sizes) {
    const k = Math.round(n / 10);
    const scores = (f) => f.get(`scores ${n}`, () => uniformScores(n, seed));
    if (n <= 1e6) {
      cases.push({
        id: `js sort ${exp10(n)}`,
        label: `JS Float32Array sort, n=${exp10(n)}`,
        kernel: 'reference',
        setup: (f) => {
          const s = scores(f);
          const copy = new Float32Array(n);
          return {
            run: () => {
              copy.set(s);
              copy.sort();
            },
          };
        },
      });
    }
    cases.push({
      id: `select ${exp10(n)}`,
      label: `n=${exp10(n)}, k=n/10`,
      kernel: 'select',
      bound: 'memory',
      dense: n <= 1e6 ? `js sort ${exp10(n)}` : undefined,
      peers: {
        kthvalue: { id: `torch.kthvalue ${exp10(n)}`, kind: 'kthvalue', n, k },
        topk: { id: `torch.topk ${exp10(n)}`, kind: 'topk', n, k },
      },
      setup: (f) => {
        const s = scores(f);
        const masks = [new Uint8Array(n)];
        return { run: () => selectSmallest([s], k, { masks }), bytes: 5 * n };
      },
    });
  }
  return {
    title: 'Selection of the 10% smallest scores (exact, masks written)',
    note: 'shears: selectSmallest([scores], n/10) writing a mask; torch.kthvalue returns the k-th value, topk the k smallest unsorted. GB/s: 5 bytes per score (read the score, write the mask).',
    refs: { dense: 'JS sort', kthvalue: 'torch.kthvalue', topk: 'torch.topk' },
    cases,
  };
}

function mlpGroup(seed) {
  const params = LAYERS * D * D;
  const weights = (f) => f.get('mlp', () => mlpWeights(seed));
  const mlp = { d: D, layers: LAYERS };
  const label = `${LAYERS} × ${D}², ${(params / 1e6).toFixed(0)}M weights`;
  return {
    title: `Pruning a ${(params / 1e6).toFixed(0)}M-weight MLP (${LAYERS} layers of ${D}×${D})`,
    note: 'Masks included. PyTorch: torch.nn.utils.prune on nn.Linear layers (remove() and a weight reset run untimed between calls); 2:4 in PyTorch as NVIDIA ASP computes it (topk(2) of |w| in groups of 4).',
    refs: { torch: 'PyTorch' },
    cases: [
      {
        id: 'mlp global l1 0.9',
        label: `globalUnstructured L1 90%, ${label}`,
        kernel: 'prune',
        bound: 'memory',
        timing: SLOW_TIMING,
        peers: { torch: { id: 'torch global_unstructured L1 0.9', kind: 'global_unstructured', ...mlp, amount: 0.9, minSamples: 2, maxTime: 0 } },
        setup: (f) => {
          const ts = weights(f);
          return { run: () => prune.globalUnstructured(ts, { amount: 0.9, method: 'l1' }), bytes: 5 * params };
        },
      },
      {
        id: 'mlp ln2 dim0 0.5',
        label: `lnStructured n=2 dim=0 50%, each layer`,
        kernel: 'prune',
        bound: 'memory',
        timing: SLOW_TIMING,
        peers: { torch: { id: 'torch ln_structured n=2 dim=0 0.5', kind: 'ln_structured', ...mlp, amount: 0.5, minSamples: 3, maxTime: 0 } },
        setup: (f) => {
          const ts = weights(f);
          return { run: () => ts.map((t) => prune.lnStructured(t, { amount: 0.5, n: 2, dim: 0 })), bytes: 5 * params };
        },
      },
      {
        id: 'mlp 2:4',
        label: '2:4 (nm), each layer',
        kernel: 'prune',
        bound: 'memory',
        timing: SLOW_TIMING,
        peers: { torch: { id: 'torch 2:4 topk', kind: 'nm_topk', ...mlp, minSamples: 3, maxTime: 0 } },
        setup: (f) => {
          const ts = weights(f);
          return { run: () => ts.map((t) => prune.nm(t, { n: 2, m: 4 })), bytes: 5 * params };
        },
      },
    ],
  };
}

function safetensorsGroup(seed) {
  const dir = os.tmpdir();
  const file = path.join(dir, `shears-bench-${process.pid}.safetensors`);
  const copy = path.join(dir, `shears-bench-${process.pid}-cp.safetensors`);
  const out = path.join(dir, `shears-bench-${process.pid}-out.safetensors`);
  const bytes = LAYERS * D * D * 4;
  // The file is written once by the first case that needs it, and removed at exit.
  const state = (f) =>
    f.get('state', () => {
      const s = new Map(mlpWeights(seed).map((t, i) => [`${2 * i}.weight`, { tensor: t }]));
      saveSafetensors(file, s);
      process.once('exit', () => [file, copy, out].forEach((p) => rmSync(p, { force: true })));
      return s;
    });
  return {
    title: `safetensors, the MLP as one ${(bytes / 1e6).toFixed(0)} MB file (${os.tmpdir()}, page cache warm)`,
    note: '×cp: time of `cp` of the same file / shears time (≥ 0.67 means within 1.5× of cp).',
    refs: { dense: 'cp' },
    cases: [
      {
        id: 'cp',
        label: `cp of the file`,
        kernel: 'reference',
        timing: SLOW_TIMING,
        setup: (f) => {
          state(f);
          return { run: () => execFileSync('cp', [file, copy]), bytes };
        },
      },
      {
        id: 'safetensors load',
        label: 'loadSafetensors',
        kernel: 'io',
        dense: 'cp',
        timing: SLOW_TIMING,
        setup: (f) => {
          state(f);
          return { run: () => loadSafetensors(file), bytes };
        },
      },
      {
        id: 'safetensors save',
        label: 'saveSafetensors (weights as F32)',
        kernel: 'io',
        dense: 'cp',
        timing: SLOW_TIMING,
        setup: (f) => {
          const s = state(f);
          return { run: () => saveSafetensors(out, s), bytes };
        },
      },
    ],
  };
}

/** The suite's groups; `quick` drops n = 1e8. */
export function pruneSuite({ quick = false, seed = 1 } = {}) {
  return {
    name: 'prune',
    groups: [selectionGroup(quick ? [1e6, 1e7] : [1e6, 1e7, 1e8], seed), mlpGroup(seed), safetensorsGroup(seed)],
    targets,
  };
}

// ── Targets (issue 3, section 6) ───────────────────────────────────────────────────────────────

function targets(rows) {
  const out = [];
  const push = (target, r, measured, goal, ratio) =>
    out.push({ target, row: r.id, measured, goal, ratio, pass: ratio === undefined || Number.isNaN(ratio) ? undefined : ratio >= 1 });
  const x = (v) => (v === undefined ? undefined : `${v.toFixed(1)}×`);
  const s = (v) => `${v.toFixed(2)} s`;
  for (const n of ['1e7', '1e8']) {
    const r = rows.get(`select ${n}`);
    if (!r?.time) continue;
    push(`Select 10% of ${n} vs torch.kthvalue`, r, x(r.vs.kthvalue), '≥ 20×', r.vs.kthvalue / 20);
    push(`Select 10% of ${n}: share of memory bandwidth`, r, `${(r.ceiling * 100).toFixed(0)}%`, '≥ 30%', r.ceiling / 0.3);
  }
  const g = rows.get('mlp global l1 0.9');
  if (g?.time) {
    push('globalUnstructured L1 90%, 100M MLP vs PyTorch', g, x(g.vs.torch), '≥ 30×', g.vs.torch / 30);
    push('globalUnstructured L1 90%, 100M MLP', g, s(g.time.median), '≤ 1 s', 1 / g.time.median);
  }
  for (const id of ['mlp ln2 dim0 0.5', 'mlp 2:4']) {
    const r = rows.get(id);
    if (r?.time) push(`${r.label.split(',')[0]} over the 100M MLP`, r, s(r.time.median), '< 1 s', 1 / r.time.median);
  }
  for (const id of ['safetensors load', 'safetensors save']) {
    const r = rows.get(id);
    if (r?.time && r.vs.dense) push(`${id} 411 MB / cp`, r, `${(1 / r.vs.dense).toFixed(2)}×`, '≤ 1.5×', r.vs.dense * 1.5);
  }
  return out;
}
