/**
 * The raw binding under a fuzzer (test/fuzz/binding.mjs, run in a child process so that a crash
 * fails the test instead of the runner): valid calls of every entry point with their arguments
 * mutated either succeed or fail with shears' TypeError / RangeError / out-of-memory errors.
 * scripts/sanitize.sh runs the same fuzzer against an ASan/UBSan build.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { nativeFile } from '../src/native.js';
import { seed } from './helpers.js';

const fuzzer = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fuzz', 'binding.mjs');

describe('native boundary fuzz', () => {
  it('20,000 mutated calls of every entry point: no crash, only coded TypeErrors/RangeErrors/out-of-memory errors', () => {
    // The addon these tests loaded (the CUDA build on a GPU machine: its entry points run for real).
    const addon = nativeFile ? ['--addon', nativeFile] : [];
    const replay = `replay: node test/fuzz/binding.mjs --seed ${seed} --iters 20000 ${addon.join(' ')} --trace 1`;
    const r = spawnSync(process.execPath, [fuzzer, '--seed', String(seed), '--iters', '20000', ...addon], { encoding: 'utf8', timeout: 180_000 });
    expect(r.signal, `the fuzzer was killed by ${r.signal}; ${replay}\n${r.stderr}`).toBeNull();
    expect(r.status, `${replay}\n${r.stdout}\n${r.stderr}`).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { calls: number; ok: number; rejected: number; findings: unknown[] };
    expect(report.findings).toEqual([]);
    expect(report.calls).toBe(20000);
    // Both outcomes are common: the mutations stay close enough to valid calls to reach the kernels.
    expect(report.ok).toBeGreaterThan(2000);
    expect(report.rejected).toBeGreaterThan(2000);
  }, 200_000);
});
