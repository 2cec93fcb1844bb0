"""Checks for the exercises of chapter 14 (Transformer).

* :func:`layer_norm` — 练习 14.7: layer normalisation by hand.

The expected answers are computed here, independently of the student's code and of ``d2l_local``:
layer normalisation one position at a time, in float64, on small seeded CPU tensors.
"""
from __future__ import annotations

import torch

from .core import Case, check_function, matches

__all__ = ["layer_norm"]


# ---------------------------------------------------------------------------------------------------
# 练习 14.7 自己实现层规范化
# ---------------------------------------------------------------------------------------------------

def _same(got, alternative):
    """True when `got` is the answer of a known wrong implementation (within a looser tolerance than the
    check itself: the wrong variants are computed in float64, the student's code runs in float32)."""
    return isinstance(got, torch.Tensor) and matches(got, alternative, atol=1e-4, rtol=1e-3)


def _reference(X, gamma, beta, eps=1e-5):
    """Each position (each vector along the last axis) on its own, with the biased variance."""
    flat = X.double().reshape(-1, X.shape[-1])
    out = torch.empty_like(flat)
    for r, x in enumerate(flat):
        mean = x.sum() / len(x)
        var = ((x - mean) ** 2).sum() / len(x)
        out[r] = (x - mean) / torch.sqrt(var + eps) * gamma.double() + beta.double()
    return out.reshape(X.shape).to(X.dtype)


def _variant(X, gamma, beta, eps=1e-5, *, dims=(-1,), unbiased=False, eps_inside=True, affine=True,
             swap=False):
    """Vectorised normalisation with one typical mistake switched on."""
    x = X.double()
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
    normed = (x - mean) / (torch.sqrt(var + eps) if eps_inside else torch.sqrt(var) + eps)
    if affine:
        g, b = (beta, gamma) if swap else (gamma, beta)
        normed = normed * g.double() + b.double()
    return normed.to(X.dtype)


def _cases():
    gen = torch.Generator().manual_seed(12)
    cases = []
    X = torch.randn(2, 3, 4, generator=gen) * 3 + 1                 # (batch, num_steps, d)
    gamma, beta = torch.randn(4, generator=gen), torch.randn(4, generator=gen)
    cases.append(Case(args=(X, gamma, beta), expected=_reference(X, gamma, beta),
                      description="X 形状 (2, 3, 4)，gamma、beta 形状 (4,)，eps 取默认的 1e-5"))
    X = torch.randn(3, 2, 6, generator=gen) * 2
    X[1, 0] = 0.2 + 1e-3 * torch.randn(6, generator=gen)               # 几乎是常数的一个位置：方差约 1e-6
    gamma, beta = torch.rand(6, generator=gen) + 0.5, torch.randn(6, generator=gen)
    cases.append(Case(args=(X, gamma, beta), expected=_reference(X, gamma, beta),
                      description="X 形状 (3, 2, 6)，其中 X[1, 0] 的 6 个数几乎相等（方差约 1e-6），eps=1e-5"))
    X = torch.randn(5, 8, generator=gen) + torch.arange(5.0)[:, None]  # 二维：每行一个位置
    gamma, beta = torch.randn(8, generator=gen), torch.randn(8, generator=gen)
    cases.append(Case(args=(X, gamma, beta), kwargs={'eps': 1e-3}, expected=_reference(X, gamma, beta, 1e-3),
                      description="X 形状 (5, 8)（二维），gamma、beta 形状 (8,)，eps=1e-3"))
    return cases


def _diagnose(got, case):
    X, gamma, beta = case.args
    eps = case.kwargs.get('eps', 1e-5)
    checks = [
        (dict(unbiased=True),
         "方差用了无偏估计（除以 d - 1）：torch.var 和 Tensor.std 默认 unbiased=True，层规范化除以 d，"
         "请写 X.var(dim=-1, unbiased=False, keepdim=True)。"),
        (dict(eps_inside=False),
         "eps 放错了地方：应当是 (X - mean) / sqrt(var + eps)，eps 加在方差上、在开方之内；"
         "方差很小的位置（这里有一个）最能看出差别。"),
        (dict(affine=False), "少了仿射变换：规范化之后还要乘 gamma、加 beta。"),
        (dict(swap=True), "gamma 和 beta 用反了：结果是 gamma * 规范化的值 + beta。"),
    ]
    if X.dim() == 3:
        checks += [
            (dict(dims=(0,)),
             "你在批量维（dim=0）上求均值和方差，这是批量规范化的做法：层规范化对每个位置在它自己的 d 个特征上"
             "（最后一维，dim=-1）求统计量。"),
            (dict(dims=(0, 1)),
             "你在批量和所有位置上求统计量，这是批量规范化（nn.BatchNorm1d）的做法：层规范化只在最后一维上求。"),
            (dict(dims=(1, 2)),
             "你把一个句子的所有位置放在一起求统计量：层规范化对每个位置单独求（只在最后一维上，dim=-1）。"),
            (dict(dims=(1,)),
             "你在时间步维（dim=1）上求统计量：层规范化在特征维（最后一维，dim=-1）上求。"),
        ]
    for kwargs, message in checks:
        if _same(got, _variant(X, gamma, beta, eps, **kwargs)):
            return message
    if _same(got, _variant(X, gamma, beta, 1e-5)) and eps != 1e-5:
        return f"没有用传进来的 eps（这次是 {eps}）：函数的参数 eps 要用在 sqrt(var + eps) 里。"
    return None


def layer_norm(func) -> bool:
    """练习 14.5：检查 ``layer_norm(X, gamma, beta, eps=1e-5)``。

    X 的最后一维是特征（d 维），前面可以有任意多维；gamma、beta 形状 (d,)；返回与 X 同形状的
    gamma * (X - mean) / sqrt(var + eps) + beta，均值和（有偏的）方差在最后一维上对每个位置分别计算。
    三组输入与逐个位置计算的参考答案比较；认得出无偏方差、eps 放在开方之外、少了或用反了 gamma 与 beta、
    在批量维或时间步维上求统计量（批量规范化的方向）、没用传入的 eps 这几种错误，并检查 X 没有被改写。
    """
    return check_function(
        "练习 14.5 自己实现层规范化", func, _cases(),
        hint=("mean = X.mean(dim=-1, keepdim=True)，var = X.var(dim=-1, unbiased=False, keepdim=True)，"
              "返回 (X - mean) / torch.sqrt(var + eps) * gamma + beta（gamma、beta 沿最后一维广播）。"),
        diagnose=_diagnose)
