"""Checks for the exercises of chapter 18 (从零训练一个中英翻译器).

* :func:`min_p_filter` — 练习 18.4: min-p filtering of a decoder's logits before sampling.

The expected answers are computed here, independently of the student's code and of ``d2l_local``:
min-p keeps the tokens whose probability is at least ``min_p`` times the largest probability of
their row (Nguyen et al., 2024), computed in float64 from the logits.
"""
from __future__ import annotations

import math

import torch

from .core import Case, DtypeProblem, check_function

__all__ = ["min_p_filter"]


# ---------------------------------------------------------------------------------------------------
# 练习 18.4 min-p 过滤
# ---------------------------------------------------------------------------------------------------


def _keep(logits, min_p, *, absolute=False, on_logits=False, strict=False, dim=-1):
    """Which tokens the rule keeps (a bool tensor), or a typical mistake's version of it."""
    if on_logits:                                      # threshold on the logits, not the probabilities
        return logits >= min_p * logits.amax(dim=dim, keepdim=True)
    probs = logits.double().softmax(dim=dim)
    threshold = min_p if absolute else min_p * probs.amax(dim=dim, keepdim=True)
    return probs > threshold if strict else probs >= threshold


def _filtered(logits, min_p, **mistake):
    if not min_p:
        return logits.clone()
    return logits.masked_fill(~_keep(logits, min_p, **mistake), -math.inf)


def _cases():
    gen = torch.Generator().manual_seed(18)
    one_row = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5])
    batch = torch.tensor([[4.0, 1.0, 0.9, -2.0, 0.0, 3.0],     # a clear favourite
                          [0.3, 0.2, 0.1, 0.0, -0.1, 0.25]])    # nearly flat: most tokens stay
    steps = torch.randn(3, 1, 7, generator=gen) * 2            # (batch, 1, vocab) like a decoder's last step
    with_inf = torch.tensor([[1.0, -math.inf, 0.5, -math.inf, -3.0]])
    tied_top = torch.tensor([[1.0, 1.0, 0.0, -4.0]])
    specs = [
        (one_row, 0.3, "一维 logits [2, 1, 0, -1, 0.5]，min_p=0.3"),
        (batch, 0.1, "两行：一行有明显的首选，一行几乎均匀；min_p=0.1"),
        (steps, 0.05, "形状 (3, 1, 7) 的 logits（解码器最后一步的输出），min_p=0.05"),
        (with_inf, 0.2, "已有 -inf 的一行（别的过滤器去掉的词元），min_p=0.2"),
        (tied_top, 1.0, "两个并列最大的 logits，min_p=1（只留最大的，并列的都留）"),
        (batch, 0, "min_p=0：原样返回"),
        (batch, None, "min_p=None：原样返回"),
    ]
    cases = []
    for logits, min_p, text in specs:
        expected = _filtered(logits, min_p)
        cases.append(Case(args=(logits.clone(), min_p), expected=expected, description=text))
    return cases


def _compare(got, expected):
    if not isinstance(got, torch.Tensor):
        return f"应当返回一个张量（与 logits 形状相同），却返回了 {type(got).__name__}：{got!r:.60}"
    if got.shape != expected.shape:
        return f"形状应当是 {tuple(expected.shape)}（与 logits 相同），却是 {tuple(got.shape)}"
    got_kept, want_kept = torch.isfinite(got), torch.isfinite(expected)
    if not torch.equal(got_kept, want_kept):
        return (f"留下的词元不对：应当留下（True）{want_kept.tolist()}，"
                f"你留下的是 {got_kept.tolist()}")
    if not torch.equal(got[want_kept].to(expected.dtype), expected[want_kept]):
        return "留下的词元的 logits 应当保持原值，你的改变了它们"
    if not torch.all(got[~want_kept] == -math.inf):
        return "去掉的词元的 logits 应当是 -inf"
    if got.dtype != expected.dtype:
        return DtypeProblem(f"结果的数值对了，但 dtype 应当是 {str(expected.dtype).replace('torch.', '')}，"
                            f"却是 {str(got.dtype).replace('torch.', '')}")
    return None


def _diagnose(got, case):
    logits, min_p = case.args
    if not isinstance(got, torch.Tensor) or got.shape != logits.shape or not min_p:
        return None
    finite = torch.isfinite(got)
    nonzero = got != 0
    if finite.all() and bool(((got >= 0) & (got <= 1)).all()) and torch.allclose(
            got.double()[nonzero], logits.double().softmax(-1)[nonzero], atol=1e-5):
        return "要返回过滤后的 logits（其余换成 -inf），不是概率：采样时还要再做一次 softmax。"
    if torch.any(got[~torch.isfinite(case.expected)] == 0) and finite.all():
        return ("去掉的词元要设成 -inf（softmax 之后概率为 0），不是 0：logits 为 0 的词元照样有不小的概率。"
                "用 logits.masked_fill(~keep, -math.inf)。")
    kept = torch.isfinite(got)
    for mistake, message in (
            (dict(strict=True), "概率恰好等于门槛的词元要留下（>=，不是 >）：min_p=1 时最大的那个（和与它并列的）要留下。"),
            (dict(absolute=True), "门槛是“这一行最大的概率 × min_p”，不是 min_p 本身：要先求每行的最大概率。"),
            (dict(on_logits=True), "比较要在 softmax 之后的概率上做，不是在 logits 上：logits 可以是负数，"
                                   "“min_p × 最大的 logit”没有意义。"),
            (dict(dim=0), "要沿最后一维（词表）求 softmax 和最大值：dim=-1。")):
        try:
            wrong = _keep(logits, min_p, **mistake)
        except (RuntimeError, IndexError):
            continue
        if wrong.shape == kept.shape and torch.equal(kept, wrong) and not torch.equal(wrong, torch.isfinite(case.expected)):
            return message
    return None


def min_p_filter(func) -> bool:
    """练习 18.4：检查 ``min_p_filter(logits, min_p)``。

    每行（最后一维）留下 softmax 概率不小于 min_p × 这一行最大概率的词元，其余的 logits 换成 -inf；
    min_p 为 None 或 0 时原样返回。七组输入（一维、两行、(3, 1, 7)、已有 -inf、并列最大且 min_p=1、
    min_p=0 和 None）与独立的参考实现比较；认得出用 0 代替 -inf、返回概率、门槛不乘最大概率、
    在 logits 上比较、用 > 代替 >=、沿错误的维度计算这几种错误，并检查输入没有被改写。
    """
    return check_function(
        "练习 18.4 min-p 过滤", func, _cases(),
        hint=("probs = logits.softmax(dim=-1)；keep = probs >= min_p * probs.amax(dim=-1, keepdim=True)；"
              "return logits.masked_fill(~keep, -math.inf)。min_p 为 None 或 0 时直接 return logits。"),
        diagnose=_diagnose, compare_fn=_compare, new_tensors=False)
