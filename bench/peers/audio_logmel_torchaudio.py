"""Peer for bench/audio.bench.ts: log-mel throughput of torchaudio, per BENCHMARK-SPEC.md.

Per clip: MelSpectrogram(sample_rate=16000, n_fft=400, win_length=400, hop_length=160, center=True,
pad_mode="reflect", n_mels=64, mel_scale="htk", norm=None, f_min=0, f_max=8000, power=2) then
log(x + 1e-6); output [64, 101]. The transform (window, filterbank) is built before timing; clips are
processed one at a time, after one untimed pass over all clips (and one batched call). Prints JSON: for 1 and 2 intra-op threads the median
(and all runs) of seconds of audio per second over the clips, per wall-clock second and per CPU second of
the process (all its threads), plus the same clips in one batched call, and
the log-mel of clip 0 (frame by frame, [101, 64]) so the caller can check both computed the same thing.

Usage: /usr/bin/python3 bench/peers/audio_logmel_torchaudio.py CLIPS.f32 NUM_CLIPS [RUNS]
  CLIPS.f32: NUM_CLIPS x 16000 float32 samples, little-endian, clip after clip.
"""
import json
import statistics
import sys
import time

import numpy as np
import torch
import torchaudio


def main() -> None:
    path, n_clips = sys.argv[1], int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    data = np.fromfile(path, dtype="<f4").reshape(n_clips, 16000)
    clips = [torch.from_numpy(data[i].copy()) for i in range(n_clips)]
    batch = torch.from_numpy(data.copy())
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=400, win_length=400, hop_length=160, f_min=0.0, f_max=8000.0,
        n_mels=64, power=2.0, center=True, pad_mode="reflect", norm=None, mel_scale="htk")
    out = {"torch": torch.__version__, "torchaudio": torchaudio.__version__, "clips": n_clips, "runs": runs}
    with torch.no_grad():
        first = torch.log(mel(clips[0]) + 1e-6)
        out["shape"] = list(first.shape)
        out["clip0"] = first.T.contiguous().reshape(-1).tolist()
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for clip in clips:  # one untimed pass
                torch.log(mel(clip) + 1e-6)
            torch.log(mel(batch) + 1e-6)
            per_clip = []
            per_clip_cpu = []
            batched = []
            for _ in range(runs):
                t0 = time.perf_counter()
                c0 = time.process_time()
                for clip in clips:
                    torch.log(mel(clip) + 1e-6)
                per_clip.append(n_clips / (time.perf_counter() - t0))
                per_clip_cpu.append(n_clips / (time.process_time() - c0))
                t0 = time.perf_counter()
                torch.log(mel(batch) + 1e-6)
                batched.append(n_clips / (time.perf_counter() - t0))
            out[f"threads{threads}"] = {
                "audioSecondsPerSecond": statistics.median(per_clip),
                "runs": per_clip,
                "cpuAudioSecondsPerSecond": statistics.median(per_clip_cpu),
                "cpuRuns": per_clip_cpu,
                "batchedAudioSecondsPerSecond": statistics.median(batched),
                "batchedRuns": batched,
            }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
