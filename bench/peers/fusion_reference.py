"""Peer for bench/fusion.bench.ts: the reference fusion model of BENCHMARK-SPEC.md in PyTorch on CPU.

The model is the spec's definition (nn.Embedding, nn.LSTM, Conv2d/ReLU/MaxPool2d blocks, nn.TransformerEncoder
with norm_first, GELU, final LayerNorm, Linear head). Protocol as the spec says:
- training: 3 untimed warm-up steps, then 5 timed epochs over the same 20 batches (zero_grad, forward, loss,
  backward, AdamW step, loss.item()); samples/s per epoch = 640 / seconds.
- inference: eval mode, torch.no_grad(), 3 untimed warm-up batches, then 5 timed passes over the 20 batches,
  logits read back (.numpy()); samples/s per pass = 640 / seconds.
The thread count comes from the command line and is applied to torch and, through the environment that the
caller sets before Python starts (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS), to OpenMP and OpenBLAS.
Prints one JSON object. The model and batches are also imported by engine_reference_torch.py.

Usage: OMP_NUM_THREADS=N OPENBLAS_NUM_THREADS=N /usr/bin/python3 bench/peers/fusion_reference.py N
"""
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn

B, T_TEXT, VOCAB, CLASSES, BATCHES, EPOCHS = 32, 32, 5000, 77, 20, 5


def sinusoidal_table(max_len, d_model):
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class FusionModel(nn.Module):
    def __init__(self):
        super().__init__()
        d = 128
        self.embed = nn.Embedding(VOCAB, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True, bidirectional=True)
        self.audio_cnn = nn.Sequential(conv_block(1, 16), conv_block(16, 32))
        self.audio_proj = nn.Linear(32 * 16, d)
        self.image_cnn = nn.Sequential(conv_block(3, 16), conv_block(16, 32), conv_block(32, 64))
        self.image_proj = nn.Linear(64, d)
        self.modality = nn.Parameter(torch.randn(3, d) * 0.02)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.register_buffer("pe", sinusoidal_table(64, d), persistent=False)
        layer = nn.TransformerEncoderLayer(d, 4, 256, dropout=0.1, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.head = nn.Linear(d, CLASSES)

    def forward(self, tokens, logmel, image):
        b = tokens.shape[0]
        text, _ = self.lstm(self.embed(tokens))
        a = self.audio_cnn(logmel)
        a = a.permute(0, 2, 1, 3).reshape(b, a.shape[2], -1)
        a = self.audio_proj(a)
        v = self.image_cnn(image)
        v = v.flatten(2).transpose(1, 2)
        v = self.image_proj(v)
        text = text + self.modality[0] + self.pe[: text.shape[1]]
        a = a + self.modality[1] + self.pe[: a.shape[1]]
        v = v + self.modality[2] + self.pe[: v.shape[1]]
        x = torch.cat([self.cls.expand(b, -1, -1), text, a, v], dim=1)
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool), tokens == 0,
                         torch.zeros(b, a.shape[1] + v.shape[1], dtype=torch.bool)], dim=1)
        x = self.encoder(x, src_key_padding_mask=pad)
        return self.head(x[:, 0])


def make_batches(seed=1234, count=BATCHES):
    """`count` batches of the spec's shapes (random token ids with padding, log-mel, image, label)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        lengths = torch.randint(8, 33, (B,), generator=g)
        ids = torch.randint(1, VOCAB, (B, T_TEXT), generator=g)
        ids = torch.where(torch.arange(T_TEXT)[None, :] < lengths[:, None], ids, torch.zeros_like(ids))
        logmel = torch.randn(B, 1, 100, 64, generator=g)
        image = torch.randn(B, 3, 64, 64, generator=g)
        labels = torch.randint(0, CLASSES, (B,), generator=g)
        out.append((ids, logmel, image, labels))
    return out


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = FusionModel()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    batches = make_batches()

    def step(batch):
        ids, logmel, image, labels = batch
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(ids, logmel, image), labels)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for i in range(3):
        step(batches[i])
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    train = []
    for _ in range(EPOCHS):
        t0 = time.perf_counter()
        for b in batches:
            step(b)
        train.append(B * BATCHES / (time.perf_counter() - t0))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    train_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)

    model.eval()
    infer = []
    with torch.no_grad():
        for i in range(3):
            model(*batches[i][:3]).numpy()
        for _ in range(EPOCHS):
            t0 = time.perf_counter()
            for b in batches:
                model(*b[:3]).numpy()
            infer.append(B * BATCHES / (time.perf_counter() - t0))
    print(json.dumps({
        "threads": threads, "torch": torch.__version__, "parameters": params,
        "train_samples_per_s": train, "train_median": statistics.median(train),
        "train_cpu_seconds": train_cpu, "train_samples_per_cpu_s": B * BATCHES * EPOCHS / train_cpu,
        "infer_samples_per_s": infer, "infer_median": statistics.median(infer),
    }))


if __name__ == "__main__":
    main()
