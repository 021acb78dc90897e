#!/usr/bin/env python3
"""Peer timings for shears' benchmarks: PyTorch (dense and CSR) and SciPy (CSR SpMV).

bench/run.js runs this script once per benchmark run, after its own cases, so the two never
compete for the cores. It reads one JSON request on stdin:

    {"threads": 2, "maxTime": 0.5, "minSamples": 5, "seed": 1,
     "cases": [{"id": "...", "kind": "mm", "m": 4096, "k": 4096, "n": 256}, ...]}

Case kinds (shapes as in shears: A is [m, k], B is [k, n]):
    mm           torch.mm(A, B) with dense tensors; "transA"/"transB" use A.t() / B.t() views.
    sparse_mm    torch.sparse.mm(A_csr, B), A a torch CSR tensor at element sparsity "sparsity",
                 or at block sparsity with "block": [blockRows, blockCols] (kept blocks dense).
    spmv_scipy   scipy.sparse.csr_matrix A (same patterns as sparse_mm) times a vector: A @ x.
    sddmm_dense  the dense alternative to SDDMM: torch.mm(X, Y.t()), X [m, n], Y [k, n].
    kthvalue     torch.kthvalue(x, k) over n uniform float32 scores.
    topk         torch.topk(x, k, largest=False, sorted=False), the same scores.
    global_unstructured
                 torch.nn.utils.prune.global_unstructured(L1Unstructured, amount) over "layers"
                 nn.Linear(d, d) weights, masks included; untimed between calls: prune.remove
                 and the original weights copied back.
    ln_structured
                 prune.ln_structured(amount, n=2, dim=0) on each of those layers.
    nm_topk      2:4 masks the way NVIDIA's ASP computes them: |w| in groups of 4 along the input
                 dimension, topk(2) per group, scattered into a float mask; each layer.

A case may carry its own "maxTime", "minSamples" and "warmup" (false: no warm-up call), for
operations that take tens of seconds.

and prints one JSON object on stdout: {"meta": {...}, "results": {id: {"median", "min", "max",
"samples"} in seconds per call, and "otherLoad", the share of the machine's CPU time other
processes took while the case ran; or {"error": "..."}}}. meta carries the versions, the thread
count and the CPU-seconds the peer used. Progress goes to stderr.

Unlike bench/lib/measure.js, the peer has no speed probe: a short torch probe reads slow for
reasons of its own (torch's OpenMP threads and the BLAS threads spin-wait for each other on a
small machine), so it cannot tell a slow machine apart.

Each case is warmed up once, then timed with time.perf_counter until it has at least minSamples
samples and maxTime seconds; a sample averages enough calls to last >= 2 ms. The median is the
figure to use. Matrices are random with the same distribution as shears' (uniform positions,
uniform values), not the same numbers.

Run standalone:  echo '{"threads":2,"cases":[{"id":"a","kind":"mm","m":512,"k":512,"n":512}]}' \\
                   | python3 bench/peers/torch_peer.py
"""
import json
import os
import sys
import time

MIN_SAMPLE_SECONDS = 0.002
MAX_SAMPLES = 10_000


def cpu_seconds():
    """CPU time this process used, all threads (lets the caller tell its load from other work)."""
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    except (ImportError, OSError):
        return None


def machine_cpu_seconds():
    """Busy + stolen CPU-seconds of the whole machine since boot (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    return (user + nice + system + irq + softirq + steal) / 100.0  # USER_HZ


def other_load(fn):
    """Runs fn() and returns (its result, the share of the machine's CPU time that other processes
    took meanwhile: busy time not ours over cores x wall time; None where unknown)."""
    machine0, own0, wall0 = machine_cpu_seconds(), cpu_seconds(), time.perf_counter()
    result = fn()
    machine1, own1, wall1 = machine_cpu_seconds(), cpu_seconds(), time.perf_counter()
    if None in (machine0, machine1, own0, own1):
        return result, None
    capacity = (wall1 - wall0) * (os.cpu_count() or 1)
    return result, max(0.0, (machine1 - machine0) - (own1 - own0)) / capacity


def log(message):
    print(f"peer: {message}", file=sys.stderr, flush=True)


def measure(fn, max_time, min_samples, warmup=True, reset=None):
    """Seconds per call of fn: median, min and max over the samples. With `reset`, every sample is
    one call and reset() runs, untimed, before it."""
    if reset is not None:
        samples = []
        begin = time.perf_counter()
        while len(samples) < min_samples or (time.perf_counter() - begin < max_time and len(samples) < MAX_SAMPLES):
            reset()
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return summarise(samples)
    if warmup:
        fn()  # warm-up (first-touch, lazy initialisation, thread pool start)
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    calls = max(1, int(MIN_SAMPLE_SECONDS / max(first, 1e-9)))
    samples = [] if warmup else [first]
    begin = time.perf_counter()
    while len(samples) < min_samples or (time.perf_counter() - begin < max_time and len(samples) < MAX_SAMPLES):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return summarise(samples)


def summarise(samples):
    samples = sorted(samples)
    mid = len(samples) // 2
    med = samples[mid] if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2
    return {"median": med, "min": samples[0], "max": samples[-1], "samples": len(samples)}


class Patterns:
    """Random sparse patterns as CSR (indptr, indices, values) in NumPy, the last one cached (the
    cases arrive grouped by pattern, so one matrix serves its SpMV, n = 32 and n = 256 cases)."""

    def __init__(self, np, seed):
        self.np = np
        self.seed = seed
        self.key = None
        self.value = None

    def get(self, m, k, sparsity, block):
        key = (m, k, sparsity, tuple(block) if block else None)
        if key != self.key:
            self.key, self.value = key, None  # drop the old matrix before building the new one
            self.value = self._build(m, k, sparsity, block)
        return self.value

    def _positions(self, total, sparsity, rng):
        """Sorted row-major positions, each kept with probability 1 - sparsity (geometric gaps)."""
        np = self.np
        if sparsity >= 1:
            return np.zeros(0, dtype=np.int64)
        if sparsity <= 0:
            return np.arange(total, dtype=np.int64)
        p = 1.0 - sparsity
        expected = total * p
        chunks, last = [], -1
        while last < total:
            gaps = rng.geometric(p, size=int(expected + 6 * expected**0.5 + 16))
            pos = last + np.cumsum(gaps, dtype=np.int64)
            chunks.append(pos)
            last = int(pos[-1])
        pos = np.concatenate(chunks)
        return pos[pos < total]

    def _build(self, m, k, sparsity, block):
        np = self.np
        rng = np.random.default_rng(self.seed)
        br, bc = block if block else (1, 1)
        kb = k // bc
        pos = self._positions((m // br) * kb, sparsity, rng)
        if br == 1 and bc == 1:
            rows, cols = pos // k, pos % k
        else:
            # Expand each kept block to its br x bc entries; a stable sort by row keeps each row's
            # entries in block order, which is column order.
            brow, bcol = pos // kb, pos % kb
            rows = (brow[:, None, None] * br + np.arange(br)[None, :, None] + np.zeros(bc, dtype=np.int64)).ravel()
            cols = (bcol[:, None, None] * bc + np.zeros((1, br, 1), dtype=np.int64) + np.arange(bc)).ravel()
            order = np.argsort(rows, kind="stable")
            rows, cols = rows[order], cols[order]
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
        values = rng.uniform(-1.0, 1.0, size=len(cols)).astype(np.float32)
        return indptr, cols.astype(np.int64), values


def main():
    request = json.load(sys.stdin)
    threads = int(request.get("threads") or os.cpu_count() or 1)
    # BLAS and OpenMP read these when they load, so set them before importing numpy and torch.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import warnings

    import numpy as np
    import torch

    try:
        import scipy
        import scipy.sparse
    except ImportError:
        scipy = None

    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
    torch.set_num_threads(threads)
    torch.manual_seed(request.get("seed", 1))
    max_time = float(request.get("maxTime", 0.5))
    min_samples = int(request.get("minSamples", 5))
    patterns = Patterns(np, request.get("seed", 1))

    def dense(*shape):
        return torch.rand(*shape, dtype=torch.float32) * 2 - 1

    def csr_tensor(c):
        indptr, indices, values = patterns.get(c["m"], c["k"], c["sparsity"], c.get("block"))
        return torch.sparse_csr_tensor(
            torch.from_numpy(indptr), torch.from_numpy(indices), torch.from_numpy(values), size=(c["m"], c["k"])
        )

    def prepare(c):
        """Builds the inputs of case c and returns the call to time."""
        kind = c["kind"]
        if kind in ("kthvalue", "topk"):
            x = torch.rand(c["n"], dtype=torch.float32)
            if kind == "kthvalue":
                return lambda: torch.kthvalue(x, c["k"])
            return lambda: torch.topk(x, c["k"], largest=False, sorted=False)
        if kind in ("global_unstructured", "ln_structured", "nm_topk"):
            return mlp_case(c)
        m, k, n = c["m"], c["k"], c.get("n", 1)
        if kind == "mm":
            a = dense(k, m).t() if c.get("transA") else dense(m, k)
            b = dense(n, k).t() if c.get("transB") else dense(k, n)
            out = torch.empty(m, n)
            return lambda: torch.mm(a, b, out=out)
        if kind == "sddmm_dense":
            x, y, out = dense(m, n), dense(k, n), torch.empty(m, k)
            return lambda: torch.mm(x, y.t(), out=out)
        if kind == "sparse_mm":
            a, b = csr_tensor(c), dense(k, n)
            return lambda: torch.sparse.mm(a, b)
        if kind == "spmv_scipy":
            if scipy is None:
                raise RuntimeError("scipy is not installed")
            indptr, indices, values = patterns.get(m, k, c["sparsity"], c.get("block"))
            a = scipy.sparse.csr_matrix((values, indices, indptr), shape=(m, k))
            x = np.random.default_rng(1).uniform(-1.0, 1.0, size=k).astype(np.float32)
            return lambda: a @ x
        raise ValueError(f"unknown case kind {kind!r}")

    def mlp_case(c):
        """The MLP cases: (call, reset) over c["layers"] nn.Linear(d, d) layers."""
        import torch.nn.utils.prune as tprune

        d = c["d"]
        layers = [torch.nn.Linear(d, d, bias=False) for _ in range(c["layers"])]
        originals = [layer.weight.detach().clone() for layer in layers]

        def restore():
            for layer, w in zip(layers, originals):
                if tprune.is_pruned(layer):
                    tprune.remove(layer, "weight")
                with torch.no_grad():
                    layer.weight.copy_(w)

        if c["kind"] == "global_unstructured":
            params = [(layer, "weight") for layer in layers]
            call = lambda: tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured, amount=c["amount"])
            return call, restore
        if c["kind"] == "ln_structured":
            def call():
                for layer in layers:
                    tprune.ln_structured(layer, "weight", amount=c["amount"], n=2, dim=0)
            return call, restore

        def nm():
            masks = []
            for layer in layers:
                w = layer.weight.detach()
                groups = w.abs().reshape(-1, 4)
                keep = groups.topk(2, dim=1).indices
                masks.append(torch.zeros_like(groups).scatter_(1, keep, 1.0).reshape(w.shape))
            return masks
        return nm, None

    results = {}
    cases = request["cases"]
    for i, c in enumerate(cases, 1):
        try:
            fn = prepare(c)
            reset = None
            if isinstance(fn, tuple):
                fn, reset = fn
            result, load = other_load(
                lambda: measure(
                    fn,
                    float(c.get("maxTime", max_time)),
                    int(c.get("minSamples", min_samples)),
                    warmup=c.get("warmup", True),
                    reset=reset,
                )
            )
            results[c["id"]] = {**result, "otherLoad": load}
            del fn
            log(f"[{i}/{len(cases)}] {c['id']}  {results[c['id']]['median'] * 1e3:.3f} ms")
        except Exception as e:  # report per case and carry on: one unsupported op skips one cell
            results[c["id"]] = {"error": f"{type(e).__name__}: {e}"}
            log(f"[{i}/{len(cases)}] {c['id']}  error: {results[c['id']]['error']}")

    meta = {
        "cpuSeconds": cpu_seconds(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchThreads": torch.get_num_threads(),
        "numpy": np.__version__,
        "scipy": scipy.__version__ if scipy else None,
    }
    json.dump({"meta": meta, "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
