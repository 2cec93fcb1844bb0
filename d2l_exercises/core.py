"""What every exercise check shares: run the student's code on known cases, report in Chinese.

A check is a list of :class:`Case` objects and one call of :func:`check_function`. The report is
a few lines of text (no traceback), and the return value says whether every case passed.
"""
from __future__ import annotations

import dataclasses
import math
import os
import sysconfig
import traceback
from typing import Any, Callable, Sequence

import torch

PASS, FAIL, TODO = '✓', '✗', '⏳'
_HERE = os.path.dirname(os.path.abspath(__file__))
_BOOK_CODE = os.path.join(os.path.dirname(_HERE), 'd2l_local')  # the book's own code is not the student's
# Frames in these folders are library code, not the student's: the report points past them.
_LIBRARY_DIRS = tuple({os.path.abspath(sysconfig.get_paths()[k]) for k in ('stdlib', 'platstdlib', 'purelib', 'platlib')})


@dataclasses.dataclass
class Case:
    """One input and the answer the student's function must give for it.

    args/kwargs: what the student's function is called with (tensors are cloned for every call, so
    a function that writes into its input cannot spoil the next case, and in-place writes are
    detected). expected: the right answer (a tensor, number, string, or a list/tuple/dict of them).
    description: the input in words, shown when the case fails (e.g. "X 形状 (2, 3)，valid_len=[1, 2]")."""
    args: tuple
    expected: Any
    description: str
    kwargs: dict = dataclasses.field(default_factory=dict)


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _short(value, limit=160):
    """A one-line description of a value for the report."""
    if isinstance(value, torch.Tensor):
        body = str(value.detach().cpu().tolist()) if value.numel() <= 12 else '...'
        text = f'tensor 形状 {tuple(value.shape)}，dtype {str(value.dtype).replace("torch.", "")}：{body}'
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def compare(got, expected, *, atol=1e-5, rtol=1e-4, where='结果'):
    """None when `got` matches `expected`, otherwise a sentence (Chinese) that says how they differ.

    Tensors: same shape, then values within atol/rtol (bool and integer tensors exactly). Numbers:
    within the same tolerances. Lists/tuples/dicts: element by element. Anything else: ==."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f'{where}应当是一个 tensor，却得到了 {type(got).__name__}：{_short(got)}'
        if tuple(got.shape) != tuple(expected.shape):
            return f'{where}的形状应当是 {tuple(expected.shape)}，却是 {tuple(got.shape)}'
        exact = expected.dtype == torch.bool or not (expected.is_floating_point() or expected.is_complex())
        got_c, exp_c = got.detach().cpu(), expected.detach().cpu()
        if exact:
            if got_c.is_floating_point():
                return (f'{where}应当是 {str(expected.dtype).replace("torch.", "")} 类型，'
                        f'却是 {str(got.dtype).replace("torch.", "")}')
            wrong = got_c.to(exp_c.dtype) != exp_c
        else:
            got_f, exp_f = got_c.double(), exp_c.double()
            if torch.isnan(got_f).any() and not torch.isnan(exp_f).any():
                index = tuple(torch.nonzero(torch.isnan(got_f))[0].tolist())
                return f'{where}里有 NaN（位置 {index}）'
            wrong = ~torch.isclose(got_f, exp_f, atol=atol, rtol=rtol, equal_nan=True)
        if wrong.any():
            if wrong.dim() == 0:
                return f'{where}应当是 {exp_c.item():.6g}，却是 {got_c.item():.6g}'
            index = tuple(torch.nonzero(wrong)[0].tolist())
            return (f'{where}在位置 {index} 上应当是 {exp_c[index].item():.6g}，却是 '
                    f'{got_c[index].item():.6g}（共 {int(wrong.sum())} 个位置不对）')
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if got == expected else f'{where}应当是 {expected!r}，却是 {_short(got)}'
    if isinstance(expected, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f'{where}应当是一个数，却得到了 {_short(got)}'
        if math.isnan(got) and not math.isnan(expected):
            return f'{where}是 NaN，应当是 {expected:.6g}'
        if not math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return f'{where}应当是 {expected:.6g}，却是 {got:.6g}'
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f'{where}应当是长度为 {len(expected)} 的 {type(expected).__name__}，却得到了 {_short(got)}'
        if len(got) != len(expected):
            return f'{where}应当有 {len(expected)} 个元素，却有 {len(got)} 个'
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, atol=atol, rtol=rtol, where=f'{where}[{i}]')
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f'{where}应当是 dict，却得到了 {_short(got)}'
        if set(got) != set(expected):
            return f'{where}的键应当是 {sorted(expected)}，却是 {sorted(got)}'
        for key in expected:
            problem = compare(got[key], expected[key], atol=atol, rtol=rtol, where=f'{where}[{key!r}]')
            if problem:
                return problem
        return None
    return None if got == expected else f'{where}应当是 {_short(expected)}，却是 {_short(got)}'


def _changed_inputs(before, after):
    """Positions of arguments that the call wrote into (tensors, also inside lists, tuples and dicts)."""
    def changed(b, a):
        if isinstance(b, torch.Tensor) and isinstance(a, torch.Tensor):
            return b.shape != a.shape or not torch.equal(b, a)
        if isinstance(b, (list, tuple)) and isinstance(a, (list, tuple)):
            return len(b) != len(a) or any(changed(x, y) for x, y in zip(b, a))
        if isinstance(b, dict) and isinstance(a, dict):
            return set(b) != set(a) or any(changed(b[k], a[k]) for k in b)
        return False
    return [i for i, (b, a) in enumerate(zip(before, after)) if changed(b, a)]


def _student_line(error):
    """'第 N 行：code' for the innermost frame of the student's own code (not torch, not ours)."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        name = os.path.abspath(frame.filename) if frame.filename and not frame.filename.startswith('<') \
            else (frame.filename or '')
        if name.startswith((_HERE, _BOOK_CODE)) or name.startswith(_LIBRARY_DIRS) or 'site-packages' in name \
                or 'dist-packages' in name:
            continue
        if frame.name == 'check_function':
            break
        line = (frame.line or '').strip()
        return (f'（在你的代码 `{frame.name}` 的第 {frame.lineno} 行'
                + (f'：`{line}`）' if line else '）'))
    return ''


def never_raises(diagnose):
    """A diagnosis is a bonus: if it trips over an unexpected answer, it gives no specific hint
    instead of raising (the check still reports the wrong answer)."""
    def safe(got, case):
        try:
            return diagnose(got, case)
        except Exception:  # any answer the student's code can produce
            return None
    safe.__wrapped__ = diagnose
    return safe


UNREADABLE = '看不懂你的返回值，请对照练习说明检查返回值的类型和结构'


def safe_compare(compare_fn):
    """A comparison that trips over a strange answer reports it as wrong instead of raising."""
    def safe(got, expected):
        try:
            return compare_fn(got, expected)
        except Exception:
            return UNREADABLE
    safe.__wrapped__ = compare_fn
    return safe


def matches(got, value, **tolerances):
    """True when `got` equals `value` in the sense of `compare` (for diagnoses of typical mistakes)."""
    return compare(got, value, **tolerances) is None


def pair(got, names):
    """(first, second, None) when `got` is a pair, else (None, None, a sentence saying what came back)."""
    if isinstance(got, (tuple, list)) and len(got) == 2:
        return got[0], got[1], None
    return None, None, f'应当返回两个值 ({names[0]}, {names[1]})，却返回了 {_short(got)}'


def compare_pair(got, expected, names, **tolerances):
    """`compare` for functions that return two values: says when `got` is not a pair, else compares
    each half under its own name (e.g. names=('dec_input', 'labels'))."""
    first, second, problem = pair(got, names)
    if problem:
        return problem
    return (compare(first, expected[0], where=names[0], **tolerances)
            or compare(second, expected[1], where=names[1], **tolerances))


def report(title, verdict, lines=()):
    """Print the verdict line and the explanation lines under it."""
    print(f'{verdict} {title}')
    for line in lines:
        if line:
            print(f'   {line}')


def check_function(title: str, func: Callable, cases: Sequence[Case], *, hint: str = '',
                   diagnose: Callable[[Any, Case], str | None] | None = None,
                   atol: float = 1e-5, rtol: float = 1e-4, allow_inplace: bool = False,
                   compare_fn: Callable[[Any, Any], str | None] | None = None) -> bool:
    """Run `func` on every case; print ✓ / ✗ / ⏳ with an explanation; return True when all pass.

    hint: a general hint, shown with any wrong answer or error. diagnose(got, case): optional, may
    recognise a typical mistake from the wrong result and return a specific hint (e.g. "你把填充位置
    也算进了平均"). allow_inplace=False: writing into a tensor argument is reported as a mistake.
    compare_fn(got, expected): replaces `compare` (return None when right, a sentence when wrong)."""
    if not callable(func):
        report(title, FAIL, [f'要检查的应当是一个函数，却得到了 {type(func).__name__}。'
                             '把你定义的函数本身（不加括号）传给检查。'])
        return False
    for number, case in enumerate(cases, 1):
        args, kwargs = _clone(case.args), _clone(case.kwargs)
        before = _clone(args)
        try:
            got = func(*args, **kwargs)
        except NotImplementedError:
            report(title, TODO, ['还没有完成：把 `raise NotImplementedError(...)` 换成你的代码，再运行这一格和检查格。'])
            return False
        except Exception as error:  # the student's bug: explain it, no traceback
            report(title, FAIL, [f'第 {number} 个检查（{case.description}）时你的代码出错：'
                                 f'{type(error).__name__}: {error} {_student_line(error)}',
                                 f'提示：{hint}' if hint else ''])
            return False
        problem = safe_compare(compare_fn or (lambda g, e: compare(g, e, atol=atol, rtol=rtol)))(got, case.expected)
        if problem:
            specific = never_raises(diagnose)(got, case) if diagnose else None
            report(title, FAIL, [f'第 {number} 个检查（{case.description}）：{problem}。',
                                 f'提示：{specific}' if specific else (f'提示：{hint}' if hint else '')])
            return False
        if not allow_inplace:
            changed = _changed_inputs(before, args)
            if changed:
                report(title, FAIL, [f'第 {number} 个检查（{case.description}）：结果对了，但你的函数改写了'
                                     f'第 {changed[0] + 1} 个参数（原地修改）。',
                                     '提示：不要改调用者的张量，先 `.clone()` 或用 `masked_fill`、`torch.where` '
                                     '这类返回新张量的操作。'])
                return False
    report(title, PASS, [f'{len(cases)} 个检查全部通过。'])
    return True


def check_value(title: str, got: Any, expected: Any, *, description: str = '你的答案', hint: str = '',
                atol: float = 1e-5, rtol: float = 1e-4, unfinished: Any = ...) -> bool:
    """For exercises whose answer is a value, not a function (e.g. a number the student computes).

    unfinished: the placeholder the scaffold leaves (e.g. None or ...); when `got` is it, the
    exercise is reported as not done yet."""
    if got is unfinished or (unfinished is not ... and got == unfinished and type(got) is type(unfinished)):
        report(title, TODO, ['还没有完成：在上面的格子里算出答案并赋值，再运行检查。'])
        return False
    problem = compare(got, expected, atol=atol, rtol=rtol, where=description)
    if problem:
        report(title, FAIL, [problem + '。', f'提示：{hint}' if hint else ''])
        return False
    report(title, PASS, ['答对了。'])
    return True
