"""The checked exercise of chapter 15 (d2l_exercises.ch15): the notebook's solution passes, the student
edition's placeholder is reported as not done, and the typical mistakes get their hints."""
from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import d2l_local as d2l
from d2l_exercises import ch15
from exercise_support import exercise_cells, notebook, run, solution_cells, student_version

NAME = "15_transformer_training"


def namespace():
    return {"torch": torch, "nn": nn, "math": math, "d2l": d2l}


def scaffold_and_check():
    cells = exercise_cells(NAME)
    scaffolds = [c for c in cells if "### BEGIN SOLUTION" in c]
    checks = [c for c in cells if "### BEGIN SOLUTION" not in c]
    assert len(scaffolds) == len(checks) == 1
    return scaffolds[0], checks[0]


def test_notebook_solution_passes():
    scaffold, check = scaffold_and_check()
    assert scaffold in solution_cells(NAME)
    ns, printed = run(scaffold + "\n" + check, namespace())
    assert ns["ok"] is True
    assert printed.startswith("✓ 练习 15.6 ") and "检查全部通过" in printed, printed


def test_student_placeholder_reports_not_done():
    scaffold, check = scaffold_and_check()
    student = student_version(scaffold)
    assert "### BEGIN SOLUTION" not in student and "NotImplementedError" in student
    ns, printed = run(student + "\n" + check, namespace())
    assert ns["ok"] is False
    assert printed.startswith("⏳ 练习 15.6 ") and "还没有完成" in printed and "Traceback" not in printed


def test_exercise_list_marks_the_checked_one_and_cells_come_last():
    nb = notebook(NAME)
    listing = [c.source for c in nb.cells if c.cell_type == "markdown" and re.search(r"^##\s+练习", c.source, re.M)]
    assert len(listing) == 1 and "自动检查，见下方" in listing[0]
    index = next(i for i, c in enumerate(nb.cells) if c.source == listing[0])
    after = nb.cells[index + 1:]
    assert after[-1].source.startswith("## 参考文献")
    for cell in after[:-1]:
        tags = cell.metadata.get("tags", [])
        assert cell.cell_type == "markdown" or "exercise" in tags or "solution" in tags
    headings = [c.source.splitlines()[0] for c in after[:-1] if c.cell_type == "markdown"]
    assert headings == ["### 练习 15.6（自动检查）：Vaswani 等人的学习率调度"]


def test_reference_is_the_formula_and_peaks_at_the_end_of_the_warm_up():
    values = [ch15._reference(step, 512, 4000) for step in range(8000)]
    assert max(range(8000), key=values.__getitem__) == 3999            # the 4000th update
    assert values[0] == pytest.approx(512 ** -0.5 * 4000 ** -1.5)
    assert values[3999] == pytest.approx((512 * 4000) ** -0.5)


def test_lambda_lr_gives_the_formula_with_the_reference():
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: ch15._reference(step, 32, 10))
    for k in range(1, 25):                                               # the k-th update
        assert optimizer.param_groups[0]["lr"] == pytest.approx(32 ** -0.5 * min(k ** -0.5, k * 10 ** -1.5))
        optimizer.step()
        scheduler.step()


def verdict(func, capsys):
    ok = ch15.noam_lambda(func)
    return ok, capsys.readouterr().out


def assert_fails_with(func, capsys, *fragments):
    ok, out = verdict(func, capsys)
    assert ok is False and out.startswith("✗ 练习 15.6 "), out
    for fragment in fragments:
        assert fragment in out, (fragment, out)
    assert "Traceback" not in out
    return out


def test_off_by_one_raises_at_step_zero_and_the_hint_says_why(capsys):
    def step_as_s(step, num_hiddens, warmup_steps):
        return num_hiddens ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)
    out = assert_fails_with(step_as_s, capsys, "ZeroDivisionError", "第 1 个检查", "s = step + 1")
    assert "提示：" in out


def test_off_by_one_guarded_against_zero(capsys):
    def guarded(step, num_hiddens, warmup_steps):
        s = max(step, 1)
        return num_hiddens ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)
    assert_fails_with(guarded, capsys, "差了一步", "从 0 数起")


@pytest.mark.parametrize("wrong, hint", [
    (lambda step, d, w: min((step + 1) ** -0.5, (step + 1) * w ** -1.5), "少了因子 num_hiddens ** -0.5"),
    (lambda step, d, w: d ** -0.5 * max((step + 1) ** -0.5, (step + 1) * w ** -1.5), "min 写成了 max"),
    (lambda step, d, w: d ** -0.5 * min((step + 1) ** -0.5, (step + 1) * w ** -0.5), "预热项的指数错了"),
    (lambda step, d, w: d ** 0.5 * min((step + 1) ** -0.5, (step + 1) * w ** -1.5), "num_hiddens 的指数错了"),
    (lambda step, d, w: d ** -0.5 * (step + 1) * w ** -1.5, "只有预热的那一项"),
    (lambda step, d, w: d ** -0.5 * (step + 1) ** -0.5, "只有衰减的那一项"),
])
def test_typical_mistakes_get_their_hints(wrong, hint, capsys):
    assert_fails_with(wrong, capsys, hint)


def test_a_tensor_or_numpy_answer_is_accepted(capsys):
    def as_tensor(step, num_hiddens, warmup_steps):
        s = torch.tensor(step + 1.0, dtype=torch.float64)
        return num_hiddens ** -0.5 * torch.minimum(s ** -0.5, s * warmup_steps ** -1.5)
    ok, out = verdict(as_tensor, capsys)
    assert ok is True, out
