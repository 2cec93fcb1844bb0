"""d2l_exercises.core: the verdicts every chapter's checks print (✓ / ✗ / ⏳), never a traceback."""
from __future__ import annotations

import re

import torch

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
