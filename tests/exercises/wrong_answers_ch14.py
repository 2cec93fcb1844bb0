"""Wrong (and other right) answers to `layer_norm` (the Transformer). Keyed by check name; see
exercise_support."""
from __future__ import annotations

import torch

from exercise_support import right, wrong


def _stats(X, dims=(-1,), unbiased=False):
    return X.mean(dim=dims, keepdim=True), X.var(dim=dims, unbiased=unbiased, keepdim=True)


def unbiased_variance(X, gamma, beta, eps=1e-5):
    return (X - X.mean(-1, keepdim=True)) / torch.sqrt(X.var(-1, keepdim=True) + eps) * gamma + beta


def eps_outside_the_root(X, gamma, beta, eps=1e-5):
    mean, var = _stats(X)
    return (X - mean) / (var.sqrt() + eps) * gamma + beta


def annotated_transformer_style(X, gamma, beta, eps=1e-5):
    """std() is unbiased, and eps is added to the std: two mistakes at once."""
    return gamma * (X - X.mean(-1, keepdim=True)) / (X.std(-1, keepdim=True) + eps) + beta


def batch_statistics(X, gamma, beta, eps=1e-5):
    mean, var = _stats(X, dims=(0, 1))
    return (X - mean) / torch.sqrt(var + eps) * gamma + beta


def without_affine(X, gamma, beta, eps=1e-5):
    mean, var = _stats(X)
    return (X - mean) / torch.sqrt(var + eps)


def fixed_eps(X, gamma, beta, eps=1e-5):
    mean, var = _stats(X)
    return (X - mean) / torch.sqrt(var + 1e-5) * gamma + beta


def subtracts_in_place(X, gamma, beta, eps=1e-5):
    X -= X.mean(-1, keepdim=True)
    return X / torch.sqrt((X ** 2).mean(-1, keepdim=True) + eps) * gamma + beta


def third_axis(X, gamma, beta, eps=1e-5):                                     # dim=2 instead of dim=-1
    mean, var = X.mean(dim=2, keepdim=True), X.var(dim=2, unbiased=False, keepdim=True)
    return (X - mean) / torch.sqrt(var + eps) * gamma + beta


def gamma_and_beta_swapped(X, gamma, beta, eps=1e-5):
    mean, var = _stats(X)
    return (X - mean) / torch.sqrt(var + eps) * beta + gamma


def statistics_over_everything(X, gamma, beta, eps=1e-5):
    return (X - X.mean()) / torch.sqrt(X.var(unbiased=False) + eps) * gamma + beta


def scales_before_normalising(X, gamma, beta, eps=1e-5):
    Y = X * gamma + beta
    mean, var = _stats(Y)
    return (Y - mean) / torch.sqrt(var + eps)


def in_float64(X, gamma, beta, eps=1e-5):
    X = X.double()
    mean, var = _stats(X)
    return (X - mean) / torch.sqrt(var + eps) * gamma + beta


def with_rsqrt(X, gamma, beta, eps=1e-5):
    mean, var = _stats(X)
    return (X - mean) * torch.rsqrt(var + eps) * gamma + beta


def with_var_mean(X, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(X, dim=-1, correction=0, keepdim=True)
    return gamma * (X - mean) / (var + eps).sqrt() + beta


WRONG = {
    "layer_norm": [
        wrong(unbiased_variance, "无偏估计", "unbiased=False"),
        wrong(eps_outside_the_root, "eps 放错了地方", "第 2 个检查"),
        wrong(annotated_transformer_style, "第 1 个检查"),
        wrong(batch_statistics, "批量规范化"),
        wrong(without_affine, "少了仿射变换"),
        wrong(fixed_eps, "没有用传进来的 eps", "第 3 个检查"),
        wrong(subtracts_in_place, "原地修改"),
        wrong(third_axis, "IndexError", "第 3 个检查", "在你的代码"),
        wrong(gamma_and_beta_swapped, "gamma 和 beta 用反了"),
        wrong(statistics_over_everything, "第 1 个检查"),
        wrong(scales_before_normalising, "第 1 个检查"),
        wrong(in_float64, "dtype 应当是 float32，却是 float64"),
    ],
}

RIGHT = {
    "layer_norm": [right(with_rsqrt), right(with_var_mean)],
}
