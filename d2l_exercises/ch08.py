"""Checks for the exercises of chapter 8 (训练一个翻译模型：检查点与续训).

* :func:`make_checkpoint` — 练习 8.5: the dictionary a checkpoint needs so that resuming gives, bit for
  bit, the same training as an uninterrupted run (snapshots of model and optimizer, the loss history,
  the random states).

The check trains a tiny classifier (two linear layers with dropout, 24 samples, an Adam optimizer and a
data pipeline that draws from both torch's and Python's random number generators) on the CPU, so it
runs in milliseconds. The expected result is an uninterrupted run of the same training, computed by
reference code in this module, never by the student's function. The caller's random number states
are restored afterwards, so running the check does not change what later cells of the notebook draw.
"""
from __future__ import annotations

import contextlib
import copy
import random

import torch
from torch import nn
from torch.nn import functional as F

from .core import Case, check_function

__all__ = ['make_checkpoint']

_EPOCHS_BEFORE, _EPOCHS_AFTER = 2, 2


# ---------------------------------------------------------------------------------------------------
# 练习 8.5 检查点里要有什么
# ---------------------------------------------------------------------------------------------------

def _data():
    gen = torch.Generator().manual_seed(8)
    X = torch.randn(24, 4, generator=gen)
    y = torch.randint(0, 3, (24,), generator=gen)
    # shuffle=True: every epoch draws its order from torch's global generator
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=6, shuffle=True)


def _model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))


def _optimizer(net):
    return torch.optim.Adam(net.parameters(), lr=0.05)


def _train_epoch(net, optimizer, data):
    """One epoch; the 'augmentation' draws from Python's random, dropout and shuffling from torch's.
    Gradients on for the epoch only: an answer that switched them off for good is reported by
    check_function afterwards (the setting it left is restored on leaving this block)."""
    with torch.enable_grad():
        return _epoch(net, optimizer, data)


def _epoch(net, optimizer, data):
    net.train()
    total = 0.0
    for X, y in data:
        X = X + random.gauss(0.0, 0.1)
        loss = F.cross_entropy(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(data)


def _start(seed):
    torch.manual_seed(seed)
    random.seed(seed)
    data, net = _data(), _model(seed)
    return data, net, _optimizer(net)


def _reference(seed):
    """The uninterrupted run: its final weights and its loss of every epoch."""
    data, net, optimizer = _start(seed)
    history = [_train_epoch(net, optimizer, data) for _ in range(_EPOCHS_BEFORE + _EPOCHS_AFTER)]
    return {'weights': [t.clone() for t in net.state_dict().values()], 'history': history}


def _same_tensors(a, b):
    """Nested containers of tensors and numbers, equal bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_tensors(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same_tensors(x, y) for x, y in zip(a, b))
    return a == b


def _structure_problem(state):
    if not isinstance(state, dict):
        return f"应当返回一个字典 {{'model', 'optimizer', 'epoch', 'loss_history', 'rng'}}，却返回了 {type(state).__name__}"
    missing = [k for k in ('model', 'optimizer', 'epoch', 'loss_history', 'rng') if k not in state]
    if missing:
        return f'返回的字典缺少 {missing}'
    if not isinstance(state['rng'], dict) or not {'torch', 'python'} <= set(state['rng']):
        return "state['rng'] 应当是字典 {'torch': torch 的随机数状态, 'python': random 模块的状态}"
    return None


@contextlib.contextmanager
def _caller_rng_kept():
    """Whatever runs inside, torch's and Python's global random states are as before afterwards."""
    caller_torch, caller_python = torch.get_rng_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(caller_torch)
        random.setstate(caller_python)


def _run(func):
    """Train, call func mid-way, train on; then resume a new model from func's dictionary."""
    def run(seed):
        with _caller_rng_kept():
            return _scenario(func, seed)
    return run


def _scenario(func, seed):
    data, net, optimizer = _start(seed)
    history = [_train_epoch(net, optimizer, data) for _ in range(_EPOCHS_BEFORE)]
    snapshot = {'model': copy.deepcopy(net.state_dict()), 'optimizer': copy.deepcopy(optimizer.state_dict()),
                'torch': torch.get_rng_state(), 'python': random.getstate(), 'history': list(history)}
    state = func(net, optimizer, _EPOCHS_BEFORE, history)
    problem = _structure_problem(state)
    if problem:
        return {'problem': problem}
    # the session goes on for a while before it is lost: a snapshot must not follow the live objects
    history += [_train_epoch(net, optimizer, data) for _ in range(_EPOCHS_AFTER)]
    flags = {
        'model_is_snapshot': _same_tensors(state['model'], snapshot['model']),
        'optimizer_is_snapshot': _same_tensors(state['optimizer'], snapshot['optimizer']),
        'torch_rng': isinstance(state['rng']['torch'], torch.Tensor)
        and _same_tensors(state['rng']['torch'], snapshot['torch']),
        'python_rng': _same_tensors(state['rng']['python'], snapshot['python']),
        'history_is_copy': _same_tensors(state['loss_history'], snapshot['history']),
        'epoch': state['epoch'],
    }
    # a new process: other seeds, a new model and optimizer; everything must come from `state`
    torch.manual_seed(seed + 1000)
    random.seed(seed + 1000)
    resumed = _model(seed + 1)
    resumed_optimizer = _optimizer(resumed)
    try:
        resumed.load_state_dict(state['model'])
        resumed_optimizer.load_state_dict(state['optimizer'])
        torch.set_rng_state(state['rng']['torch'])
        random.setstate(state['rng']['python'])
        resumed_history = list(state['loss_history'])
    except Exception as error:  # the dictionary's content does not restore: a wrong answer, explained
        return {'problem': f'用你返回的字典恢复模型、优化器和随机数状态时出错：{type(error).__name__}: {error}',
                **flags}
    resumed_history += [_train_epoch(resumed, resumed_optimizer, data) for _ in range(_EPOCHS_AFTER)]
    return {'problem': None, 'weights': [t.clone() for t in resumed.state_dict().values()],
            'history': resumed_history, **flags}


def _compare(got, expected):
    if got.get('problem'):
        return got['problem']
    if got['epoch'] != _EPOCHS_BEFORE:
        return f"state['epoch'] 应当是 {_EPOCHS_BEFORE}（调用时已训练的轮数），却是 {got['epoch']!r}"
    if len(got['history']) != len(expected['history']) or got['history'] != expected['history']:
        return (f"续训之后的损失记录应当是 {[round(x, 4) for x in expected['history']]}，"
                f"却是 {[round(x, 4) if isinstance(x, float) else x for x in got['history']]}")
    if not _same_tensors(got['weights'], expected['weights']):
        return '续训之后的模型参数与不中断时不完全相同'
    return None


def _diagnose(got, case):
    if got.get('problem') and 'model_is_snapshot' not in got:
        return None
    if not got['model_is_snapshot']:
        return ("state['model'] 不是快照：net.state_dict() 返回的张量与模型参数共用内存，接着训练时它们跟着变，"
                '续训读到的是后来的参数。用 copy.deepcopy(net.state_dict())。')
    if not got['optimizer_is_snapshot']:
        return ("state['optimizer'] 不是快照：Adam 原地更新它的 m、v 和步数，optimizer.state_dict() 里的张量"
                '会跟着变。用 copy.deepcopy(optimizer.state_dict())。')
    if not got['torch_rng']:
        return ("state['rng']['torch'] 应当是调用时 torch 的随机数状态 torch.get_rng_state()：数据的打乱顺序和 "
                'dropout 的掩码都从它来，少了它续训的数据顺序就与不中断时不同。')
    if not got['python_rng']:
        return ("state['rng']['python'] 应当是调用时 random 模块的状态 random.getstate()：这个数据管道用 "
                'random 做数据增强。')
    if not got['history_is_copy']:
        return ("state['loss_history'] 要复制一份（list(loss_history)）：调用者之后还会往自己的列表里追加，"
                '同一个列表会跟着变长。')
    return None


def make_checkpoint(func) -> bool:
    """练习 8.5：检查 func(net, optimizer, epoch, loss_history) -> dict。

    字典含 'model'、'optimizer'（两者都是快照）、'epoch'、'loss_history'（一份复制）和
    'rng': {'torch', 'python'}；用它让一个新的模型和优化器续训，结果必须与不中断时逐位相同。"""
    with _caller_rng_kept():
        cases = [Case((seed,), _reference(seed), f'一个小分类器，训练 {_EPOCHS_BEFORE} 轮后“中断”，再续训 '
                                                 f'{_EPOCHS_AFTER} 轮（种子 {seed}）') for seed in (0, 1)]
    return check_function(
        '练习 8.5 检查点里要有什么', _run(func), cases,
        hint="return {'model': copy.deepcopy(net.state_dict()), 'optimizer': copy.deepcopy(optimizer.state_dict()), "
             "'epoch': epoch, 'loss_history': list(loss_history), "
             "'rng': {'torch': torch.get_rng_state(), 'python': random.getstate()}}。",
        diagnose=_diagnose, compare_fn=_compare)
