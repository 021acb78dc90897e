/**
 * Timing: benchmark.js runs each kernel (synchronously) and we report the median of its samples,
 * which is far steadier than the mean on a shared, noisy machine. Also measures the two machine
 * ceilings the kernels are judged against (memory bandwidth and FMA peak), and guards each
 * measurement with a short speed probe (SpeedGuard).
 */
import Benchmark from 'benchmark';

import { native } from '../../dist/native.js';

/** Median of an array of numbers (the mean of the middle two for an even count). */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** min, median and max of `values`. */
function summary(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), samples: values.length };
}

/**
 * Times `fn` with benchmark.js and returns seconds per call: `{ median, min, max, samples }`.
 * `maxTime` (seconds) bounds the sampling phase; at least `minSamples` samples are taken. Each
 * sample is benchmark.js' mean over a cycle of ≥ 50 ms, so fast kernels are averaged over many calls.
 */
export function timeIt(fn, { maxTime, minSamples }) {
  const bench = new Benchmark({ fn, maxTime, minSamples, initCount: 1, async: false });
  bench.run();
  if (bench.error) throw bench.error;
  return summary(bench.stats.sample);
}

/** Runs `fn` once to warm up, then `repeats` times through `measure` (which times one call and
 * returns a rate); returns the summary of those rates. */
function repeat(fn, repeats, measure) {
  fn();
  const values = [];
  for (let i = 0; i < repeats; i++) values.push(measure(fn));
  return summary(values);
}

/**
 * Sustained memory bandwidth in GB/s: a parallel copy between two arrays of `bytes` each (choose
 * several times the last-level cache), counting the read and the write (2·bytes per copy).
 */
export function measureBandwidth(bytes, repeats) {
  const src = new Float32Array(bytes / 4).fill(1);
  const dst = new Float32Array(bytes / 4);
  return repeat(
    () => native.streamCopy(dst, src),
    repeats,
    (copy) => {
      const t = performance.now();
      copy();
      return (2 * bytes) / ((performance.now() - t) * 1e6);
    },
  );
}

/** FMA peak in GFLOP/s of all threads on the active ISA (`iterations` ≈ 2e7 takes ~0.2 s). */
export function measureFmaPeak(iterations, repeats) {
  let flops = 0;
  return repeat(
    () => (flops = native.fmaPeak(iterations)),
    repeats,
    (run) => {
      const t = performance.now();
      run();
      return flops / ((performance.now() - t) * 1e6);
    },
  );
}

/**
 * Guards measurements against stretches where the machine runs slow: another process, or the host
 * taking a core away, which nothing inside a VM reports. Short FMA probes (~10 ms) run before and
 * after each measurement; a measurement whose slower side falls below `threshold` of the best probe
 * seen is retried, up to `retries` times. The best probe only rises, so a slow start cannot lower
 * the bar.
 */
export class SpeedGuard {
  constructor({ threshold = 0.85, retries = 2, iterations = 1e6 } = {}) {
    this.threshold = threshold;
    this.retries = retries;
    this.iterations = iterations;
    this.best = 0;
    for (let i = 0; i < 3; i++) this.probe(); // warm the thread pool and set the bar
  }

  /** GFLOP/s of one short FMA run on every thread. */
  probe() {
    const t = performance.now();
    const flops = native.fmaPeak(this.iterations);
    const rate = flops / ((performance.now() - t) * 1e6);
    this.best = Math.max(this.best, rate);
    return rate;
  }

  /**
   * Calls `measure` until its surrounding probes pass (or retries run out). Returns
   * `{ result, speed, attempts }`: speed is the slower probe over the best one (1 = full speed).
   */
  run(measure) {
    // Each side takes the better of two probes: a single one can land on a short transient, such as
    // V8 freeing the buffers the measured call allocated, while a real slowdown lasts longer.
    const probe = () => Math.max(this.probe(), this.probe());
    for (let attempts = 1; ; attempts++) {
      const before = probe();
      const result = measure();
      const after = probe();
      const speed = Math.min(before, after) / this.best;
      if (speed >= this.threshold || attempts > this.retries) return { result, speed, attempts };
    }
  }
}
