#!/usr/bin/env python3
"""PyTorch peer of the `train` benchmark: LeNet-300-100 on Fashion-MNIST trained with SGD and pruned
with torch.nn.utils.prune (masks multiplied in, dense compute), the recipe shears runs natively.

Reads one JSON request on stdin:

    {"threads": 2, "dir": "/usr/share/datasets/fashion-mnist", "epochs": 10, "batch": 128,
     "lr": 0.05, "momentum": 0.9, "sparsities": [0, 0.9, 0.95, 0.98], "pruneEpochs": 6,
     "frequency": 100, "seed": 0, "inferenceBatch": 256, "sgd": [1e7, 1e8]}

For each sparsity: gradual pruning (Zhu & Gupta, every `frequency` steps from step 0 to the end of
epoch `pruneEpochs`), global magnitude (prune.global_unstructured with L1Unstructured, the count
still to prune each time); per epoch the wall time; at the end the test accuracy, and the
inference throughput of the trained (masked, dense-computed) model at `inferenceBatch`. Then
the optimizer step over n parameters followed by the mask multiply (what a PyTorch training loop
with pruning does every step), per size in "sgd". Prints JSON on stdout; progress on stderr.
"""
import gzip
import json
import os
import sys
import time


def log(message):
    print(f"torch-train: {message}", file=sys.stderr, flush=True)


def read_idx(path, np):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def find(directory, name):
    for candidate in (os.path.join(directory, name), os.path.join(directory, name + ".gz")):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{name} not in {directory}")


def main():
    request = json.load(sys.stdin)
    threads = int(request.get("threads") or os.cpu_count() or 1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy as np
    import torch
    import torch.nn.utils.prune as prune

    torch.set_num_threads(threads)
    d = request["dir"]
    xtr = torch.from_numpy(read_idx(find(d, "train-images-idx3-ubyte"), np).reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(read_idx(find(d, "train-labels-idx1-ubyte"), np).astype(np.int64))
    xte = torch.from_numpy(read_idx(find(d, "t10k-images-idx3-ubyte"), np).reshape(-1, 784).astype(np.float32) / 255)
    yte = torch.from_numpy(read_idx(find(d, "t10k-labels-idx1-ubyte"), np).astype(np.int64))
    epochs, batch, freq = request["epochs"], request["batch"], request.get("frequency", 100)
    steps_per_epoch = (len(xtr) + batch - 1) // batch
    prune_steps = request["pruneEpochs"] * steps_per_epoch
    results = {"runs": {}, "sgd": {}}

    for sparsity in request["sparsities"]:
        torch.manual_seed(request.get("seed", 0))
        model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
        linears = [model[0], model[2], model[4]]
        total = sum(m.weight.numel() for m in linears)
        opt = torch.optim.SGD(model.parameters(), lr=request["lr"], momentum=request["momentum"])
        loss_fn = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(request.get("seed", 0))
        epoch_seconds, step = [], 0

        def prune_to(target):
            pruned = sum(int((m.weight_mask == 0).sum()) if hasattr(m, "weight_mask") else 0 for m in linears)
            count = round(target * total) - pruned
            if count > 0:
                prune.global_unstructured([(m, "weight") for m in linears], pruning_method=prune.L1Unstructured, amount=count)

        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(xtr), generator=generator)
            start = time.perf_counter()
            for first in range(0, len(xtr), batch):
                if sparsity > 0 and step <= prune_steps and step % freq == 0:
                    prune_to(sparsity + (0 - sparsity) * (1 - step / prune_steps) ** 3)
                idx = order[first: first + batch]
                opt.zero_grad()
                loss = loss_fn(model(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
                step += 1
            epoch_seconds.append(time.perf_counter() - start)
            log(f"s={sparsity} epoch {epoch + 1}/{epochs} {epoch_seconds[-1]:.2f} s loss {float(loss):.4f}")
        if sparsity > 0:
            prune_to(sparsity)
        model.eval()
        with torch.no_grad():
            accuracy = float((model(xte).argmax(1) == yte).float().mean())
            b = request.get("inferenceBatch", 256)
            xb = xte[:b]
            for _ in range(3):
                model(xb)
            runs, start = 0, time.perf_counter()
            while time.perf_counter() - start < 1.0:
                model(xb)
                runs += 1
            throughput = runs * b / (time.perf_counter() - start)
        kept = sum(int(m.weight.ne(0).sum()) for m in linears)
        results["runs"][str(sparsity)] = {"epochSeconds": epoch_seconds, "accuracy": accuracy, "inferencePerSecond": throughput, "sparsity": 1 - kept / total}
        log(f"s={sparsity}: accuracy {accuracy:.4f}, inference {throughput:.0f} samples/s")

    for n in request.get("sgd", []):
        n = int(n)
        w = torch.nn.Parameter(torch.rand(n))
        w.grad = torch.rand(n)
        mask = (torch.rand(n) > 0.9).float()
        opt = torch.optim.SGD([w], lr=0.01, momentum=0.9)
        times = []
        for _ in range(7):
            start = time.perf_counter()
            opt.step()
            with torch.no_grad():
                w.mul_(mask)
            times.append(time.perf_counter() - start)
        times.sort()
        results["sgd"][str(n)] = {"median": times[len(times) // 2], "min": times[0], "max": times[-1]}
        del w, mask, opt
        log(f"sgd n={n}: {results['sgd'][str(n)]['median'] * 1e3:.1f} ms")
    results["meta"] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
