#!/usr/bin/env node
/**
 * shears benchmarks: every kernel's time, rate, and ratios against dense GEMM, PyTorch / SciPy and
 * the machine's ceilings (memory bandwidth, FMA peak), all measured in one run.
 *
 *   npm run bench                          # the spmm suite
 *   npm run bench -- spmm --quick          # fewer sizes, a smoke run (~1 min)
 *   npm run bench -- prune                 # selection, pruning a 100M-weight MLP, safetensors I/O
 *   npm run bench -- train                 # LeNet-300-100 on Fashion-MNIST vs PyTorch, fused SGD, npm start
 *   npm run bench -- formats               # Matrix Market / npz loading, shears bench overhead, the advisor
 *   npm run bench -- cuda                  # GPU kernels (the CUDA build on an NVIDIA GPU; says why when skipped)
 *   npm run bench -- all --threads 1 --isa scalar --json out.json --no-peer
 *
 * Order of a run: machine ceilings, shears' cases (benchmark.js, median of its samples), the
 * ceilings again (a warning if they moved: the machine was busy), then the PyTorch/SciPy peer once
 * for every case (bench/peers/torch_peer.py, same thread count) so the two never compete for the
 * cores, then the tables and the targets. Targets are reported, not asserted: the exit code is 0
 * whatever they say.
 *
 * Environment: SHEARS_PEER_PYTHON picks the peer's Python (default /usr/bin/python3, else python3;
 * it needs torch, and scipy for the SpMV column).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';

import { info, setIsa, setNumThreads } from '../dist/index.js';
import { contentionMeter, cores, cpuModel, lastLevelCache } from './lib/machine.js';
import { measureBandwidth, measureFmaPeak, SpeedGuard, timeIt } from './lib/measure.js';
import { findPeerPython, runPeer } from './lib/peer.js';
import { count, mebibytes, megabytes, ms, NONE, percent, renderTable, sig, times } from './lib/table.js';
import { pruneSuite } from './suites/prune.js';
import { spmmSuite } from './suites/spmm.js';
import { cudaSuite } from './suites/cuda.js';
import { formatsSuite } from './suites/formats.js';
import { trainSuite } from './suites/train.js';

const SUITES = { spmm: spmmSuite, prune: pruneSuite, train: trainSuite, formats: formatsSuite, cuda: cudaSuite };

const USAGE = `Usage: npm run bench -- [suite ...] [options]

Suites: ${Object.keys(SUITES).join(', ')}, or all (default: spmm)

Options:
  --quick          fewer sizes and shorter sampling (a smoke run)
  --threads N      threads for shears and for the peer (default: all cores)
  --isa NAME       force a SIMD variant: scalar, avx2, avx512, neon
  --json FILE      also write every row, the ceilings and the targets as JSON
  --no-peer        skip the PyTorch / SciPy comparison
  -h, --help       this text`;

/** Share of the CPU taken by other processes above which a measurement is flagged. */
const BUSY = 0.05;
/** Speed (slower surrounding probe / best probe) below which a measurement is retried, then flagged. */
const SLOW = 0.85;

/**
 * Why a measurement (a row, or a peer result) is suspect, or undefined: other processes took more
 * than BUSY of the CPU while it ran, or the machine ran below SLOW of its best speed around it.
 */
function noise(m) {
  if (!m) return undefined;
  if (m.speed !== undefined && m.speed < SLOW) return `slow ${sig(m.speed)}×`;
  if (m.otherLoad > BUSY) return `busy ${percent(m.otherLoad)}`;
  return undefined;
}

const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

function parseCommandLine(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      threads: { type: 'string' },
      isa: { type: 'string' },
      json: { type: 'string' },
      'no-peer': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const names = positionals.length ? positionals : ['spmm'];
  const suites = names.includes('all') ? Object.keys(SUITES) : names;
  const unknown = suites.filter((s) => !SUITES[s]);
  if (unknown.length) throw new Error(`unknown suite ${unknown.join(', ')}`);
  let threads;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads needs a positive integer, got ${values.threads}`);
  }
  return { suites, threads, isa: values.isa, json: values.json, quick: values.quick, peer: !values['no-peer'], help: values.help };
}

/**
 * Runs one case: setup (untimed), then benchmark.js under the speed guard (retried while the
 * machine runs slow). Returns the row, or the row with `error`.
 */
function runCase(suite, group, c, fixtures, timing, guard) {
  const row = { suite, group: group.title, id: c.id, label: c.label, kernel: c.kernel, bound: c.bound, dense: c.dense, peers: {} };
  for (const [ref, spec] of Object.entries(c.peers ?? {})) row.peers[ref] = spec.id;
  try {
    const { run, ...measures } = c.setup(fixtures);
    Object.assign(row, measures);
    const { result, speed, attempts } = guard.run(() => {
      const meter = contentionMeter();
      const time = timeIt(run, { ...timing, ...c.timing });
      return { time, otherLoad: meter()?.load };
    });
    Object.assign(row, result, { speed, attempts });
  } catch (err) {
    row.error = err.message;
  }
  return row;
}

/** Rates and ratios of a finished row; `peerTimes` maps peer case id → seconds (median). */
function derive(row, rowsById, peerTimes, ceilings, headers) {
  const t = row.time?.median;
  row.vs = {};
  if (t === undefined) return;
  if (row.flops) row.gflops = row.flops / t / 1e9;
  if (row.bytes) row.gbs = row.bytes / t / 1e9;
  if (row.bound === 'memory') row.ceiling = row.gbs / ceilings.bandwidth.median;
  else if (row.bound === 'compute') row.ceiling = row.gflops / ceilings.fmaPeak.median;
  const dense = rowsById.get(row.dense);
  if (dense?.time) row.vs.dense = dense.time.median / t;
  row.peerTimes = {};
  const suspects = [['', noise(row)], [`${headers.dense ?? 'gemm'}: `, noise(dense)]];
  for (const [ref, id] of Object.entries(row.peers)) {
    const p = peerTimes[id];
    if (p?.median !== undefined) {
      row.peerTimes[ref] = p.median;
      row.vs[ref] = p.median / t;
      suspects.push([`${headers[ref] ?? ref}: `, noise(p)]);
    }
  }
  // The first reason to doubt this row: its own measurement, its dense reference's, or a peer's.
  const suspect = suspects.find(([, why]) => why);
  if (suspect) row.noise = `${suspect[0]}${suspect[1]}`;
}

/** The ratio columns of the spmm groups: reference key → the reference's name. */
const DEFAULT_REFS = { dense: 'gemm', mm: 'torch.mm', sparse: 'torch.sparse', scipy: 'SciPy' };

/** One group's table; columns that are empty for every row are left out. */
function groupTable(rows, refs = DEFAULT_REFS) {
  const columns = [
    ['case', (r) => r.label],
    ['nnz', (r) => (r.nnz === undefined ? NONE : count(r.nnz))],
    ['median ms', (r) => (r.error ? 'error' : ms(r.time.median))],
    ['min–max ms', (r) => (r.error ? NONE : `${ms(r.time.min)}–${ms(r.time.max)}`)],
    ['rate', (r) => (r.gflops ? `${sig(r.gflops)} GFLOP/s` : r.gbs ? `${sig(r.gbs)} GB/s` : NONE)],
    ['of ceiling', (r) => (r.ceiling === undefined || Number.isNaN(r.ceiling) ? NONE : `${percent(r.ceiling)} ${r.bound === 'memory' ? 'BW' : 'FMA'}`)],
    ...Object.entries(refs).map(([ref, name]) => [`×${name}`, (r) => times(r.vs[ref])]),
    ['noise', (r) => (r.noise ? `! ${r.noise}` : NONE)],
  ];
  const cells = rows.map((r) => columns.map(([, f]) => f(r)));
  const keep = columns.map((_, i) => i < 3 || cells.some((row) => row[i] !== NONE));
  const pick = (arr) => arr.filter((_, i) => keep[i]);
  const errors = rows.filter((r) => r.error).map((r) => `  ${r.label}: ${r.error}`);
  return [renderTable(pick(columns.map(([h]) => h)), cells.map(pick)), ...errors].join('\n');
}

/**
 * The ceiling probes over the run (start, after shears' cases, after the peer), with a warning
 * when they moved more than a quiet machine's spread: the FMA probe repeats within ~2%, the copy
 * within ~20%.
 */
function stabilityReport(probes) {
  const series = (pick) => probes.map((p) => sig(pick(p).median)).join(' → ');
  const lines = [
    `Probes (${probes.map((p) => p.when).join(' → ')}): FMA peak ${series((p) => p.fmaPeak)} GFLOP/s, ` +
      `bandwidth ${series((p) => p.bandwidth)} GB/s.`,
  ];
  const spread = (pick) => {
    const v = probes.map((p) => pick(p).median);
    return Math.max(...v) / Math.min(...v) - 1;
  };
  for (const [name, pick, tolerance] of [
    ['FMA peak', (p) => p.fmaPeak, 0.05],
    ['memory bandwidth', (p) => p.bandwidth, 0.25],
  ]) {
    if (spread(pick) > tolerance) {
      lines.push(
        `Warning: the ${name} probe moved ${percent(spread(pick))} during the run: the machine's speed changed (other work on it or on its host), ` +
          'so shears-vs-peer ratios and fractions of that ceiling carry that uncertainty.',
      );
    }
  }
  return lines.join('\n');
}

/** Share of the machine other processes took while shears and the peer ran, with a warning. */
function contentionReport(contention) {
  const phases = Object.entries(contention).filter(([, c]) => c);
  if (!phases.length) return 'Other work on the machine: unknown (no /proc/stat).';
  const parts = phases.map(([name, c], i) => `${percent(c.other)}${i ? '' : ' of its CPU time'} during ${name === 'shears' ? "shears' cases" : 'the peer'}${c.steal > 0.01 ? ` (+${percent(c.steal)} stolen by the hypervisor)` : ''}`);
  const busy = phases.some(([, c]) => c.load > BUSY);
  return `Other work on the machine took ${parts.join(', ')}.${busy ? ` Warning: above ${percent(BUSY)}, timings are skewed; rerun on a quiet machine.` : ''}`;
}

function targetsTable(targets, rowsById) {
  const rows = targets.map((t) => [
    t.target,
    t.measured ?? NONE,
    t.goal,
    t.pass === undefined ? NONE : percent(t.ratio),
    `${t.pass === undefined ? 'n/a' : t.pass ? 'PASS' : 'MISS'}${rowsById.get(t.row)?.noise ? ' !' : ''}`,
  ]);
  const passed = targets.filter((t) => t.pass).length;
  const missed = targets.filter((t) => t.pass === false).length;
  const table = renderTable(['target', 'measured', 'goal', 'of goal', 'result'], rows, ['l', 'r', 'r', 'r', 'l']);
  const flagged = targets.some((t) => rowsById.get(t.row)?.noise);
  const legend = `${passed} pass, ${missed} miss, ${targets.length - passed - missed} not measured (n/a: no peer or reference)`;
  return `${table}\n${legend}${flagged ? '; "!": a measurement behind it is suspect (see the noise column)' : ''}`;
}

async function main() {
  let opts;
  try {
    opts = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  try {
    if (opts.threads !== undefined) setNumThreads(opts.threads);
    if (opts.isa !== undefined) setIsa(opts.isa);
  } catch (err) {
    console.error(`bench: ${err.message}`);
    process.exit(2);
  }
  const shears = info();
  const threads = shears.threads;
  const timing = opts.quick ? { maxTime: 0.2, minSamples: 5 } : { maxTime: 0.5, minSamples: 5 };
  const seed = 1;
  const llc = lastLevelCache();
  const peer = opts.peer ? findPeerPython() : undefined;
  const started = Date.now();

  // ── Header ──
  const meta = {
    date: new Date().toISOString(),
    cpu: cpuModel(shears.cpu),
    cores: cores(),
    threads,
    isa: shears.isa,
    llcBytes: llc.bytes,
    shears: shears.version,
    build: shears.build,
    node: process.version,
    peer: peer ? { python: peer.python, torch: peer.torch, scipy: peer.scipy } : null,
    suites: opts.suites,
    quick: opts.quick,
    loadAverage: os.loadavg()[0],
  };
  console.log(`shears benchmark: ${opts.suites.join(', ')}${opts.quick ? ' (--quick)' : ''}`);
  console.log(`  date     ${meta.date}`);
  console.log(`  cpu      ${meta.cpu}, ${meta.cores} cores, L${llc.level} ${mebibytes(llc.bytes)}${llc.source === 'assumed' ? ' (assumed)' : ''}`);
  console.log(`  shears   ${meta.shears} (${meta.build} build), ${plural(threads, 'thread')}, ISA ${shears.isa.active} (available: ${shears.isa.available.join(', ')})`);
  console.log(`  node     ${meta.node}`);
  console.log(`  load     ${meta.loadAverage.toFixed(2)} (1-minute average at start; other work on the machine skews every figure)`);
  if (peer) console.log(`  peer     torch ${peer.torch}, scipy ${peer.scipy ?? 'missing (SciPy column skipped)'} (${peer.python}), ${plural(threads, 'thread')}`);
  else if (opts.peer) console.log('  peer: no Python with torch found (apt-get install python3-torch, or set SHEARS_PEER_PYTHON); peer columns skipped');
  else console.log('  peer     skipped (--no-peer)');

  // ── Ceilings ──
  const shearsPhase = contentionMeter();
  // The copy arrays are at least twice the LLC each, so the copy streams from memory.
  const copyBytes = Math.max(64 * 1024 ** 2, 2 * llc.bytes);
  const measureCeilings = () => ({
    bandwidth: measureBandwidth(copyBytes, opts.quick ? 5 : 9),
    fmaPeak: measureFmaPeak(opts.quick ? 1e7 : 2e7, opts.quick ? 3 : 5),
  });
  const ceilingMeter = contentionMeter();
  const ceilings = measureCeilings();
  ceilings.otherLoad = ceilingMeter()?.load;
  const range = (s) => `min ${sig(s.min)}, max ${sig(s.max)}, ${s.samples} runs`;
  console.log('Ceilings (measured now, medians):');
  console.log(`  memory bandwidth  ${sig(ceilings.bandwidth.median)} GB/s  (parallel copy of ${megabytes(copyBytes)}, read + write; ${range(ceilings.bandwidth)})`);
  console.log(`  FMA peak          ${sig(ceilings.fmaPeak.median)} GFLOP/s  (${shears.isa.active}, ${plural(threads, 'thread')}; ${range(ceilings.fmaPeak)})`);
  if (ceilings.otherLoad > BUSY) {
    console.log(`  Warning: other processes took ${percent(ceilings.otherLoad)} of the CPU meanwhile: the ceilings are underestimated.`);
  }
  console.log('');

  // ── shears cases ──
  const guard = new SpeedGuard({ threshold: SLOW });
  const suites = opts.suites.map((name) => SUITES[name]({ quick: opts.quick, seed }));
  const total = suites.reduce((n, s) => n + s.groups.reduce((m, g) => m + g.cases.length, 0), 0);
  const rowsById = new Map();
  let done = 0;
  for (const suite of suites) {
    for (const group of suite.groups) {
      // Inputs shared by a group's cases (the matrix of one sparsity for every n); dropped after it.
      const cache = new Map();
      const fixtures = { get: (key, make) => (cache.has(key) ? cache.get(key) : cache.set(key, make()).get(key)) };
      for (const c of group.cases) {
        const row = runCase(suite.name, group, c, fixtures, timing, guard);
        rowsById.set(row.id, row);
        done++;
        const note = row.error ? `error: ${row.error}` : `${ms(row.time.median)} ms${row.attempts > 1 ? ` (${plural(row.attempts, 'try', 'tries')})` : ''}`;
        console.error(`[${done}/${total}] ${row.id}  ${note}`);
      }
    }
  }

  // The probes run again after shears' cases and after the peer: if the machine's speed moved
  // (other work, on this VM or on its host), figures taken at different times don't compare well.
  // The fractions of ceiling use the start figures.
  const probes = [{ when: 'start', ...ceilings }];
  const probe = (when) => {
    const meter = contentionMeter();
    probes.push({ when, ...measureCeilings(), otherLoad: meter()?.load });
  };
  probe("after shears' cases");
  const contention = { shears: shearsPhase() };

  // ── Peer, once, for every case ──
  let peerRun = { results: {} };
  if (peer) {
    const peerPhase = contentionMeter();
    const specs = new Map();
    for (const suite of suites) for (const g of suite.groups) for (const c of g.cases) for (const s of Object.values(c.peers ?? {})) specs.set(s.id, s);
    // Group by matrix so the peer builds each random pattern once.
    const patternKey = (s) => (s.sparsity === undefined ? '' : `${s.m}×${s.k} ${s.sparsity} ${s.block ?? ''}`);
    const cases = [...specs.values()].sort((a, b) => patternKey(a).localeCompare(patternKey(b)));
    peerRun = runPeer(peer, cases, { threads, seed, ...timing });
    contention.peer = peerPhase(peerRun.meta?.cpuSeconds ?? 0);
    if (peerRun.meta && peerRun.meta.torchThreads !== threads) {
      console.error(`peer: torch runs ${peerRun.meta.torchThreads} threads, shears ${threads}`);
    }
    probe('after the peer');
  }
  const seconds = (Date.now() - started) / 1000;

  // ── Report ──
  const rows = [...rowsById.values()];
  const groupOf = new Map();
  for (const suite of suites) for (const g of suite.groups) for (const c of g.cases) groupOf.set(c.id, g);
  for (const row of rows) derive(row, rowsById, peerRun.results, ceilings, groupOf.get(row.id)?.refs ?? DEFAULT_REFS);
  // Is the run trustworthy? Other processes' CPU time, and ceilings that moved during the run.
  console.log(contentionReport(contention));
  console.log(stabilityReport(probes));
  const retried = rows.filter((r) => r.attempts > 1).length;
  if (retried) console.log(`${plural(retried, 'case')} ran again because the machine slowed down around the first try.`);
  if (rows.some((r) => r.noise)) {
    console.log(
      `"!" in the noise column: that row, its gemm reference or a peer result ran while other processes took over ${percent(BUSY)} ` +
        `of the CPU (busy), or while the machine ran below ${percent(SLOW)} of its best speed even after ${plural(2, 'retry', 'retries')} (slow).`,
    );
  }
  console.log('');
  const allTargets = [];
  for (const suite of suites) {
    for (const group of suite.groups) {
      console.log(`## ${group.title}`);
      if (group.note) console.log(group.note);
      console.log(groupTable(rows.filter((r) => r.suite === suite.name && r.group === group.title), group.refs));
      console.log('');
    }
    if (suite.standalone) {
      // Suites that time whole runs themselves (training): they print their own tables.
      const { targets } = await suite.run({ quick: opts.quick, peer, peerWanted: opts.peer, threads, ceilings, seed });
      allTargets.push(...targets.map((t) => ({ suite: suite.name, ...t })));
      continue;
    }
    const own = new Map(rows.filter((r) => r.suite === suite.name).map((r) => [r.id, r]));
    allTargets.push(...suite.targets(own, { llcBytes: llc.bytes }).map((t) => ({ suite: suite.name, ...t })));
  }
  console.log('×<reference> columns: reference time / shears time (> 1: shears is faster).');
  console.log('Peer times are medians of the same inputs in shape and distribution, run after shears in one process.');
  if (rows.some((r) => r.ceiling > 1.05)) {
    console.log('Above 100% of a ceiling: the probe underestimates it. For bandwidth, the data stayed in cache or reads');
    console.log('stream faster than the probe\'s copy; for FMA, --isa scalar probes scalar FMA while "scalar" kernels may be');
    console.log('auto-vectorised.');
  }
  console.log('');
  console.log('## Targets (a report, not an assertion)');
  console.log(targetsTable(allTargets, rowsById));
  console.log(`\nTotal ${seconds.toFixed(0)} s.`);

  if (opts.json) {
    const failed = Object.entries(peerRun.results).filter(([, r]) => r.error);
    writeFileSync(
      opts.json,
      `${JSON.stringify({ meta: { ...meta, peerMeta: peerRun.meta ?? null, seconds, contention }, ceilings, probes, rows, targets: allTargets, peerErrors: Object.fromEntries(failed) }, null, 2)}\n`,
    );
    console.log(`Rows written to ${opts.json}`);
  }
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`);
  process.exit(1);
});
