/**
 * Sparse matrix files: Matrix Market (`.mtx`, `.mtx.gz`; parsed natively in parallel), the `.smtx`
 * text format of the Deep Learning Matrix Collection and Sputnik, and scipy's `.npz`
 * (`scipy.sparse.save_npz`: CSR, CSC, COO, BSR; compressed or stored).
 *
 * @example
 * const a = readSparse('matrix.mtx');                    // CsrMatrix (BsrMatrix for a BSR .npz)
 * writeSparse('out.npz', a);                             // scipy.sparse.load_npz reads it back
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';

import { unzipSync, zipSync } from 'fflate';

import { optionsObject, rangeError, typeError } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { uniformGenerator } from '../prune/random.js';
import { BsrMatrix } from '../sparse/bsr.js';
import { CsrMatrix } from '../sparse/csr.js';

export type SparseFormat = 'mtx' | 'smtx' | 'npz';

export interface ReadSparseOptions {
  /** 'auto' (default): from the extension, else from the first bytes. */
  format?: 'auto' | SparseFormat;
  /** `.smtx` files hold no values: fill with ones (default) or seeded standard normals. */
  values?: 'ones' | 'normal';
  /** Seed of the normal values (default 0). */
  seed?: number;
  /** Repeated coordinates: summed (default, as scipy does) or rejected. */
  duplicates?: 'sum' | 'error';
}

export interface WriteSparseOptions {
  /** Default: from the path's extension. */
  format?: SparseFormat;
  /** `.npz`: deflate the arrays (default true, as save_npz does). `.mtx`: gzip when the path ends in .gz. */
  compressed?: boolean;
}

function invalid(name: string, what: string): RangeError {
  const e = rangeError('file', `a valid sparse matrix file (${what})`, name);
  e.message = `Invalid sparse matrix file ${name}: ${what}`;
  return e;
}

/** CSR needs a row pointer per row: more rows than this is refused (a corrupted header must not exhaust memory). */
const MAX_ROWS = 2 ** 27;

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
const startsWith = (b: Uint8Array, text: string) => text.split('').every((c, i) => b[i] === c.charCodeAt(0));

function detect(name: string, bytes: Uint8Array, format: ReadSparseOptions['format']): SparseFormat {
  if (format && format !== 'auto') {
    if (!['mtx', 'smtx', 'npz'].includes(format)) throw rangeError('format', "'auto', 'mtx', 'smtx' or 'npz'", format);
    return format;
  }
  const lower = name.toLowerCase();
  if (lower.endsWith('.mtx') || lower.endsWith('.mtx.gz')) return 'mtx';
  if (lower.endsWith('.smtx')) return 'smtx';
  if (lower.endsWith('.npz')) return 'npz';
  if (isZip(bytes)) return 'npz';
  if (isGzip(bytes) || startsWith(bytes, '%%MatrixMarket')) return 'mtx';
  if (/^\s*\d+\s*,\s*\d+\s*,\s*\d+/.test(new TextDecoder().decode(bytes.subarray(0, 64)))) return 'smtx';
  throw invalid(name, 'not Matrix Market, .smtx or .npz (no known extension or signature)');
}

// ── Matrix Market ───────────────────────────────────────────────────────────────────────────────

function mtxArgs(name: string, bytes: Uint8Array, o: ReadSparseOptions): [Uint8Array, string, boolean] {
  let data = bytes;
  if (isGzip(bytes)) {
    try {
      data = gunzipSync(bytes);
    } catch (err) {
      throw invalid(name, `gzip data is corrupt (${(err as Error).message})`);
    }
  }
  return [data, name, (o.duplicates ?? 'sum') === 'sum'];
}

/** Shortest decimal that reads back as the same float32. */
/** The shortest decimal text that reads back as the same float32 (sign of zero and ±inf kept). */
function f32Text(v: number): string {
  if (Object.is(v, -0)) return '-0';
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  for (let p = 1; p < 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s)); // Number() drops trailing zeros
  }
  return v.toPrecision(9);
}

function mtxText(a: CsrMatrix): string {
  const lines = ['%%MatrixMarket matrix coordinate real general', '% written by shears', `${a.rows} ${a.cols} ${a.nnz}`];
  for (let i = 0; i < a.rows; i++)
    for (let p = a.rowPtr[i]; p < a.rowPtr[i + 1]; p++) lines.push(`${i + 1} ${a.colIdx[p] + 1} ${f32Text(a.values[p])}`);
  return `${lines.join('\n')}\n`;
}

// ── .smtx ───────────────────────────────────────────────────────────────────────────────────────

/** Non-negative integers of a text line, parsed from bytes. */
function integersOf(bytes: Uint8Array, from: number, to: number, name: string, line: number, expected: number): Int32Array {
  const out = new Int32Array(expected);
  let n = 0, v = -1;
  for (let i = from; i <= to; i++) {
    const c = i < to ? bytes[i] : 32;
    if (c >= 48 && c <= 57) {
      v = (v < 0 ? 0 : v * 10) + (c - 48);
      if (v > 2147483647) throw invalid(name, `line ${line}: a number exceeds 2^31 - 1`);
    } else if (c === 32 || c === 9 || c === 13 || c === 44) {
      if (v >= 0) {
        if (n >= expected) throw invalid(name, `line ${line}: more than the ${expected} numbers the header implies`);
        out[n++] = v;
        v = -1;
      }
    } else throw invalid(name, `line ${line}: unexpected character '${String.fromCharCode(c)}'`);
  }
  if (n !== expected) throw invalid(name, `line ${line}: ${n} numbers where the header implies ${expected}`);
  return out;
}

function normals(n: number, seed: number): Float32Array {
  const next = uniformGenerator(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - next())), a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

function parseSmtx(bytes: Uint8Array, name: string, o: ReadSparseOptions): CsrMatrix {
  const lineEnds: number[] = [];
  for (let i = 0; i < bytes.length && lineEnds.length < 3; i++) if (bytes[i] === 10) lineEnds.push(i);
  if (lineEnds.length < 3 && bytes.length > (lineEnds.at(-1) ?? -1) + 1) lineEnds.push(bytes.length);
  if (lineEnds.length < 2) throw invalid(name, 'an .smtx file needs a header line, a row-offsets line and a column-indices line');
  const header = integersOf(bytes, 0, lineEnds[0], name, 1, 3);
  const [rows, cols, nnz] = header;
  if (rows > MAX_ROWS) throw invalid(name, `line 1: ${rows} rows: this reader takes at most ${MAX_ROWS} rows`);
  if (2 * (rows + 1 + nnz) > bytes.length + 4) throw invalid(name, `line 1: ${rows} rows and ${nnz} entries do not fit in ${bytes.length} bytes`);
  const rowPtr = integersOf(bytes, lineEnds[0] + 1, lineEnds[1], name, 2, rows + 1);
  const colIdx = nnz === 0 ? new Int32Array(0) : integersOf(bytes, lineEnds[1] + 1, lineEnds[2] ?? bytes.length, name, 3, nnz);
  // Nothing but blank space may follow the column indices (with nnz = 0, that line is blank).
  const tailFrom = nnz === 0 ? lineEnds[1] + 1 : (lineEnds[2] ?? bytes.length) + 1;
  for (let i = tailFrom, line = nnz === 0 ? 3 : 4; i < bytes.length; i++) {
    if (bytes[i] === 10) line++;
    else if (bytes[i] !== 32 && bytes[i] !== 9 && bytes[i] !== 13) throw invalid(name, `line ${line}: unexpected text after the column indices`);
  }
  const values = (o.values ?? 'ones') === 'ones' ? new Float32Array(nnz).fill(1) : normals(nnz, o.seed ?? 0);
  try {
    return csrWithDuplicates(rows, cols, rowPtr, colIdx, values, o.duplicates ?? 'sum');
  } catch (err) {
    throw invalid(name, (err as Error).message);
  }
}

/**
 * A CSR matrix from stored arrays that may repeat a column within a row (scipy allows it): checked
 * as a structure, then repeats summed into one entry, or with `duplicates: 'error'` rejected.
 */
function csrWithDuplicates(rows: number, cols: number, ptr: Int32Array, idx: Int32Array, values: Float32Array, duplicates: 'sum' | 'error'): CsrMatrix {
  const a = new CsrMatrix(rows, cols, ptr, idx, values);
  const last = new Int32Array(cols).fill(-1); // the last row that used each column
  let repeats = false;
  for (let i = 0; i < rows && !repeats; i++)
    for (let p = ptr[i]; p < ptr[i + 1]; p++) {
      if (last[idx[p]] === i) {
        if (duplicates === 'error') throw new RangeError(`Expected no repeated entries (duplicates: 'error') but row ${i} holds column ${idx[p]} twice (0-based)`);
        repeats = true;
        break;
      }
      last[idx[p]] = i;
    }
  if (!repeats) return a;
  const r = new Int32Array(idx.length);
  for (let i = 0; i < rows; i++) r.fill(i, ptr[i], ptr[i + 1]);
  return CsrMatrix.fromCoo(rows, cols, r, idx, values, { duplicates: 'sum' });
}

function smtxText(a: CsrMatrix): string {
  return `${a.rows}, ${a.cols}, ${a.nnz}\n${Array.from(a.rowPtr).join(' ')}\n${Array.from(a.colIdx).join(' ')}\n`;
}

// ── scipy .npz ──────────────────────────────────────────────────────────────────────────────────

interface NpyArray {
  descr: string;
  shape: number[];
  data: Uint8Array;
}

function parseNpy(bytes: Uint8Array, name: string, entry: string): NpyArray {
  const bad = (what: string) => invalid(name, `${entry}: ${what}`);
  if (bytes.length < 10 || bytes[0] !== 0x93 || !startsWith(bytes.subarray(1), 'NUMPY')) throw bad('not a .npy array');
  const major = bytes[6];
  if (major !== 1 && bytes.length < 12) throw bad('header runs past the end');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw bad('header runs past the end');
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad('header lacks descr, fortran_order or shape');
  if (fortran === 'True') throw bad('Fortran-ordered arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`invalid shape (${shapeText})`);
  return { descr, shape, data: bytes.subarray(start + headerLen) };
}

const count = (a: NpyArray) => a.shape.reduce((x, y) => x * y, 1);

/** An .npy array of numbers in its own type (little-endian types as aligned typed-array copies). */
function npyTyped(a: NpyArray, name: string, entry: string, owned = false): Float32Array | Float64Array | Int32Array | BigInt64Array | Float64Array {
  const n = count(a);
  const copy = <T>(width: number, make: (buf: ArrayBufferLike, offset: number, length: number) => T): T => {
    if (a.data.length < n * width) throw invalid(name, `${entry}: ${a.data.length} data bytes for ${n} values of ${a.descr}`);
    // A view when aligned (the unzipped buffer is ours), else one copy.
    if (owned && a.data.byteOffset % width === 0) return make(a.data.buffer, a.data.byteOffset, n);
    const buf = new ArrayBuffer(n * width);
    new Uint8Array(buf).set(a.data.subarray(0, n * width));
    return make(buf, 0, n);
  };
  switch (LITTLE_ENDIAN ? a.descr.replace(/^=/, '<') : '') {
    case '<f4':
      return copy(4, (b, o, l) => new Float32Array(b, o, l));
    case '<f8':
      return copy(8, (b, o, l) => new Float64Array(b, o, l));
    case '<i4':
      return copy(4, (b, o, l) => new Int32Array(b, o, l));
    case '<i8':
      return copy(8, (b, o, l) => new BigInt64Array(b, o, l));
    default:
      return npyNumbers(a, name, entry);
  }
}

/** An .npy array of numbers as float64 values (checked against its shape). */
function npyNumbers(a: NpyArray, name: string, entry: string): Float64Array {
  const m = /^([<>|=])([fiub])(\d+)$/.exec(a.descr);
  if (!m) throw invalid(name, `${entry}: dtype ${a.descr} is not a number type`);
  const [, order, kind, w] = m;
  const width = Number(w), n = count(a);
  if (a.data.length < n * width) throw invalid(name, `${entry}: ${a.data.length} data bytes for ${n} values of ${a.descr}`);
  const little = order !== '>';
  const dv = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * width;
    if (kind === 'f') out[i] = width === 4 ? dv.getFloat32(at, little) : width === 8 ? dv.getFloat64(at, little) : Number.NaN;
    else if (kind === 'b') out[i] = a.data[at];
    else if (width === 1) out[i] = kind === 'i' ? dv.getInt8(at) : dv.getUint8(at);
    else if (width === 2) out[i] = kind === 'i' ? dv.getInt16(at, little) : dv.getUint16(at, little);
    else if (width === 4) out[i] = kind === 'i' ? dv.getInt32(at, little) : dv.getUint32(at, little);
    else if (width === 8) out[i] = Number(kind === 'i' ? dv.getBigInt64(at, little) : dv.getBigUint64(at, little));
    else throw invalid(name, `${entry}: dtype ${a.descr} is not supported`);
  }
  if (kind === 'f' && width !== 4 && width !== 8) throw invalid(name, `${entry}: dtype ${a.descr} is not supported`);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function indices(values: ArrayLike<number | bigint>, name: string, entry: string): Int32Array {
  if (values instanceof Int32Array) return values; // ranges are checked with the whole structure
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!(Number.isInteger(v) && v >= 0 && v <= 2147483647)) throw invalid(name, `${entry}[${i}] = ${v} is not an index`);
    out[i] = v;
  }
  return out;
}

function parseNpz(bytes: Uint8Array, name: string, o: ReadSparseOptions, owned: boolean): CsrMatrix | BsrMatrix {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (err) {
    throw invalid(name, `not a readable zip archive (${(err as Error).message})`);
  }
  const arr = (key: string) => {
    const f = files[`${key}.npy`];
    if (!f) throw invalid(name, `the archive has no ${key}.npy (is it from scipy.sparse.save_npz?)`);
    return parseNpy(f, name, `${key}.npy`);
  };
  const fmt = arr('format');
  // scipy writes the format as a short numpy string: '<U3' (UTF-32) or '|S3' (bytes).
  const width = /^[<>|=]?[US](\d+)$/.exec(fmt.descr);
  if (!width || Number(width[1]) > 16) throw invalid(name, `format.npy holds ${fmt.descr}, not a short string such as 'csr'`);
  let text = '';
  if (fmt.descr.includes('U')) {
    const dv = new DataView(fmt.data.buffer, fmt.data.byteOffset, fmt.data.byteLength);
    for (let i = 0; i + 4 <= Math.min(fmt.data.length, 64); i += 4) {
      const c = dv.getUint32(i, !fmt.descr.startsWith('>'));
      if (c) text += String.fromCharCode(c);
    }
  } else text = new TextDecoder().decode(fmt.data.subarray(0, 16)).replace(/\0+$/, '');
  const shape = Array.from(npyTyped(arr('shape'), name, 'shape.npy'), Number);
  if (shape.length !== 2) throw invalid(name, `shape.npy holds ${shape.length} dimensions, not 2`);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 2147483647)) throw invalid(name, `shape.npy holds (${shape.join(', ')}): dimensions must be in [0, 2^31)`);
  const [rows, cols] = shape;
  if (rows > MAX_ROWS) throw invalid(name, `${rows} rows: this reader takes at most ${MAX_ROWS} rows`);
  const raw = npyTyped(arr('data'), name, 'data.npy', owned);
  const data = raw instanceof Float32Array ? raw : Float32Array.from(raw, Number);
  const dup = { duplicates: o.duplicates ?? 'sum' } as const;
  try {
    switch (text) {
      case 'csr':
      case 'csc': {
        const ind = indices(npyTyped(arr('indices'), name, 'indices.npy', owned), name, 'indices.npy');
        const ptr = indices(npyTyped(arr('indptr'), name, 'indptr.npy', owned), name, 'indptr.npy');
        if (text === 'csr') return csrWithDuplicates(rows, cols, ptr, ind, data, dup.duplicates);
        // CSC: indptr over columns, indices are rows.
        if (ptr.length !== cols + 1 || ptr[0] !== 0 || ptr[cols] !== ind.length || ind.length !== data.length) throw new RangeError('inconsistent CSC arrays (indptr must start at 0, end at nnz and have cols + 1 entries)');
        const colOf = new Int32Array(ind.length);
        for (let j = 0; j < cols; j++) {
          if (!(ptr[j] <= ptr[j + 1])) throw new RangeError('indptr is not non-decreasing');
          colOf.fill(j, ptr[j], ptr[j + 1]);
        }
        return CsrMatrix.fromCoo(rows, cols, ind, colOf, data, dup);
      }
      case 'coo':
        return CsrMatrix.fromCoo(rows, cols, indices(npyTyped(arr('row'), name, 'row.npy', owned), name, 'row.npy'), indices(npyTyped(arr('col'), name, 'col.npy', owned), name, 'col.npy'), data, dup);
      case 'bsr': {
        const d = arr('data');
        if (d.shape.length !== 3) throw new RangeError('BSR data is not [blocks, blockRows, blockCols]');
        const [, br, bc] = d.shape;
        const ind = indices(npyTyped(arr('indices'), name, 'indices.npy', owned), name, 'indices.npy');
        const ptr = indices(npyTyped(arr('indptr'), name, 'indptr.npy', owned), name, 'indptr.npy');
        return new BsrMatrix(rows, cols, { blockRows: br, blockCols: bc }, ptr, ind, data);
      }
      default:
        throw new RangeError(`format '${text}' is not csr, csc, coo or bsr`);
    }
  } catch (err) {
    if ((err as Error).message.startsWith('Invalid sparse matrix file')) throw err;
    throw invalid(name, (err as Error).message);
  }
}

function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64 || 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

const bytesOf = (a: Int32Array | Float32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function npzBytes(a: CsrMatrix | BsrMatrix, compressed: boolean): Uint8Array {
  const bsr = a instanceof BsrMatrix;
  const files: Record<string, Uint8Array> = {
    'format.npy': npy('|S3', [], new TextEncoder().encode(bsr ? 'bsr' : 'csr')),
    'shape.npy': npy('<i8', [2], bytesOf(BigInt64Array.of(BigInt(a.rows), BigInt(a.cols)))),
    'indices.npy': npy('<i4', [a.colIdx.length], bytesOf(a.colIdx)),
    'indptr.npy': npy('<i4', [a.rowPtr.length], bytesOf(a.rowPtr)),
    'data.npy': bsr ? npy('<f4', [a.colIdx.length, a.blockRows, a.blockCols], bytesOf(a.values)) : npy('<f4', [a.values.length], bytesOf(a.values)),
  };
  return zipSync(files, { level: compressed ? 6 : 0 });
}

// ── API ─────────────────────────────────────────────────────────────────────────────────────────

/** Where the bytes come from; `owned`: read from a file for this call, so results may view them. */
function source(path: string | Uint8Array): { name: string; owned: boolean; read: () => Uint8Array; readAsync: () => Promise<Uint8Array> } {
  if (typeof path === 'string') return { name: path, owned: true, read: () => readFileSync(path), readAsync: () => readFile(path) };
  if (path instanceof Uint8Array) return { name: '<bytes>', owned: false, read: () => path, readAsync: async () => path };
  throw typeError('path', 'a path or a Uint8Array', path);
}

function checkRead(options: ReadSparseOptions | undefined): ReadSparseOptions {
  const o = optionsObject(options);
  if (o.values !== undefined && o.values !== 'ones' && o.values !== 'normal') throw rangeError('values', "'ones' or 'normal'", o.values);
  if (o.duplicates !== undefined && o.duplicates !== 'sum' && o.duplicates !== 'error') throw rangeError('duplicates', "'sum' or 'error'", o.duplicates);
  if (o.seed !== undefined) {
    if (typeof o.seed !== 'number') throw typeError('seed', 'an integer in [0, 2^32)', o.seed);
    if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed >= 2 ** 32) throw rangeError('seed', 'an integer in [0, 2^32)', o.seed);
  }
  return o;
}

/**
 * Reads a sparse matrix file (or its bytes): Matrix Market, .smtx or scipy .npz. Returns a
 * CsrMatrix, or a BsrMatrix for a BSR .npz. Errors name the file (and for text formats the line).
 */
export function readSparse(path: string | Uint8Array, options?: ReadSparseOptions): CsrMatrix | BsrMatrix {
  const o = checkRead(options);
  const src = source(path);
  const bytes = src.read();
  const format = detect(src.name, bytes, o.format);
  if (format === 'mtx') {
    const r = native.parseMatrixMarket(...mtxArgs(src.name, bytes, o));
    return CsrMatrix.fromStructure(r.rows, r.cols, r);
  }
  return format === 'smtx' ? parseSmtx(bytes, src.name, o) : parseNpz(bytes, src.name, o, src.owned);
}

export async function readSparseAsync(path: string | Uint8Array, options?: ReadSparseOptions): Promise<CsrMatrix | BsrMatrix> {
  return withCallerStack(async () => {
    const o = checkRead(options);
    const src = source(path);
    const bytes = await src.readAsync();
    const format = detect(src.name, bytes, o.format);
    if (format === 'mtx') {
      const r = await native.parseMatrixMarketAsync(...mtxArgs(src.name, bytes, o));
      return CsrMatrix.fromStructure(r.rows, r.cols, r);
    }
    return format === 'smtx' ? parseSmtx(bytes, src.name, o) : parseNpz(bytes, src.name, o, src.owned);
  });
}

/** A BSR matrix's stored entries (explicit zeros inside blocks included) as CSR. */
/** The bytes `writeSparse` would write. */
export function sparseBytes(matrix: CsrMatrix | BsrMatrix, format: SparseFormat, options?: { compressed?: boolean; gzip?: boolean }): Uint8Array {
  if (!(matrix instanceof CsrMatrix || matrix instanceof BsrMatrix)) throw typeError('matrix', 'a CsrMatrix or BsrMatrix', matrix);
  const o = optionsObject(options);
  if (o.compressed !== undefined && typeof o.compressed !== 'boolean') throw typeError('compressed', 'a boolean', o.compressed);
  if (format === 'npz') return npzBytes(matrix, o.compressed ?? true);
  const csr = matrix instanceof BsrMatrix ? matrix.toCsr({ keepZeros: true }) : matrix;
  if (format === 'smtx') return new TextEncoder().encode(smtxText(csr));
  if (format === 'mtx') {
    const text = new TextEncoder().encode(mtxText(csr));
    return o.gzip ? gzipSync(text) : text;
  }
  throw rangeError('format', "'mtx', 'smtx' or 'npz'", format);
}

function writeArgs(path: string, options?: WriteSparseOptions): { format: SparseFormat; compressed?: boolean; gzip: boolean } {
  if (typeof path !== 'string') throw typeError('path', 'a path', path);
  const o = optionsObject(options);
  const lower = path.toLowerCase();
  const format = o.format ?? (lower.endsWith('.npz') ? 'npz' : lower.endsWith('.smtx') ? 'smtx' : lower.endsWith('.mtx') || lower.endsWith('.mtx.gz') ? 'mtx' : undefined);
  if (!format) throw rangeError('format', "'mtx', 'smtx' or 'npz' (or a path ending in .mtx, .mtx.gz, .smtx or .npz)", path);
  return { format, compressed: o.compressed, gzip: lower.endsWith('.gz') };
}

/** Writes a matrix as Matrix Market (coordinate real general, float32 round-trip digits), .smtx (pattern only) or .npz. */
export function writeSparse(path: string, matrix: CsrMatrix | BsrMatrix, options?: WriteSparseOptions): void {
  const a = writeArgs(path, options);
  writeFileSync(path, sparseBytes(matrix, a.format, a));
}

export async function writeSparseAsync(path: string, matrix: CsrMatrix | BsrMatrix, options?: WriteSparseOptions): Promise<void> {
  const a = writeArgs(path, options);
  await writeFile(path, sparseBytes(matrix, a.format, a));
}
