#!/usr/bin/python3
"""Reference vectors for the augmentation DSP of @mmfuse/audio (tests/fixtures/vectors/augment_*.json).

    /usr/bin/python3 scripts/make-augment-vectors.py

Input: samples 8000..19025 (half a second) of the committed speech signal
tests/fixtures/vectors/audio_speech_input.json (espeak-ng, 22050 Hz, int16 / 32768), scaled by 0.5 so no filter output reaches full scale (torchaudio's biquads clamp to
[-1, 1]; mmfuse never clamps), plus a seeded white-noise signal of the same length.
- augment_mu_law.json: torchaudio.functional.mu_law_encoding / mu_law_decoding (256 and 16 channels).
- augment_biquad.json: torchaudio.functional.lowpass_biquad / highpass_biquad, and the telephone band
  highpass_biquad(300) -> lowpass_biquad(3400) -> resample(sr -> 8000) -> resample(8000 -> 16000) of the
  signal first resampled to 16000.
- augment_speed.json: speed perturbation by resampling (what torchaudio 2.x functional.speed does):
  resample(x, int(sr * factor) / g, sr / g) with g = gcd, for factors 0.9 and 1.1, at 16000 Hz.
- augment_gain.json: torchaudio.functional.gain.
- augment_add_noise.json: signal + noise scaled to an SNR (torchaudio 2.x functional.add_noise's formula:
  scale = 10^((E_signal_dB - E_noise_dB - snr) / 20), E = 10 log10(sum x^2)), written out here in torch.
- augment_convolve.json: full linear convolution, torch.nn.functional.conv1d with the flipped kernel.
- augment_g711.json: G.711 A-law and mu-law round trips of 16-bit PCM, Python's audioop.lin2alaw /
  alaw2lin / lin2ulaw / ulaw2lin (the ITU tables).
Outputs are float32 computed by torch (float64 where noted), rounded to 7 significant digits.
"""
import json
import math
import os
import warnings

import torch
import torchaudio
import torchaudio.functional as F

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import audioop

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.join(HERE, '..', 'tests', 'fixtures', 'vectors')
START, LENGTH = 8000, 11025
VERSIONS = {'torch': torch.__version__, 'torchaudio': torchaudio.__version__}


def r7(x):
    return float(f'{x:.7g}')


def tensor(t):
    flat = t.reshape(-1).tolist()
    is_float = t.dtype.is_floating_point
    return {'dtype': 'float32' if is_float else 'int32', 'shape': list(t.shape), 'data': [r7(v) for v in flat] if is_float else flat}


def write(name, doc):
    doc['reference_versions'] = VERSIONS
    doc['input_file'] = 'audio_speech_input.json'
    doc.setdefault('input_scale', 0.5)
    doc['input_slice'] = [START, START + LENGTH]
    with open(os.path.join(VEC, name), 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
    print('wrote', name)


def main():
    src = json.load(open(os.path.join(VEC, 'audio_speech_input.json')))
    sr = src['sample_rate']
    ints = src['samples']['data'][START:START + LENGTH]  # half a second of speech
    x = torch.tensor(ints, dtype=torch.float32) / 32768.0 * 0.5  # [n]

    cases = []
    for q in (256, 16):
        enc = F.mu_law_encoding(x, q)
        dec = F.mu_law_decoding(enc, q)
        cases.append({'quantization_channels': q, 'encoded': tensor(enc.to(torch.int32)), 'decoded': tensor(dec)})
    write('augment_mu_law.json', {'kind': 'mu_law', 'call': 'mu_law_encoding(x, q); mu_law_decoding(encoded, q)', 'cases': cases})

    cases = []
    for kind, fn, cutoff, q in (('lowpass', F.lowpass_biquad, 3400.0, 0.707), ('highpass', F.highpass_biquad, 300.0, 0.707), ('lowpass', F.lowpass_biquad, 1000.0, 2.0)):
        y = fn(x.double(), sr, cutoff, q).float()
        cases.append({'type': kind, 'cutoff_hz': cutoff, 'q': q, 'sample_rate': sr, 'output': tensor(y)})
    x16 = F.resample(x.double(), sr, 16000)
    y = F.highpass_biquad(x16, 16000, 300.0, 0.707)
    y = F.lowpass_biquad(y, 16000, 3400.0, 0.707)
    y = F.resample(F.resample(y, 16000, 8000), 8000, 16000).float()
    telephone = {'sample_rate': 16000, 'input_16k': tensor(x16.float()), 'output': tensor(y)}
    write('augment_biquad.json', {'kind': 'biquad', 'call': 'lowpass_biquad/highpass_biquad(x, sr, cutoff, Q) in float64; telephone: see script', 'cases': cases, 'telephone': telephone})

    cases = []
    for factor in (0.9, 1.1):
        src_rate = int(16000 * factor)
        g = math.gcd(src_rate, 16000)
        y = F.resample(x16, src_rate // g, 16000 // g).float()
        cases.append({'factor': factor, 'sample_rate': 16000, 'output': tensor(y)})
    write('augment_speed.json', {'kind': 'speed', 'call': 'resample(x16, int(16000 * factor) / g, 16000 / g), float64; x16 as in augment_biquad.json', 'cases': cases})

    cases = [{'gain_db': g, 'output': tensor(F.gain(x, g))} for g in (-6.0, 3.5)]
    write('augment_gain.json', {'kind': 'gain', 'call': 'gain(x, gain_db)', 'cases': cases})

    gen = torch.Generator().manual_seed(16)
    noise = (torch.rand(x.shape[0], generator=gen) * 2 - 1) * 0.3
    noise = torch.tensor([r7(v) for v in noise.tolist()], dtype=torch.float32)
    cases = []
    for snr in (20.0, 5.0, 0.0):
        xd, nd = x.double(), noise.double()
        e_s = 10 * torch.log10(xd.pow(2).sum())
        e_n = 10 * torch.log10(nd.pow(2).sum())
        scale = 10 ** ((e_s - e_n - snr) / 20)
        cases.append({'snr_db': snr, 'output': tensor((xd + scale * nd).float())})
    write('augment_add_noise.json', {'kind': 'add_noise', 'call': 'x + 10^((E_x - E_n - snr)/20) * noise (float64)', 'noise': tensor(noise), 'cases': cases})

    gen = torch.Generator().manual_seed(17)
    kernel = torch.randn(301, generator=gen) * torch.exp(-torch.arange(301) / 60.0)
    kernel = torch.tensor([r7(v) for v in kernel.tolist()], dtype=torch.float32)
    full = torch.nn.functional.conv1d(x.double().view(1, 1, -1), kernel.double().flip(0).view(1, 1, -1), padding=kernel.numel() - 1).view(-1).float()
    write('augment_convolve.json', {'kind': 'convolve', 'call': 'conv1d(x, flip(kernel), padding=len(kernel)-1): full convolution, float64', 'kernel': tensor(kernel), 'output': tensor(full)})

    pcm = bytes(bytearray(audioop.lin2lin(b''.join(int(v).to_bytes(2, 'little', signed=True) for v in ints), 2, 2)))
    cases = []
    for codec, enc, dec in (('a-law', audioop.lin2alaw, audioop.alaw2lin), ('mu-law', audioop.lin2ulaw, audioop.ulaw2lin)):
        coded = enc(pcm, 2)
        back = dec(coded, 2)
        values = [int.from_bytes(back[2 * i:2 * i + 2], 'little', signed=True) for i in range(len(back) // 2)]
        cases.append({'codec': codec, 'codes': list(coded), 'pcm16_out': values})
    write('augment_g711.json', {'kind': 'g711', 'call': 'audioop.lin2alaw/alaw2lin, lin2ulaw/ulaw2lin on the int16 samples of the input (not scaled by 0.5)', 'input_scale': 1.0, 'cases': cases})


if __name__ == '__main__':
    main()
