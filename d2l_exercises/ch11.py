"""Checks for the exercises of chapter 11 (注意力评分函数).

* :func:`causal_attention` — 练习 11.5: scaled dot-product attention with a causal mask, from 2-D
  valid lengths.

The expected answers are computed here, independently of the student's code and of ``d2l_local``:
explicit per-query loops in float64 on small seeded CPU tensors.
"""
from __future__ import annotations

import math

import torch

from .core import Case, check_function, matches

__all__ = ["causal_attention"]


# ---------------------------------------------------------------------------------------------------
# 练习 11.5 用二维有效长度实现因果注意力
# ---------------------------------------------------------------------------------------------------

def _same(got, alternative):
    """True when `got` is the answer of a known wrong implementation (within a looser tolerance than the
    check itself: the wrong variants are computed in float64, the student's code runs in float32)."""
    return isinstance(got, torch.Tensor) and matches(got, alternative, atol=1e-4, rtol=1e-3)


def _attention(queries, keys, values, lens, scale, softmax_dim=-1):
    """Vectorised reference in float64: lens (batch, n) = how many keys each query sees (from the
    left), or None; rows with no visible key give 0. Also used for the wrong variants."""
    q, k, v = queries.double(), keys.double(), values.double()
    scores = q @ k.transpose(1, 2) / scale                                   # (batch, n_q, n_k)
    if lens is None:
        keep = torch.ones_like(scores, dtype=torch.bool)
    else:
        keep = torch.arange(k.shape[1])[None, None, :] < lens[:, :, None]
    scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(scores, dim=softmax_dim).nan_to_num(0.0).masked_fill(~keep, 0.0)
    return (weights @ v).to(values.dtype)


def _causal_reference(queries, keys, values):
    """Query i sees keys 0 … i; an explicit loop, independent of any masking trick."""
    batch_size, n, d = queries.shape
    out = torch.zeros(batch_size, n, values.shape[-1], dtype=torch.float64)
    for b in range(batch_size):
        for i in range(n):
            scores = keys[b, :i + 1].double() @ queries[b, i].double() / math.sqrt(d)   # (i + 1,)
            out[b, i] = torch.softmax(scores, dim=0) @ values[b, :i + 1].double()
    return out.to(values.dtype)


def _causal_cases():
    gen = torch.Generator().manual_seed(9)
    cases = []
    for batch_size, n, d, v in ((1, 3, 2, 2), (2, 4, 4, 3), (3, 5, 8, 2)):
        Q = torch.randn(batch_size, n, d, generator=gen)
        K = torch.randn(batch_size, n, d, generator=gen)
        V = torch.randn(batch_size, n, v, generator=gen)
        cases.append(Case(args=(Q, K, V), expected=_causal_reference(Q, K, V),
                          description=f"queries/keys 形状 {(batch_size, n, d)}，values 形状 {(batch_size, n, v)}"))
    return cases


def _causal_diagnose(got, case):
    Q, K, V = case.args
    batch_size, n, d = Q.shape
    position = torch.arange(n).repeat(batch_size, 1)                          # (batch, n): 0 … n-1
    first_is_nan = (isinstance(got, torch.Tensor) and got.dim() == 3 and got.is_floating_point()
                    and bool(torch.isnan(got[:, 0]).all()))
    if first_is_nan or _same(got, _attention(Q, K, V, position, math.sqrt(d))):
        return ("第 0 个查询一个键也没看到（输出是零向量或 NaN）：有效长度差了一。第 i 个查询（从 0 数起）能看到位置 0 到 i，"
                "一共 i + 1 个键，所以 valid_lens[b, i] = i + 1，例如 torch.arange(1, n + 1)。")
    if _same(got, _attention(Q, K, V, None, math.sqrt(d))):
        return ("结果与不加掩蔽的注意力相同：每个查询都看到了它后面的键。"
                "用二维有效长度 valid_lens[b, i] = i + 1 调用 d2l.masked_softmax。")
    if _same(got, _attention(Q, K, V, torch.full((batch_size, n), n), 1.0)) or \
            _same(got, _attention(Q, K, V, position + 1, 1.0)):
        return "分数没有缩放：缩放点积注意力的分数是 Q Kᵀ / √d，d 是查询和键的维数。"
    if _same(got, _attention(Q, K, V, position + 1, float(d))):
        return "分数除以了 d：应当除以 √d（math.sqrt(d)），这样分数的方差才与 d 无关。"
    if V.shape[-1] != d and _same(got, _attention(Q, K, V, position + 1, math.sqrt(V.shape[-1]))):
        return "除以的是值的维数的平方根：应当用查询和键的维数 d = queries.shape[-1]。"
    if _same(got, _attention(Q, K, V, position + 1, math.sqrt(d), softmax_dim=1)):
        return ("softmax 沿错了轴：分数形状是 (batch_size, 查询, 键)，每个查询的权重要在键上归一化，"
                "即 dim=-1。")
    backwards = torch.flip(_attention(Q.flip(1), K.flip(1), V.flip(1), position + 1, math.sqrt(d)), dims=(1,))
    if _same(got, backwards):
        return "掩蔽的方向反了：第 i 个查询应当看位置 0 到 i（它自己和它之前），而不是 i 到 n - 1。"
    return None


def causal_attention(func) -> bool:
    """练习 11.5：检查 ``causal_attention(queries, keys, values)``。

    queries、keys (batch_size, n, d)，values (batch_size, n, v) -> (batch_size, n, v)：缩放点积注意力，
    第 i 个查询只看位置 0 … i 的键。在三组随机输入上与逐个查询计算的参考答案比较；认得出有效长度
    差一、没有掩蔽、没有缩放（或除以 d）、softmax 轴不对、掩蔽方向反了这几种常见错误，并检查输入没有被改写。
    """
    return check_function(
        "练习 11.5 用二维有效长度实现因果注意力", func, _causal_cases(),
        hint=("分数 scores = Q Kᵀ / √d（torch.bmm(queries, keys.transpose(1, 2))），二维有效长度 "
              "valid_lens[b, i] = i + 1（形状 (batch_size, n)），权重 d2l.masked_softmax(scores, valid_lens)，"
              "输出 torch.bmm(权重, values)。"),
        diagnose=_causal_diagnose)
