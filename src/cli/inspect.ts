/** `shears inspect <file>`: every tensor with its dtype, shape, parameters, kept entries and bytes. */
import { statSync } from 'node:fs';

import { loadSafetensors } from '../index.js';

export interface TensorRow {
  name: string;
  dtype: string;
  shape: number[];
  params: number;
  kept: number;
  sparsity: number;
  bytes: number;
}

export function inspectRows(file: string): { rows: TensorRow[]; fileBytes: number } {
  const data = loadSafetensors(file);
  const rows: TensorRow[] = [];
  for (const [name, { tensor, mask, dtype }] of data.tensors) {
    let kept = 0;
    for (let i = 0; i < tensor.size; i++) kept += (mask ? mask[i] : 1) && tensor.data[i] !== 0 ? 1 : 0;
    rows.push({ name, dtype: dtype ?? 'F32', shape: [...tensor.shape], params: tensor.size, kept, sparsity: tensor.size ? 1 - kept / tensor.size : 0, bytes: tensor.size * ({ F64: 8, F16: 2, BF16: 2 }[dtype as string] ?? 4) });
  }
  for (const [name, r] of data.raw) {
    const params = r.shape.reduce((a, b) => a * b, 1);
    rows.push({ name, dtype: r.dtype, shape: r.shape, params, kept: params, sparsity: 0, bytes: r.bytes.length });
  }
  return { rows, fileBytes: statSync(file).size };
}

export function printTable(rows: TensorRow[], title: string): void {
  const total = rows.reduce((a, r) => ({ params: a.params + r.params, kept: a.kept + r.kept }), { params: 0, kept: 0 });
  const w = Math.max(6, ...rows.map((r) => r.name.length));
  console.log(title);
  console.log(`${'tensor'.padEnd(w)}  dtype  ${'shape'.padEnd(14)} ${'params'.padStart(11)} ${'kept'.padStart(11)}  sparsity`);
  for (const r of rows)
    console.log(`${r.name.padEnd(w)}  ${r.dtype.padEnd(5)}  ${`[${r.shape.join('×')}]`.padEnd(14)} ${String(r.params).padStart(11)} ${String(r.kept).padStart(11)}  ${(100 * r.sparsity).toFixed(2).padStart(7)}%`);
  const sp = total.params ? 1 - total.kept / total.params : 0;
  console.log(`${'total'.padEnd(w)}  ${''.padEnd(5)}  ${''.padEnd(14)} ${String(total.params).padStart(11)} ${String(total.kept).padStart(11)}  ${(100 * sp).toFixed(2).padStart(7)}%`);
}
