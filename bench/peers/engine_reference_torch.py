"""Peer for bench/engine.bench.ts: one training step of the BENCHMARK-SPEC.md reference model in PyTorch.

The model, data and optimizer follow the spec (embedding 5000x64, BiLSTM 64, two audio and three image conv
blocks, 2 pre-LN Transformer layers d128/4 heads/ff256, head 77; AdamW lr 1e-3, weight decay 0.01; batch 32).
Timed: clear gradients, forward, loss, backward, optimizer step, loss read back. Prints JSON with the median
step time over `steps` steps after 3 warm-up steps, for each requested thread count.

Usage: /usr/bin/python3 bench/peers/engine_reference_torch.py [steps] [threads,...]
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn


def positions(length: int, width: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table


def block(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class Reference(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        d = 128
        self.embed = nn.Embedding(5000, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True, bidirectional=True)
        self.audio = nn.Sequential(block(1, 16), block(16, 32))
        self.audio_proj = nn.Linear(512, d)
        self.image = nn.Sequential(block(3, 16), block(16, 32), block(32, 64))
        self.image_proj = nn.Linear(64, d)
        self.modality = nn.Parameter(torch.randn(3, d) * 0.02)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.register_buffer("pe", positions(64, d), persistent=False)
        layer = nn.TransformerEncoderLayer(d, 4, 256, dropout=0.1, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.head = nn.Linear(d, 77)

    def forward(self, tokens, logmel, image):
        n = tokens.shape[0]
        text, _ = self.lstm(self.embed(tokens))  # [B, 32, 128]
        a = self.audio(logmel)  # [B, 32, 25, 16]
        a = self.audio_proj(a.permute(0, 2, 1, 3).reshape(n, a.shape[2], -1))  # [B, 25, 128]
        v = self.image_proj(self.image(image).flatten(2).transpose(1, 2))  # [B, 64, 128]
        text = text + self.modality[0] + self.pe[: text.shape[1]]
        a = a + self.modality[1] + self.pe[: a.shape[1]]
        v = v + self.modality[2] + self.pe[: v.shape[1]]
        x = torch.cat([self.cls.expand(n, -1, -1), text, a, v], dim=1)  # [B, 122, 128]
        pad = torch.cat([torch.zeros(n, 1, dtype=torch.bool), tokens == 0,
                         torch.zeros(n, a.shape[1] + v.shape[1], dtype=torch.bool)], dim=1)
        return self.head(self.encoder(x, src_key_padding_mask=pad)[:, 0])


def batches(count: int, gen: torch.Generator):
    out = []
    for _ in range(count):
        lengths = torch.randint(8, 33, (32,), generator=gen)
        ids = torch.randint(1, 5000, (32, 32), generator=gen)
        ids = torch.where(torch.arange(32)[None, :] < lengths[:, None], ids, torch.zeros_like(ids))
        out.append((ids, torch.randn(32, 1, 100, 64, generator=gen), torch.randn(32, 3, 64, 64, generator=gen),
                    torch.randint(0, 77, (32,), generator=gen)))
    return out


def measure(threads: int, steps: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Reference().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    data = batches(4, torch.Generator().manual_seed(1))
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


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    threads = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "1").split(",")]
    print(json.dumps({"torch": torch.__version__, "runs": [measure(t, steps) for t in threads]}))


if __name__ == "__main__":
    main()
