"""Checks for the exercises of chapter 15 (训练 Transformer 与三种模型的比较).

* :func:`noam_lambda` — 练习 15.6: the learning rate of Vaswani et al. (2017) as a ``LambdaLR`` factor.

The expected answers are computed here, in plain Python floats, independently of the student's code
and of ``d2l_local``: the learning rate of Vaswani et al. (2017), written for ``LambdaLR``.
"""
from __future__ import annotations

import math

from .core import Case, check_function, compare

__all__ = ["noam_lambda"]


# ---------------------------------------------------------------------------------------------------
# 练习 15.6 Vaswani 等人的学习率调度
# ---------------------------------------------------------------------------------------------------

def _noam(s, num_hiddens, warmup_steps):
    """The formula of the paper, with s counted from 1."""
    return num_hiddens ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)


def _reference(step, num_hiddens, warmup_steps):
    """LambdaLR calls lr_lambda(0) for the first update, lr_lambda(1) for the second, ...: s = step + 1."""
    return _noam(step + 1, num_hiddens, warmup_steps)


_SIZES = [  # (step, num_hiddens, warmup_steps, what the case checks)
    (0, 512, 4000, "第一次更新（LambdaLR 传入 step=0）"),
    (1, 512, 4000, "第二次更新（step=1）"),
    (3998, 512, 4000, "预热的最后一步之前（step=3998）"),
    (3999, 512, 4000, "峰值：第 4000 次更新（step=3999）"),
    (15999, 512, 4000, "预热之后、按步数的 -1/2 次方衰减（step=15999）"),
    (9, 32, 10, "num_hiddens=32、warmup_steps=10 的第 10 次更新（step=9）"),
    (99, 32, 10, "num_hiddens=32、warmup_steps=10 的第 100 次更新（step=99）"),
]


def _cases():
    return [Case(args=(step, d, w), expected=_reference(step, d, w),
                 description=f"{what}，num_hiddens={d}，warmup_steps={w}")
            for step, d, w, what in _SIZES]


def _variants(step, d, w):
    """Typical wrong answers: (value, hint) pairs (values that cannot be computed are left out)."""
    s = step + 1
    out = []
    def add(compute, hint):
        try:
            out.append((compute(), hint))
        except (ZeroDivisionError, ValueError, OverflowError):
            pass
    add(lambda: _noam(step, d, w),
        "差了一步：LambdaLR 传进来的 step 从 0 数起（第一次更新是 step=0），而公式里的 s 从 1 数起，要用 s = step + 1。")
    add(lambda: min(s ** -0.5, s * w ** -1.5),
        "少了因子 num_hiddens ** -0.5：模型越宽，学习率越小。")
    add(lambda: d ** -0.5 * max(s ** -0.5, s * w ** -1.5),
        "min 写成了 max：预热阶段取的是线性增长的 s * warmup_steps ** -1.5，它比 s ** -0.5 小。")
    add(lambda: d ** -0.5 * min(s ** -0.5, s * w ** -0.5),
        "预热项的指数错了：是 s * warmup_steps ** -1.5，这样两项正好在 s = warmup_steps 处相等。")
    add(lambda: d ** 0.5 * min(s ** -0.5, s * w ** -1.5),
        "num_hiddens 的指数错了：是 num_hiddens ** -0.5（除以根号 d），不是乘以根号 d。")
    add(lambda: d ** -0.5 * s * w ** -1.5,
        "只有预热的那一项：预热之后学习率要按 s ** -0.5 衰减，两项取 min。")
    add(lambda: d ** -0.5 * s ** -0.5,
        "只有衰减的那一项：前 warmup_steps 步学习率要从很小线性增大（s * warmup_steps ** -1.5），两项取 min。")
    return out


def _diagnose(got, case):
    step, d, w = case.args
    for value, hint in _variants(step, d, w):
        if compare(got, value, atol=0.0, rtol=1e-6) is None:
            return hint
    return None


def _diagnose_with(func):
    """A diagnose that looks at the whole function: some mistakes agree at one step (``max`` instead of
    ``min`` gives the decay term during the warm-up and the warm-up term after it), so the hint is the
    variant that matches at the first update, at a step during the warm-up *and* at one well after it."""
    def diagnose(got, case):
        _, d, w = case.args
        probes = (0, max(w // 2 - 1, 0), 4 * w)               # the first update, one in the warm-up, one after
        try:
            values = [func(step, d, w) for step in probes]
        except Exception:                                     # the check already reports the error
            values = None
        if values is not None:
            candidates = [dict() for _ in probes]
            for i, step in enumerate(probes):
                for value, hint in _variants(step, d, w):
                    candidates[i].setdefault(hint, value)
            for hint in candidates[0]:
                if all(hint in c for c in candidates) and all(
                        compare(values[i], candidates[i][hint], atol=0.0, rtol=1e-6) is None
                        for i in range(len(probes))):
                    return hint
        return _diagnose(got, case)
    return diagnose


def noam_lambda(func) -> bool:
    """练习 15.6：检查 ``noam_lambda(step, num_hiddens, warmup_steps)``。

    给 ``torch.optim.lr_scheduler.LambdaLR`` 用的函数：step 从 0 数起，返回 Vaswani 等人（2017）的学习率
    num_hiddens ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)，其中 s = step + 1（优化器的 lr 设为 1）。
    七组输入（第一次更新、预热中、峰值、衰减中，两种尺寸）与公式比较；认得出差一步、少了 num_hiddens ** -0.5、
    min 写成 max、指数写错这几种错误。
    """
    return check_function(
        "练习 15.6 Vaswani 等人的学习率调度", func, _cases(),
        hint=("s = step + 1；返回 num_hiddens ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)。"
              "LambdaLR 在第一次更新之前就调用 lr_lambda(0)，所以 step = 0 也必须能算。"),
        diagnose=_diagnose_with(func), atol=0.0, rtol=1e-6)
