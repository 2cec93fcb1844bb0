"""Wrong (and other right) answers to `noam_lambda` (chapter 15: the Transformer paper's learning-rate
schedule as a LambdaLR factor, with the scheduler's step counted from 0). Keyed by check name; see
exercise_support."""
from __future__ import annotations

import torch

from exercise_support import right, wrong


def step_as_s(step, num_hiddens, warmup_steps):
    return num_hiddens ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


def guarded_against_zero(step, num_hiddens, warmup_steps):
    s = max(step, 1)
    return num_hiddens ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)


def without_the_model_factor(step, num_hiddens, warmup_steps):
    return min((step + 1) ** -0.5, (step + 1) * warmup_steps ** -1.5)


def max_instead_of_min(step, num_hiddens, warmup_steps):
    return num_hiddens ** -0.5 * max((step + 1) ** -0.5, (step + 1) * warmup_steps ** -1.5)


def wrong_warmup_exponent(step, num_hiddens, warmup_steps):
    return num_hiddens ** -0.5 * min((step + 1) ** -0.5, (step + 1) * warmup_steps ** -0.5)


def wrong_model_exponent(step, num_hiddens, warmup_steps):
    return num_hiddens ** 0.5 * min((step + 1) ** -0.5, (step + 1) * warmup_steps ** -1.5)


def warmup_only(step, num_hiddens, warmup_steps):
    return num_hiddens ** -0.5 * (step + 1) * warmup_steps ** -1.5


def decay_only(step, num_hiddens, warmup_steps):
    return num_hiddens ** -0.5 * (step + 1) ** -0.5


def as_tensor(step, num_hiddens, warmup_steps):
    s = torch.tensor(step + 1.0, dtype=torch.float64)
    return num_hiddens ** -0.5 * torch.minimum(s ** -0.5, s * warmup_steps ** -1.5)


def with_powers_of_the_product(step, num_hiddens, warmup_steps):
    s = step + 1
    return min((num_hiddens * s) ** -0.5, num_hiddens ** -0.5 * s * warmup_steps ** -1.5)


WRONG = {
    "noam_lambda": [
        wrong(step_as_s, "ZeroDivisionError", "第 1 个检查", "s = step + 1", "提示："),
        wrong(guarded_against_zero, "差了一步", "从 0 数起"),
        wrong(without_the_model_factor, "少了因子 num_hiddens ** -0.5"),
        wrong(max_instead_of_min, "min 写成了 max"),
        wrong(wrong_warmup_exponent, "预热项的指数错了"),
        wrong(wrong_model_exponent, "num_hiddens 的指数错了"),
        wrong(warmup_only, "只有预热的那一项"),
        wrong(decay_only, "只有衰减的那一项"),
    ],
}

RIGHT = {
    "noam_lambda": [right(as_tensor), right(with_powers_of_the_product)],
}
