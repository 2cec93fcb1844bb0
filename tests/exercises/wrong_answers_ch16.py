"""Wrong (and other right) answers to chapter 16's checks: `warmup_cosine(progress, warmup)` (warm-up,
then half a cosine period down to 0 at the end of the budget) and `padding_ratio(lengths, batches)`
(the share of padded positions over all batches). Keyed by check name; see exercise_support."""
from __future__ import annotations

import math

from exercise_support import right, wrong


def cosine_from_zero(p, w):
    return p / w if p < w else 0.5 * (1 + math.cos(math.pi * p))


def cosine_not_shifted(p, w):
    return p / w if p < w else math.cos(math.pi * (p - w) / (1 - w))


def linear_decay(p, w):
    return p / w if p < w else (1 - p) / (1 - w)


def degrees(p, w):
    return p / w if p < w else 0.5 * (1 + math.cos(180 * (p - w) / (1 - w)))


def no_warmup_ramp(p, w):
    return 1.0 if p < w else 0.5 * (1 + math.cos(math.pi * (p - w) / (1 - w)))


def quarter_period(p, w):
    return p / w if p < w else math.cos(math.pi / 2 * (p - w) / (1 - w))


def cosine_with_max(p, w):
    if w > 0 and p < w:
        return p / w
    return max(0.0, 0.5 * (1 + math.cos(math.pi * (p - w) / (1 - w))))


def overall_real(lengths, batches):
    positions = real = 0
    for b in batches:
        positions += len(b) * max(lengths[i] for i in b)
        real += sum(lengths[i] for i in b)
    return real / positions


def mean_of_batches(lengths, batches):
    return sum(1 - sum(lengths[i] for i in b) / (len(b) * max(lengths[i] for i in b)) for b in batches) / len(batches)


def global_max(lengths, batches):
    rows = sum(len(b) for b in batches)
    return 1 - sum(lengths[i] for b in batches for i in b) / (rows * max(lengths))


def pads_per_real_token(lengths, batches):
    pads = real = 0
    for b in batches:
        width = max(lengths[i] for i in b)
        pads += sum(width - lengths[i] for i in b)
        real += sum(lengths[i] for i in b)
    return pads / real


def first_batch_only(lengths, batches):
    b = batches[0]
    width = max(lengths[i] for i in b)
    return sum(width - lengths[i] for i in b) / (len(b) * width)


def with_math_fsum(lengths, batches):
    pads = math.fsum(max(lengths[i] for i in b) - lengths[j] for b in batches for j in b)
    return pads / math.fsum(len(b) * max(lengths[i] for i in b) for b in batches)


WRONG = {
    "warmup_cosine": [
        wrong(cosine_from_zero, "pi * (progress - warmup)"),
        wrong(cosine_not_shifted, "0.5 * (1 + cos(x))"),
        wrong(linear_decay, "线性衰减"),
        wrong(degrees, "弧度"),
        wrong(no_warmup_ramp, "progress / warmup"),
        wrong(quarter_period, "四分之一个余弦周期"),
    ],
    "padding_ratio": [
        wrong(overall_real, "真实词元所占的比例"),
        wrong(mean_of_batches, "平均"),
        wrong(global_max, "这一批"),
        wrong(pads_per_real_token),
        wrong(first_batch_only),
    ],
}

RIGHT = {
    "warmup_cosine": [right(cosine_with_max)],
    "padding_ratio": [right(with_math_fsum)],
}
