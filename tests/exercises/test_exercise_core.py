"""d2l_exercises.core: the verdicts every chapter's checks print (✓ / ✗ / ⏳), never a traceback, never a hang;
the time limit, dtype, aliasing, equivalent number types and global state every check gets."""
from __future__ import annotations

import fractions
import re
import threading

import numpy as np
import pytest
import torch

from d2l_exercises import core
from d2l_exercises.core import Case, check_function, check_value, compare, matches, pair

CASES = [Case((torch.arange(5.), 3), torch.tensor(3.), 'x=[0, 1, 2, 3, 4], n=3')]


def prefix_sum(x, n):
    return x[:n].sum()


def verdict(capsys, func, cases=CASES, **kwargs):
    ok = check_function('练习 0.1 前 n 项和', func, cases, hint='只加前 n 个', **kwargs)
    return ok, capsys.readouterr().out


def test_a_right_answer_passes(capsys):
    ok, out = verdict(capsys, prefix_sum)
    assert ok is True and out.startswith('✓ 练习 0.1') and '1 个检查全部通过' in out


def test_a_wrong_answer_says_which_input_what_was_expected_and_a_hint(capsys):
    ok, out = verdict(capsys, lambda x, n: x.sum())
    assert ok is False and out.startswith('✗')
    assert 'x=[0, 1, 2, 3, 4], n=3' in out and '应当是 3' in out and '却是 10' in out and '提示：只加前 n 个' in out


def test_unfinished_scaffold_is_not_done_yet(capsys):
    def scaffold(x, n):
        raise NotImplementedError('练习：请完成这里的代码')
    ok, out = verdict(capsys, scaffold)
    assert ok is False and out.startswith('⏳') and 'Traceback' not in out


def test_an_exception_names_the_students_line_not_a_library_frame(capsys):
    def broken(x, n):
        return re.sub('(', '', 'x')  # raises inside the standard library
    ok, out = verdict(capsys, broken)
    assert ok is False and 'Traceback' not in out
    assert 'error: missing )' in out and '你的代码 `broken`' in out and '_compile' not in out


def test_writing_into_an_input_is_a_mistake_also_inside_a_list(capsys):
    def inplace(x, n):
        x[n:] = 0
        return x.sum()
    ok, out = verdict(capsys, inplace)
    assert ok is False and '原地修改' in out

    def inplace_in_list(grads, n):
        grads[0].zero_()
        return torch.tensor(0.)
    cases = [Case(([torch.ones(2)], 1), torch.tensor(0.), 'a list of one gradient')]
    ok, out = verdict(capsys, inplace_in_list, cases)
    assert ok is False and '原地修改' in out


def test_a_diagnosis_or_comparison_that_trips_does_not_break_the_check(capsys):
    def bad_diagnose(got, case):
        raise KeyError('oops')
    ok, out = verdict(capsys, lambda x, n: 'a string', diagnose=bad_diagnose)
    assert ok is False and out.startswith('✗') and '提示：只加前 n 个' in out

    def bad_compare(got, expected):
        return got.shape  # a str has no shape
    ok, out = verdict(capsys, lambda x, n: 'a string', compare_fn=bad_compare)
    assert ok is False and '看不懂你的返回值' in out


def test_not_a_function(capsys):
    ok, out = verdict(capsys, 42)
    assert ok is False and '不加括号' in out


def test_check_value(capsys):
    assert check_value('练习 0.2', None, 2.3, unfinished=None) is False
    assert capsys.readouterr().out.startswith('⏳')
    assert check_value('练习 0.2', 2.3026, 2.302585, atol=1e-3) is True
    assert check_value('练习 0.2', 3.0, 2.302585, hint='ln 10') is False
    out = capsys.readouterr().out
    assert '✓' in out and '✗' in out and '提示：ln 10' in out


def test_compare_helpers():
    assert compare(torch.ones(2, 3), torch.ones(3, 2)) == '结果的形状应当是 (3, 2)，却是 (2, 3)'
    assert compare(torch.tensor([1, 2]), torch.tensor([1, 2])) is None
    assert '类型' in compare(torch.tensor([1., 2.]), torch.tensor([1, 2]))
    assert 'NaN' in compare(torch.tensor([float('nan')]), torch.tensor([0.]))
    assert compare([1, (2.0, 'a')], [1, (2.0, 'a')]) is None and compare({'a': 1}, {'b': 1}) is not None
    assert matches(torch.tensor(1.0), 1.0) and not matches(torch.tensor(1.1), 1.0)
    assert pair((1, 2), ('a', 'b')) == (1, 2, None)
    assert '应当返回两个值' in pair(3, ('a', 'b'))[2]


# ------------------------------------------------------------------------------------------------ time limit

def test_an_endless_loop_is_stopped_and_the_report_names_its_line(capsys):
    def endless(x, n):
        while True:
            n += 1

    ok, out = verdict(capsys, endless, time_limit=0.2)
    assert ok is False and out.startswith('✗') and 'Traceback' not in out
    assert '你的函数在 0.2 秒内没有返回：是不是循环没有终止条件？' in out and '`endless`' in out and ('while True' in out or 'n += 1' in out)


def test_a_loop_that_catches_exception_is_stopped_too(capsys):
    def stubborn(x, n):
        while True:
            try:
                n += 1
            except Exception:
                pass

    ok, out = verdict(capsys, stubborn, time_limit=0.2)
    assert ok is False and '秒内没有返回' in out


def test_the_limit_is_per_call_and_a_fast_answer_is_not_disturbed(capsys):
    import time as clock

    def slow_but_finite(x, n):
        clock.sleep(0.05)
        return x[:n].sum()

    ok, out = verdict(capsys, slow_but_finite, CASES * 5, time_limit=1.0)
    assert ok is True, out
    for _ in range(300):   # no exception arrives late, after a call returned
        assert core.call_with_time_limit(prefix_sum, (torch.arange(5.), 3), seconds=0.5) == 3
    deadline = clock.monotonic() + 10
    while any(t.name == 'd2l-exercise-watchdog' for t in threading.enumerate()) and clock.monotonic() < deadline:
        clock.sleep(0.05)
    assert not any(t.name == 'd2l-exercise-watchdog' for t in threading.enumerate())   # no watchdog left behind


def test_after_a_time_out_the_kernel_state_is_as_before(capsys):
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)

    def messes_up(x, n):
        torch.set_grad_enabled(False)
        torch.rand(100)
        while True:
            pass

    ok, out = verdict(capsys, messes_up, time_limit=0.2)
    assert ok is False and '秒内没有返回' in out
    assert torch.is_grad_enabled()
    assert torch.equal(torch.rand(2), expected)   # the random state the cell had before the check


def _spin():
    while True:
        pass


def test_time_limit_exceeded_outside_a_check():
    with pytest.raises(core.TimeLimitExceeded) as error:
        core.call_with_time_limit(_spin, seconds=0.1)
    assert error.value.seconds == 0.1 and isinstance(error.value.__cause__, BaseException)


# ------------------------------------------------------------------------------------------------ dtype, aliasing, globals

def test_a_float64_answer_to_a_float32_task_is_wrong_with_its_own_hint(capsys):
    ok, out = verdict(capsys, lambda x, n: x[:n].double().sum())
    assert ok is False and 'dtype 应当是 float32，却是 float64' in out and '.double()' in out
    assert '提示：只加前 n 个' not in out            # the values are right: the general hint would mislead
    assert matches(torch.tensor(3., dtype=torch.float64), torch.tensor(3.))   # diagnoses still see the values
    problem = compare([torch.tensor([1.]).double(), torch.tensor([2.])], [torch.tensor([1.]), torch.tensor([3.])])
    assert '应当是 3' in problem                      # a wrong value is reported before a wrong dtype


def test_returning_the_callers_tensor_is_wrong_even_when_nothing_had_to_change(capsys):
    cases = [Case((torch.tensor([1., 2.]),), torch.tensor([1., 2.]), 'x 已经满足要求')]
    for answer in (lambda x: x, lambda x: x[:], lambda x: x.view(2)):
        assert check_function('练习 0.3', answer, cases) is False
        assert '共用存储' in capsys.readouterr().out
    assert check_function('练习 0.3', lambda x: x.clone(), cases) is True
    assert check_function('练习 0.3', lambda x: x, cases, new_tensors=False) is True
    capsys.readouterr()


def test_changing_grad_mode_or_the_default_dtype_for_good_is_reported_and_undone(capsys):
    def no_grad_for_good(x, n):
        torch.set_grad_enabled(False)
        return x[:n].sum()

    ok, out = verdict(capsys, no_grad_for_good)
    assert ok is False and '梯度记录被关掉了' in out and torch.is_grad_enabled()

    def float64_for_good(x, n):
        torch.set_default_dtype(torch.float64)
        return x[:n].sum()

    ok, out = verdict(capsys, float64_for_good)
    assert ok is False and '默认 dtype' in out and torch.get_default_dtype() == torch.float32


def test_numbers_in_any_equivalent_form_are_accepted():
    for value in (3, 3.0, np.int64(3), np.float32(3), np.array(3), torch.tensor(3), fractions.Fraction(3)):
        assert compare(value, 3) is None, type(value)
    assert compare([np.int64(4), np.int64(6)], [4, 6]) is None
    for value in ('3', [3], True, None, torch.tensor([3, 3])):
        problem = compare(value, 3)
        assert problem and '应当是 int 或 float' in problem and '应当是一个数' not in problem


def test_in_a_jupyter_kernel_an_endless_loop_is_stopped_and_the_kernel_goes_on():
    """The way students run checks: in an IPython kernel, where the cell runs in the kernel's main thread."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import torch\nfrom d2l_exercises import core\ncore.TIME_LIMIT_S = 0.5",
        "def endless(x):\n    while True:\n        x = x + 1\n\n"
        "ok = core.check_function('练习 0.9 测试', endless, [core.Case((torch.ones(2),), torch.ones(2), 'x')])",
        "print(ok, torch.is_grad_enabled(), (torch.ones(2) * 3).tolist())",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    verdict = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert verdict.startswith("✗ 练习 0.9 测试") and "0.5 秒内没有返回" in verdict and "Traceback" not in verdict
    assert "".join(o.get("text", "") for o in nb.cells[2].outputs) == "False True [3.0, 3.0]\n"
