/**
 * safetensors files (the format PyTorch and Hugging Face use for state dicts): an 8-byte
 * little-endian header length, a JSON header `{ name: { dtype, shape, data_offsets: [begin, end] },
 * __metadata__?: { string: string } }`, then the tensor bytes.
 *
 * Reading: F32, F64, F16 and BF16 tensors become float32 `Tensor`s; integer and bool tensors are
 * kept as they are (`raw`) and written back unchanged. A PyTorch-pruned pair `X_orig` + `X_mask`
 * loads as one entry `X` whose tensor is `X_orig ⊙ X_mask` with `mask` set; a shears CSR triple
 * (below) loads as its dense tensor and the mask of its stored entries.
 *
 * Writing (`format`): 'dense' (pruned weights as plain F32 tensors), 'pytorch' (`X_orig` and a
 * float `X_mask`, what torch.nn.utils.prune saves), or 'csr': `X.row_ptr` (I32), `X.col_idx` (I32)
 * and `X.values` (F32) for every masked 2-D tensor, with `__metadata__["shears.csr.X"] = "rows,cols"`.
 *
 * Every header field is checked against the file before anything is allocated: a corrupted file
 * gives a RangeError naming the tensor and the field, never a crash or a huge allocation.
 */
import { open, readFile } from 'node:fs/promises';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

import { optionsObject, rangeError, typeError } from '../errors.js';
import { Tensor } from '../prune/tensor.js';

export type RawDtype = 'BOOL' | 'U8' | 'I8' | 'I16' | 'U16' | 'I32' | 'U32' | 'I64' | 'U64';
const FLOAT_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2 };
const RAW_BYTES: Record<RawDtype, number> = { BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8 };

export interface StateEntry {
  tensor: Tensor;
  /** 1 = kept; present for pruned entries. */
  mask?: Uint8Array;
  /** The dtype stored in the file it was read from (the tensor itself is float32). */
  dtype?: 'F32' | 'F64' | 'F16' | 'BF16';
}

export interface SafetensorsData {
  /** Float tensors (as float32), pruned pairs and CSR triples merged into their weights. */
  tensors: Map<string, StateEntry>;
  /** Non-float tensors, kept byte for byte. */
  raw: Map<string, { dtype: RawDtype; shape: number[]; bytes: Uint8Array }>;
  metadata: Record<string, string>;
}

function bad(file: string, what: string): RangeError {
  const e = rangeError('file', `a valid safetensors file (${what})`, file);
  e.message = `Invalid safetensors file ${file}: ${what}`;
  return e;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A float tensor's little-endian bytes as float32 (a view into `src` where allowed, see parse). */
function decodeFloats(src: Uint8Array, dtype: string, count: number, owned: boolean): Float32Array {
  if (dtype === 'F32' && LITTLE_ENDIAN) {
    // The file's bytes are the array's bytes: a view when aligned and the buffer is ours, else one memcpy.
    if (owned && src.byteOffset % 4 === 0) return new Float32Array(src.buffer, src.byteOffset, count);
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(src);
    return out;
  }
  const out = new Float32Array(count);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dtype === 'F32') for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
  else if (dtype === 'F64') for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
  else if (dtype === 'F16') for (let i = 0; i < count; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  else {
    const u = new Uint32Array(1), f = new Float32Array(u.buffer);
    for (let i = 0; i < count; i++) {
      u[0] = dv.getUint16(2 * i, true) << 16;
      out[i] = f[0];
    }
  }
  return out;
}

/**
 * Parses safetensors bytes (see the module comment). `name` is used in error messages. The
 * tensors are copies: `bytes` can be reused afterwards.
 */
export function parseSafetensors(bytes: Uint8Array, name = '<bytes>'): SafetensorsData {
  return parse(bytes, name, false);
}

/**
 * `owned`: the caller hands `bytes` over (a buffer read from a file for this call), so aligned F32
 * tensors become views into it instead of copies.
 */
function parse(bytes: Uint8Array, name: string, owned: boolean): SafetensorsData {
  if (!(bytes instanceof Uint8Array)) throw typeError('bytes', 'Uint8Array', bytes);
  if (bytes.length < 8) throw bad(name, `${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(bytes.length - 8)) throw bad(name, `header length ${headerLen} runs past the end of the ${bytes.length}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(headerLen))));
  } catch (err) {
    throw bad(name, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(name, 'header is not a JSON object');
  const dataStart = 8 + Number(headerLen);
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = Object.create(null); // '__proto__' is a key like any other
  const floats = new Map<string, Tensor>();
  const dtypes = new Map<string, StateEntry['dtype']>();
  const raw: SafetensorsData['raw'] = new Map();
  const spans: [number, number, string][] = [];
  for (const [key, info] of Object.entries(header)) {
    if (key === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) throw bad(name, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw bad(name, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) throw bad(name, `entry ${key} is not an object`);
    const dtype = t.dtype;
    const width = typeof dtype === 'string' ? FLOAT_BYTES[dtype] ?? RAW_BYTES[dtype as RawDtype] : undefined;
    if (width === undefined) throw bad(name, `tensor ${key} has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(name, `tensor ${key} has an invalid shape`);
    const shape = t.shape as number[];
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((v) => Number.isSafeInteger(v) && v >= 0) || off[0] > off[1])
      throw bad(name, `tensor ${key} has invalid data_offsets`);
    const [begin, end] = off as [number, number];
    if (end > dataLen) throw bad(name, `tensor ${key} data_offsets [${begin}, ${end}] run past the ${dataLen} data bytes`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count * width !== end - begin) throw bad(name, `tensor ${key} has shape [${shape}] of ${dtype} (${count * width} bytes) but ${end - begin} data bytes`);
    spans.push([begin, end, key]);
    const src = bytes.subarray(dataStart + begin, dataStart + end);
    if (typeof dtype === 'string' && dtype in FLOAT_BYTES) {
      floats.set(key, new Tensor(decodeFloats(src, dtype, count, owned), shape));
      dtypes.set(key, dtype as StateEntry['dtype']);
    } else {
      // A copy that owns its memory (`bytes` may be a pooled Buffer, whose slice() is a view).
      raw.set(key, { dtype: dtype as RawDtype, shape, bytes: new Uint8Array(src) });
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++)
    if (spans[i][0] < spans[i - 1][1]) throw bad(name, `tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  return { tensors: mergeForms(floats, dtypes, raw, metadata, name), raw, metadata };
}

/** Merges X_orig + X_mask pairs and CSR triples into weights with masks. */
function mergeForms(floats: Map<string, Tensor>, dtypes: Map<string, StateEntry['dtype']>, raw: SafetensorsData['raw'], metadata: Record<string, string>, name: string): Map<string, StateEntry> {
  const out = new Map<string, StateEntry>();
  const used = new Set<string>();
  const i32 = (key: string) => {
    const r = raw.get(key);
    if (!r || r.dtype !== 'I32') return undefined;
    return { data: new Int32Array(new Uint8Array(r.bytes).buffer), size: r.bytes.length / 4 };
  };
  for (const [key, value] of Object.entries(metadata)) {
    if (!key.startsWith('shears.csr.')) continue;
    const base = key.slice('shears.csr.'.length);
    const [rows, cols] = value.split(',').map(Number);
    const rp = i32(`${base}.row_ptr`), ci = i32(`${base}.col_idx`), vals = floats.get(`${base}.values`);
    if (!rp || !ci || !vals || !Number.isSafeInteger(rows) || !Number.isSafeInteger(cols)) throw bad(name, `CSR tensor ${base} is incomplete`);
    if (rows < 0 || cols < 0) throw bad(name, `CSR tensor ${base} has negative dimensions ${value}`);
    if (rp.size !== rows + 1 || ci.size !== vals.size) throw bad(name, `CSR tensor ${base} has inconsistent lengths`);
    // The dense form below is rows × cols: a tiny file must not claim a huge one. Stored entries
    // bound what the file can hold; the dense size is capped at what one typed array can take.
    if (rows * cols > 2 ** 31 - 1) throw bad(name, `CSR tensor ${base} is ${rows} x ${cols}: more than 2^31 - 1 dense values to load it as a weight`);
    const data = new Float32Array(rows * cols), mask = new Uint8Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const p0 = rp.data[i], p1 = rp.data[i + 1];
      if (!(p0 >= 0 && p0 <= p1 && p1 <= ci.size)) throw bad(name, `CSR tensor ${base} has invalid row_ptr`);
      for (let p = p0; p < p1; p++) {
        const c = ci.data[p];
        if (!(c >= 0 && c < cols && Number.isInteger(c))) throw bad(name, `CSR tensor ${base} has a column index out of range`);
        data[i * cols + c] = vals.data[p];
        mask[i * cols + c] = 1;
      }
    }
    out.set(base, { tensor: new Tensor(data, [rows, cols]), mask, dtype: 'F32' });
    used.add(`${base}.values`);
    raw.delete(`${base}.row_ptr`);
    raw.delete(`${base}.col_idx`);
  }
  for (const [key, t] of floats) {
    if (used.has(key)) continue;
    if (key.endsWith('_orig') && floats.has(`${key.slice(0, -5)}_mask`)) {
      const base = key.slice(0, -5);
      const m = floats.get(`${base}_mask`)!;
      if (m.shape.length !== t.shape.length || m.shape.some((d, i) => d !== t.shape[i])) throw bad(name, `${base}_mask [${m.shape}] does not match ${key}'s shape [${t.shape}]`);
      const badAt = m.data.findIndex((v) => v !== 0 && v !== 1);
      if (badAt >= 0) throw bad(name, `${base}_mask holds ${m.data[badAt]} at entry ${badAt}: a mask holds only 0 and 1`);
      const mask = Uint8Array.from(m.data, (v) => (v !== 0 ? 1 : 0));
      const data = Float32Array.from(t.data, (v, i) => (mask[i] ? v : 0));
      out.set(base, { tensor: new Tensor(data, [...t.shape]), mask, dtype: dtypes.get(key) });
      used.add(`${base}_mask`);
      continue;
    }
    if (key.endsWith('_mask') && floats.has(`${key.slice(0, -5)}_orig`)) continue;
    out.set(key, { tensor: t, dtype: dtypes.get(key) });
  }
  return out;
}

export interface SaveOptions {
  format?: 'dense' | 'pytorch' | 'csr';
  metadata?: Record<string, string>;
}

type Entry = { dtype: string; shape: number[]; bytes: Uint8Array };

/** Zeros where the mask is 0 (a copy). */
function masked(data: Float32Array, mask: Uint8Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) if (mask[i]) out[i] = data[i];
  return out;
}

/** A typed array's bytes, as a view (no copy). */
const bytesOf = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * The file as pieces: the 8-byte length and header, then every tensor's bytes in order. Tensors are
 * views of the caller's arrays where no conversion is needed, so writing them copies nothing.
 */
function layout(state: Map<string, StateEntry>, options?: SaveOptions & { raw?: SafetensorsData['raw'] }): Uint8Array[] {
  if (!(state instanceof Map)) throw typeError('state', 'a Map of name -> { tensor, mask? }', state);
  const o = optionsObject(options);
  const format = o.format ?? 'dense';
  if (!['dense', 'pytorch', 'csr'].includes(format)) throw rangeError('format', "'dense', 'pytorch' or 'csr'", format);
  const metadata: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(o.metadata ?? {})) {
    if (typeof v !== 'string') throw typeError(`metadata.${k}`, 'a string (safetensors metadata holds strings)', v);
    if (k.startsWith('shears.csr.')) throw rangeError('metadata', "keys without the 'shears.csr.' prefix (shears marks CSR tensors with it)", k);
    metadata[k] = v;
  }
  const entries: [string, Entry][] = [];
  const entry = (a: Float32Array | Int32Array, dtype: string, shape: number[]): Entry => ({ dtype, shape, bytes: bytesOf(a) });
  for (const [key, { tensor, mask }] of state) {
    if (!(tensor instanceof Tensor)) throw typeError(`state.get(${JSON.stringify(key)}).tensor`, 'Tensor', tensor);
    if (mask !== undefined && (!(mask instanceof Uint8Array) || mask.length !== tensor.size))
      throw rangeError(`state.get(${JSON.stringify(key)}).mask`, `a Uint8Array of length ${tensor.size}`, mask);
    const shape = [...tensor.shape];
    if (!mask) {
      entries.push([key, entry(tensor.data, 'F32', shape)]);
    } else if (format === 'dense') {
      entries.push([key, entry(masked(tensor.data, mask), 'F32', shape)]);
    } else if (format === 'pytorch') {
      entries.push([`${key}_orig`, entry(tensor.data, 'F32', shape)]);
      entries.push([`${key}_mask`, entry(Float32Array.from(mask), 'F32', shape)]);
    } else {
      if (shape.length !== 2) throw rangeError(`state.get(${JSON.stringify(key)})`, 'a 2-D tensor for the csr format', `shape [${shape}]`);
      const [rows, cols] = shape;
      let nnz = 0;
      for (let i = 0; i < mask.length; i++) nnz += mask[i] ? 1 : 0;
      const rowPtr = new Int32Array(rows + 1), idx = new Int32Array(nnz), vals = new Float32Array(nnz);
      for (let i = 0, p = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++)
          if (mask[i * cols + j]) {
            idx[p] = j;
            vals[p++] = tensor.data[i * cols + j];
          }
        rowPtr[i + 1] = p;
      }
      entries.push([`${key}.row_ptr`, entry(rowPtr, 'I32', [rows + 1])]);
      entries.push([`${key}.col_idx`, entry(idx, 'I32', [nnz])]);
      entries.push([`${key}.values`, entry(vals, 'F32', [nnz])]);
      metadata[`shears.csr.${key}`] = `${rows},${cols}`;
    }
  }
  for (const [key, r] of o.raw ?? new Map()) {
    const width = RAW_BYTES[r.dtype as RawDtype] ?? FLOAT_BYTES[r.dtype];
    if (width === undefined) throw rangeError(`raw.get(${JSON.stringify(key)}).dtype`, 'a safetensors dtype', r.dtype);
    if (!(r.bytes instanceof Uint8Array) || !Array.isArray(r.shape) || r.bytes.length !== r.shape.reduce((a: number, b: number) => a * b, 1) * width)
      throw rangeError(`raw.get(${JSON.stringify(key)}).bytes`, `shape [${r.shape}] of ${r.dtype} worth of bytes`, r.bytes);
    entries.push([key, { dtype: r.dtype, shape: r.shape, bytes: r.bytes }]);
  }
  // Built without a prototype so that any name, '__proto__' included, is an own key.
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [key, e] of entries) {
    // 'pytorch' writes X_orig and X_mask, 'csr' X.row_ptr, …: a name may not be written twice.
    if (key in header) throw rangeError('state', `names that stay distinct in the ${format} form`, `${key} written twice (a state or raw entry clashes with it)`);
    header[key] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.length] };
    offset += e.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.from(json, 'utf8');
  const start = new Uint8Array(8 + head.length);
  new DataView(start.buffer).setBigUint64(0, BigInt(head.length), true);
  start.set(head, 8);
  return [start, ...entries.map(([, e]) => e.bytes)];
}

/** Serialises a state dict (entries with optional masks) to safetensors bytes. */
export function serializeSafetensors(state: Map<string, StateEntry>, options?: SaveOptions & { raw?: SafetensorsData['raw'] }): Uint8Array {
  const pieces = layout(state, options);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Reads a safetensors file (path) or bytes. From a path, aligned F32 tensors are views of the one
 * buffer the file was read into (no copy): they keep that buffer alive together.
 */
export function loadSafetensors(source: string | Uint8Array): SafetensorsData {
  if (typeof source === 'string') return parse(readFileSync(source), source, true);
  return parseSafetensors(source);
}

export async function loadSafetensorsAsync(path: string): Promise<SafetensorsData> {
  if (typeof path !== 'string') throw typeError('path', 'a string', path);
  return parse(await readFile(path), path, true);
}

/** Writes a state dict to a safetensors file in the chosen form (tensors written from their own memory). */
export function saveSafetensors(path: string, state: Map<string, StateEntry>, options?: SaveOptions & { raw?: SafetensorsData['raw'] }): void {
  if (typeof path !== 'string') throw typeError('path', 'a string', path);
  const pieces = layout(state, options);
  const fd = openSync(path, 'w');
  try {
    for (const p of pieces) for (let at = 0; at < p.length; ) at += writeSync(fd, p, at, Math.min(p.length - at, 1 << 30));
  } finally {
    closeSync(fd);
  }
}

export async function saveSafetensorsAsync(path: string, state: Map<string, StateEntry>, options?: SaveOptions & { raw?: SafetensorsData['raw'] }): Promise<void> {
  if (typeof path !== 'string') throw typeError('path', 'a string', path);
  const pieces = layout(state, options);
  const file = await open(path, 'w');
  try {
    for (const p of pieces)
      for (let at = 0; at < p.length; ) at += (await file.write(p, at, Math.min(p.length - at, 1 << 30))).bytesWritten;
  } finally {
    await file.close();
  }
}
