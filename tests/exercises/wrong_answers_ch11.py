"""Wrong (and other right) answers to `causal_attention` (attention scoring). Keyed by check name; see
exercise_support."""
from __future__ import annotations

import math

import torch

import d2l_local as d2l
from exercise_support import right, wrong


def _causal(queries, keys, values, lens_from=1, scale=None, dim=-1):
    batch_size, n, d = queries.shape
    lens = torch.arange(lens_from, n + lens_from).repeat(batch_size, 1)
    scores = torch.bmm(queries, keys.transpose(1, 2)) / (math.sqrt(d) if scale is None else scale)
    if dim == -1:
        return torch.bmm(d2l.masked_softmax(scores, lens), values)
    keep = torch.arange(n)[None, None, :] < lens[:, :, None]
    return torch.bmm(scores.masked_fill(~keep, float("-inf")).softmax(dim=dim).nan_to_num(0.0), values)


def lengths_from_zero(queries, keys, values):
    return _causal(queries, keys, values, lens_from=0)


def strict_mask_gives_nan(queries, keys, values):
    n = queries.shape[1]
    keep = torch.arange(n)[None, :] < torch.arange(n)[:, None]        # strict: query i sees 0 … i-1
    scores = (queries @ keys.transpose(1, 2) / math.sqrt(queries.shape[-1])).masked_fill(~keep, float("-inf"))
    return scores.softmax(dim=-1) @ values


def no_mask(queries, keys, values):
    scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(queries.shape[-1])
    return torch.bmm(d2l.masked_softmax(scores, None), values)


def no_scaling(queries, keys, values):
    return _causal(queries, keys, values, scale=1.0)


def divides_by_d(queries, keys, values):
    return _causal(queries, keys, values, scale=queries.shape[-1])


def softmax_over_queries(queries, keys, values):
    return _causal(queries, keys, values, dim=1)


def mask_backwards(queries, keys, values):                             # query i sees i … n-1
    return _causal(queries.flip(1), keys.flip(1), values.flip(1)).flip(1)


def scales_in_place(queries, keys, values):
    queries /= math.sqrt(queries.shape[-1])                              # right answer, spoils the caller's tensor
    lens = torch.arange(1, queries.shape[1] + 1).repeat(queries.shape[0], 1)
    return torch.bmm(d2l.masked_softmax(torch.bmm(queries, keys.transpose(1, 2)), lens), values)


def forgot_transpose(queries, keys, values):
    return torch.bmm(torch.bmm(queries, keys), values)                   # keys not transposed


def one_length_per_sentence(queries, keys, values):
    lens = torch.arange(1, queries.shape[1] + 1)                          # (n,), not (batch_size, n)
    scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(queries.shape[-1])
    return torch.bmm(d2l.masked_softmax(scores, lens), values)


def scores_from_the_values(queries, keys, values):
    return _causal(queries, values, values)


def triu_with_minus_a_million(queries, keys, values):
    n = queries.shape[1]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    scores = queries @ keys.transpose(1, 2) / math.sqrt(queries.shape[-1])
    return torch.softmax(scores.masked_fill(future, -1e6), dim=-1) @ values


def fused_pytorch_attention(queries, keys, values):
    return torch.nn.functional.scaled_dot_product_attention(queries, keys, values, is_causal=True)


WRONG = {
    "causal_attention": [
        wrong(lengths_from_zero, "有效长度差了一", "i + 1"),
        wrong(strict_mask_gives_nan, "NaN", "有效长度差了一"),
        wrong(no_mask, "看到了它后面的键"),
        wrong(no_scaling, "没有缩放"),
        wrong(divides_by_d, "除以了 d"),
        wrong(softmax_over_queries, "softmax 沿错了轴"),
        wrong(mask_backwards, "掩蔽的方向反了"),
        wrong(scales_in_place, "原地修改", "第 1 个参数"),
        wrong(forgot_transpose, "RuntimeError", "在你的代码 `forgot_transpose`", "提示："),
        wrong(one_length_per_sentence, "ValueError", "valid_lens 的形状应为"),
        wrong(scores_from_the_values, "第 1 个检查"),
    ],
}

RIGHT = {
    "causal_attention": [right(triu_with_minus_a_million), right(fused_pytorch_attention)],
}
