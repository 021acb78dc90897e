/**
 * safetensors: a file written by an independent writer from a PyTorch-pruned Linear loads with the
 * values PyTorch has (F16/BF16/F64 decoded the way torch's .float() does); every save format round
 * trips; corrupted files give a clear error naming what is wrong; a fuzz run never crashes or hangs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadSafetensors, loadSafetensorsAsync, parseSafetensors, saveSafetensors, saveSafetensorsAsync, serializeSafetensors, Tensor, type StateEntry } from '../src/index.js';
import { caseRng, expectEqualArrays, expectThrows, seed } from './helpers.js';

const fixture = new URL('./fixtures/pruned-model.safetensors', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('./fixtures/pruned-model.json', import.meta.url), 'utf8')) as Record<string, number[]>;

/** Builds a safetensors file by hand: header object + data bytes. */
function fileOf(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

describe('safetensors', () => {
  it('loads a PyTorch-pruned state dict as weights with masks, and F16/BF16/F64/I64 tensors', async () => {
    for (const loaded of [loadSafetensors(fileURLPath(fixture)), await loadSafetensorsAsync(fileURLPath(fixture))]) {
      const w = loaded.tensors.get('weight')!;
      expect(w.tensor.shape).toEqual([4, 6]);
      expectEqualArrays(w.tensor.data, expected.weight, 'weight = orig ⊙ mask');
      expectEqualArrays(w.mask!, expected.weight_mask, 'mask');
      expect(loaded.tensors.has('weight_orig')).toBe(false);
      expectEqualArrays(loaded.tensors.get('bias')!.tensor.data, expected.bias, 'bias');
      expectEqualArrays(loaded.tensors.get('half')!.tensor.data, expected.half, 'F16');
      expectEqualArrays(loaded.tensors.get('brain')!.tensor.data, expected.brain, 'BF16');
      expectEqualArrays(loaded.tensors.get('double')!.tensor.data, Float32Array.from(expected.double), 'F64');
      const steps = loaded.raw.get('steps')!;
      expect(steps.dtype).toBe('I64');
      expect(new BigInt64Array(steps.bytes.slice().buffer)).toEqual(BigInt64Array.of(3n, -1n));
      expect(loaded.metadata).toEqual({ format: 'pt' });
    }
  });

  it('round trips in the dense, pytorch and csr forms', async () => {
    const r = caseRng();
    const data = Float32Array.from({ length: 12 * 7 }, () => r() - 0.5);
    const mask = Uint8Array.from(data, () => (r() < 0.4 ? 1 : 0));
    const state = new Map<string, StateEntry>([
      ['layer.weight', { tensor: new Tensor(data, [12, 7]), mask }],
      ['layer.bias', { tensor: new Tensor(Float32Array.of(1, 2, 3), [3]) }],
    ]);
    const dir = mkdtempSync(path.join(tmpdir(), 'shears-io-'));
    try {
      for (const format of ['dense', 'pytorch', 'csr'] as const) {
        const file = path.join(dir, `${format}.safetensors`);
        if (format === 'csr') await saveSafetensorsAsync(file, state, { format });
        else saveSafetensors(file, state, { format, metadata: { note: 'x' } });
        const back = loadSafetensors(file);
        const w = back.tensors.get('layer.weight')!;
        expectEqualArrays(w.tensor.data, data.map((v, i) => (mask[i] ? v : 0)), `${format} weight (seed ${seed})`);
        if (format !== 'dense') expectEqualArrays(w.mask!, mask, `${format} mask`);
        expectEqualArrays(back.tensors.get('layer.bias')!.tensor.data, [1, 2, 3], `${format} bias`);
        expect(back.raw.size).toBe(0);
      }
      // Non-float tensors pass through unchanged.
      const src = loadSafetensors(fileURLPath(fixture));
      const again = parseSafetensors(serializeSafetensors(src.tensors, { format: 'pytorch', raw: src.raw }));
      expectEqualArrays(again.tensors.get('weight')!.mask!, expected.weight_mask, 'mask after re-save');
      expect(again.raw.get('steps')!.bytes).toEqual(src.raw.get('steps')!.bytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('corrupted files give a clear error naming what is wrong', () => {
    const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const data = new Uint8Array(8);
    expect(parseSafetensors(fileOf(ok, data)).tensors.get('t')!.tensor.size).toBe(2);
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(5), 'shorter than the 8-byte header'],
      [(() => { const f = fileOf(ok, data); new DataView(f.buffer).setBigUint64(0, 1n << 40n, true); return f; })(), 'runs past the end'],
      [(() => { const f = fileOf(ok, data); f[9] = 0x7b; f[10] = 0x7b; return f; })(), 'not valid JSON'],
      [fileOf({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 16] } }, data), 'run past'],
      [fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data), 'overlap'],
      [fileOf({ t: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, data), 'unknown dtype'],
      [fileOf({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), 'shape [3]'],
      [fileOf({ t: { dtype: 'F32', shape: [2e9, 2e9], data_offsets: [0, 8] } }, data), 'data bytes'],
      [fileOf({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, data), 'invalid data_offsets'],
      [fileOf([1, 2]), 'not a JSON object'],
      [fileOf({ __metadata__: ['x'] }), '__metadata__ is not an object'],
      // PyTorch's pruned form: the mask must have the weight's shape and hold 0 or 1 only.
      [fileOf({ w_orig: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] }, w_mask: { dtype: 'F32', shape: [3, 2], data_offsets: [24, 48] } }, new Uint8Array(48)), 'w_mask [3,2] does not match'],
      [fileOf({ w_orig: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, w_mask: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(new Float32Array([0, 8, 1, 0.5]).buffer)), 'holds 0.5 at entry 1'],
      // A CSR tensor whose metadata claims a dense size the few stored entries cannot justify.
      [fileOf({ __metadata__: { 'shears.csr.w': '2,1500000000' }, 'w.row_ptr': { dtype: 'I32', shape: [3], data_offsets: [0, 12] }, 'w.col_idx': { dtype: 'I32', shape: [0], data_offsets: [12, 12] }, 'w.values': { dtype: 'F32', shape: [0], data_offsets: [12, 12] } }, new Uint8Array(12)), 'more than 2^31 - 1 dense values'],
      [fileOf({ __metadata__: { 'shears.csr.w': '-1,5' }, 'w.row_ptr': { dtype: 'I32', shape: [0], data_offsets: [0, 0] }, 'w.col_idx': { dtype: 'I32', shape: [0], data_offsets: [0, 0] }, 'w.values': { dtype: 'F32', shape: [0], data_offsets: [0, 0] } }), 'negative dimensions'],
    ];
    for (const [bytes, mention] of cases) expectThrows(() => parseSafetensors(bytes, 'broken.safetensors'), RangeError, 'broken.safetensors', mention);
    expectThrows(() => parseSafetensors('x' as unknown as Uint8Array), TypeError, 'bytes');
    expectThrows(() => saveSafetensors(path.join(tmpdir(), 'never.safetensors'), new Map([['w', { tensor: new Tensor(new Float32Array(4), [4]), mask: new Uint8Array(4) }]]), { format: 'csr' }), RangeError, '2-D');
    // The writer refuses what its reader would reject (or what would vanish from the file).
    const t = () => ({ tensor: new Tensor(new Float32Array(2), [2]), mask: Uint8Array.of(1, 0) });
    expectThrows(() => serializeSafetensors(new Map([['a', t()], ['a_orig', { tensor: new Tensor(new Float32Array(2), [2]) }]]), { format: 'pytorch' }), RangeError, 'a_orig written twice');
    expectThrows(() => serializeSafetensors(new Map([['a', { tensor: new Tensor(new Float32Array(2), [2]) }]]), { raw: new Map([['a', { dtype: 'I64', shape: [1], bytes: new Uint8Array(8) }]]) }), RangeError, 'a written twice');
    expectThrows(() => serializeSafetensors(new Map(), { raw: new Map([['r', { dtype: 'I64', shape: [4], bytes: new Uint8Array(3) }]]) }), RangeError, 'raw.get("r").bytes');
    expectThrows(() => serializeSafetensors(new Map(), { metadata: { a: 5 as never } }), TypeError, 'metadata.a');
    expectThrows(() => serializeSafetensors(new Map(), { metadata: { 'shears.csr.foo': 'bar' } }), RangeError, 'shears.csr.');
    // Any name is a name: '__proto__' survives a round trip, as a tensor and as a metadata key.
    const proto = JSON.parse('{"__proto__": "kept"}') as Record<string, string>;
    const back = parseSafetensors(serializeSafetensors(new Map([['__proto__', { tensor: new Tensor(Float32Array.of(7), [1]) }]]), { metadata: proto }));
    expect(Array.from(back.tensors.get('__proto__')!.tensor.data)).toEqual([7]);
    expect(Object.getOwnPropertyDescriptor(back.metadata, '__proto__')?.value).toBe('kept');
  });

  it('fuzz: thousands of mutated files either load or throw a clear error, quickly', () => {
    const r = caseRng();
    const base = new Uint8Array(readFileSync(fileURLPath(fixture)));
    let loaded = 0, rejected = 0;
    const start = performance.now();
    for (let iter = 0; iter < 3000; iter++) {
      const f = base.slice(0, r() < 0.1 ? Math.floor(r() * base.length) : base.length);
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits && f.length; e++) {
        const at = r() < 0.5 ? Math.floor(r() * Math.min(f.length, 300)) : Math.floor(r() * f.length);
        f[at] = r() < 0.5 ? Math.floor(r() * 256) : f[at] ^ (1 << Math.floor(r() * 8));
      }
      try {
        parseSafetensors(f, 'fuzz');
        loaded++;
      } catch (err) {
        expect(err instanceof RangeError || err instanceof TypeError, `iteration ${iter}: ${(err as Error).message} (seed ${seed})`).toBe(true);
        rejected++;
      }
    }
    expect(loaded + rejected).toBe(3000);
    expect(rejected).toBeGreaterThan(100);
    expect(performance.now() - start).toBeLessThan(60_000); // a hang would hit this, not a speed claim
  });
});

function fileURLPath(u: URL): string {
  return decodeURIComponent(u.pathname);
}
