import { readFileSync } from 'node:fs';
import path from 'node:path';

import { positiveInteger, typeError, rangeError } from './errors.js';
import { native, nativeBuild, packageRoot, type NativeInfo } from './native.js';

export type Isa = 'scalar' | 'avx2' | 'avx512' | 'neon';

export interface Info {
  /** The shears package version. */
  version: string;
  /** Which addon build is loaded: the node-gyp CPU build or the cmake-js CUDA build. */
  build: 'cpu' | 'cuda';
  /** SIMD variants this CPU can run (scalar always) and the one kernels use now. */
  isa: { available: Isa[]; active: Isa };
  /** Threads a parallel kernel uses (the calling thread included). */
  threads: number;
  /** CPU model name, when the OS reports one. */
  cpu: string;
  cuda: NativeInfo['cuda'];
}

const version: string = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;

/** What this process can run: version, SIMD variants, threads, CUDA devices. */
export function info(): Info {
  const n = native.info();
  return {
    version,
    build: nativeBuild,
    isa: { available: n.isa.available as Isa[], active: n.isa.active as Isa },
    threads: n.threads,
    cpu: n.cpu,
    cuda: n.cuda,
  };
}

/** Sets the number of threads parallel kernels use (default: SHEARS_NUM_THREADS, else all cores). */
export function setNumThreads(threads: number): void {
  native.setNumThreads(positiveInteger(threads, 'threads', 1024));
}

/**
 * Forces one SIMD variant for the kernels (tests and benchmarks); SHEARS_ISA does the same at load
 * time. Throws a RangeError naming the variants available when `isa` is not one of them.
 */
export function setIsa(isa: Isa): void {
  if (typeof isa !== 'string') throw typeError('isa', "one of 'scalar', 'avx2', 'avx512', 'neon'", isa);
  if (!['scalar', 'avx2', 'avx512', 'neon'].includes(isa)) throw rangeError('isa', "one of 'scalar', 'avx2', 'avx512', 'neon'", isa);
  native.setIsa(isa);
}
