"""Every checked exercise of the book, discovered from the notebooks, and the generic cases.

For every exercise (a scaffold cell with the teacher's solution and a check cell, see
CONTRIBUTING.md): the teacher's solution passes (✓); the student edition's placeholder reports "not
done yet" (⏳); a loop that never ends is stopped within the time limit (✗); odd return values, an
exception, a float64 answer and a function that switches off gradients globally are each reported as
✗ — never a traceback, never a hang. Then the wrong-answer tables (``wrong_answers_*.py``, keyed by
check name): every wrong answer is ✗ with its hint, every other right answer ✓. Nothing here names a
chapter: a new chapter's exercises are tested as soon as its notebook has them.
"""
from __future__ import annotations

import inspect
import re
import signal
import threading
import time

import pytest
import torch

from booktools import student
from booktools import nb as nbtools
from d2l_exercises import core
from exercise_support import (by_check, call_check, discover, exercise_for, exercises, namespace, run,
                              run_exercise, solution_text, student_version, table_params, tables, with_solution)

EXERCISES = exercises()
IDS = [c.id for c in EXERCISES]
# the answer is a function or class the check calls (the generic wrong answers replace its body)
FUNCTIONS = [c for c in EXERCISES if c.is_function]
FUNCTION_IDS = [c.id for c in FUNCTIONS]
CHAPTERS = sorted({c.path for c in EXERCISES})
WRONG, RIGHT = tables()
LOOP_LIMIT_S = 0.3      # the time limit while testing answers that never return
TABLE_LIMIT_S = 3.0     # while testing the tables' answers (each takes milliseconds; generous on a busy machine)


@pytest.fixture
def hang_guard():
    """A safety net under the time limit being tested: fail instead of hanging the test run."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def give_up(signum, frame):
        raise AssertionError("the check did not return within 60 s: its time limit did not work")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def time_limit(monkeypatch):
    def set_limit(seconds):
        monkeypatch.setattr(core, "TIME_LIMIT_S", seconds)
    set_limit(TABLE_LIMIT_S)
    return set_limit


def assert_rejected(checked, printed, *fragments):
    title = checked.exercise.title
    assert printed.startswith(f"✗ {title}"), printed
    assert "Traceback" not in printed and "✓" not in printed, printed
    for fragment in fragments:
        assert fragment in printed, (fragment, printed)


# ------------------------------------------------------------------------------------------------
# The notebooks


def test_every_notebook_with_exercises_can_be_read():
    _, errors = discover()
    assert not errors, "\n".join(f"{name}: {error}" for name, error in errors)
    assert EXERCISES, "no checked exercise found in notebooks/"


@pytest.mark.parametrize("checked", EXERCISES, ids=IDS)
def test_check_cell_follows_the_convention(checked):
    """`from d2l_exercises import chNN as checks` and `ok = checks.name(answer)`, where chNN is a module of
    d2l_exercises that lists the check in its __all__, and the check's title is the exercise's number."""
    assert re.search(rf"^from d2l_exercises import {checked.exercise.module} as checks$", checked.check, re.M)
    assert re.search(rf"^ok = checks\.{checked.name}\({checked.answer}\)$", checked.check, re.M), checked.check
    assert checked.name in checked.module.__all__, f"d2l_exercises.{checked.exercise.module}.__all__"
    assert re.search(rf"^(def|class) {checked.answer}\(", checked.scaffold, re.M)
    assert checked.check_function.__doc__ and f"练习 {checked.heading_label}" in checked.check_function.__doc__


@pytest.mark.parametrize("checked", EXERCISES, ids=IDS)
def test_teacher_solution_passes(checked, time_limit):
    ok, printed = run_exercise(checked)
    assert ok is True, printed
    assert printed.startswith(f"✓ {checked.exercise.title}"), printed
    assert "检查全部通过" in printed and "✗" not in printed
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("checked", EXERCISES, ids=IDS)
def test_student_placeholder_is_not_done_yet(checked):
    stripped = student_version(checked.scaffold)
    assert student.BEGIN not in stripped and "NotImplementedError" in stripped
    ok, printed = run_exercise(checked, stripped)   # must not raise
    assert ok is False
    assert printed.startswith(f"⏳ {checked.exercise.title}"), printed
    assert "还没有完成" in printed and "Traceback" not in printed and "✗" not in printed


@pytest.mark.parametrize("checked", FUNCTIONS, ids=FUNCTION_IDS)
def test_a_loop_that_never_ends_is_stopped(checked, time_limit, hang_guard):
    time_limit(LOOP_LIMIT_S)
    # an endless loop that even catches Exception (as a careless retry loop would)
    body = ["while True:", "    try:", "        x = [1] * 10", "    except Exception:", "        pass"]
    start = time.perf_counter()
    ok, printed = run_exercise(checked, with_solution(checked.scaffold, body))
    elapsed = time.perf_counter() - start
    assert ok is False
    assert_rejected(checked, printed, f"你的函数在 {LOOP_LIMIT_S:g} 秒内没有返回", "是不是循环没有终止条件",
                    "在你的代码")
    assert elapsed < 30, elapsed   # one case, stopped after the limit (generous: the machine may be busy)
    assert torch.is_grad_enabled()


ODD_RETURNS = ["None", "'abc'", "[1, 2, 3]", "42", "float('nan')", "(None, None)", "{}", "iter([])",
               "__import__('torch').zeros(2, 3)", "__import__('numpy').int64(7)"]


@pytest.mark.parametrize("checked", FUNCTIONS, ids=FUNCTION_IDS)
def test_odd_return_values_are_wrong_answers_not_crashes(checked, time_limit):
    for value in ODD_RETURNS:
        ok, printed = run_exercise(checked, with_solution(checked.scaffold, [f"return {value}"]))
        assert ok is False, (value, printed)
        assert_rejected(checked, printed, "第 1 个检查")


@pytest.mark.parametrize("checked", FUNCTIONS, ids=FUNCTION_IDS)
def test_an_exception_is_explained_without_a_traceback(checked, time_limit):
    ok, printed = run_exercise(checked, with_solution(checked.scaffold, ["raise ValueError('学生代码里的错误')"]))
    assert ok is False
    assert_rejected(checked, printed, "第 1 个检查", "你的代码出错", "ValueError: 学生代码里的错误", "在你的代码")


@pytest.mark.parametrize("checked", FUNCTIONS, ids=FUNCTION_IDS)
def test_switching_off_gradients_for_good_is_reported_and_undone(checked, time_limit):
    """torch.set_grad_enabled(False) in the answer would silently stop every later training cell."""
    scaffold = with_solution(checked.scaffold, lambda lines: ["__import__('torch').set_grad_enabled(False)"] + lines)
    ok, printed = run_exercise(checked, scaffold)
    assert torch.is_grad_enabled()
    if ok is True:  # the check itself runs the answer under torch.no_grad(), which undoes the change
        assert "torch.no_grad()" in inspect.getsource(checked.module), printed
        return
    assert_rejected(checked, printed, "梯度记录被关掉了", "with torch.no_grad()")


def _to_float64(value):
    """Floating tensors, also inside lists and tuples, as float64 (a dictionary, such as a checkpoint, is
    a storage format whose dtype the task does not fix: it stays as it is)."""
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float64(v) for v in value)
    return value


def _converted(value):
    """Whether _to_float64 changes a floating tensor of more than 0 dimensions in `value`."""
    if isinstance(value, torch.Tensor):
        return value.is_floating_point() and value.dim() > 0
    if isinstance(value, (list, tuple)):
        return any(_converted(v) for v in value)
    return False


@pytest.mark.parametrize("checked", [c for c in FUNCTIONS if not c.is_class], ids=lambda c: c.id)
def test_a_float64_answer_is_wrong_exactly_when_the_answer_holds_a_floating_tensor(checked, time_limit):
    """Numbers may come as 0-d tensors of any dtype; a floating tensor must have the task's dtype."""
    ns, _ = run(checked.scaffold, namespace(checked))
    solution = ns[checked.answer]
    floating = []

    def as_float64(*args, **kwargs):
        result = solution(*args, **kwargs)
        floating.append(_converted(result))
        return _to_float64(result)

    ok, printed = call_check(checked, as_float64)
    if any(floating):
        assert ok is False
        assert_rejected(checked, printed, "dtype 应当是 float32，却是 float64", "float64 通常来自")
    else:
        assert ok is True, printed


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercise_cells_come_after_the_list_and_hold_nothing_else(path):
    nb = nbtools.read(path)
    checked = [c for c in EXERCISES if c.path == path]
    index = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "markdown" and re.search(r"^##\s+练习", c.source, re.M))
    assert nb.cells[index].source.count("自动检查，见下方") == len(checked), "mark each checked exercise in the list"
    assert not any(nbtools.EXERCISE_TAG in nbtools.tags(c) for c in nb.cells[:index + 1])
    after = nb.cells[index + 1:]
    if after and after[-1].cell_type == "markdown" and after[-1].source.startswith("## 参考文献"):
        after = after[:-1]  # the references close the chapter, after the exercises
    assert all(c.cell_type == "markdown" or {nbtools.EXERCISE_TAG, nbtools.SOLUTION_TAG} & set(nbtools.tags(c))
               for c in after)
    headings = [c.source.splitlines()[0] for c in after if c.source.startswith("### 练习")]
    number = nbtools.chapter_number(path)
    assert len(headings) == len(checked)
    assert all(re.match(rf"### 练习 {number}\.\d+(（[a-z]）)?（自动检查）：\S", h) for h in headings), headings


@pytest.mark.parametrize("checked", EXERCISES, ids=IDS)
def test_stored_output_of_the_check_cell_is_what_the_check_prints_now(checked, time_limit):
    """nbval compares it: a check that gained a case prints another count (rebuild the chapter)."""
    cell = nbtools.read(checked.path).cells[checked.exercise.check_cell]
    stored = "".join(o.get("text", "") for o in cell.outputs)
    assert stored.startswith(f"✓ {checked.exercise.title}"), stored
    _, printed = run_exercise(checked)
    assert printed == stored, ("the check's output changed; rebuild the chapter "
                               f"(python -m booktools.build {nbtools.rel(checked.path)})")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_edition_of_the_chapter_has_no_answers(path):
    nb, removed = student.student_notebook(nbtools.read(path), path.name)
    text = "\n".join(c.source for c in nb.cells)
    assert removed >= len([c for c in EXERCISES if c.path == path])
    assert student.BEGIN not in text and "**参考答案**" not in text and "<!-- BEGIN" not in text
    assert not any(nbtools.SOLUTION_TAG in nbtools.tags(c) for c in nb.cells)
    for cell in nb.cells:
        if nbtools.EXERCISE_TAG in nbtools.tags(cell):
            assert cell.outputs == [] and nbtools.IGNORE_OUTPUT_TAG in nbtools.tags(cell)


@pytest.mark.parametrize("checked", EXERCISES, ids=IDS)
def test_the_placeholder_removes_the_whole_solution(checked):
    stripped = student_version(checked.scaffold).splitlines()
    solution = [line.strip() for line in solution_text(checked.scaffold).splitlines()]
    assert not any(line and not line.startswith("#") and line in (s.strip() for s in stripped)
                   for line in solution if len(line) > 12), "a solution line survives in the student edition"


# ------------------------------------------------------------------------------------------------
# The tables


@pytest.mark.parametrize("checked", EXERCISES, ids=IDS)
def test_every_check_has_a_wrong_answer_table(checked):
    """A check nobody tried wrong answers on may pass them: at least 5 per check (tests/exercises/wrong_answers_*.py)."""
    mine = [a for a in WRONG.get(checked.name, []) if exercise_for(checked.name, a) is checked]
    assert len(mine) >= 5, f"{checked.name}: {len(mine)} wrong answers in tests/exercises/wrong_answers_*.py"


@pytest.mark.parametrize("check_name, answer", table_params(WRONG),
                         ids=[f"{n}-{a.name}" for n, a in table_params(WRONG)])
def test_a_wrong_answer_is_rejected_with_its_hint(check_name, answer, time_limit, hang_guard):
    checked = exercise_for(check_name, answer)
    if checked is None:
        if by_check(check_name):
            pytest.fail(f"{answer.name}: no exercise `{check_name}` has the parameters {answer.params()}")
        pytest.skip(f"no chapter has the check `{check_name}` now")
    if any("秒内没有返回" in fragment for fragment in answer.expect):
        time_limit(LOOP_LIMIT_S)   # it is meant to hang: no need to wait longer
    ok, printed = call_check(checked, answer.answer)
    assert ok is False, printed
    assert_rejected(checked, printed, *answer.expect)
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("check_name, answer", table_params(RIGHT),
                         ids=[f"{n}-{a.name}" for n, a in table_params(RIGHT)])
def test_another_right_answer_passes(check_name, answer, time_limit):
    checked = exercise_for(check_name, answer)
    if checked is None:
        if by_check(check_name):
            pytest.fail(f"{answer.name}: no exercise `{check_name}` has the parameters {answer.params()}")
        pytest.skip(f"no chapter has the check `{check_name}` now")
    ok, printed = call_check(checked, answer.answer)
    assert ok is True, printed
    assert printed.startswith(f"✓ {checked.exercise.title}")


def test_every_table_entry_names_a_check_of_the_package():
    """A typo in a table's key would silently test nothing."""
    import d2l_exercises
    import pkgutil
    import importlib

    names = set()
    for info in pkgutil.iter_modules(d2l_exercises.__path__):
        if info.name != "core":
            names |= set(importlib.import_module(f"d2l_exercises.{info.name}").__all__)
    assert set(WRONG) | set(RIGHT) <= names, (set(WRONG) | set(RIGHT)) - names
