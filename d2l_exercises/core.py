"""What every exercise check shares: run the student's code on known cases, report in Chinese.

A check is a list of :class:`Case` objects and one call of :func:`check_function`. The report is
a few lines of text (no traceback), and the return value says whether every case passed.

What :func:`check_function` guarantees for every check, so that a chapter's module need not:

* **a time limit** on every call of the student's code (:func:`call_with_time_limit`, default
  :data:`TIME_LIMIT_S` seconds): a loop that never ends is reported as ✗ with the line it was
  running, and the kernel stays usable;
* **the inputs are the caller's**: arguments are cloned for every call; writing into them is a
  mistake (unless ``allow_inplace``), and so is returning one of them or a view of it when the
  task asks for new tensors (``new_tensors``, on by default);
* **dtype** is compared for floating tensors (a float64 answer to a float32 task is wrong, with a
  hint of its own); numbers may come as ``int``, ``float``, NumPy scalars or one-element tensors;
* **global state** the student's code may change (grad mode, the default dtype) is restored after
  every call, and changing it is reported; after a time-out the random state is restored too.

The time limit, and why it works this way: the student's function runs in the calling thread (a
notebook's main thread), and a watchdog thread raises an exception in it after the limit with
CPython's ``PyThreadState_SetAsyncExc``, the mechanism Jupyter's "interrupt" button relies on in
spirit (an exception delivered between two bytecodes). It works in Jupyter, on Colab, on macOS and
Windows, in any thread (``signal.alarm`` is POSIX-only and main-thread-only), costs nothing while
the student's code runs (a ``sys.settrace`` step counter slows every Python line and breaks
debuggers and coverage), and needs neither pickling nor a second process with its own torch import
(a subprocess cannot run a function defined in a notebook on macOS/Windows, where processes are
spawned). Its limits: the exception arrives when the thread next runs Python bytecode, so a single
C call (one huge matrix product) finishes first; and a loop that catches *every* exception with a
bare ``except:`` can swallow it, exactly as it would swallow Jupyter's KeyboardInterrupt. The
exception is a ``BaseException``, so ``except Exception`` does not catch it, and it is raised again
every 0.2 s until the call ends.
"""
from __future__ import annotations

import ctypes
import dataclasses
import math
import numbers
import os
import sysconfig
import threading
import traceback
from typing import Any, Callable, Sequence

import torch

__all__ = ['PASS', 'FAIL', 'TODO', 'TIME_LIMIT_S', 'Case', 'TimeLimitExceeded', 'DtypeProblem',
           'call_with_time_limit', 'compare', 'matches', 'pair', 'compare_pair', 'never_raises',
           'safe_compare', 'report', 'check_function', 'check_value']

PASS, FAIL, TODO = '✓', '✗', '⏳'
# Seconds one call of the student's code may take. The checks' inputs are tiny (each call takes
# milliseconds), so this is generous for a slow laptop or a busy Colab CPU; tests lower it.
TIME_LIMIT_S = 10.0
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


# ---------------------------------------------------------------------------------------------------
# The time limit
# ---------------------------------------------------------------------------------------------------

class _StudentTimeout(BaseException):
    """Raised inside the student's code by the watchdog. A BaseException, so that an
    ``except Exception`` in the student's loop does not swallow it."""


class TimeLimitExceeded(Exception):
    """The student's code did not return within ``seconds``; ``__cause__`` holds the exception that
    stopped it, whose traceback shows the line it was running."""

    def __init__(self, seconds):
        super().__init__(f'没有在 {seconds:g} 秒内返回')
        self.seconds = seconds


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class _Watchdog:
    """After `seconds`, raises _StudentTimeout in the thread that created it, again every 0.2 s,
    until disarmed. Disarming also withdraws an exception that was raised but not yet delivered."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.target = threading.get_ident()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.done = False
        self.fired = False
        self.thread = threading.Thread(target=self._watch, name='d2l-exercise-watchdog', daemon=True)

    def start(self):
        self.thread.start()

    def _watch(self):
        wait = self.seconds
        while not self.stopped.wait(wait):
            with self.lock:
                if self.done:
                    return
                self.fired = True
                _set_async_exc(self.target, ctypes.py_object(_StudentTimeout))
            wait = 0.2

    def disarm(self):
        self.done = True  # first, so that no new exception is raised after this point
        self.stopped.set()
        with self.lock:
            if self.fired:
                _set_async_exc(self.target, ctypes.py_object())  # NULL: withdraw an undelivered one


def call_with_time_limit(func: Callable, args: Sequence = (), kwargs: dict | None = None, *,
                         seconds: float | None = None):
    """``func(*args, **kwargs)`` in this thread; TimeLimitExceeded if it has not returned after
    `seconds` (default :data:`TIME_LIMIT_S`). See the module's docstring for the mechanism."""
    seconds = TIME_LIMIT_S if seconds is None else seconds
    dog = _Watchdog(seconds)
    try:
        dog.start()
        try:
            return func(*args, **(kwargs or {}))
        finally:
            dog.disarm()
    except _StudentTimeout as stopped:
        dog.disarm()  # again: the exception may have arrived inside the first disarm
        raise TimeLimitExceeded(seconds) from stopped


# ---------------------------------------------------------------------------------------------------
# Comparing an answer with the expected one
# ---------------------------------------------------------------------------------------------------

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
        text = f'tensor 形状 {tuple(value.shape)}，dtype {_dtype_name(value.dtype)}：{body}'
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _dtype_name(dtype):
    return str(dtype).replace('torch.', '')


class DtypeProblem(str):
    """A comparison's answer when the values are right and only the dtype is not (check_function
    then gives the dtype hint instead of the check's diagnosis)."""


def _as_number(value):
    """`value` as a Python int or float when it is a number in any of the forms that work like one
    downstream (int, float, NumPy scalar or 0-d array, one-element tensor, Fraction), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            return None
        return value.item()
    if type(value).__module__ == 'numpy' and getattr(value, 'shape', None) == () and \
            getattr(value, 'dtype', None) is not None and value.dtype.kind in 'iuf':
        return value.item()  # NumPy scalars and 0-d arrays
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def compare(got, expected, *, atol=1e-5, rtol=1e-4, where='结果'):
    """None when `got` matches `expected`, otherwise a sentence (Chinese) that says how they differ.

    Tensors: same shape, then values within atol/rtol (bool and integer tensors exactly), then, for
    floating results, the same dtype (a :class:`DtypeProblem` when only that differs). Numbers:
    within the same tolerances, in any form :func:`_as_number` accepts. Lists/tuples/dicts: element
    by element. Anything else: ==."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f'{where}应当是一个 tensor，却得到了 {type(got).__name__}：{_short(got)}'
        if tuple(got.shape) != tuple(expected.shape):
            return f'{where}的形状应当是 {tuple(expected.shape)}，却是 {tuple(got.shape)}'
        exact = expected.dtype == torch.bool or not (expected.is_floating_point() or expected.is_complex())
        got_c, exp_c = got.detach().cpu(), expected.detach().cpu()
        if exact:
            if got_c.is_floating_point():
                return (f'{where}应当是 {_dtype_name(expected.dtype)} 类型，'
                        f'却是 {_dtype_name(got.dtype)}')
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
        if not exact and got.dtype != expected.dtype:
            return DtypeProblem(f'{where}的数值对了，但 dtype 应当是 {_dtype_name(expected.dtype)}，'
                                f'却是 {_dtype_name(got.dtype)}')
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if got == expected else f'{where}应当是 {expected!r}，却是 {_short(got)}'
    if isinstance(expected, (int, float)):
        value = _as_number(got)
        if value is None:
            return f'{where}应当是 int 或 float，却得到了 {type(got).__name__}：{_short(got)}'
        if math.isnan(value) and not math.isnan(expected):
            return f'{where}是 NaN，应当是 {expected:.6g}'
        if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
            return f'{where}应当是 {expected:.6g}，却是 {value:.6g}'
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f'{where}应当是长度为 {len(expected)} 的 {type(expected).__name__}，却得到了 {_short(got)}'
        if len(got) != len(expected):
            return f'{where}应当有 {len(expected)} 个元素，却有 {len(got)} 个'
        return _first_problem(compare(g, e, atol=atol, rtol=rtol, where=f'{where}[{i}]')
                              for i, (g, e) in enumerate(zip(got, expected)))
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f'{where}应当是 dict，却得到了 {_short(got)}'
        if set(got) != set(expected):
            return f'{where}的键应当是 {sorted(expected)}，却是 {sorted(got)}'
        return _first_problem(compare(got[key], expected[key], atol=atol, rtol=rtol, where=f'{where}[{key!r}]')
                              for key in expected)
    return None if got == expected else f'{where}应当是 {_short(expected)}，却是 {_short(got)}'


def _first_problem(problems):
    """The first problem about values; a DtypeProblem only when every value is right."""
    dtype_problem = None
    for problem in problems:
        if problem and not isinstance(problem, DtypeProblem):
            return problem
        dtype_problem = dtype_problem or problem
    return dtype_problem


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


def _tensors(value, depth=0):
    """The tensors inside `value` (also in lists, tuples and dicts)."""
    if depth > 6:
        return
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item, depth + 1)


def _storage(tensor):
    try:
        return tensor.untyped_storage().data_ptr() if tensor.numel() > 0 else None
    except Exception:  # sparse or other tensors without one storage
        return None


def _aliased_argument(args, result):
    """The position of the first argument whose storage a tensor of `result` shares, or None."""
    returned = {_storage(t) for t in _tensors(result)} - {None, 0}
    if not returned:
        return None
    for position, arg in enumerate(args):
        if any(_storage(t) in returned for t in _tensors(arg)):
            return position
    return None


def _student_line(error):
    """'（在你的代码 `f` 的第 N 行：`code`）' for the innermost frame of the student's own code."""
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
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
    """True when `got` has the values of `value` in the sense of `compare`, whatever its dtype (for
    diagnoses of typical mistakes: a float64 answer with a typical mistake is still recognised)."""
    problem = compare(got, value, **tolerances)
    return problem is None or isinstance(problem, DtypeProblem)


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
    return _first_problem(compare(got_half, expected_half, where=name, **tolerances)
                          for got_half, expected_half, name in zip((first, second), expected, names))


# ---------------------------------------------------------------------------------------------------
# Running a check and reporting
# ---------------------------------------------------------------------------------------------------

def report(title, verdict, lines=()):
    """Print the verdict line and the explanation lines under it."""
    print(f'{verdict} {title}')
    for line in lines:
        if line:
            print(f'   {line}')


DTYPE_HINT = ('浮点结果的 dtype 要与输入一致（这里是 {expected}）。float64 通常来自 `.double()`、'
              '`dtype=torch.float64`，或由 Python/NumPy 的浮点数创建的张量；去掉它们，或在最后 `.to(输入.dtype)`。')
ALIAS_HINT = ('题目要的是新张量：返回调用者的张量（或它的切片、`view`、`reshape`）时，调用者之后一改，你的结果也跟着变。'
              '即使不需要改动，也用 `.clone()` 返回一个副本。')
INPLACE_HINT = ('不要改调用者的张量，先 `.clone()` 或用 `masked_fill`、`torch.where` 这类返回新张量的操作。')
TIMEOUT_HINT = '是不是循环没有终止条件？'


def _expected_float_dtype(expected):
    for tensor in _tensors(expected):
        if tensor.is_floating_point():
            return _dtype_name(tensor.dtype)
    return 'float32'


def _global_state():
    return torch.is_grad_enabled(), torch.get_default_dtype()


def _side_effects(before):
    """Restore the global settings the student's code changed; a sentence per change."""
    grad, dtype = before
    problems = []
    if torch.is_grad_enabled() != grad:
        torch.set_grad_enabled(grad)
        problems.append('调用之后 torch 的梯度记录被' + ('关掉了' if grad else '打开了') +
                        '：`torch.set_grad_enabled(...)` 会一直生效，之后的训练也受影响。'
                        '需要关掉梯度时用 `with torch.no_grad():`，离开时会自动恢复。')
    if torch.get_default_dtype() != dtype:
        torch.set_default_dtype(dtype)
        problems.append('调用之后 torch 的默认 dtype 被改成了别的类型（`torch.set_default_dtype`），'
                        '整个笔记本之后新建的张量都会受影响：不要在函数里改全局设置。')
    return problems


def check_function(title: str, func: Callable, cases: Sequence[Case], *, hint: str = '',
                   diagnose: Callable[[Any, Case], str | None] | None = None,
                   atol: float = 1e-5, rtol: float = 1e-4, allow_inplace: bool = False,
                   new_tensors: bool = True, time_limit: float | None = None,
                   compare_fn: Callable[[Any, Any], str | None] | None = None) -> bool:
    """Run `func` on every case; print ✓ / ✗ / ⏳ with an explanation; return True when all pass.

    hint: a general hint, shown with any wrong answer or error. diagnose(got, case): optional, may
    recognise a typical mistake from the wrong result and return a specific hint (e.g. "你把填充位置
    也算进了平均"). allow_inplace=False: writing into a tensor argument is reported as a mistake.
    new_tensors=True: a result tensor that shares storage with an argument (the argument itself or
    a view of it) is a mistake; pass False when the task allows returning a view (e.g. ``Y[:, :L]``).
    time_limit: seconds per call (default :data:`TIME_LIMIT_S`). compare_fn(got, expected): replaces
    `compare` (return None when right, a sentence when wrong; a DtypeProblem when only the dtype is)."""
    if not callable(func):
        report(title, FAIL, [f'要检查的应当是一个函数，却得到了 {type(func).__name__}。'
                             '把你定义的函数本身（不加括号）传给检查。'])
        return False
    for number, case in enumerate(cases, 1):
        args, kwargs = _clone(case.args), _clone(case.kwargs)
        before = _clone(args)
        state = _global_state()
        rng = torch.random.get_rng_state()
        where = f'第 {number} 个检查（{case.description}）'
        try:
            got = call_with_time_limit(func, args, kwargs, seconds=time_limit)
        except NotImplementedError:
            _side_effects(state)
            report(title, TODO, ['还没有完成：把 `raise NotImplementedError(...)` 换成你的代码，再运行这一格和检查格。'])
            return False
        except TimeLimitExceeded as error:
            _side_effects(state)
            torch.random.set_rng_state(rng)  # the check's own code may have been stopped half-way
            report(title, FAIL, [f'{where}：你的函数在 {error.seconds:g} 秒内没有返回：{TIMEOUT_HINT}'
                                 f'{_student_line(error.__cause__)}',
                                 f'提示：{hint}' if hint else ''])
            return False
        except Exception as error:  # the student's bug: explain it, no traceback
            _side_effects(state)
            report(title, FAIL, [f'{where}时你的代码出错：'
                                 f'{type(error).__name__}: {error} {_student_line(error)}',
                                 f'提示：{hint}' if hint else ''])
            return False
        changed_globals = _side_effects(state)
        problem = safe_compare(compare_fn or (lambda g, e: compare(g, e, atol=atol, rtol=rtol)))(got, case.expected)
        if isinstance(problem, DtypeProblem):
            report(title, FAIL, [f'{where}：{problem}。',
                                 '提示：' + DTYPE_HINT.format(expected=_expected_float_dtype(case.expected))])
            return False
        if problem:
            specific = never_raises(diagnose)(got, case) if diagnose else None
            report(title, FAIL, [f'{where}：{problem}。',
                                 f'提示：{specific}' if specific else (f'提示：{hint}' if hint else '')])
            return False
        if not allow_inplace:
            changed = _changed_inputs(before, args)
            if changed:
                report(title, FAIL, [f'{where}：结果对了，但你的函数改写了'
                                     f'第 {changed[0] + 1} 个参数（原地修改）。',
                                     f'提示：{INPLACE_HINT}'])
                return False
        if new_tensors:
            shared = _aliased_argument(args, got)
            if shared is not None:
                report(title, FAIL, [f'{where}：结果对了，但你返回的张量与第 {shared + 1} 个参数共用存储'
                                     '（就是调用者传进来的张量，或它的视图）。',
                                     f'提示：{ALIAS_HINT}'])
                return False
        if changed_globals:
            report(title, FAIL, [f'{where}：结果对了，但{changed_globals[0]}'])
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
        lines = [problem + '。']
        if isinstance(problem, DtypeProblem):
            lines.append('提示：' + DTYPE_HINT.format(expected=_expected_float_dtype(expected)))
        else:
            lines.append(f'提示：{hint}' if hint else '')
        report(title, FAIL, lines)
        return False
    report(title, PASS, ['答对了。'])
    return True
