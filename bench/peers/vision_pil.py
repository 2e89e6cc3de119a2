"""Peer for bench/vision.bench.ts: image preprocessing with Pillow, per BENCHMARK-SPEC.md "Image preprocessing".

Reads the JPEG files that the benchmark wrote (same bytes), holds them in memory, and times per image: decode
from the bytes, convert to RGB, resize to 64x64 with Image.BILINEAR (antialiased when downscaling), float32 / 255,
normalize with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). One thread. Prints JSON: images/s of
each run and the median, by wall clock and per CPU-second of the process. With a third argument, also writes the outputs of the last run as raw float32
[n, 64, 64, 3] to that file, so the benchmark can compare values.

Usage: /usr/bin/python3 bench/peers/vision_pil.py <folder of .jpg> [runs] [output.f32]
"""
import io
import json
import os
import statistics
import sys
import time

import numpy as np
import PIL
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(data):
    img = Image.open(io.BytesIO(data)).convert("RGB").resize((64, 64), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32) / 255.0
    return (x - MEAN) / STD


def main():
    folder = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    out_file = sys.argv[3] if len(sys.argv) > 3 else None
    names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))
    blobs = []
    for n in names:
        with open(os.path.join(folder, n), "rb") as f:
            blobs.append(f.read())
    preprocess(blobs[0])  # warm-up: imports and codec initialization
    rates = []
    cpu_rates = []
    outputs = None
    for _ in range(runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        outputs = [preprocess(b) for b in blobs]
        rates.append(len(blobs) / (time.perf_counter() - t0))
        cpu_rates.append(len(blobs) / (time.process_time() - c0))
    # Profile: decode + RGB only, CPU time per image.
    c0 = time.process_time()
    for b in blobs:
        Image.open(io.BytesIO(b)).convert("RGB").load()
    decode_cpu_us = (time.process_time() - c0) / len(blobs) * 1e6
    if out_file is not None:
        np.stack(outputs).astype(np.float32).tofile(out_file)
    print(json.dumps({"pillow": PIL.__version__, "numpy": np.__version__, "images": len(blobs), "runs": rates,
                      "median": statistics.median(rates), "cpuRuns": cpu_rates, "cpuMedian": statistics.median(cpu_rates),
                      "decodeOnlyCpuMicros": decode_cpu_us}))


if __name__ == "__main__":
    main()
