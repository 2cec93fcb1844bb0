"""Checks for the exercises of chapter 10 (注意力汇聚).

* :func:`laplace_weights` — 练习 10.2: attention weights of the Laplace kernel;
* :func:`loo_predict` — 练习 10.7: leave-one-out Nadaraya–Watson predictions.

Expected answers come from reference code in this module that loops over queries and keys with
Python's math on small seeded inputs; it never calls the student's function. The hints name the
chapter's typical mistakes: softmax over the wrong axis, a score with the wrong sign or without the
absolute value, unnormalised kernel values, and, for leave-one-out, letting a point see itself or
removing it after the softmax.
"""
from __future__ import annotations

import math

import torch

from .core import Case, check_function
from .core import matches as _matches

__all__ = ['laplace_weights', 'loo_predict']


def _softmax(scores):
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    return [e / sum(exps) for e in exps]


# ---------------------------------------------------------------------------------------------------
# 练习 10.2 拉普拉斯核的注意力权重
# ---------------------------------------------------------------------------------------------------

def _reference_laplace(queries, keys, w):
    rows = [_softmax([-abs(float(q) - float(k)) * w for k in keys]) for q in queries]
    return torch.tensor(rows, dtype=torch.float32)


def _diagnose_laplace(got, case):
    queries, keys, w = case.args
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (len(queries), len(keys)):
        return '权重矩阵的形状应为 (n_q, n_k)：查询排成列 queries[:, None]，键排成行 keys[None, :]。'
    diffs = queries[:, None] - keys[None, :]
    mistakes = [
        (torch.softmax(-diffs.abs() * w, dim=0),
         'softmax 沿错了维度：每个查询（每一行）分给各个键的权重之和应为 1，用 dim=1（或 dim=-1）。'),
        (torch.softmax(-(diffs * w) ** 2 / 2, dim=1),
         '这是 10.4 节的高斯核。拉普拉斯核的分数是 -|x - x_i|·w：取绝对值，不平方。'),
        (torch.softmax(-diffs * w, dim=1),
         '分数里少了绝对值：-(x - x_i)·w 会让查询右边很远的键得到很大的权重。用 (queries[:, None] - keys).abs()。'),
        (torch.softmax(diffs.abs() * w, dim=1),
         '分数的符号反了：离查询越近，分数应越高，所以是 -|x - x_i|·w。'),
        (torch.exp(-diffs.abs() * w),
         '只算了核函数的值 exp(-|x - x_i|·w)，没有归一化：每行要除以这一行的和（也就是 softmax）。'),
    ]
    for wrong, hint in mistakes:
        if _matches(got, wrong):
            return hint
    return None


def laplace_weights(func) -> bool:
    """练习 10.2：检查 func(queries, keys, w) 给出的拉普拉斯核注意力权重。

    queries (n_q,)、keys (n_k,)、w 是一个数。应返回 (n_q, n_k) 的权重：第 i 行是
    softmax_j(-|queries[i] - keys[j]|·w)，每行和为 1。"""
    gen = torch.Generator().manual_seed(8)
    cases = []
    for n_q, n_k, w in ((3, 4, 1.0), (2, 5, 2.5), (4, 3, 0.0)):
        queries = torch.rand(n_q, generator=gen) * 5
        keys = torch.rand(n_k, generator=gen) * 5
        cases.append(Case((queries, keys, w), _reference_laplace(queries, keys, w),
                          f'{n_q} 个查询、{n_k} 个键（随机取自 [0, 5)），w={w}'))
    return check_function(
        '练习 10.2 拉普拉斯核的注意力权重', func, cases,
        hint='仿照 nw_weights：scores = -(queries[:, None] - keys[None, :]).abs() * w，'
             '再 torch.softmax(scores, dim=1)。',
        diagnose=_diagnose_laplace)


# ---------------------------------------------------------------------------------------------------
# 练习 10.7 留一法的核回归预测
# ---------------------------------------------------------------------------------------------------

def _reference_loo(x, y, w):
    n, out = len(x), []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        weights = _softmax([-((float(x[i]) - float(x[j])) * w) ** 2 / 2 for j in others])
        out.append(sum(a * float(y[j]) for a, j in zip(weights, others)))
    return torch.tensor(out, dtype=torch.float32)


def _diagnose_loo(got, case):
    x, y, w = case.args
    n = len(x)
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (n,):
        return f'应返回形状为 (n,) = ({n},) 的预测：每个训练点一个。'
    scores = -((x[:, None] - x[None, :]) * w) ** 2 / 2
    self_mask = torch.eye(n, dtype=torch.bool)
    mistakes = [
        (torch.softmax(scores, dim=1) @ y,
         '每个点也看见了它自己：(x_i, y_i) 还在键值对里。把对角线上的分数换成 -inf（或 -1e6），'
         '或者像 10.6 节那样用非对角线的掩码取出其余 n-1 个点。注意自己的分数本来就是 0，把它换成 0 没有用。'),
        (torch.softmax(scores, dim=1).masked_fill(self_mask, 0) @ y,
         '你在 softmax 之后才把自己的权重置 0，其余权重之和不再是 1，预测整体偏小。'
         '要在 softmax 之前把自己的分数换成 -inf，让其余 n-1 个权重重新归一化。'),
        (torch.softmax(scores.masked_fill(self_mask, float('-inf')), dim=0) @ y,
         'softmax 沿错了维度：第 i 行是第 i 个查询的权重，要沿 dim=1 归一化。'),
        (torch.softmax((-((x[:, None] - x[None, :]) * w) ** 2).masked_fill(self_mask, float('-inf')), dim=1) @ y,
         '分数少了 1/2：高斯核的分数是 -((x_i - x_j)·w)² / 2。'),
    ]
    for wrong, hint in mistakes:
        if _matches(got, wrong):
            return hint
    return None


def loo_predict(func) -> bool:
    """练习 10.7：检查 func(x, y, w) 给出的留一法 Nadaraya–Watson 预测。

    x、y 形状 (n,)，w 是一个数。第 i 个预测只用其余 n-1 个点：
    sum_{j != i} softmax_j(-((x_i - x_j)·w)² / 2) · y_j。返回 (n,)，x、y 不得被改动。"""
    gen = torch.Generator().manual_seed(7)
    cases = []
    for n, w, description in ((5, 1.0, '5 个随机点，w=1'), (6, 4.0, '6 个随机点，w=4'),
                              (2, 1.0, '2 个点，w=1：每个点只能用另一个点来预测')):
        x, _ = torch.sort(torch.rand(n, generator=gen) * 5)
        y = 2 * torch.sin(x) + x ** 0.8 + 0.5 * torch.randn(n, generator=gen)
        cases.append(Case((x, y, w), _reference_loo(x, y, w), description))
    return check_function(
        '练习 10.7 留一法的核回归预测', func, cases,
        hint='scores = -((x[:, None] - x[None, :]) * w) ** 2 / 2，形状 (n, n)；把对角线换成 -inf：'
             'scores.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))；再沿 dim=1 softmax，乘 y。',
        diagnose=_diagnose_loo)
