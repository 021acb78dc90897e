/**
 * Models for the native trainer: `Sequential` stacks of `Linear`, `ReLU`, `Flatten` and `Dropout`,
 * with PyTorch's default initialisation and `nn.Sequential` state-dict names (`0.weight`,
 * `0.bias`, `2.weight`, …), so a PyTorch state dict saved as safetensors loads as is. Every linear
 * layer carries a mask (1 = kept) that pruning writes and training respects.
 */
import { busyError, optionsObject, rangeError, typeError } from '../errors.js';
import { loadSafetensors, saveSafetensors, type SaveOptions, type StateEntry } from '../io/safetensors.js';
import { native, withCallerStack, type NativeLayer } from '../native.js';
import { uniformGenerator } from '../prune/random.js';
import { Tensor } from '../prune/tensor.js';
import { advise } from '../sparse/advise.js';
import { CsrMatrix } from '../sparse/csr.js';

/** A fully connected layer `y = x·Wᵀ + b` with W `[out, in]` (nn.Linear's layout). */
export class Linear {
  readonly kind = 'linear';
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Float32Array;
  bias: Float32Array | undefined;
  /** 1 = kept, 0 = pruned (pruned weights stay exactly zero through training). */
  mask: Uint8Array;
  /** Optimizer state (momentum), created by the trainer. */
  velocity?: { weight: Float32Array; bias?: Float32Array };
  /** Accumulated pruning statistic (|w·g|, g², …), created when a criterion needs one. */
  score?: Float32Array;
  /**
   * Output-neuron statistics from the last `fit` with `activationStats: true` (after ReLU, before
   * dropout, over every training sample seen): mean |a| and APoZ, the fraction of zero outputs.
   * Feed them to prune.adaptiveScores or rank neurons for structured pruning.
   */
  activations?: { meanAbs: Float32Array; apoz: Float32Array; samples: number };
  /**
   * Inference plan cached on first use (see Sequential.invalidate): the kept fraction and, for a
   * layer that runs sparse, the CSR of its kept weights.
   */
  inference?: { density: number; csr?: CsrMatrix; auto?: Map<string, boolean> };

  constructor(inFeatures: number, outFeatures: number, options?: { bias?: boolean }) {
    for (const [name, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (typeof v !== 'number') throw typeError(name, 'a positive integer', v);
      if (!Number.isInteger(v) || v < 1) throw rangeError(name, 'a positive integer', v);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = new Float32Array(inFeatures * outFeatures);
    this.bias = optionsObject(options).bias === false ? undefined : new Float32Array(outFeatures);
    this.mask = new Uint8Array(inFeatures * outFeatures).fill(1);
  }

  get params(): number {
    return this.weight.length + (this.bias?.length ?? 0);
  }
}

export class ReLU {
  readonly kind = 'relu';
}

/** Flattens each sample to a vector (inputs here are already flat: a no-op kept for state-dict indices). */
export class Flatten {
  readonly kind = 'flatten';
}

/** Zeroes each activation with probability `p` during training (scaled by 1/(1−p)); identity in inference. */
export class Dropout {
  readonly kind = 'dropout';
  readonly p: number;
  constructor(p = 0.5) {
    if (typeof p !== 'number') throw typeError('p', 'a probability in [0, 1)', p);
    if (!(p >= 0 && p < 1)) throw rangeError('p', 'a probability in [0, 1)', p);
    this.p = p;
  }
}

export type Module = Linear | ReLU | Flatten | Dropout;

export interface SummaryRow {
  index: number;
  name: string;
  shape: [number, number];
  /** Weights of the layer (out × in; the row is named `<index>.weight`), which `kept` counts among. */
  params: number;
  kept: number;
  sparsity: number;
  /** How the layer runs: 'csr' when its kept fraction is at most the model's sparseBelow. */
  kernel: 'dense' | 'csr';
}

/**
 * A stack of modules. The linear layers must chain (each `in` equals the previous `out`); ReLU and
 * Dropout apply to the output of the linear layer before them.
 *
 * @example
 * const model = new Sequential([new Linear(784, 300), new ReLU(), new Linear(300, 100), new ReLU(), new Linear(100, 10)], { seed: 0 });
 * const logits = await model.predictAsync(images, images.length / 784);
 */
export class Sequential {
  readonly modules: Module[];
  /** A layer whose kept fraction is at most this runs with CSR kernels (default 0.3, from the benchmark crossover). */
  sparseBelow: number;
  /**
   * How each layer picks dense or CSR execution: 'density' (default: by `sparseBelow`) or 'auto':
   * the format advisor times both on this machine for the layer's pattern and the batch size, and
   * the faster runs (inference: per cached plan; training: decided at the start of every epoch).
   */
  sparseExecution: 'density' | 'auto';
  /** @internal The trainer whose fit() is running on this model, if any. */
  fitting: object | undefined;
  /** @internal Native training epochs in flight (they write the weights on the addon's threads). */
  epochsInFlight = 0;

  /**
   * While an epoch runs natively its threads write the weights: reading or replacing them from
   * JavaScript then would see a torn state, so those calls are refused (ERR_SHEARS_BUSY).
   */
  private checkIdle(what: string): void {
    if (this.epochsInFlight > 0)
      throw busyError(`Expected no training epoch in flight for ${what} but one is running on this model; call it from onEpoch or after fit() settles`);
  }

  constructor(modules: Module[], options?: { seed?: number; sparseBelow?: number; sparseExecution?: 'density' | 'auto' }) {
    if (!Array.isArray(modules)) throw typeError('modules', 'an Array of modules', modules);
    const o = optionsObject(options);
    this.modules = modules;
    this.sparseBelow = o.sparseBelow ?? 0.3;
    this.sparseExecution = o.sparseExecution ?? 'density';
    if (this.sparseExecution !== 'density' && this.sparseExecution !== 'auto') throw rangeError('sparseExecution', "'density' or 'auto'", this.sparseExecution);
    if (typeof this.sparseBelow !== 'number' || !(this.sparseBelow >= 0 && this.sparseBelow <= 1))
      throw rangeError('sparseBelow', 'a fraction in [0, 1]', this.sparseBelow);
    let prev: Linear | undefined;
    let sawLinear = false;
    modules.forEach((m, i) => {
      if (!(m instanceof Linear || m instanceof ReLU || m instanceof Flatten || m instanceof Dropout))
        throw typeError(`modules[${i}]`, 'a Linear, ReLU, Flatten or Dropout', m);
      if (m instanceof Linear) {
        if (prev && prev.outFeatures !== m.inFeatures)
          throw rangeError(`modules[${i}].inFeatures`, `${prev.outFeatures} (the previous layer's outFeatures)`, m.inFeatures);
        prev = m;
        sawLinear = true;
      } else if ((m instanceof ReLU || m instanceof Dropout) && !sawLinear) {
        throw rangeError(`modules[${i}]`, 'an activation after a Linear layer', m.kind);
      }
    });
    if (!prev) throw rangeError('modules', 'at least one Linear layer', 'none');
    this.reset(o.seed ?? 0);
  }

  /** Re-initialises every linear layer as nn.Linear does: W and b uniform in ±1/sqrt(in). */
  reset(seed = 0): void {
    this.checkIdle('reset()');
    const r = uniformGenerator(seed);
    for (const l of this.linears()) {
      const bound = 1 / Math.sqrt(l.inFeatures);
      for (let i = 0; i < l.weight.length; i++) l.weight[i] = (2 * r() - 1) * bound;
      if (l.bias) for (let i = 0; i < l.bias.length; i++) l.bias[i] = (2 * r() - 1) * bound;
      l.mask.fill(1);
      l.velocity = undefined;
      l.score = undefined;
      l.inference = undefined;
    }
  }

  linears(): Linear[] {
    return this.modules.filter((m): m is Linear => m instanceof Linear);
  }

  get inFeatures(): number {
    return this.linears()[0].inFeatures;
  }

  get outFeatures(): number {
    const ls = this.linears();
    return ls[ls.length - 1].outFeatures;
  }

  /**
   * Drops the cached inference CSR of every layer. The library calls it whenever it changes
   * weights or masks (training, pruning, loading); call it after editing them by hand.
   */
  invalidate(): void {
    for (const l of this.linears()) l.inference = undefined;
  }

  /**
   * Whether each linear layer runs CSR for batches of `batch`: by density, or with 'auto' by the
   * advisor (timed once per layer, batch size and device until the weights change; on 'cuda' the
   * GPU kernels, as the GPU epoch runs them).
   */
  executionPlan(batch: number, device: 'cpu' | 'cuda' = 'cpu'): boolean[] {
    return this.linears().map((l) => {
      if (!l.inference) {
        let kept = 0;
        for (let j = 0; j < l.mask.length; j++) kept += l.mask[j];
        l.inference = { density: kept / l.mask.length };
      }
      if (this.sparseExecution === 'density') return l.inference.density <= this.sparseBelow;
      const auto = (l.inference.auto ??= new Map<string, boolean>());
      const key = `${device}:${batch}`;
      if (!auto.has(key)) {
        const csr = (l.inference.csr ??= CsrMatrix.fromDense(l.weight, l.outFeatures, l.inFeatures, { mask: l.mask }));
        auto.set(key, advise(csr, batch, { candidates: ['csr', 'dense'], minMs: 5, device }).best === 'csr');
      }
      return auto.get(key)!;
    });
  }

  /** Native layers for inference, with each sparse-running layer's CSR built once and cached. */
  private inferenceLayers(batch: number): NativeLayer[] {
    const layers = this.nativeLayers();
    const plan = this.executionPlan(batch);
    this.linears().forEach((l, i) => {
      layers[i].execution = plan[i] ? 1 : 0;
      if (!plan[i]) return;
      const csr = (l.inference!.csr ??= CsrMatrix.fromDense(l.weight, l.outFeatures, l.inFeatures, { mask: l.mask }));
      layers[i].csr = { rowPtr: csr.rowPtr, colIdx: csr.colIdx, values: csr.values };
    });
    return layers;
  }

  /** The linear layers as the native code sees them (shared buffers; `training` adds optimizer state). */
  nativeLayers(training = false): NativeLayer[] {
    const out: NativeLayer[] = [];
    this.modules.forEach((m) => {
      if (m instanceof Linear) {
        if (training && !m.velocity) m.velocity = { weight: new Float32Array(m.weight.length), bias: m.bias ? new Float32Array(m.bias.length) : undefined };
        out.push({
          in: m.inFeatures,
          out: m.outFeatures,
          w: m.weight,
          b: m.bias,
          mask: m.mask,
          vw: m.velocity?.weight,
          vb: m.velocity?.bias,
          score: m.score,
          relu: false,
          dropout: 0,
        });
      } else if (m instanceof ReLU) out[out.length - 1].relu = true;
      else if (m instanceof Dropout) out[out.length - 1].dropout = m.p;
    });
    return out;
  }

  private checkInputs(x: Float32Array, n: number): void {
    if (!(x instanceof Float32Array)) throw typeError('x', 'Float32Array', x);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw rangeError('n', 'a sample count (integer >= 0)', n);
    if (x.length !== n * this.inFeatures) throw rangeError('x', `n × ${this.inFeatures} = ${n * this.inFeatures} values`, `length ${x.length}`);
  }

  /** Logits `[n, classes]` for `n` samples `x` `[n, inFeatures]`, in batches (default 256). */
  predict(x: Float32Array, n: number, batch = 256): Float32Array {
    this.checkIdle('predict()');
    this.checkInputs(x, n);
    return native.predict(this.inferenceLayers(Math.min(batch, Math.max(n, 1))), x, n, batch, this.sparseBelow);
  }

  predictAsync(x: Float32Array, n: number, batch = 256): Promise<Float32Array> {
    return withCallerStack(async () => {
      this.checkIdle('predictAsync()');
      this.checkInputs(x, n);
      return native.predictAsync(this.inferenceLayers(Math.min(batch, Math.max(n, 1))), x, n, batch, this.sparseBelow);
    });
  }

  /** Per linear layer: shape, parameters, kept weights, sparsity and the kernel it runs with. */
  summary(): SummaryRow[] {
    const rows: SummaryRow[] = [];
    const plan = this.executionPlan(256);
    let li = 0;
    this.modules.forEach((m, index) => {
      if (!(m instanceof Linear)) return;
      let kept = 0;
      for (let i = 0; i < m.mask.length; i++) kept += m.mask[i];
      const density = kept / m.mask.length;
      const sparse = plan[li++];
      rows.push({
        index,
        name: `${index}.weight`,
        shape: [m.outFeatures, m.inFeatures],
        params: m.weight.length,
        kept,
        sparsity: 1 - density,
        kernel: sparse ? 'csr' : 'dense',
      });
    });
    return rows;
  }

  /** PyTorch-style names: `<index>.weight` (with its mask) and `<index>.bias`. */
  stateDict(): Map<string, StateEntry> {
    this.checkIdle('stateDict()');
    const out = new Map<string, StateEntry>();
    this.modules.forEach((m, i) => {
      if (!(m instanceof Linear)) return;
      const pruned = m.mask.some((v) => v === 0);
      out.set(`${i}.weight`, { tensor: new Tensor(m.weight, [m.outFeatures, m.inFeatures]), mask: pruned ? m.mask : undefined });
      if (m.bias) out.set(`${i}.bias`, { tensor: new Tensor(m.bias, [m.outFeatures]) });
    });
    return out;
  }

  /**
   * Copies weights (and masks, where the entries have them) from a state dict with the same names
   * and shapes. Every entry is checked (shape, mask length, mask values 0 or 1) before anything is
   * copied, so a bad state dict leaves the model unchanged. With `strict` (default true) an entry
   * the model has no parameter for is an error too, as in PyTorch.
   */
  loadStateDict(state: Map<string, StateEntry>, options?: { strict?: boolean }): void {
    if (!(state instanceof Map)) throw typeError('state', 'a Map of name -> { tensor, mask? }', state);
    this.checkIdle('loadStateDict()');
    const strict = optionsObject(options).strict ?? true;
    const plan: { e: StateEntry; into: Float32Array; mask?: Uint8Array }[] = [];
    const expected = new Set<string>();
    const check = (name: string, shape: number[], into: Float32Array, mask?: Uint8Array) => {
      expected.add(name);
      const e = state.get(name);
      if (!e) throw rangeError('state', `an entry ${name}`, 'none');
      const where = `state.get('${name}')`;
      if (typeof e !== 'object' || e === null || !(e.tensor?.data instanceof Float32Array)) throw typeError(where, 'an entry { tensor: Tensor (float32), mask? }', e);
      const got = e.tensor.shape ?? [e.tensor.size];
      if (got.length !== shape.length || got.some((d, k) => d !== shape[k]) || e.tensor.data.length !== into.length)
        throw rangeError(`${where}.tensor`, `shape [${shape}]`, `shape [${got}]`);
      if (e.mask !== undefined) {
        if (!mask) throw rangeError(`${where}.mask`, 'no mask (only weights are pruned)', e.mask);
        if (!(e.mask instanceof Uint8Array)) throw typeError(`${where}.mask`, 'a Uint8Array of 0/1', e.mask);
        if (e.mask.length !== into.length) throw rangeError(`${where}.mask`, `${into.length} values (one per weight)`, e.mask.length);
        const bad = e.mask.findIndex((v) => v > 1);
        if (bad >= 0) throw rangeError(`${where}.mask`, 'values 0 or 1', `mask[${bad}] = ${e.mask[bad]}`);
      }
      plan.push({ e, into, mask });
    };
    this.modules.forEach((m, i) => {
      if (!(m instanceof Linear)) return;
      check(`${i}.weight`, [m.outFeatures, m.inFeatures], m.weight, m.mask);
      if (m.bias) check(`${i}.bias`, [m.outFeatures], m.bias);
    });
    if (strict) {
      const extra = [...state.keys()].filter((k) => !expected.has(k));
      if (extra.length) throw rangeError('state', `only this model's entries (${[...expected].join(', ')}) with strict loading (pass { strict: false } to ignore others)`, `entries it does not have: ${extra.join(', ')}`);
    }
    for (const { e, into, mask } of plan) {
      into.set(e.tensor.data);
      if (!mask) continue;
      if (e.mask) mask.set(e.mask);
      else mask.fill(1);
      for (let j = 0; j < into.length; j++) if (!mask[j]) into[j] = 0;
    }
    for (const m of this.linears()) {
      m.velocity = undefined;
      m.inference = undefined;
    }
  }

  /**
   * Writes the state dict (safetensors) with the architecture in its metadata, so `Sequential.load`
   * rebuilds the model; `format: 'pytorch'` (the default) keeps masks as PyTorch's `weight_orig` /
   * `weight_mask`. `format: 'dense'` writes the weights with zeros baked in and no masks (as
   * `prune.remove` does): a model loaded from it trains all weights again.
   */
  save(path: string, options?: SaveOptions): void {
    const o = optionsObject(options);
    saveSafetensors(path, this.stateDict(), { format: o.format ?? 'pytorch', metadata: { ...(o.metadata ?? {}), 'shears.architecture': JSON.stringify(this.architecture()) } });
  }

  /** The modules as JSON-able specs: ['linear', in, out, bias] | ['relu'] | ['flatten'] | ['dropout', p]. */
  architecture(): (string | number | boolean)[][] {
    return this.modules.map((m) =>
      m instanceof Linear ? ['linear', m.inFeatures, m.outFeatures, !!m.bias] : m instanceof Dropout ? ['dropout', m.p] : [m.kind],
    );
  }

  /**
   * Loads a model saved by `save`, or a PyTorch `nn.Sequential` of Linear layers saved as
   * safetensors: without shears' metadata the layers are read from the `<i>.weight` names, a ReLU
   * is assumed at every index between two linear layers (the usual MLP) and a Flatten at the
   * indices before the first (`nn.Sequential(nn.Flatten(), nn.Linear(…), …)`).
   */
  static load(path: string): Sequential {
    const data = loadSafetensors(path);
    const arch = data.metadata['shears.architecture'];
    let modules: Module[];
    if (arch) {
      const specs = JSON.parse(arch) as (string | number | boolean)[][];
      modules = specs.map((s) => (s[0] === 'linear' ? new Linear(s[1] as number, s[2] as number, { bias: s[3] as boolean }) : s[0] === 'relu' ? new ReLU() : s[0] === 'dropout' ? new Dropout(s[1] as number) : new Flatten()));
    } else {
      const indices = [...data.tensors.keys()].map((k) => /^(\d+)\.weight$/.exec(k)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1])).sort((a, b) => a - b);
      if (indices.length === 0) throw rangeError('path', 'a state dict with <index>.weight tensors', path);
      modules = [];
      for (let i = 0; i <= indices[indices.length - 1]; i++) {
        const w = data.tensors.get(`${i}.weight`);
        if (w) {
          if (w.tensor.shape.length !== 2) throw rangeError(`${i}.weight`, 'a 2-D weight', `shape [${w.tensor.shape}]`);
          modules.push(new Linear(w.tensor.shape[1], w.tensor.shape[0], { bias: data.tensors.has(`${i}.bias`) }));
        } else modules.push(i < indices[0] ? new Flatten() : new ReLU());
      }
    }
    const model = new Sequential(modules);
    model.loadStateDict(data.tensors);
    return model;
  }
}
