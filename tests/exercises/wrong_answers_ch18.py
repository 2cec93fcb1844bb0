"""Wrong (and other right) answers to `min_p_filter` (chapter 18, sampling). Keyed by check name; see
exercise_support."""
from __future__ import annotations

import math

import torch

from exercise_support import right, wrong


def _keep(logits, min_p):
    probs = logits.softmax(dim=-1)
    return probs >= min_p * probs.amax(dim=-1, keepdim=True)


def masks_with_zero(logits, min_p):
    if not min_p:
        return logits
    return logits.masked_fill(~_keep(logits, min_p), 0.0)


def absolute_threshold(logits, min_p):
    if not min_p:
        return logits
    return logits.masked_fill(logits.softmax(-1) < min_p, -math.inf)


def threshold_on_logits(logits, min_p):
    if not min_p:
        return logits
    return logits.masked_fill(logits < min_p * logits.amax(-1, keepdim=True), -math.inf)


def strict_inequality(logits, min_p):
    if not min_p:
        return logits
    probs = logits.softmax(-1)
    return logits.masked_fill(~(probs > min_p * probs.amax(-1, keepdim=True)), -math.inf)


def softmax_over_the_batch(logits, min_p):
    if not min_p:
        return logits
    probs = logits.softmax(dim=0)
    return logits.masked_fill(~(probs >= min_p * probs.amax(dim=0, keepdim=True)), -math.inf)


def returns_probabilities(logits, min_p):
    probs = logits.softmax(-1)
    if not min_p:
        return probs
    return probs.masked_fill(~_keep(logits, min_p), 0.0)


def in_place(logits, min_p):
    if not min_p:
        return logits
    logits[~_keep(logits, min_p)] = -math.inf
    return logits


def keeps_the_rest(logits, min_p):
    if not min_p:
        return logits
    return logits.masked_fill(_keep(logits, min_p), -math.inf)


def ignores_none(logits, min_p):
    return logits.masked_fill(~_keep(logits, min_p), -math.inf)


def in_log_space(logits, min_p):
    """logit >= max logit + log(min_p): the same rule without the softmax."""
    if not min_p:
        return logits
    return logits.masked_fill(logits < logits.amax(-1, keepdim=True) + math.log(min_p), -math.inf)


def with_where(logits, min_p):
    if min_p is None or min_p == 0:
        return logits.clone()
    return torch.where(_keep(logits, min_p), logits, torch.full_like(logits, -math.inf))


WRONG = {
    "min_p_filter": [
        wrong(masks_with_zero, "不是 0"),
        wrong(absolute_threshold, "不是 min_p 本身"),
        wrong(threshold_on_logits, "不是在 logits 上"),
        wrong(strict_inequality, ">=，不是 >"),
        wrong(softmax_over_the_batch, "dim=-1"),
        wrong(returns_probabilities, "不是概率"),
        wrong(in_place, "原地修改"),
        wrong(keeps_the_rest, "第 1 个检查"),
        wrong(ignores_none, "min_p=None"),
    ],
}

RIGHT = {
    "min_p_filter": [right(in_log_space), right(with_where)],
}
