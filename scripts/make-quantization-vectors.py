"""Reference vectors for mmfuse's low-precision weight storage (packages/fusion/src/io/weight-codec.ts).

int8: symmetric per-channel quantization with scale = max|w| / 127 per channel along `axis` (computed here in
float32, as mmfuse stores scales), quantized by PyTorch's torch.quantize_per_channel (qint8, zero points 0),
codes from int_repr(), dequantized values from dequantize(). float16: Tensor.half() bits and values.

Run with Debian's PyTorch: /usr/bin/python3 scripts/make-quantization-vectors.py
Writes tests/fixtures/compress/quantization.json.
"""
import json
import os

import torch

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'compress', 'quantization.json')


def int8_case(name, w, axis):
    w = w.float().contiguous()
    dims = [d for d in range(w.dim()) if d != axis]
    maxabs = w.abs().amax(dim=dims) if dims else w.abs()
    scales = (maxabs / 127.0).float()  # float32, as stored
    # quantize_per_channel needs positive scales: a zero channel gets scale 1 and stays all zeros.
    safe = torch.where(scales > 0, scales, torch.ones_like(scales)).double()
    q = torch.quantize_per_channel(w, safe, torch.zeros(w.shape[axis], dtype=torch.long), axis, torch.qint8)
    codes = q.int_repr().flatten().tolist()
    deq = (q.int_repr().float() * scales.reshape([-1 if d == axis else 1 for d in range(w.dim())])).flatten().tolist()
    return {
        'name': name, 'shape': list(w.shape), 'axis': axis,
        'values': w.flatten().tolist(), 'scales': scales.tolist(), 'codes': codes, 'dequantized': deq,
    }


cases = [
    int8_case('dense [in, out], axis 1', torch.randn(6, 5) * torch.tensor([0.01, 0.5, 1.0, 3.0, 20.0]), 1),
    int8_case('recurrent [gates*H, in], axis 0', torch.randn(9, 4), 0),
    int8_case('conv2d [k, k, in, out], axis 3', torch.randn(3, 3, 2, 4), 3),
    int8_case('embedding [vocab, dim], axis 0, with a zero row', torch.cat([torch.randn(3, 4), torch.zeros(1, 4)]), 0),
    # Ties: values that are exactly k + 0.5 scales away (127 * [0.5, 1.5, 2.5, -0.5, -2.5] / 127 with max 127).
    int8_case('exact halves (round half to even)', torch.tensor([[0.5], [1.5], [2.5], [-0.5], [-2.5], [127.0]]), 1),
]

f16_values = torch.cat([
    torch.randn(64) * 3,
    torch.tensor([0.0, -0.0, 1.0, -2.0, 65504.0, -65504.0, 6.1035156e-05, 5.9604645e-08, 2.9802322e-08, 8.940697e-08,
                  1e-9, 0.1, 1.0009765625, 1.00048828125, 1.00146484375, 2049.0, 2051.0, 3.0e-06]),
]).float()
half = f16_values.half()
fp16 = {'values': f16_values.tolist(), 'bits': [int(b) & 0xffff for b in half.view(torch.int16).tolist()], 'decoded': half.float().tolist()}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/make-quantization-vectors.py', 'torch': torch.__version__, 'int8': cases, 'float16': fp16}, f)
    f.write('\n')
print('wrote', OUT)
