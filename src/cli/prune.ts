/**
 * `shears prune <in> -o <out>`: prunes the weights of a safetensors state dict the way
 * torch.nn.utils.prune would, and writes plain pruned weights, the PyTorch pruned form, or CSR.
 */
import { loadSafetensors, prune, saveSafetensors, type StateEntry, Tensor } from '../index.js';
import { randomScores, seedOf } from '../prune/random.js';
import type { TensorRow } from './inspect.js';

export interface PruneCliOptions {
  output: string;
  amount?: string;
  method: 'l1' | 'l2' | 'random' | 'taylor';
  scope: 'layer' | 'global';
  granularity: string;
  include?: string;
  exclude?: string;
  format: 'dense' | 'pytorch' | 'csr';
  seed?: string;
  /** For --method taylor: a safetensors file of gradients, one per pruned tensor, same names and shapes. */
  grads?: string;
}

/** A CLI amount: "0.9" is a fraction, "1000" a count (as in PyTorch). */
function parseAmount(text: string): prune.Amount {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new RangeError(`Expected a number for --amount but received '${text}'`);
  return Number.isInteger(v) && !text.includes('.') ? { count: v } : { fraction: v };
}

type Granularity = { kind: 'element' } | { kind: 'row' } | { kind: 'nm'; n: number; m: number } | { kind: 'block'; r: number; c: number };

function parseGranularity(text: string): Granularity {
  if (text === 'element' || text === 'row') return { kind: text };
  let m = /^(\d+):(\d+)$/.exec(text);
  if (m) return { kind: 'nm', n: Number(m[1]), m: Number(m[2]) };
  m = /^block:(\d+)x(\d+)$/.exec(text);
  if (m) return { kind: 'block', r: Number(m[1]), c: Number(m[2]) };
  throw new RangeError(`Expected element, row, N:M (e.g. 2:4) or block:RxC (e.g. block:4x4) for --granularity but received '${text}'`);
}

export function runPrune(input: string, o: PruneCliOptions, log: (line: string) => void): TensorRow[] {
  if (o.method === 'taylor' && !o.grads)
    throw new RangeError('--method taylor ranks |weight × gradient| and needs --grads <file.safetensors> holding a gradient for every pruned tensor (same names)');
  if (!['l1', 'l2', 'random', 'taylor'].includes(o.method)) throw new RangeError(`Expected l1, l2, random or taylor for --method but received '${o.method}'`);
  if (!['layer', 'global'].includes(o.scope)) throw new RangeError(`Expected layer or global for --scope but received '${o.scope}'`);
  const granularity = parseGranularity(o.granularity);
  // N:M keeps n of every m: no amount applies (giving one is a mistake worth naming).
  if (granularity.kind === 'nm' && o.amount !== undefined)
    throw new RangeError(`Expected no --amount with --granularity ${o.granularity} (it keeps ${granularity.n} of every ${granularity.m}) but received '${o.amount}'`);
  if (granularity.kind !== 'nm' && o.amount === undefined) throw new RangeError('Expected --amount (a fraction like 0.9 or a count like 1000)');
  const amount = granularity.kind === 'nm' ? 0 : parseAmount(o.amount!);
  const seed = o.seed === undefined ? undefined : Number(o.seed);
  const include = new RegExp(o.include ?? '(^|\\.)weight$');
  const exclude = o.exclude ? new RegExp(o.exclude) : undefined;
  const data = loadSafetensors(input);
  const targets = [...data.tensors].filter(([name, e]) => include.test(name) && !exclude?.test(name) && e.tensor.shape.length >= 2);
  if (targets.length === 0) throw new RangeError(`No tensor matches --include ${include} (and has 2 or more dimensions) in ${input}`);
  const out = new Map<string, StateEntry>(data.tensors);
  // First-order Taylor importance |w·g| (Molchanov et al.), from the gradients file.
  const grads = o.method === 'taylor' ? loadSafetensors(o.grads!) : undefined;
  const scoresOf = (name: string, t: Tensor): Float32Array | undefined => {
    if (!grads) return undefined;
    const g = grads.tensors.get(name);
    if (!g) throw new RangeError(`--grads ${o.grads} has no tensor ${name}`);
    if (g.tensor.size !== t.size || g.tensor.shape.join() !== t.shape.join())
      throw new RangeError(`--grads ${o.grads}: ${name} has shape [${g.tensor.shape}] but the weight has [${t.shape}]`);
    const s = new Float32Array(t.size);
    for (let i = 0; i < s.length; i++) s[i] = Math.abs(t.data[i] * g.tensor.data[i]);
    return s;
  };
  if (o.scope === 'global') {
    if (granularity.kind !== 'element') throw new RangeError('--scope global supports --granularity element only');
    const masks = prune.globalUnstructured(targets.map(([, e]) => e.tensor), {
      amount,
      method: o.method === 'random' ? 'random' : 'l1',
      masks: targets.map(([, e]) => e.mask),
      importanceScores: grads ? targets.map(([name, e]) => scoresOf(name, e.tensor)!) : undefined,
      seed,
    });
    targets.forEach(([name, e], i) => out.set(name, { tensor: e.tensor, mask: masks[i] }));
  } else {
    targets.forEach(([name, e], i) => {
      const t: Tensor = e.tensor;
      const mask = e.mask;
      const importanceScores = scoresOf(name, t);
      let m: Uint8Array;
      try {
        if (granularity.kind === 'element') {
          m = o.method === 'random' ? prune.randomUnstructured(t, { amount, mask, seed }) : prune.l1Unstructured(t, { amount, mask, importanceScores });
        } else if (granularity.kind === 'row') {
          m =
            o.method === 'random'
              ? prune.randomStructured(t, { amount, dim: 0, mask, seed })
              : prune.lnStructured(t, { amount, n: o.method === 'l2' ? 2 : 1, dim: 0, mask, importanceScores });
        } else if (granularity.kind === 'nm') {
          // --method random: uniform scores, so each group keeps a random n of its m.
          const scores = o.method === 'random' ? randomScores(t.size, seedOf(seed)) : importanceScores;
          m = prune.nm(t, { n: granularity.n, m: granularity.m, mask, importanceScores: scores });
        } else {
          const flat = t.shape.length === 2 ? t : new Tensor(t.data, [t.shape[0], t.size / t.shape[0]]);
          // --method random: the max of uniform scores ranks equal-sized blocks uniformly at random.
          const random = o.method === 'random';
          m = prune.blockUnstructured(flat, { amount, blockRows: granularity.r, blockCols: granularity.c, pool: random ? 'max' : o.method === 'l2' ? 'l2' : 'l1', mask, importanceScores: random ? randomScores(t.size, seedOf(seed)) : importanceScores });
        }
      } catch (err) {
        // Name the tensor: the error itself speaks of rows and blocks, not of which weight.
        (err as Error).message = `${name} [${t.shape}]: ${(err as Error).message} (leave it out with --exclude)`;
        throw err;
      }
      out.set(name, { tensor: t, mask: m });
      log(`  [${i + 1}/${targets.length}] ${name}`);
    });
  }
  saveSafetensors(o.output, out, { format: o.format, raw: data.raw, metadata: data.metadata });
  return targets.map(([name]) => {
    const { tensor, mask } = out.get(name)!;
    let kept = 0;
    for (let i = 0; i < tensor.size; i++) kept += mask![i] && tensor.data[i] !== 0 ? 1 : 0;
    return { name, dtype: 'F32', shape: [...tensor.shape], params: tensor.size, kept, sparsity: 1 - kept / tensor.size, bytes: tensor.size * 4 };
  });
}
