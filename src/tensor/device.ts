/**
 * Where work runs: 'cpu', 'cuda' or 'auto' (the GPU when `info().cuda` lists a usable device).
 * The CUDA path is in its first stage: CSR SpMM, SDDMM and the fused masked SGD step run on the GPU
 * from host arrays (copied in and out per call); resident device tensors come next.
 */
import { rangeError } from '../errors.js';
import { info } from '../info.js';

export type Device = 'cpu' | 'cuda' | 'auto';

let usable: boolean | undefined;

/** Whether a CUDA device is usable in this process (probed once). */
export function cudaUsable(): boolean {
  usable ??= info().cuda.devices.some((d) => d.usable);
  return usable;
}

/** Resolves a `device` option; 'cuda' without a usable device is an Error with code ERR_SHEARS_CUDA. */
export function resolveDevice(device: unknown): 'cpu' | 'cuda' {
  if (device === undefined || device === 'cpu') return 'cpu';
  if (device === 'auto') return cudaUsable() ? 'cuda' : 'cpu';
  if (device !== 'cuda') throw rangeError('device', "'cpu', 'cuda' or 'auto'", device);
  if (!cudaUsable()) {
    const i = info().cuda;
    const e = new Error(
      i.compiled
        ? `device 'cuda': no usable CUDA device${i.error ? ` (${i.error})` : ''}`
        : "device 'cuda': this build of shears has no CUDA (npm run build:cuda where a CUDA toolkit is installed)",
    ) as Error & { code: string };
    e.code = 'ERR_SHEARS_CUDA';
    throw e;
  }
  return 'cuda';
}
