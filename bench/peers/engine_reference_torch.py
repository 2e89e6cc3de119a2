"""Peer for bench/engine.bench.ts: one training step of the BENCHMARK-SPEC.md reference model in PyTorch.

The model and batches are the fusion peer's (fusion_reference.py: embedding 5000x64, BiLSTM 64, two audio and
three image conv blocks, 2 pre-LN Transformer layers d128/4 heads/ff256, head 77; batch 32); the optimizer
follows the spec (AdamW lr 1e-3, weight decay 0.01).
Timed: clear gradients, forward, loss, backward, optimizer step, loss read back. Prints JSON with the median
step time over `steps` steps after 3 warm-up steps, for each requested thread count.

Usage: /usr/bin/python3 bench/peers/engine_reference_torch.py [steps] [threads,...]
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn

# The spec's model and batch shapes, defined once for both peers (this script's folder is on sys.path).
from fusion_reference import FusionModel, make_batches


def measure(threads: int, steps: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = FusionModel().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    data = make_batches(seed=1, count=4)
    times = []
    for i in range(3 + steps):
        tokens, logmel, image, labels = data[i % len(data)]
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(tokens, logmel, image), labels)
        loss.backward()
        opt.step()
        loss.item()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    return {"threads": threads, "stepMs": statistics.median(times), "stepsMs": times,
            "parameters": sum(p.numel() for p in model.parameters())}


def blas_library() -> str:
    """The BLAS this process loaded (Debian's torch links libblas.so.3, which the alternatives system points at
    OpenBLAS when libopenblas0 is installed, else at the slow reference BLAS)."""
    try:
        with open("/proc/self/maps", encoding="utf8") as maps:
            fields = [line.split() for line in maps]
        paths = {f[5] for f in fields if len(f) >= 6 and "blas" in f[5]}
    except OSError:
        return "unknown"
    if any("openblas" in p for p in paths):
        return "OpenBLAS"
    if any("mkl" in p for p in paths):
        return "MKL"
    if any("/blas/libblas" in p for p in paths):
        return "reference BLAS"
    return "unknown"


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    threads = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "1").split(",")]
    runs = [measure(t, steps) for t in threads]
    print(json.dumps({"torch": torch.__version__, "blas": blas_library(), "runs": runs}))


if __name__ == "__main__":
    main()
