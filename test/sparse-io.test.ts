/**
 * Sparse matrix files: every fixture scipy wrote (test/fixtures/make_sparse_fixtures.py) reads as
 * scipy reads it; every format round-trips; malformed Matrix Market files fail with the right line;
 * thousands of byte-level mutations of valid files never crash, hang or throw anything but a
 * RangeError / TypeError.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { unzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';

import { BsrMatrix, CsrMatrix, readSparse, readSparseAsync, sparseBytes, writeSparse } from '../src/index.js';
import { caseRng, expectThrows, seed } from './helpers.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sparse');
const expected = JSON.parse(readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as Record<string, number[][]>;
const dir = mkdtempSync(path.join(tmpdir(), 'shears-sparse-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mtx = (body: string) => new TextEncoder().encode(body);

describe('sparse matrix files', () => {
  it('reads every scipy-written fixture as scipy does (symmetric, skew and pattern expanded)', async () => {
    const names = readdirSync(fixtures).filter((f) => f !== 'expected.json');
    expect(names.length).toBe(Object.keys(expected).length);
    for (const name of names) {
      const want = expected[name];
      const a = readSparse(path.join(fixtures, name));
      expect(a, name).toBeInstanceOf(name === 'bsr.npz' ? BsrMatrix : CsrMatrix);
      expect([a.rows, a.cols], name).toEqual([want.length, want[0].length]);
      const got = a.toDense();
      want.flat().forEach((v, i) => expect(got[i], `${name} entry ${i}`).toBe(Math.fround(v)));
      const b = await readSparseAsync(path.join(fixtures, name));
      expect(Array.from(b.toDense()), `${name} async`).toEqual(Array.from(got));
    }
  });

  it('round-trips every format (mtx float32 digits, mtx.gz, npz compressed and stored, smtx pattern, BSR npz)', () => {
    const r = caseRng();
    const dense = Float32Array.from({ length: 12 * 9 }, () => (r() < 0.3 ? Math.fround((r() - 0.5) * 10 ** Math.floor(r() * 8 - 4)) : 0));
    const a = CsrMatrix.fromDense(dense, 12, 9);
    for (const file of ['a.mtx', 'a.mtx.gz', 'a.npz', 'b.npz']) {
      writeSparse(path.join(dir, file), a, { compressed: file !== 'b.npz' });
      const back = readSparse(path.join(dir, file)) as CsrMatrix;
      expect(Array.from(back.toDense()), `${file} (seed ${seed})`).toEqual(Array.from(dense));
      expect(Array.from(back.rowPtr), file).toEqual(Array.from(a.rowPtr));
    }
    writeSparse(path.join(dir, 'a.smtx'), a);
    const pattern = readSparse(path.join(dir, 'a.smtx'));
    expect(Array.from(pattern.toDense())).toEqual(Array.from(dense, (v) => (v !== 0 ? 1 : 0)));
    const normal = readSparse(path.join(dir, 'a.smtx'), { values: 'normal', seed: 3 });
    expect(Array.from(normal.values)).toEqual(Array.from(readSparse(path.join(dir, 'a.smtx'), { values: 'normal', seed: 3 }).values));
    expect(normal.values.some((v) => v !== 1)).toBe(true);
    const b = BsrMatrix.fromDense(dense, 12, 9, { blockRows: 3, blockCols: 3 });
    writeSparse(path.join(dir, 'b-bsr.npz'), b);
    const bb = readSparse(path.join(dir, 'b-bsr.npz')) as BsrMatrix;
    expect(bb).toBeInstanceOf(BsrMatrix);
    expect([bb.blockRows, bb.blockCols]).toEqual([3, 3]);
    expect(Array.from(bb.toDense())).toEqual(Array.from(dense));
    // Detected from the first bytes when there is no extension.
    expect(Array.from(readSparse(sparseBytes(a, 'npz')).toDense())).toEqual(Array.from(dense));
    expect(Array.from(readSparse(sparseBytes(a, 'mtx', { gzip: true })).toDense())).toEqual(Array.from(dense));
  });

  it('Matrix Market errors name the file, the line and what was wrong', () => {
    const bad = (body: string, ...mentions: string[]) => expectThrows(() => readSparse(mtx(body), { format: 'mtx' }), RangeError, ...mentions);
    bad('hello\n1 1 1\n', 'line 1', 'banner');
    bad('%%MatrixMarket matrix coordinate complex general\n', 'line 1', 'complex');
    bad('%%MatrixMarket matrix coordinate real hermitian\n', 'line 1', 'hermitian');
    bad('%%MatrixMarket matrix coordinate real general\n% only comments\n', 'line 3', 'size line');
    bad('%%MatrixMarket matrix coordinate real general\n2 x 1\n', 'line 2', 'rows cols entries');
    bad('%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n3 1 2\n', 'line 4', 'row index 3', '[1, 2]');
    bad('%%MatrixMarket matrix coordinate real general\n2 2 2\n1 0 1\n2 2 1\n', 'line 3', 'column index 0');
    bad('%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n2 2 1\n', 'promises 3', 'holds 2');
    bad('%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 1\n', 'line 4', 'more than the 1');
    bad('%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 abc\n', 'line 3', 'not a number');
    bad('%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1 9\n', 'line 3', 'unexpected text');
    bad('%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 1\n', 'line 3', 'above the diagonal');
    bad('%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n1 1 1\n', 'line 3', 'diagonal');
    bad('%%MatrixMarket matrix coordinate real general\n2 2 100000\n1 1 1\n', 'line 2', 'promises 100000 entries');
    bad('%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n', 'promises 4', 'holds 3');
    bad('%%MatrixMarket matrix coordinate real general\n2000000000 2 1\n1 1 1\n', 'line 2', 'at most 134217728 rows');
    expectThrows(() => readSparse(mtx('%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n1 1 2\n'), { duplicates: 'error' }), RangeError, 'duplicate');
    const summed = readSparse(mtx('%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n1 1 2\n'));
    expect(Array.from(summed.toDense())).toEqual([3, 0, 0, 0]);
    expect(() => readSparse(path.join(dir, 'missing.mtx'))).toThrow(/ENOENT/);
    expectThrows(() => readSparse(mtx('nothing we know')), RangeError, 'not Matrix Market');
    expectThrows(() => readSparse(mtx('3, 3, 2\n0 1 2\n0 5\n'), { format: 'smtx' }), RangeError, 'line 2', 'header implies 4');
  });

  it('values beyond float range read as ±Infinity or 0, as strtod and scipy read them', () => {
    const a = readSparse(mtx('%%MatrixMarket matrix coordinate real general\n1 6 6\n1 1 1e400\n1 2 -1e400\n1 3 1e39\n1 4 -1e-400\n1 5 1e-50\n1 6 0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001\n'), { format: 'mtx' });
    expect(Array.from(a.values)).toEqual([Infinity, -Infinity, Infinity, -0, 0, 0]);
  });

  it(".npz and .smtx: scipy's rules for stored arrays (indptr from 0, repeated columns summed or rejected), errors that name the file", () => {
    // A minimal .npy writer: version 1 header, little-endian data.
    const npy = (descr: string, shape: number[], data: ArrayBufferView) => {
      let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
      header = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11) + '\n';
      const out = new Uint8Array(10 + header.length + data.byteLength);
      out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, header.length & 255, header.length >> 8]);
      out.set(new TextEncoder().encode(header), 10);
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
      return out;
    };
    const npz = (format: string, rows: number, cols: number, ptr: number[], idx: number[], values: number[], fmtDescr = `<U${format.length}`) =>
      zipSync({
        'format.npy': npy(fmtDescr, [], Uint32Array.from(format, (c) => c.charCodeAt(0))),
        'shape.npy': npy('<i8', [2], BigInt64Array.of(BigInt(rows), BigInt(cols))),
        'indptr.npy': npy('<i4', [ptr.length], Int32Array.from(ptr)),
        'indices.npy': npy('<i4', [idx.length], Int32Array.from(idx)),
        'data.npy': npy('<f4', [values.length], Float32Array.from(values)),
      });
    // The writer is right: a well-formed CSC reads as scipy reads it.
    expect(Array.from(readSparse(npz('csc', 2, 2, [0, 1, 2], [1, 0], [5, 6])).toDense())).toEqual([0, 6, 5, 0]);
    expectThrows(() => readSparse(npz('csc', 2, 2, [1, 2, 3], [1, 0], [5, 6])), RangeError, 'indptr must start at 0');
    // CSR with column 1 twice in row 0: summed (as csr.sum_duplicates() would), or rejected.
    const dup = npz('csr', 2, 3, [0, 3, 3], [1, 2, 1], [1, 2, 4]);
    const summed = readSparse(dup) as CsrMatrix;
    expect([summed.nnz, ...summed.toDense()]).toEqual([2, 0, 5, 2, 0, 0, 0]);
    expectThrows(() => readSparse(dup, { duplicates: 'error' }), RangeError, 'row 0 holds column 1 twice');
    expectThrows(() => readSparse(mtx('2, 3, 3\n0 3 3\n1 2 1\n'), { format: 'smtx', duplicates: 'error' }), RangeError, 'row 0 holds column 1 twice');
    expect(readSparse(mtx('2, 3, 3\n0 3 3\n1 2 1\n'), { format: 'smtx' }).toDense()[1]).toBe(2);
    // Matrix Market: the line of the repeat, in the file's 1-based coordinates.
    expectThrows(() => readSparse(mtx('%%MatrixMarket matrix coordinate real general\n% c\n3 3 3\n1 1 1\n2 1 1\n\n2 1 5\n'), { duplicates: 'error' }), RangeError, 'line 7', 'entry (2, 1) repeats');
    // Damaged archives: the file is named, no bare DataView or stack errors.
    const short = npz('csr', 1, 1, [0, 0], [], []);
    const files = unzipSync(short);
    files['format.npy'] = Uint8Array.of(0x93, ...new TextEncoder().encode('NUMPY'), 2, 0, 1, 0);
    expectThrows(() => readSparse(zipSync(files)), RangeError, 'format.npy', 'header runs past the end');
    expectThrows(() => readSparse(npz('csr', 1, 1, [0, 0], [], [], '<U300000')), RangeError, 'format.npy holds <U300000');
    // Options checked.
    expectThrows(() => readSparse(short, { seed: 1.5 }), RangeError, 'seed');
    expectThrows(() => readSparse(short, { seed: 'abc' as never }), TypeError, 'seed');
    expectThrows(() => sparseBytes(CsrMatrix.fromDense(Float32Array.of(1), 1, 1), 'npz', { compressed: 'no' as never }), TypeError, 'compressed');
  });

  it('written Matrix Market text is the shortest that reads back the same float32, -0 and ±Infinity included', () => {
    const values = Float32Array.of(0.1, -0, Infinity, -Infinity, 1 / 3, 3e-45, 16777217, -2.5);
    const a = new CsrMatrix(1, 8, Int32Array.of(0, 8), Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7), values);
    const text = new TextDecoder().decode(sparseBytes(a, 'mtx'));
    expect(text.split('\n').slice(3, 5)).toEqual(['1 1 0.1', '1 2 -0']);
    const back = readSparse(sparseBytes(a, 'mtx'));
    expect(Array.from(back.values)).toEqual(Array.from(values));
    expect(Object.is(back.values[1], -0)).toBe(true);
    // One '+' is a sign; '+-3' is not a number. Text after an .smtx file's last line is an error.
    expect(readSparse(mtx('%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 +3\n'), { format: 'mtx' }).values[0]).toBe(3);
    expectThrows(() => readSparse(mtx('%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 +-3\n'), { format: 'mtx' }), RangeError, 'line 3', 'not a number');
    expectThrows(() => readSparse(mtx('2, 3, 1\n0 1 1\n2\n7 7\n'), { format: 'smtx' }), RangeError, 'line 4', 'unexpected text');
    expect(readSparse(mtx('2, 3, 1\n0 1 1\n2\n\n'), { format: 'smtx' }).nnz).toBe(1);
  });

  it('BsrMatrix.toCsr: the same matrix without densifying, zeros inside blocks dropped or kept', () => {
    const r = caseRng();
    const dense = Float32Array.from({ length: 8 * 12 }, () => (r() < 0.2 ? r() - 0.5 : 0));
    const b = BsrMatrix.fromDense(dense, 8, 12, { blockRows: 2, blockCols: 4 });
    const c = b.toCsr();
    expect(Array.from(c.toDense())).toEqual(Array.from(dense));
    expect(c.nnz).toBe(dense.filter((v) => v !== 0).length);
    const kept = b.toCsr({ keepZeros: true });
    expect(kept.nnz).toBe(b.values.length);
    expect(Array.from(kept.toDense())).toEqual(Array.from(dense));
    // A huge, nearly empty BSR stays cheap (no rows × cols array).
    const big = new BsrMatrix(200000, 200000, { blockRows: 2, blockCols: 2 }, Int32Array.from({ length: 100001 }, (_, i) => (i === 0 ? 0 : 1)), Int32Array.of(99999), Float32Array.of(1, 0, 0, 2));
    const bc = big.toCsr();
    expect([bc.rows, bc.cols, bc.nnz, ...bc.colIdx]).toEqual([200000, 200000, 2, 199998, 199999]);
    // The structure is checked as it is now; a block stored twice adds up, as toDense does.
    const twice = new BsrMatrix(2, 4, { blockRows: 1, blockCols: 2 }, Int32Array.of(0, 2, 2), Int32Array.of(1, 1), Float32Array.of(1, 2, 3, 4));
    expect(Array.from(twice.toCsr().toDense())).toEqual(Array.from(twice.toDense()));
    twice.colIdx[0] = -(2 ** 31);
    expectThrows(() => twice.toCsr(), RangeError, 'colIdx');
  });

  it('fuzz: 5,000 byte-level mutations of valid .mtx, .smtx and .npz files never crash or hang', () => {
    const r = caseRng();
    const sources = ['general.mtx', 'symmetric.mtx', 'pattern.smtx', 'csr.npz', 'coo.npz'].map((f) => ({ f, bytes: readFileSync(path.join(fixtures, f)) }));
    let parsed = 0, rejected = 0;
    for (let i = 0; i < 5000; i++) {
      const { f, bytes } = sources[i % sources.length];
      const m = new Uint8Array(bytes);
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * m.length);
        const kind = r();
        if (kind < 0.5) m[at] = Math.floor(r() * 256);
        else if (kind < 0.8) m[at] = '0123456789 \n-.e%,'.charCodeAt(Math.floor(r() * 18));
        else m[at] ^= 1 << Math.floor(r() * 8);
      }
      const cut = r() < 0.1 ? m.subarray(0, Math.floor(r() * m.length)) : m;
      try {
        const a = readSparse(cut, { format: f.endsWith('.npz') ? 'npz' : f.endsWith('.smtx') ? 'smtx' : 'mtx' });
        expect(a.rows * a.cols).toBeLessThan(2 ** 62);
        parsed++;
      } catch (err) {
        if (!(err instanceof RangeError || err instanceof TypeError)) throw new Error(`mutation ${i} of ${f} threw ${(err as Error).name}: ${(err as Error).message} (seed ${seed})`);
        rejected++;
      }
    }
    expect(parsed + rejected).toBe(5000);
    expect(rejected).toBeGreaterThan(100);
  }, 300_000); // a hang fails through this timeout
});
