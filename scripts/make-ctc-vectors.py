#!/usr/bin/python3
"""Reference vectors for the CTC loss op of @mmfuse/core (tests/fixtures/vectors/ctc_loss.json).

    /usr/bin/python3 scripts/make-ctc-vectors.py

Each case holds log-probabilities [batch, time, classes] (batch-major, as @mmfuse/core takes them; the
reference call transposes to torch's [time, batch, classes]), ragged targets, input and target lengths,
and for every reduction the loss and its gradient with respect to the log-probabilities, as
torch.nn.functional.ctc_loss computes them (the posterior-minus-softmax form).
Inputs are rounded to 7 significant digits before the reference call, so float32 parsing gives the exact
inputs; outputs are computed in float64 from those float32 values and rounded to 7 digits.
"""
import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'vectors', 'ctc_loss.json')


def r7(x):
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return 'inf' if x > 0 else ('-inf' if math.isinf(x) else 'nan')
    return float(f'{x:.7g}')


def tensor(t):
    flat = t.reshape(-1).tolist()
    return {'dtype': 'float32' if t.dtype.is_floating_point else 'int32', 'shape': list(t.shape), 'data': [r7(v) if isinstance(v, float) else v for v in flat]}


def make_case(case_id, note, batch, time, classes, targets, input_lengths, blank, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, time, classes, generator=g) * 2.0
    log_probs = torch.log_softmax(logits, dim=-1)
    # Round to 7 significant digits and go through float32, so the stored inputs are exactly the inputs.
    log_probs = torch.tensor([r7(v) for v in log_probs.reshape(-1).tolist()], dtype=torch.float32).reshape(batch, time, classes)
    target_lengths = [len(t) for t in targets]
    flat_targets = torch.tensor([v for t in targets for v in t], dtype=torch.long)
    out = {'id': case_id, 'note': note, 'blank': blank, 'log_probs': tensor(log_probs), 'targets': targets,
           'input_lengths': input_lengths, 'target_lengths': target_lengths, 'results': []}
    for reduction in ('none', 'sum', 'mean'):
        for zero_infinity in (False, True):
            lp = log_probs.double().transpose(0, 1).clone().requires_grad_(True)  # [T, B, C]
            loss = torch.nn.functional.ctc_loss(lp, flat_targets, torch.tensor(input_lengths), torch.tensor(target_lengths),
                                                blank=blank, reduction=reduction, zero_infinity=zero_infinity)
            total = loss.sum()
            finite = bool(torch.isfinite(total))
            grad = None
            if finite:
                total.backward()
                grad = tensor(lp.grad.transpose(0, 1).float().double())  # back to [B, T, C]
            values = loss.reshape(-1).tolist()
            out['results'].append({'reduction': reduction, 'zero_infinity': zero_infinity,
                                   'loss': [r7(v) for v in values], 'grad': grad})
    return out


def main():
    cases = [
        make_case('basic', 'one sample, distinct labels', 1, 12, 5, [[1, 2, 3]], [12], 0, 1),
        make_case('repeats', 'repeated labels need a blank between them', 2, 10, 4, [[1, 1, 2], [3, 3, 3]], [10, 9], 0, 2),
        make_case('empty', 'an empty target next to a non-empty one', 2, 7, 4, [[], [2, 1]], [7, 5], 0, 3),
        make_case('too_long', 'targets longer than the input allows (infinite loss); a feasible sample beside it', 3, 6, 5,
                  [[1, 1, 1, 1], [1, 2, 3, 4, 1, 2, 3], [4, 2]], [6, 6, 6], 0, 4),
        make_case('ragged', 'batch of different input and target lengths', 4, 20, 8,
                  [[1, 2, 3, 4, 5], [7], [2, 2, 6, 6, 1, 3], [5, 4, 3, 2]], [20, 8, 15, 11], 0, 5),
        make_case('blank_last', 'blank index is the last class', 2, 9, 6, [[0, 1, 0], [2, 3, 4, 4]], [9, 9], 5, 6),
        make_case('exact_fit', 'input length exactly equal to the minimum the target needs', 1, 5, 3, [[1, 1, 2]], [4], 0, 7),
    ]
    doc = {
        'kind': 'ctc_loss',
        'call': 'torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), cat(targets), input_lengths, target_lengths, blank, reduction, zero_infinity)',
        'layout': 'log_probs [batch, time, classes] (row-major); grad likewise; loss: [batch] for none, [1] for sum and mean; grad null where the summed loss is infinite',
        'computed_in': 'float64 from the float32 inputs',
        'reference_versions': {'torch': torch.__version__},
        'cases': cases,
    }
    with open(OUT, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
