"""Wrong (and other right) answers to `smoothed_masked_ce` and `masked_softmax` (masking and the loss).
Keyed by check name; see exercise_support."""
from __future__ import annotations

import torch
from torch.nn import functional as F

import d2l_local as d2l
from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# smoothed_masked_ce(pred, label, valid_len, epsilon)

def _smoothed_tokens(pred, label, epsilon):
    log_p = F.log_softmax(pred, dim=-1)
    nll = -log_p.gather(-1, label.unsqueeze(-1)).squeeze(-1)
    return (1 - epsilon) * nll - epsilon * log_p.mean(dim=-1), log_p, nll


def _valid(tokens, valid_len):
    return d2l.sequence_mask(torch.ones_like(tokens), valid_len) > 0


def ce_over_all_positions(pred, label, valid_len, epsilon):
    return _smoothed_tokens(pred, label, epsilon)[0].mean()


def ce_d2l_style(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    weights = d2l.sequence_mask(torch.ones_like(tokens), valid_len)
    return (tokens * weights).mean(dim=1).mean()


def ce_d2l_vector(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    return (d2l.sequence_mask(tokens, valid_len)).mean(dim=1)


def ce_smoothing_over_other_classes(pred, label, valid_len, epsilon):
    _, log_p, nll = _smoothed_tokens(pred, label, epsilon)
    others = (-log_p.sum(dim=-1) - nll) / (pred.shape[-1] - 1)
    tokens = (1 - epsilon) * nll + epsilon * others
    valid = _valid(tokens, valid_len)
    return tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


def ce_nan_without_tokens(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = _valid(tokens, valid_len)
    return tokens.masked_fill(~valid, 0).sum() / valid.sum()


def ce_per_sequence_mean(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = _valid(tokens, valid_len)
    per_seq = tokens.masked_fill(~valid, 0).sum(dim=1) / valid.sum(dim=1)
    return per_seq[valid.sum(dim=1) > 0].mean() if bool(valid.any()) else torch.tensor(0.0)


def ce_divides_by_valid_len(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = _valid(tokens, valid_len)
    return tokens.masked_fill(~valid, 0).sum() / valid_len.sum().clamp(min=1)


def ce_shifts_logits_in_place(pred, label, valid_len, epsilon):
    pred -= pred.max(dim=-1, keepdim=True).values  # "for numerical stability", but in place
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = _valid(tokens, valid_len)
    return tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


def ce_squeezes_the_wrong_axis(pred, label, valid_len, epsilon):
    log_p = F.log_softmax(pred, dim=-1)
    return log_p.gather(-1, label).sum()


def ce_without_one_minus_epsilon(pred, label, valid_len, epsilon):
    _, log_p, nll = _smoothed_tokens(pred, label, epsilon)
    tokens = nll - epsilon * log_p.mean(dim=-1)
    valid = _valid(tokens, valid_len)
    return tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


def ce_smooths_probabilities_not_logs(pred, label, valid_len, epsilon):
    _, log_p, nll = _smoothed_tokens(pred, label, epsilon)
    tokens = (1 - epsilon) * nll - epsilon * log_p.exp().mean(dim=-1)
    valid = _valid(tokens, valid_len)
    return tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


def ce_gathers_along_time(pred, label, valid_len, epsilon):
    log_p = F.log_softmax(pred, dim=-1)
    nll = -log_p.gather(1, label.unsqueeze(-1)).squeeze(-1)       # dim=1 is time, not the vocabulary
    tokens = (1 - epsilon) * nll - epsilon * log_p.mean(dim=-1)
    valid = _valid(tokens, valid_len)
    return tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


def ce_returns_a_python_float(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = _valid(tokens, valid_len)
    return (tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)).item()


def ce_with_a_loop(pred, label, valid_len, epsilon):
    total, count = pred.new_zeros(()), 0
    log_p = torch.log(torch.softmax(pred, dim=-1))
    for i in range(pred.shape[0]):
        for t in range(min(int(valid_len[i]), pred.shape[1])):
            total = total + (1 - epsilon) * -log_p[i, t, label[i, t]] - epsilon * log_p[i, t].mean()
            count += 1
    return total / max(count, 1)


# ------------------------------------------------------------------------------------------------
# masked_softmax(X, valid_len)

def softmax_masks_queries(X, valid_len):
    return torch.softmax(d2l.sequence_mask(X, valid_len, value=-1e6), dim=-1)


def softmax_fills_zero(X, valid_len):
    rows = d2l.sequence_mask(X.reshape(-1, X.shape[-1]), valid_len.repeat_interleave(X.shape[1]))
    return torch.softmax(rows, dim=-1).reshape(X.shape)


def softmax_repeat_not_interleave(X, valid_len):
    rows = d2l.sequence_mask(X.reshape(-1, X.shape[-1]), valid_len.repeat(X.shape[1]), value=-1e6)
    return torch.softmax(rows, dim=-1).reshape(X.shape)


def softmax_then_mask(X, valid_len):
    weights = torch.softmax(X, dim=-1).reshape(-1, X.shape[-1])
    return d2l.sequence_mask(weights, valid_len.repeat_interleave(X.shape[1])).reshape(X.shape)


def softmax_writes_into_X(X, valid_len):
    keep = torch.arange(X.shape[-1])[None, None, :] < valid_len[:, None, None]
    X[~keep.expand(X.shape)] = -1e6
    return torch.softmax(X, dim=-1)


def softmax_forgets_the_queries(X, valid_len):
    rows = d2l.sequence_mask(X.reshape(-1, X.shape[-1]), valid_len, value=-1e6)  # 2 lengths for 6 rows
    return torch.softmax(rows, dim=-1).reshape(X.shape)


def softmax_over_the_queries(X, valid_len):
    keep = torch.arange(X.shape[-1])[None, None, :] < valid_len[:, None, None]
    return torch.softmax(X.masked_fill(~keep, -1e6), dim=1)


def softmax_one_key_too_many(X, valid_len):
    keep = torch.arange(X.shape[-1])[None, None, :] <= valid_len[:, None, None]
    return torch.softmax(X.masked_fill(~keep, -1e6), dim=-1)


def softmax_in_float64(X, valid_len):
    keep = torch.arange(X.shape[-1])[None, None, :] < valid_len[:, None, None]
    return torch.softmax(X.double().masked_fill(~keep, -1e6), dim=-1)


def softmax_with_minus_infinity(X, valid_len):
    keep = torch.arange(X.shape[-1])[None, None, :] < valid_len[:, None, None]
    return torch.softmax(X.masked_fill(~keep, float("-inf")), dim=-1)


def softmax_by_hand(X, valid_len):
    keep = (torch.arange(X.shape[-1])[None, None, :] < valid_len[:, None, None]).to(X.dtype)
    exps = torch.exp(X - X.max(dim=-1, keepdim=True).values) * keep
    return exps / exps.sum(dim=-1, keepdim=True)


WRONG = {
    "smoothed_masked_ce": [
        wrong(ce_over_all_positions, "你把填充位置也算进了平均"),
        wrong(ce_d2l_style, "这是 d2l 版本的做法"),
        wrong(ce_d2l_vector, "应返回一个数"),
        wrong(ce_smoothing_over_other_classes, "只分给了 V-1 个错误的词元"),
        wrong(ce_nan_without_tokens, "0/0 得到 NaN"),
        wrong(ce_per_sequence_mean, "你先对每个序列求平均"),
        wrong(ce_divides_by_valid_len, "不能直接用 valid_len.sum()"),
        wrong(ce_shifts_logits_in_place, "改写了第 1 个参数（原地修改）"),
        wrong(ce_squeezes_the_wrong_axis, "RuntimeError", "在你的代码 `ce_squeezes_the_wrong_axis`"),
        wrong(ce_without_one_minus_epsilon, "少了因子 (1 - epsilon)"),
        wrong(ce_smooths_probabilities_not_logs, "第 1 个检查"),
        wrong(ce_gathers_along_time, "RuntimeError"),
    ],
    "masked_softmax": [
        wrong(softmax_masks_queries, "你掩蔽的是查询（第 1 维）"),
        wrong(softmax_fills_zero, "sequence_mask 的默认 value"),
        wrong(softmax_repeat_not_interleave, "valid_len.repeat(num_queries)"),
        wrong(softmax_then_mask, "在 softmax 之后才把被掩蔽的权重置 0"),
        wrong(softmax_writes_into_X, "改写了第 1 个参数（原地修改）"),
        wrong(softmax_forgets_the_queries, "ValueError: valid_len 有 2 个长度", "在你的代码 `softmax_forgets_the_queries`"),
        wrong(softmax_over_the_queries, "softmax 应当沿最后一维"),
        wrong(softmax_one_key_too_many, "第 1 个检查"),
        wrong(softmax_in_float64, "dtype 应当是 float32，却是 float64"),
    ],
}

RIGHT = {
    "smoothed_masked_ce": [right(ce_returns_a_python_float), right(ce_with_a_loop)],
    "masked_softmax": [right(softmax_with_minus_infinity), right(softmax_by_hand)],
}
