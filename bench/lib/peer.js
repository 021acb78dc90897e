/**
 * The PyTorch / SciPy peer: finds a Python with torch and runs bench/peers/torch_peer.py once for
 * all the cases of a benchmark run (one process, after shears' own cases, so the two never share
 * the cores). Without such a Python the peer columns are left empty and the run goes on.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'peers', 'torch_peer.py');

const probe = [
  'import json, torch',
  'try:\n import scipy; s = scipy.__version__\nexcept ImportError:\n s = None',
  'print(json.dumps({"torch": torch.__version__, "scipy": s}))',
].join('\n');

/**
 * The first of SHEARS_PEER_PYTHON, /usr/bin/python3 and python3 that imports torch, as
 * `{ python, torch, scipy }` (versions; scipy null when missing), or undefined.
 */
export function findPeerPython() {
  const candidates = [process.env.SHEARS_PEER_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean);
  for (const python of new Set(candidates)) {
    const r = spawnSync(python, ['-c', probe], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) continue;
    try {
      return { python, ...JSON.parse(r.stdout.trim().split('\n').pop()) };
    } catch {
      // not the output we asked for: try the next candidate
    }
  }
  return undefined;
}

/**
 * Runs the peer on `cases` (objects with a unique `id`, see torch_peer.py) and returns
 * `{ meta, results }`, results keyed by case id; `{ results: {} }` with a warning on failure.
 */
export function runPeer(peer, cases, { threads, maxTime, minSamples, seed }) {
  const threadVars = Object.fromEntries(['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'].map((v) => [v, String(threads)]));
  const r = spawnSync(peer.python, [script], {
    input: JSON.stringify({ threads, maxTime, minSamples, seed, cases }),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'inherit'], // progress lines on our stderr
    env: { ...process.env, ...threadVars },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60_000,
  });
  if (r.status !== 0) {
    const why = r.error?.message ?? `exit code ${r.status}${r.signal ? `, signal ${r.signal}` : ''}`;
    console.error(`peer: ${peer.python} ${script} failed (${why}); peer columns skipped`);
    return { results: {} };
  }
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    console.error(`peer: unreadable output (${err.message}); peer columns skipped`);
    return { results: {} };
  }
}
