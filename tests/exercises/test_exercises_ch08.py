"""Checked exercise of chapter 8 (d2l_exercises.ch08 and the notebook's exercise cells).

The teacher's solution in the notebook passes (✓); realistic wrong checkpoints fail (✗) with the hint
written for that mistake (a state_dict that is not a snapshot, a missing random state, ...); the
student edition's placeholder is reported as not done yet (⏳); nonsense and exceptions are wrong
answers explained without a traceback; running the check leaves the caller's random state alone.
"""
from __future__ import annotations

import copy
import random

import pytest
import torch

from booktools import student
from d2l_exercises import ch08
from exercise_support import exercise_cells, notebook, run, solution_cells, student_version

CHAPTER = '08_checkpoints_and_resuming'
TITLE = '练习 8.5 检查点里要有什么'


def namespace():
    return {'torch': torch, 'copy': copy, 'random': random}


def scaffold():
    cells = [source for source in solution_cells(CHAPTER) if 'def make_checkpoint(' in source]
    assert len(cells) == 1
    return cells[0]


def load(source=None):
    ns, printed = run(source if source is not None else scaffold(), namespace())
    assert printed == ''
    return ns['make_checkpoint']


def verdict(func, capsys):
    ok = ch08.make_checkpoint(func)
    out = capsys.readouterr().out
    assert 'Traceback' not in out
    return ok, out


def good(net, optimizer, epoch, loss_history):
    return {'model': copy.deepcopy(net.state_dict()), 'optimizer': copy.deepcopy(optimizer.state_dict()),
            'epoch': epoch, 'loss_history': list(loss_history),
            'rng': {'torch': torch.get_rng_state(), 'python': random.getstate()}}


def model_by_reference(net, optimizer, epoch, loss_history):
    return dict(good(net, optimizer, epoch, loss_history), model=net.state_dict())


def optimizer_by_reference(net, optimizer, epoch, loss_history):
    return dict(good(net, optimizer, epoch, loss_history), optimizer=optimizer.state_dict())


def no_torch_rng(net, optimizer, epoch, loss_history):
    state = good(net, optimizer, epoch, loss_history)
    state['rng']['torch'] = torch.zeros_like(state['rng']['torch'])
    return state


def no_python_rng(net, optimizer, epoch, loss_history):
    state = good(net, optimizer, epoch, loss_history)
    state['rng']['python'] = random.Random(0).getstate()
    return state


def history_by_reference(net, optimizer, epoch, loss_history):
    return dict(good(net, optimizer, epoch, loss_history), loss_history=loss_history)


def epoch_off_by_one(net, optimizer, epoch, loss_history):
    return dict(good(net, optimizer, epoch, loss_history), epoch=epoch + 1)


def without_rng(net, optimizer, epoch, loss_history):
    state = good(net, optimizer, epoch, loss_history)
    del state['rng']
    return state


def stores_a_rng_that_does_not_restore(net, optimizer, epoch, loss_history):
    state = good(net, optimizer, epoch, loss_history)
    state['rng']['torch'] = 'seed 0'
    return state


def raises(net, optimizer, epoch, loss_history):
    return {'model': net.state_dict().copy(), 'optimizer': optimizer.state_dict()['params']}


def test_notebook_has_a_scaffold_and_a_check_cell_tagged_exercise():
    cells = exercise_cells(CHAPTER)
    assert scaffold() in cells
    calls = [c for c in cells if 'ok = checks.make_checkpoint(make_checkpoint)' in c]
    assert len(calls) == 1 and 'from d2l_exercises import ch08 as checks' in calls[0]
    assert '练习 8.5' in ch08.make_checkpoint.__doc__


def test_the_notebook_solution_passes(capsys):
    ok, out = verdict(load(), capsys)
    assert ok is True and out.startswith(f'✓ {TITLE}\n') and '全部通过' in out


def test_the_student_placeholder_is_not_done_yet(capsys):
    source = student_version(scaffold())
    assert student.BEGIN not in source and 'raise NotImplementedError' in source
    ok, out = verdict(load(source), capsys)
    assert ok is False and out.startswith(f'⏳ {TITLE}\n') and '还没有完成' in out


@pytest.mark.parametrize('wrong,hint', [
    (model_by_reference, "state['model'] 不是快照"),
    (optimizer_by_reference, "state['optimizer'] 不是快照"),
    (no_torch_rng, 'torch.get_rng_state()'),
    (no_python_rng, 'random.getstate()'),
    (history_by_reference, 'list(loss_history)'),
    (epoch_off_by_one, "state['epoch'] 应当是 2"),
    (without_rng, "缺少 ['rng']"),
    (stores_a_rng_that_does_not_restore, '恢复模型、优化器和随机数状态时出错'),
])
def test_a_typical_mistake_gets_its_hint(wrong, hint, capsys):
    ok, out = verdict(wrong, capsys)
    assert ok is False and out.startswith(f'✗ {TITLE}\n') and hint in out, out


@pytest.mark.parametrize('value', [None, 'abc', [1, 2, 3], {}])
def test_a_nonsense_return_value_is_a_wrong_answer_not_a_crash(value, capsys):
    ok, out = verdict(lambda *args, value=value: value, capsys)
    assert ok is False and out.startswith(f'✗ {TITLE}\n'), out


def test_an_exception_is_explained_with_the_students_line(capsys):
    ok, out = verdict(raises, capsys)
    assert ok is False and '你的代码出错' in out and 'KeyError' in out and '`raises` 的第 ' in out


def test_the_check_leaves_the_callers_random_state_alone(capsys):
    torch.manual_seed(123)
    random.seed(123)
    expected = (torch.rand(3), random.random())
    torch.manual_seed(123)
    random.seed(123)
    verdict(good, capsys)
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]


def test_student_edition_of_the_chapter():
    nb, removed = student.student_notebook(notebook(CHAPTER), CHAPTER)
    assert removed >= 1
    for cell in nb.cells:
        assert student.BEGIN not in cell.source and '**参考答案**' not in cell.source
        if 'exercise' in cell.metadata.get('tags', []):
            assert cell.outputs == [] and 'nbval-ignore-output' in cell.metadata['tags']
