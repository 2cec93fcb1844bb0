"""Wrong (and other right) answers to `laplace_weights` and `loo_predict` (attention pooling).
Keyed by check name; see exercise_support."""
from __future__ import annotations

import torch

from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# laplace_weights(queries, keys, w)

def _diffs(queries, keys):
    return queries[:, None] - keys[None, :]


def laplace_wrong_axis(queries, keys, w):
    return torch.softmax(-_diffs(queries, keys).abs() * w, dim=0)


def laplace_gaussian(queries, keys, w):
    return torch.softmax(-(_diffs(queries, keys) * w) ** 2 / 2, dim=1)


def laplace_without_abs(queries, keys, w):
    return torch.softmax(-_diffs(queries, keys) * w, dim=1)


def laplace_wrong_sign(queries, keys, w):
    return torch.softmax(_diffs(queries, keys).abs() * w, dim=1)


def laplace_unnormalised(queries, keys, w):
    return torch.exp(-_diffs(queries, keys).abs() * w)


def laplace_without_broadcasting(queries, keys, w):
    return torch.softmax(-(queries - keys).abs() * w, dim=-1)


def laplace_divides_by_w(queries, keys, w):
    return torch.softmax(-_diffs(queries, keys).abs() / w, dim=1)


def laplace_keys_by_queries(queries, keys, w):
    return torch.softmax(-(keys[:, None] - queries[None, :]).abs() * w, dim=1)


def laplace_in_float64(queries, keys, w):
    return torch.softmax(-_diffs(queries.double(), keys.double()).abs() * w, dim=1)


def laplace_with_cdist(queries, keys, w):
    return torch.softmax(-torch.cdist(queries[:, None], keys[:, None], p=1) * w, dim=-1)


def laplace_by_hand(queries, keys, w):
    kernel = torch.exp(-_diffs(queries, keys).abs() * w)
    return kernel / kernel.sum(dim=1, keepdim=True)


# ------------------------------------------------------------------------------------------------
# loo_predict(x, y, w)

def _gauss_scores(x, w):
    return -((x[:, None] - x[None, :]) * w) ** 2 / 2


def _eye(x):
    return torch.eye(len(x), dtype=torch.bool)


def loo_sees_itself(x, y, w):
    return torch.softmax(_gauss_scores(x, w), dim=1) @ y


def loo_self_score_zero(x, y, w):  # "remove" itself by setting its score to 0, which it already is
    return torch.softmax(_gauss_scores(x, w).masked_fill(_eye(x), 0), dim=1) @ y


def loo_zeroes_after_softmax(x, y, w):
    return torch.softmax(_gauss_scores(x, w), dim=1).masked_fill(_eye(x), 0) @ y


def loo_wrong_axis(x, y, w):
    return torch.softmax(_gauss_scores(x, w).masked_fill(_eye(x), float("-inf")), dim=0) @ y


def loo_without_half(x, y, w):
    scores = (-((x[:, None] - x[None, :]) * w) ** 2).masked_fill(_eye(x), float("-inf"))
    return torch.softmax(scores, dim=1) @ y


def loo_reshapes_wrongly(x, y, w):
    n = len(x)
    keys = x.expand(n, -1)[~_eye(x)].reshape(n, n)  # n - 1 keys per row, not n
    return keys.sum(dim=1)


def loo_also_leaves_out_the_neighbour(x, y, w):
    n = len(x)
    near = _eye(x) | torch.eye(n, dtype=torch.bool).roll(1, dims=1)
    return torch.softmax(_gauss_scores(x, w).masked_fill(near, float("-inf")), dim=1).nan_to_num(0) @ y


def loo_mean_of_the_others(x, y, w):
    return (y.sum() - y) / (len(y) - 1)


def loo_in_float64(x, y, w):
    scores = _gauss_scores(x.double(), w).masked_fill(_eye(x), float("-inf"))
    return torch.softmax(scores, dim=1) @ y.double()


def loo_with_minus_a_million(x, y, w):
    return torch.softmax(_gauss_scores(x, w).masked_fill(_eye(x), -1e6), dim=1) @ y


def loo_with_a_loop(x, y, w):
    out = []
    for i in range(len(x)):
        others = torch.cat([torch.arange(i), torch.arange(i + 1, len(x))])
        weights = torch.softmax(-((x[i] - x[others]) * w) ** 2 / 2, dim=0)
        out.append(weights @ y[others])
    return torch.stack(out)


WRONG = {
    "laplace_weights": [
        wrong(laplace_wrong_axis, "softmax 沿错了维度"),
        wrong(laplace_gaussian, "这是 10.4 节的高斯核"),
        wrong(laplace_without_abs, "分数里少了绝对值"),
        wrong(laplace_wrong_sign, "分数的符号反了"),
        wrong(laplace_unnormalised, "没有归一化"),
        wrong(laplace_without_broadcasting, "RuntimeError: The size of tensor a",
              "在你的代码 `laplace_without_broadcasting`"),
        wrong(laplace_divides_by_w, "第 2 个检查"),
        wrong(laplace_keys_by_queries, "权重矩阵的形状应为 (n_q, n_k)"),
        wrong(laplace_in_float64, "dtype 应当是 float32，却是 float64"),
    ],
    "loo_predict": [
        wrong(loo_sees_itself, "每个点也看见了它自己"),
        wrong(loo_self_score_zero, "每个点也看见了它自己"),
        wrong(loo_zeroes_after_softmax, "在 softmax 之后才把自己的权重置 0"),
        wrong(loo_wrong_axis, "softmax 沿错了维度"),
        wrong(loo_without_half, "分数少了 1/2"),
        wrong(loo_reshapes_wrongly, "RuntimeError", "在你的代码 `loo_reshapes_wrongly`"),
        wrong(loo_also_leaves_out_the_neighbour, "第 1 个检查"),
        wrong(loo_mean_of_the_others, "第 1 个检查"),
        wrong(loo_in_float64, "dtype 应当是 float32，却是 float64"),
    ],
}

RIGHT = {
    "laplace_weights": [right(laplace_with_cdist), right(laplace_by_hand)],
    "loo_predict": [right(loo_with_minus_a_million), right(loo_with_a_loop)],
}
