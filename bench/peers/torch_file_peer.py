#!/usr/bin/env python3
"""PyTorch peer of `shears bench`: for each job {file, n, kernel} of one JSON request on stdin
({"threads": 2, "jobs": [...]}), loads the matrix file with SciPy (.mtx/.mtx.gz: scipy.io.mmread,
.npz: scipy.sparse.load_npz, .smtx: the row-offsets/column-indices text, values 1) and times the
same product with torch.mm (dense) and with PyTorch's CSR kernels (torch.sparse.mm, or
torch.sparse.sampled_addmm for SDDMM). Prints {"<file>\\u0000<n>": {"mm": ms, "sparse": ms}} on
stdout; progress on stderr. Each figure is the median of at least 5 runs and 50 ms.
"""
import json
import os
import sys
import time


def median_ms(fn):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < 0.05:
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def load(path, np, sp, sio):
    if path.endswith(".npz"):
        return sp.load_npz(path).tocsr()
    if path.endswith(".smtx"):
        with open(path) as f:
            rows, cols, nnz = (int(x) for x in f.readline().replace(",", " ").split())
            indptr = np.array(f.readline().split(), dtype=np.int64)
            indices = np.array(f.readline().split(), dtype=np.int64) if nnz else np.zeros(0, dtype=np.int64)
        return sp.csr_matrix((np.ones(nnz, dtype=np.float32), indices, indptr), shape=(rows, cols))
    return sp.csr_matrix(sio.mmread(path))


def main():
    request = json.load(sys.stdin)
    threads = int(request.get("threads") or os.cpu_count() or 1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import warnings

    import numpy as np
    import scipy.io as sio
    import scipy.sparse as sp
    import torch

    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    out, cache = {}, {}
    for job in request["jobs"]:
        path, n, kernel = job["file"], int(job["n"]), job["kernel"]
        key = f"{path}\u0000{n}"
        try:
            if path not in cache:
                cache.clear()
                a = load(path, np, sp, sio).astype(np.float32)
                a.sort_indices()
                cache[path] = a
            a = cache[path]
            m, k = a.shape
            csr = torch.sparse_csr_tensor(torch.from_numpy(a.indptr.astype(np.int64)), torch.from_numpy(a.indices.astype(np.int64)),
                                          torch.from_numpy(a.data), size=(m, k))
            dense = torch.from_numpy(a.toarray()) if m * k <= 2 ** 28 else None
            result = {}
            if kernel in ("spmm", "spmv"):
                b = torch.rand(k, n)
                if dense is not None:
                    result["mm"] = median_ms(lambda: torch.mm(dense, b))
                result["sparse"] = median_ms(lambda: torch.sparse.mm(csr, b))
            elif kernel == "spmmt":
                b = torch.rand(m, n)
                at = torch.from_numpy(a.T.tocsr().toarray()) if dense is not None else None
                t = a.T.tocsr()
                csr_t = torch.sparse_csr_tensor(torch.from_numpy(t.indptr.astype(np.int64)), torch.from_numpy(t.indices.astype(np.int64)),
                                                torch.from_numpy(t.data), size=(k, m))
                if at is not None:
                    result["mm"] = median_ms(lambda: torch.mm(at, b))
                result["sparse"] = median_ms(lambda: torch.sparse.mm(csr_t, b))
            else:  # sddmm: (X·Yᵀ) on A's pattern
                x, y = torch.rand(m, n), torch.rand(k, n)
                result["mm"] = median_ms(lambda: torch.mm(x, y.t()))
                try:
                    result["sparse"] = median_ms(lambda: torch.sparse.sampled_addmm(csr, x, y.t(), beta=0.0))
                except (RuntimeError, AttributeError) as e:
                    print(f"torch-file-peer: sampled_addmm unavailable ({e})", file=sys.stderr)
            out[key] = result
            print(f"torch-file-peer: {os.path.basename(path)} n={n} {result}", file=sys.stderr, flush=True)
        except Exception as e:  # one unreadable file leaves its torch columns empty
            print(f"torch-file-peer: {path}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
