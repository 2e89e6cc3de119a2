"""Peer for bench/audio.bench.ts: log-mel throughput of torchaudio, per BENCHMARK-SPEC.md.

100 clips of 1 s of 16 kHz Gaussian noise (std 0.1, seeded); per clip: MelSpectrogram(sample_rate=16000,
n_fft=400, win_length=400, hop_length=160, center=True, pad_mode="reflect", n_mels=64, mel_scale="htk",
norm=None, f_min=0, f_max=8000, power=2) then log(x + 1e-6). The transform (window, filterbank) is built
before timing; clips are processed one at a time. Prints JSON with the median of 5 runs for 1 and 2
threads, plus the batched figure.

Usage: /usr/bin/python3 bench/peers/audio_logmel_torchaudio.py [runs] [clips]
"""
import json
import statistics
import sys
import time

import torch
import torchaudio


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n_clips = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    gen = torch.Generator().manual_seed(1234)
    clips = [torch.randn(16000, generator=gen, dtype=torch.float32) * 0.1 for _ in range(n_clips)]
    batch = torch.stack(clips)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=400, win_length=400, hop_length=160, f_min=0.0, f_max=8000.0,
        n_mels=64, power=2.0, center=True, pad_mode="reflect", norm=None, mel_scale="htk")
    out = {"torch": torch.__version__, "torchaudio": torchaudio.__version__, "clips": n_clips, "runs": runs}
    with torch.no_grad():
        shape = list(torch.log(mel(clips[0]) + 1e-6).shape)
        out["shape"] = shape
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for clip in clips[:10]:
                torch.log(mel(clip) + 1e-6)
            per_clip = []
            batched = []
            for _ in range(runs):
                t0 = time.perf_counter()
                for clip in clips:
                    torch.log(mel(clip) + 1e-6)
                per_clip.append(n_clips / (time.perf_counter() - t0))
                t0 = time.perf_counter()
                torch.log(mel(batch) + 1e-6)
                batched.append(n_clips / (time.perf_counter() - t0))
            out[f"threads{threads}"] = {
                "audioSecondsPerSecond": statistics.median(per_clip),
                "runs": per_clip,
                "batchedAudioSecondsPerSecond": statistics.median(batched),
                "batchedRuns": batched,
            }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
