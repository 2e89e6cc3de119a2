#!/usr/bin/python3
"""Reference data for tests/vision (run with Debian's /usr/bin/python3: torch 1.13, Pillow).

Writes, under tests/fixtures/vision/:
- conv_block_train.json: Conv2d + BatchNorm2d (training mode: batch statistics, running-statistics update)
  + ReLU + MaxPool2d, in NHWC layout, with outputs, updated running statistics and gradients;
- tiny-vit/: a tiny random ViT (2 layers, width 32, patch 8, 32x32 input) exported to ONNX, with config.json and
  preprocessor_config.json for @xenova/transformers, a 32x32 PNG and torch's output for it (reference.json).

Deterministic: fixed seeds. Usage: /usr/bin/python3 scripts/make-vision-fixtures.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "vision")


def tensor(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"dtype": "float32", "shape": list(t.shape), "data": [float("%.7g" % v) for v in t.flatten().tolist()]}


def rounded(t):
    """Round to 7 significant digits before use, so the stored values are exactly the ones the reference used."""
    return torch.tensor(np.array([float("%.7g" % v) for v in t.flatten().tolist()], dtype=np.float32)).reshape(t.shape)


def conv_block_train():
    torch.manual_seed(20241130)
    block = nn.Sequential()
    block.add_module("conv", nn.Conv2d(3, 4, 3, padding=1, bias=False))
    block.add_module("bn", nn.BatchNorm2d(4, eps=1e-5, momentum=0.1))
    block.add_module("relu", nn.ReLU())
    block.add_module("pool", nn.MaxPool2d(2))
    with torch.no_grad():
        block.conv.weight.copy_(rounded(block.conv.weight))
        block.bn.weight.copy_(rounded(torch.rand(4) + 0.5))
        block.bn.bias.copy_(rounded(torch.randn(4) * 0.1))
        block.bn.running_mean.copy_(rounded(torch.randn(4) * 0.1))
        block.bn.running_var.copy_(rounded(torch.rand(4) + 0.5))
    running_mean0 = block.bn.running_mean.clone()
    running_var0 = block.bn.running_var.clone()
    x = rounded(torch.randn(2, 3, 7, 6)).requires_grad_(True)  # odd height: MaxPool2d drops the last row
    R = rounded(torch.randn(2, 4, 3, 3))
    block.train()
    out = block(x)
    loss = (out * R).sum()
    loss.backward()
    nhwc = lambda t: t.permute(0, 2, 3, 1)
    data = {
        "kind": "layer",
        "layer": "conv_bn_relu_maxpool (training mode)",
        "module": "Conv2d(3, 4, 3, padding=1, bias=False) + BatchNorm2d(4, eps=1e-5, momentum=0.1) + ReLU + MaxPool2d(2); block.train()",
        "layout": "NHWC activations, conv weight [kh, kw, in, out]",
        "config": {"batch": 2, "in_channels": 3, "out_channels": 4, "height": 7, "width": 6, "momentum": 0.1, "eps": 1e-5},
        "input": tensor(nhwc(x)),
        "kernel": tensor(block.conv.weight.permute(2, 3, 1, 0)),
        "gamma": tensor(block.bn.weight),
        "beta": tensor(block.bn.bias),
        "running_mean_before": tensor(running_mean0),
        "running_var_before": tensor(running_var0),
        "running_mean_after": tensor(block.bn.running_mean),
        "running_var_after": tensor(block.bn.running_var),
        "output": tensor(nhwc(out)),
        "R": tensor(nhwc(R)),
        "loss": float(loss),
        "grad_input": tensor(nhwc(x.grad)),
        "grad_kernel": tensor(block.conv.weight.grad.permute(2, 3, 1, 0)),
        "grad_gamma": tensor(block.bn.weight.grad),
        "grad_beta": tensor(block.bn.bias.grad),
        "reference_versions": {"torch": torch.__version__},
    }
    with open(os.path.join(ROOT, "conv_block_train.json"), "w") as f:
        json.dump(data, f)


class TinyViT(nn.Module):
    """A ViT written out by hand: patch embedding, [CLS], learned positions, pre-LN encoder, final LayerNorm."""

    def __init__(self, image=32, patch=8, dim=32, depth=2, heads=4, mlp=64):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        n = (image // patch) ** 2
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.pool = nn.Linear(dim, dim)

    def forward(self, pixel_values):  # [B, 3, 32, 32]
        x = self.patch(pixel_values).flatten(2).transpose(1, 2)  # [B, 16, dim]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos  # [B, 17, dim]
        x = self.norm(self.encoder(x))
        pooled = torch.tanh(self.pool(x[:, 0]))  # [B, dim]
        return x, pooled


def tiny_vit():
    out_dir = os.path.join(ROOT, "tiny-vit")
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    torch.manual_seed(7)
    model = TinyViT().eval()
    # Larger random weights than the init so that the reference output is far from trivial.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    dummy = torch.randn(2, 3, 32, 32)
    torch.onnx.export(
        model, (dummy,), os.path.join(out_dir, "onnx", "model.onnx"), opset_version=14,
        input_names=["pixel_values"], output_names=["last_hidden_state", "pooler_output"],
        dynamic_axes={"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}},
    )
    mean, std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
    config = {
        "model_type": "vit", "architectures": ["ViTModel"], "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "image_size": 32, "patch_size": 8, "num_channels": 3,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12,
    }
    pre = {
        "feature_extractor_type": "ViTFeatureExtractor", "image_processor_type": "ViTImageProcessor",
        "do_resize": True, "size": {"height": 32, "width": 32}, "resample": 2, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": mean, "image_std": std,
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)
    # A 32x32 image at the model's size, so no resize takes part in the comparison.
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(os.path.join(out_dir, "sample.png"))
    x = torch.tensor(pixels, dtype=torch.float32).permute(2, 0, 1).unsqueeze(0) / 255.0
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        hidden, pooled = model(x)
    ref = {
        "image": "sample.png",
        "preprocessing": "pixel / 255, then (x - 0.5) / 0.5 per channel, NCHW [1, 3, 32, 32]",
        "last_hidden_state": tensor(hidden),
        "pooler_output": tensor(pooled),
        "reference_versions": {"torch": torch.__version__},
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    conv_block_train()
    tiny_vit()
    print("wrote", os.path.normpath(ROOT), file=sys.stderr)
