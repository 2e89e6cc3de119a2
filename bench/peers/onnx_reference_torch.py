"""Peer for bench/onnx.bench.ts: inference of the BENCHMARK-SPEC.md reference model in PyTorch on CPU.

The model and the batches are those of fusion_reference.py (the spec's definition). Protocol as the spec
says for inference: eval mode, torch.no_grad(), 3 untimed warm-up batches, then 5 timed passes over the 20
batches, logits read back (.numpy()); samples/s per pass = 640 / seconds. No training (the weights do not
change the work). Also the CPU seconds of the timed passes.

Usage: OMP_NUM_THREADS=N OPENBLAS_NUM_THREADS=N /usr/bin/python3 bench/peers/onnx_reference_torch.py N
"""
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fusion_reference import B, BATCHES, EPOCHS, FusionModel, make_batches  # noqa: E402


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = FusionModel()
    model.eval()
    batches = make_batches()
    infer = []
    with torch.no_grad():
        for i in range(3):
            model(*batches[i][:3]).numpy()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(EPOCHS):
            t0 = time.perf_counter()
            for b in batches:
                model(*b[:3]).numpy()
            infer.append(B * BATCHES / (time.perf_counter() - t0))
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    print(json.dumps({
        "threads": threads, "torch": torch.__version__,
        "infer_samples_per_s": infer, "infer_median": statistics.median(infer),
        "infer_samples_per_cpu_s": B * BATCHES * EPOCHS / cpu,
    }))


if __name__ == "__main__":
    main()
