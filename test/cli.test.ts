/** The CLI end to end: `shears inspect` and `shears prune` on a PyTorch-pruned file, and errors. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { cudaUsable, info, loadSafetensors, prune, saveSafetensors, Sequential, Tensor } from '../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const fixture = path.join(root, 'test', 'fixtures', 'pruned-model.safetensors');
const dir = mkdtempSync(path.join(tmpdir(), 'shears-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { cwd: root }).toString();

describe('shears CLI', () => {
  it('inspect lists tensors with stored dtypes, shapes and sparsity (table and JSON)', () => {
    const table = run('inspect', fixture);
    expect(table).toMatch(/weight\s+F32\s+\[4×6\]\s+24\s+12\s+50\.00%/);
    expect(table).toMatch(/half\s+F16/);
    const json = JSON.parse(run('inspect', fixture, '--json'));
    const byName = Object.fromEntries(json.tensors.map((t: { name: string }) => [t.name, t]));
    expect(byName.weight.sparsity).toBe(0.5);
    expect(byName.steps.dtype).toBe('I64');
  });

  it('prune composes with the masks in the file and writes every format', () => {
    for (const format of ['dense', 'pytorch', 'csr']) {
      const out = path.join(dir, `${format}.safetensors`);
      const json = JSON.parse(run('prune', fixture, '-o', out, '--amount', '0.75', '--format', format, '--json'));
      expect(json.tensors).toEqual([expect.objectContaining({ name: 'weight', params: 24, kept: 3 })]);
      const back = loadSafetensors(out);
      const w = back.tensors.get('weight')!;
      expect(w.tensor.data.filter((v) => v !== 0).length).toBe(3);
      expect(back.raw.get('steps')).toBeDefined(); // untouched tensors survive
    }
    const nm = JSON.parse(run('prune', fixture, '-o', path.join(dir, 'nm.safetensors'), '--granularity', '1:2', '--json'));
    expect(nm.tensors[0].kept).toBeLessThanOrEqual(12);
    const rows = JSON.parse(run('prune', fixture, '-o', path.join(dir, 'rows.safetensors'), '--amount', '2', '--granularity', 'row', '--method', 'l2', '--json'));
    expect(rows.tensors[0].kept).toBeLessThanOrEqual(12);
    const global = JSON.parse(run('prune', fixture, '-o', path.join(dir, 'g.safetensors'), '--amount', '0.5', '--scope', 'global', '--include', '^(weight|double)$', '--json'));
    expect(global.tensors.map((t: { name: string }) => t.name).sort()).toEqual(['double', 'weight']);
  });

  it('prune --method taylor ranks |weight × gradient| from a gradients file', () => {
    const weights = loadSafetensors(fixture).tensors.get('weight')!;
    const g = Float32Array.from({ length: 24 }, (_, i) => ((i * 7) % 11) - 5 + 0.5);
    const grads = path.join(dir, 'grads.safetensors');
    saveSafetensors(grads, new Map([['weight', { tensor: new Tensor(g, [4, 6]) }]]));
    const out = path.join(dir, 'taylor.safetensors');
    run('prune', fixture, '-o', out, '--amount', '0.5', '--method', 'taylor', '--grads', grads, '--format', 'pytorch');
    const taylor = Float32Array.from(weights.tensor.data, (w, i) => Math.abs(w * g[i]));
    const want = prune.l1Unstructured(weights.tensor, { amount: 0.5, mask: weights.mask, importanceScores: taylor });
    expect(Array.from(loadSafetensors(out).tensors.get('weight')!.mask!)).toEqual(Array.from(want));
    // It differs from plain magnitude here, so the gradients did count.
    expect(Array.from(want)).not.toEqual(Array.from(prune.l1Unstructured(weights.tensor, { amount: 0.5, mask: weights.mask })));
    const wrong = path.join(dir, 'grads-wrong.safetensors');
    saveSafetensors(wrong, new Map([['weight', { tensor: new Tensor(g, [6, 4]) }]]));
    const r = spawnSync(process.execPath, [cli, 'prune', fixture, '-o', out, '--amount', '0.5', '--method', 'taylor', '--grads', wrong], { cwd: root });
    expect(r.stderr.toString()).toMatch(/shape \[6,4\]/);
  });

  it('train on the embedded MNIST prints JSON with every field and writes a loadable model', () => {
    const out = path.join(dir, 'trained.safetensors');
    const json = JSON.parse(run('train', '--data', 'mnist', '--epochs', '2', '--sparsity', '0.5', '--schedule', 'one-shot', '--arch', '784-64-10', '--sparse-execution', 'auto', '--out', out, '--json'));
    expect(json.accuracy).toBeGreaterThan(0.8);
    expect(json.sparsity).toBeCloseTo(0.5, 2);
    expect(json.epochSeconds).toHaveLength(2);
    expect(json.layers.map((l: { name: string }) => l.name)).toEqual(['0.weight', '2.weight']);
    expect(json.inference.speedup).toBeGreaterThan(0);
    const model = Sequential.load(out);
    expect(model.summary()[0].sparsity).toBeCloseTo(json.layers[0].sparsity, 10);
    const r = spawnSync(process.execPath, [cli, 'train', '--arch', '100-10', '--epochs', '1'], { cwd: root });
    expect(r.status).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/--arch starts with 100 inputs.*784 features/);
    const bad = spawnSync(process.execPath, [cli, 'train', '--lr', '-1'], { cwd: root });
    expect(bad.stderr.toString()).toMatch(/--lr/);
    for (const l of json.layers) expect(['csr', 'dense']).toContain(l.kernel);
    expect(spawnSync(process.execPath, [cli, 'train', '--sparse-execution', 'fast'], { cwd: root }).stderr.toString()).toMatch(/sparse-execution/);
    expect(spawnSync(process.execPath, [cli, 'train', '--device', 'tpu'], { cwd: root }).stderr.toString()).toMatch(/--device/);
    if (!cudaUsable()) {
      const gpu = spawnSync(process.execPath, [cli, 'train', '--epochs', '1', '--device', 'cuda'], { cwd: root });
      expect(gpu.status).not.toBe(0);
      expect(gpu.stderr.toString()).toMatch(/device 'cuda'/);
    }
  });

  it('bad arguments exit non-zero with a clear message', () => {
    const bad = (args: string[], mention: RegExp) => {
      const r = spawnSync(process.execPath, [cli, ...args], { cwd: root });
      expect(r.status).not.toBe(0);
      expect(r.stderr.toString()).toMatch(mention);
    };
    bad(['prune', fixture, '-o', path.join(dir, 'x.safetensors'), '--amount', 'lots'], /--amount/);
    bad(['prune', fixture, '-o', path.join(dir, 'x.safetensors'), '--amount', '0.5', '--granularity', 'diagonal'], /--granularity/);
    bad(['prune', fixture, '-o', path.join(dir, 'x.safetensors'), '--amount', '0.5', '--method', 'taylor'], /--grads/);
    bad(['prune', fixture, '-o', path.join(dir, 'x.safetensors'), '--amount', '0.5', '--method', 'snip'], /method/);
    bad(['prune', fixture, '--amount', '0.5'], /--output/);
    bad(['prune', fixture, '-o', path.join(dir, 'x.safetensors')], /Expected --amount/);
    bad(['prune', fixture, '-o', path.join(dir, 'x.safetensors'), '--amount', '0.5', '--granularity', '2:4'], /no --amount with --granularity 2:4/);
    // A tensor the granularity cannot take is named, with the way out.
    bad(['prune', fixture, '-o', path.join(dir, 'x.safetensors'), '--amount', '0.5', '--granularity', 'block:7x7'], /weight \[.*\]:.*--exclude/);
    const version = spawnSync(process.execPath, [cli, '--version'], { cwd: root });
    expect(version.stdout.toString().trim()).toBe(info().version);
    bad(['inspect', path.join(dir, 'missing.safetensors')], /ENOENT|no such file/);
    // Training options are checked before any data is read.
    bad(['train', '--arch', '784-100000000-10'], /--arch/);
    bad(['train', '--seed', '4294967296'], /--seed/);
    bad(['train', '--epochs', '0x2'], /--epochs/);
  });
});
