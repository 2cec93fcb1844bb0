"""Checks for the exercises of chapter 16 (训练的配方).

* :func:`warmup_cosine` — 练习 16.9: warm-up, then half a cosine period down to 0 at the end of the budget;
* :func:`padding_ratio` — 练习 16.10: the share of padded positions over all batches.

Both exercises are small pure functions of numbers and lists (no model is trained), so each check
runs in milliseconds. Expected answers come from reference code in this module (plain Python),
never from the student's function or from d2l_local.
"""
from __future__ import annotations

import math

from .core import Case, check_function
from .core import matches as _matches

__all__ = ['warmup_cosine', 'padding_ratio']


# ---------------------------------------------------------------------------------------------------
# 练习 16.9 预热之后按余弦降到 0 的学习率倍数
# ---------------------------------------------------------------------------------------------------

def _reference_cosine(progress, warmup):
    """p/w during the warm-up; then half a cosine period from 1 down to 0 over the rest of the budget."""
    p = min(max(float(progress), 0.0), 1.0)
    if p < warmup:
        return p / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (p - warmup) / (1.0 - warmup)))


def _number(got):
    """The student's answer as a float, or None when it is not a single number."""
    try:
        value = got.item() if hasattr(got, 'item') else got
    except Exception:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _diagnose_cosine(got, case):
    progress, warmup = case.args
    value = _number(got)
    if value is None:
        return '返回一个数（学习率的倍数，0 到 1 之间），例如 return 0.5 * (1 + math.cos(...))。'
    p = min(max(progress, 0.0), 1.0)
    if value < -1e-9 or value > 1 + 1e-9:
        return ('倍数应在 0 到 1 之间。只用 cos(x) 会得到 -1 到 1：要把它平移、缩放到 0 到 1，'
                '即 0.5 * (1 + cos(x))。')
    if p >= warmup:
        rest = (p - warmup) / (1 - warmup)
        if _matches(value, 0.5 * (1 + math.cos(math.pi * p))):
            return ('余弦要从预热结束时开始，到预算结束时走完半个周期：角度是 '
                    'pi * (progress - warmup) / (1 - warmup)，不是 pi * progress。')
        if _matches(value, math.cos(math.pi * rest)):
            return ('cos(pi * t) 从 1 降到 -1；要让倍数从 1 降到 0，把它平移、缩放：'
                    '0.5 * (1 + cos(x))，x = pi * t。')
        if _matches(value, math.cos(math.pi / 2 * rest)):
            return '这是四分之一个余弦周期（cos 从 0 到 pi/2）：要走半个周期，0.5 * (1 + cos(pi * t))，t 从 0 到 1。'
        if _matches(value, 0.5 * (1 + math.cos(180 * rest))) or _matches(value, 0.5 * (1 + math.cos(math.radians(rest)))):
            return 'math.cos 用的是弧度：半个周期是 math.pi，不是 180。'
        if _matches(value, 1 - rest):
            return '这是线性衰减（本章的 warmup_linear_decay）。练习要的是余弦：0.5 * (1 + cos(pi * t))。'
    elif warmup > 0:
        if _matches(value, _reference_cosine(warmup, warmup)) or _matches(value, 1.0):
            return '预热阶段学习率应当从 0 线性增大：倍数是 progress / warmup，还没到 1。'
        if _matches(value, 0.5 * (1 + math.cos(math.pi * p))):
            return '预热阶段（progress < warmup）倍数是 progress / warmup，这时还不该用余弦。'
    return None


def _cosine_cases():
    cases = []
    for progress, warmup, description in (
            (0.0, 0.1, 'progress=0，warmup=0.1（刚开始）'),
            (0.05, 0.1, 'progress=0.05，warmup=0.1（预热到一半）'),
            (0.1, 0.1, 'progress=0.1，warmup=0.1（预热刚结束）'),
            (0.55, 0.1, 'progress=0.55，warmup=0.1（余弦段的中点）'),
            (0.8, 0.2, 'progress=0.8，warmup=0.2'),
            (1.0, 0.1, 'progress=1，warmup=0.1（预算用完）'),
            (0.25, 0.0, 'progress=0.25，warmup=0（不预热）')):
        cases.append(Case((progress, warmup), _reference_cosine(progress, warmup), description))
    return cases


def warmup_cosine(func) -> bool:
    """练习 16.9：检查 func(progress, warmup) -> 学习率的倍数。

    progress < warmup 时是 progress / warmup；之后是 0.5 * (1 + cos(pi * (progress - warmup) / (1 - warmup)))，
    从 1 平滑地降到预算结束（progress = 1）时的 0。"""
    return check_function(
        '练习 16.9 预热加余弦衰减', func, _cosine_cases(),
        hint='if progress < warmup: return progress / warmup；否则 t = (progress - warmup) / (1 - warmup)，'
             'return 0.5 * (1 + math.cos(math.pi * t))。',
        diagnose=_diagnose_cosine, atol=1e-6, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------
# 练习 16.10 一种分批方式里填充占了多少位置
# ---------------------------------------------------------------------------------------------------

def _reference_padding(lengths, batches):
    """1 - (real tokens) / (positions computed), positions = rows x longest sentence of each batch."""
    positions = real = 0
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        positions += len(batch) * longest
        real += sum(lengths[i] for i in batch)
    return 1.0 - real / positions


def _diagnose_padding(got, case):
    lengths, batches = case.args
    value = _number(got)
    if value is None:
        return '返回一个数：填充位置占全部位置的比例（0 到 1 之间）。'
    expected = _reference_padding(lengths, batches)
    if _matches(value, 1 - expected):
        return '你算的是真实词元所占的比例；练习要的是填充所占的比例：1 - 真实词元数 / 位置数。'
    per_batch = []
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        per_batch.append(1 - sum(lengths[i] for i in batch) / (len(batch) * longest))
    if _matches(value, sum(per_batch) / len(per_batch)):
        return ('你把各批的填充比例做了平均：大批和小批的权重不该一样。先把所有批的真实词元数和位置数'
                '分别加起来，最后再相除。')
    global_max = max(lengths)
    rows = sum(len(b) for b in batches)
    if _matches(value, 1 - sum(lengths[i] for b in batches for i in b) / (rows * global_max)):
        return '每一批只需补齐到**这一批**最长的句子（max(lengths[i] for i in batch)），不是全部句子里最长的。'
    return None


def _padding_cases():
    cases = []
    for lengths, batches, description in (
            ([3, 5, 2, 5], [[0, 1], [2, 3]], '长度 [3, 5, 2, 5]，两批 [[0, 1], [2, 3]]'),
            ([4, 4, 4], [[0, 1, 2]], '长度都是 4，一批（没有填充）'),
            ([2, 9, 3, 8, 7, 1], [[1, 3, 4], [0, 2, 5]], '长度 [2, 9, 3, 8, 7, 1]，按长短分成两批'),
            ([2, 9, 3, 8, 7, 1], [[0, 1, 2], [3, 4, 5]], '同样的长度，按原顺序分成两批'),
            ([6, 1, 1, 1, 1], [[0], [1, 2, 3, 4]], '一批 1 句，一批 4 句')):
        cases.append(Case((lengths, batches), _reference_padding(lengths, batches), description))
    return cases


def padding_ratio(func) -> bool:
    """练习 16.10：检查 func(lengths, batches) -> 填充位置所占的比例。

    每批补齐到这一批最长的句子：位置数 = Σ 行数 × 这一批最长的长度；真实词元数 = Σ 各句长度；
    返回 1 - 真实词元数 / 位置数。"""
    return check_function(
        '练习 16.10 填充所占的比例', func, _padding_cases(),
        hint='positions += len(batch) * max(lengths[i] for i in batch)；real += sum(lengths[i] for i in batch)；'
             '最后 return 1 - real / positions。',
        diagnose=_diagnose_padding, atol=1e-9, rtol=1e-9)
