"""PyTorch on the GPU, the peer of the `cuda` suite (bench/suites/cuda.js): cuSPARSE CSR SpMM
(torch.sparse.mm on a CUDA CSR tensor), cuBLAS SGEMM (torch.mm, TF32 off unless asked) and
torch.topk / torch.kthvalue, on inputs of the same shapes and distributions as shears' cases
(generated here on the device). Kernel times with CUDA events: 2 warm-up calls, then samples until
at least `min_samples` and 50 ms (at most 200). Reads a JSON request on stdin, prints JSON:

  {"spmm": [{"id", "size", "s", "n"}], "gemm": [{"id", "m", "k", "n", "tf32"}],
   "select": [{"id", "n", "op": "topk" | "kthvalue"}], "min_samples": 5}
  -> {"meta": {"torch", "device"}, "results": {id: {"median_ms", "min_ms", "samples"}}}

Exits with status 2 and a reason on stderr when torch has no usable CUDA device.
"""
import json
import sys

import torch


def timed(fn, min_samples):
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    times = []
    while (len(times) < min_samples or sum(times) < 50.0) and len(times) < 200:
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return {"median_ms": times[len(times) // 2], "min_ms": times[0], "samples": len(times)}


def main():
    if not torch.cuda.is_available():
        print("torch_cuda_peer: torch has no usable CUDA device", file=sys.stderr)
        sys.exit(2)
    req = json.load(sys.stdin)
    dev = torch.device("cuda")
    min_samples = int(req.get("min_samples", 5))
    torch.manual_seed(0)
    results = {}
    for c in req.get("gemm", []):
        torch.backends.cuda.matmul.allow_tf32 = bool(c.get("tf32", False))
        a = torch.rand(c["m"], c["k"], device=dev) - 0.5
        b = torch.rand(c["k"], c["n"], device=dev) - 0.5
        results[c["id"]] = timed(lambda: torch.mm(a, b), min_samples)
        print(f"peer: gemm {c['m']}x{c['k']}x{c['n']} tf32={c.get('tf32', False)} {results[c['id']]['median_ms']:.3f} ms", file=sys.stderr)
        del a, b
    torch.backends.cuda.matmul.allow_tf32 = False
    for c in req.get("spmm", []):
        size, s, n = c["size"], c["s"], c["n"]
        dense = (torch.rand(size, size, device=dev) >= s) * (torch.rand(size, size, device=dev) - 0.5)
        a = dense.to_sparse_csr()
        del dense
        b = torch.rand(size, n, device=dev) - 0.5
        results[c["id"]] = timed(lambda: torch.sparse.mm(a, b), min_samples)
        print(f"peer: cuSPARSE spmm {size}^2 s={s} n={n} {results[c['id']]['median_ms']:.3f} ms", file=sys.stderr)
        del a, b
    for c in req.get("select", []):
        n = int(c["n"])
        x = torch.rand(n, device=dev)
        k = n // 10
        if c["op"] == "topk":
            fn = lambda: torch.topk(x, k, largest=False, sorted=False)
        else:
            fn = lambda: torch.kthvalue(x, k)
        results[c["id"]] = timed(fn, 3 if n >= 10**9 else min_samples)
        print(f"peer: torch.{c['op']} 10% of {n:.0e} {results[c['id']]['median_ms']:.3f} ms", file=sys.stderr)
        del x
        torch.cuda.empty_cache()
    json.dump({"meta": {"torch": torch.__version__, "device": torch.cuda.get_device_name(0)}, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
