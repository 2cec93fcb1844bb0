"""Appendix A.2 (notebooks/20_appendix_training_tools.ipynb): the tools of the training loop.

Timer, Accumulator, Animator; the argument and number checks; checkpoints written atomically (symbolic
links, folders, Ctrl-C inside torch.save, nan) and validated completely before anything is changed;
train_seq2seq's per-epoch check; budget_seconds. Tiny models on the CPU: seconds.
"""
from __future__ import annotations

import io
import math
import os
import random
import stat

import pytest
import torch
from torch import nn

import d2l_local as d2l
from training_support import CPU, assert_same_tensors, tiny_net, train, weights

IS_ROOT = hasattr(os, 'geteuid') and os.geteuid() == 0  # root ignores file permissions


# ---------------------------------------------------------------------------------------------
# Timer, Accumulator, Animator


def test_timer_records_intervals():
    timer = d2l.Timer()
    for _ in range(3):
        timer.start()
        assert timer.stop() >= 0
    assert len(timer.times) == 3
    assert timer.sum() == pytest.approx(sum(timer.times))
    assert timer.avg() == pytest.approx(timer.sum() / 3)
    assert timer.cumsum()[-1] == pytest.approx(timer.sum())
    assert timer.cumsum() == sorted(timer.cumsum())


def test_accumulator_sums_numbers_and_tensors_lazily():
    acc = d2l.Accumulator(2)
    acc.add(1, 2.5)
    acc.add(torch.tensor(3.0), torch.tensor(4))
    assert isinstance(acc.data[0], torch.Tensor)  # kept as a tensor: no sync per add
    assert (acc[0], acc[1]) == (4.0, 6.5)
    assert isinstance(acc[0], float)
    acc.reset()
    assert (acc[0], acc[1]) == (0.0, 0.0)
    with pytest.raises(ValueError, match='2'):
        acc.add(1.0)


def test_animator_headless_records_and_draws_without_ipython():
    animator = d2l.Animator(xlabel='epoch', ylabel='loss', legend=['a', 'b'], live=False)
    for x in range(1, 6):
        animator.add(x, (1 / x, None if x == 3 else 2 / x))  # None: no point on that line
    animator.show()  # not live: does nothing
    assert animator._handle is None
    assert [len(xs) for xs in animator.X] == [5, 4]
    fig = animator.figure()
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_xlabel() == 'epoch'


def test_animator_updates_one_display_in_place(monkeypatch):
    import IPython.display

    calls = []

    class Handle:
        def update(self, obj):
            calls.append(('update', type(obj).__name__))

    def fake_display(obj, display_id=False):
        calls.append(('display', type(obj).__name__, display_id))
        return Handle()

    monkeypatch.setattr(IPython.display, 'display', fake_display)
    animator = d2l.Animator(live=True)
    animator.add(1, 1.0)
    animator.add(2, 0.5, redraw=False)
    animator.add(3, 0.2)
    assert calls == [('display', 'Image', True), ('update', 'Image')]


# ---------------------------------------------------------------------------------------------
# check_positive, as_device, check_batch, nonfinite_names


@pytest.mark.parametrize('value,integer,error', [
    (0, False, ValueError), (-2.5, False, ValueError), (math.nan, False, ValueError), (math.inf, False, ValueError),
    ('1', False, TypeError), (None, False, TypeError), (True, False, TypeError),
    (0, True, ValueError), (-3, True, ValueError), (2.5, True, TypeError), (2.0, True, TypeError), (True, True, TypeError),
])
def test_check_positive_refuses_what_is_not_a_positive_number(value, integer, error):
    with pytest.raises(error, match=r'^save_every（每隔几轮保存）应是正(整)?数.*请传入一个正(整)?数'):
        d2l.check_positive('save_every', value, integer=integer, hint='每隔几轮保存')


def test_check_positive_accepts_positive_numbers_and_suggests_an_integer():
    import numpy as np

    assert d2l.check_positive('lr', 0.005) == 0.005
    assert d2l.check_positive('num_epochs', 3, integer=True) == 3
    assert d2l.check_positive('num_epochs', np.int64(3), integer=True) == 3
    with pytest.raises(TypeError, match='num_epochs=4'):
        d2l.check_positive('num_epochs', 3.6, integer=True)


def test_as_device_accepts_strings_and_refuses_missing_gpus():
    assert d2l.as_device('cpu') == torch.device('cpu')
    assert d2l.as_device(torch.device('cpu')) == torch.device('cpu')
    for bad in ('gpu', None, 'cuda:99', 3.5):
        with pytest.raises(ValueError, match=r'd2l\.try_gpu\(\)'):
            d2l.as_device(bad)


def test_check_batch_and_nonfinite_names():
    batch = (torch.zeros(2, 3, dtype=torch.long), torch.ones(2), torch.full((2, 3), 4), torch.ones(2))
    assert d2l.check_batch(batch, 5) == batch
    assert d2l.check_batch(list(batch)) == batch
    for bad in (batch[:3], batch + batch[:1], 'abc', [list(range(3))] * 4):
        with pytest.raises(ValueError, match=r'四个张量'):
            d2l.check_batch(bad)
    with pytest.raises(ValueError, match='最大 4.*只有 4 个词元'):
        d2l.check_batch(batch, 4)
    named = [('a', torch.ones(2)), ('b', torch.tensor([1.0, math.inf])), ('c', torch.tensor([math.nan])),
             ('ids', torch.arange(3))]
    assert d2l.nonfinite_names(named) == ['b', 'c'] and d2l.nonfinite_names([]) == []


# ---------------------------------------------------------------------------------------------
# save_checkpoint


def saved(tmp_path, epoch=1, name='ckpt.pt'):
    """A good checkpoint of a tiny model with a stepped Adam optimizer: (path, net, optimizer)."""
    net = tiny_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))[0].sum().backward()
    optimizer.step()
    path = tmp_path / name
    d2l.save_checkpoint(path, net, optimizer, epoch, [2.0] * epoch)
    return path, net, optimizer


def test_load_checkpoint_restores_model_optimizer_and_rng(tmp_path):
    random.seed(5)
    torch.manual_seed(5)
    path, net, optimizer = saved(tmp_path, epoch=7)
    expected_py, expected_torch = random.random(), torch.rand(3)

    other = tiny_net(seed=3)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.01)
    info = d2l.load_checkpoint(path, other, other_opt, restore_rng=True)
    assert info == {'epoch': 7, 'loss_history': [2.0] * 7}
    assert_same_tensors(net.state_dict(), other.state_dict(), 'model')
    assert_same_tensors(optimizer.state_dict(), other_opt.state_dict(), 'optimizer')
    assert random.random() == expected_py and torch.equal(torch.rand(3), expected_torch)


@pytest.mark.parametrize('broken', ['replace', 'save'])
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, broken):
    path, net, optimizer = saved(tmp_path)
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(os if broken == 'replace' else torch, broken, boom)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    with pytest.raises(OSError, match='disk full'):
        d2l.save_checkpoint(path, net, optimizer, 2, [1.0, 0.5])
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pt']  # the temporary file was removed
    assert d2l.load_checkpoint(path, tiny_net())['epoch'] == 1


class InterruptedFile(io.RawIOBase):
    """A file whose second write raises KeyboardInterrupt: where Ctrl-C takes effect in torch.save
    (torch's C++ writer calls back into Python to write, and the signal handler runs there)."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def writable(self):
        return True

    def write(self, data):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.f.write(data)


def test_ctrl_c_inside_torch_save_is_an_ordinary_interrupt_and_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path, net, optimizer = saved(tmp_path)
    good = path.read_bytes()
    real_save = torch.save
    monkeypatch.setattr(torch, 'save', lambda obj, f, *a, **k: real_save(obj, InterruptedFile(f), *a, **k))
    with pytest.raises(KeyboardInterrupt, match=r'保存检查点时被中断.*没有被改动') as info:
        d2l.save_checkpoint(path, net, optimizer, 2, [1.0, 0.5])
    assert type(info.value) is KeyboardInterrupt  # not torch's RuntimeError from its C++ writer
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pt']


def test_torch_save_itself_wraps_an_interrupt_in_its_writer(tmp_path):
    """Why save_checkpoint unwraps it: torch.save (2.x) raises a RuntimeError whose context is the
    KeyboardInterrupt (a later torch that lets the interrupt through is fine too)."""
    with open(tmp_path / 'x.pt', 'wb') as f:
        with pytest.raises((RuntimeError, KeyboardInterrupt)) as info:
            torch.save({'w': torch.ones(1000, 100)}, InterruptedFile(f))
    if isinstance(info.value, RuntimeError):
        assert isinstance(info.value.__context__, KeyboardInterrupt)


@pytest.mark.skipif(not hasattr(os, 'symlink'), reason='needs symbolic links')
def test_a_checkpoint_path_that_is_a_symlink_stays_a_symlink(tmp_path):
    runs = tmp_path / 'runs'
    runs.mkdir()
    target, net, optimizer = saved(runs, name='run1.pt')
    link = tmp_path / 'latest.pt'
    link.symlink_to(target)
    d2l.save_checkpoint(link, net, optimizer, 2, [1.0, 0.5])
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert d2l.load_checkpoint(target, tiny_net())['epoch'] == 2  # written through to the target
    assert sorted(os.listdir(runs)) == ['run1.pt'] and sorted(os.listdir(tmp_path)) == ['latest.pt', 'runs']
    # and train_seq2seq resumes through the link and keeps it
    result = train(tiny_net(), 3, checkpoint_path=link)
    assert result.start_epoch == 2 and link.is_symlink()
    assert d2l.load_checkpoint(target, tiny_net())['epoch'] == 3
    # a dangling link: the checkpoint is created where it points
    dangling = tmp_path / 'next.pt'
    dangling.symlink_to(runs / 'run2.pt')
    train(tiny_net(), 1, checkpoint_path=dangling)
    assert dangling.is_symlink() and (runs / 'run2.pt').is_file()


def test_a_new_checkpoint_keeps_the_old_files_permissions(tmp_path):
    path, net, optimizer = saved(tmp_path)
    os.chmod(path, 0o640)
    d2l.save_checkpoint(path, net, optimizer, 2, [1.0, 0.5])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    umask = os.umask(0o022)
    try:
        fresh, _, _ = saved(tmp_path, name='fresh.pt')
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o644  # like a file made by open(), not 0o600


def test_a_checkpoint_path_that_is_a_folder_is_a_clear_error(tmp_path):
    net = tiny_net()
    optimizer = torch.optim.Adam(net.parameters())
    for action in (lambda: d2l.save_checkpoint(tmp_path, net, optimizer, 1),
                   lambda: d2l.load_checkpoint(tmp_path, net),
                   lambda: train(net, 1, checkpoint_path=tmp_path)):
        with pytest.raises(d2l.CheckpointError, match=r'是一个文件夹.*model\.pt'):
            action()
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_negative_epoch_and_non_finite_state(tmp_path):
    path, net, optimizer = saved(tmp_path)
    good = path.read_bytes()
    for epoch in (-1, 2.5, True):
        with pytest.raises(ValueError, match='epoch 应是非负整数'):
            d2l.save_checkpoint(path, net, optimizer, epoch)
    with torch.no_grad():
        net.decoder.dense.bias[0] = math.nan
    with pytest.raises(d2l.NonFiniteError, match=r'decoder\.dense\.bias.*nan 或 inf.*保持原样'):
        d2l.save_checkpoint(path, net, optimizer, 2, [1.0, 0.5])
    with pytest.raises(d2l.NonFiniteError, match='损失记录'):
        d2l.save_checkpoint(path, tiny_net(), optimizer, 2, [1.0, math.nan])
    assert path.read_bytes() == good and sorted(os.listdir(tmp_path)) == ['ckpt.pt']


# ---------------------------------------------------------------------------------------------
# load_checkpoint checks everything before it changes anything


def rewrite(path, change):
    """Load a checkpoint, change its dictionary, save it again (as a damaged or forged file would be)."""
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


def assert_nothing_loaded(path, match, optimizer_of=None, restore_rng=False):
    """load_checkpoint raises CheckpointError; the model, the optimizer and the RNG are untouched."""
    net = tiny_net(seed=11)
    optimizer = torch.optim.Adam((optimizer_of or net).parameters(), lr=0.01)
    before_net, before_opt = weights(net), optimizer.state_dict()
    rng = torch.get_rng_state()
    with pytest.raises(d2l.CheckpointError, match=match):
        d2l.load_checkpoint(path, net, optimizer, restore_rng=restore_rng)
    assert all(torch.equal(a, b) for a, b in zip(before_net, weights(net)))
    assert_same_tensors(before_opt, optimizer.state_dict(), 'optimizer')
    assert torch.equal(rng, torch.get_rng_state())


def test_an_optimizer_over_other_parameters_changes_nothing(tmp_path):
    """Issue 13: load_checkpoint used to overwrite the model's weights before the optimizer failed."""
    path, _, _ = saved(tmp_path)
    assert_nothing_loaded(path, r'optimizer 管理的不是这个模型的参数.*make_adam', optimizer_of=nn.Linear(3, 4))


def test_an_optimizer_over_part_of_the_model_or_of_another_kind_changes_nothing(tmp_path):
    path, _, _ = saved(tmp_path)
    net = tiny_net(seed=11)
    before = weights(net)
    for optimizer, says in ((torch.optim.Adam(net.decoder.parameters()), '另一组参数'),
                            (torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), '另一种优化器')):
        with pytest.raises(d2l.CheckpointError, match=says):
            d2l.load_checkpoint(path, net, optimizer)
        assert all(torch.equal(a, b) for a, b in zip(before, weights(net)))


def test_an_optimizer_state_of_another_shape_changes_nothing(tmp_path):
    path, _, _ = saved(tmp_path)

    def swap(state):  # the Adam moments of two parameters exchanged: same count, wrong shapes
        entries = state['optimizer']['state']
        entries[0], entries[1] = entries[1], entries[0]

    rewrite(path, swap)
    assert_nothing_loaded(path, r'(?s)优化器状态与这个优化器不符.*exp_avg.*形状')


@pytest.mark.parametrize('forgery,says', [
    (lambda s: s.update(epoch=-1), '已训练轮数是 -1'),
    (lambda s: s.update(epoch=2.5), '已训练轮数是 2.5'),
    (lambda s: s.update(loss_history=[1.0, math.nan]), '损失记录'),
    (lambda s: s['model']['decoder.dense.bias'].fill_(math.inf), r'decoder\.dense\.bias.*nan 或 inf.*发散'),
    (lambda s: s['optimizer']['state'][0]['exp_avg'].fill_(math.nan), 'exp_avg：有 nan 或 inf'),
    (lambda s: s['rng'].update(torch=torch.zeros(3, dtype=torch.uint8)), '随机数状态已损坏'),
    (lambda s: s['rng'].update(python=(3, (1, 2), None)), '随机数状态已损坏'),
    (lambda s: s.update(model={'w': [1, 2]}), '模型参数已损坏'),
])
def test_a_damaged_or_forged_checkpoint_changes_nothing(tmp_path, forgery, says):
    path, _, _ = saved(tmp_path, epoch=2)
    rewrite(path, forgery)
    assert_nothing_loaded(path, says, restore_rng=True)


@pytest.mark.skipif(IS_ROOT or not hasattr(os, 'geteuid'), reason='root reads any file')
def test_an_unreadable_checkpoint_says_so_instead_of_calling_it_half_written(tmp_path):
    path, _, _ = saved(tmp_path)
    os.chmod(path, 0)
    try:
        assert_nothing_loaded(path, '没有权限读检查点')
    finally:
        os.chmod(path, 0o644)


def test_reseed_cudnn_dropout_does_nothing_on_the_cpu():
    torch.manual_seed(3)
    state = torch.get_rng_state()
    d2l.reseed_cudnn_dropout('cpu')
    d2l.reseed_cudnn_dropout(CPU)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_reseeding_makes_cudnn_gru_dropout_a_function_of_the_cuda_generator():
    gpu = torch.device('cuda:0')
    gru = nn.GRU(4, 8, num_layers=2, dropout=0.5).to(gpu).train()
    x = torch.ones(5, 3, 4, device=gpu)
    torch.cuda.manual_seed(0)
    gru(x)  # the cuDNN dropout state is now initialised and advancing
    state = torch.cuda.get_rng_state(gpu)
    d2l.reseed_cudnn_dropout(gpu)
    first = gru(x)[0]
    gru(x)  # dropout state moves on
    torch.cuda.set_rng_state(state, gpu)
    d2l.reseed_cudnn_dropout(gpu)
    assert torch.equal(gru(x)[0], first)


# ---------------------------------------------------------------------------------------------
# check_train_args and check_epoch


def test_check_epoch_explains_an_empty_epoch_and_a_diverged_one(tmp_path):
    net = tiny_net()
    with pytest.raises(ValueError, match=r'第 3 轮.*没有给出任何有效词元.*没有保存'):
        d2l.check_epoch(3, math.nan, 0, True, net, lr=0.01)
    path = tmp_path / 'ckpt.pt'
    with pytest.raises(d2l.NonFiniteError, match=r'第 4 轮.*损失是 inf.*lr=0\.5.*重新构造模型'):
        d2l.check_epoch(4, math.inf, 10, True, net, lr=0.5, checkpoint_path=path)
    path.write_bytes(b'x')
    with pytest.raises(d2l.NonFiniteError, match=r'梯度范数是 inf 或 nan.*没有保存.*ckpt\.pt'):
        d2l.check_epoch(4, 1.0, 10, False, net, lr=0.5, checkpoint_path=path)
    d2l.check_epoch(4, 1.0, 10, True, net, lr=0.5)  # a good epoch passes


def test_check_train_args_returns_the_device_and_refuses_a_broken_model():
    net = tiny_net()
    data = [object()]
    assert d2l.check_train_args(net, data, 0.01, 2, {'<bos>': 1}, 'cpu') == torch.device('cpu')
    with pytest.raises(TypeError, match='nn.Module'):
        d2l.check_train_args('net', data, 0.01, 2, {'<bos>': 1}, 'cpu')
    with pytest.raises(TypeError, match='data_iter'):
        d2l.check_train_args(net, 42, 0.01, 2, {'<bos>': 1}, 'cpu')
    with pytest.raises(ValueError, match="'<bos>'.*reserved_tokens"):
        d2l.check_train_args(net, data, 0.01, 2, {'<pad>': 0}, 'cpu')
    with torch.no_grad():
        net.encoder.embedding.weight[0, 0] = math.nan
    with pytest.raises(d2l.NonFiniteError, match=r'训练开始之前.*encoder\.embedding\.weight'):
        d2l.check_train_args(net, data, 0.01, 2, {'<bos>': 1}, 'cpu')


# ---------------------------------------------------------------------------------------------
# budget_seconds


def test_budget_seconds_scales_by_the_environment(monkeypatch):
    monkeypatch.delenv('D2L_BUDGET_SCALE', raising=False)
    assert d2l.budget_seconds(60) == 60.0 and d2l.budget_seconds(0.5) == 0.5
    for scale, expected in (('0.1', 6.0), (' 2 ', 120.0), ('1e-2', 0.6)):
        monkeypatch.setenv('D2L_BUDGET_SCALE', scale)
        assert d2l.budget_seconds(60) == pytest.approx(expected)
        assert d2l.budget_seconds(60) == 60 * float(scale)  # exactly the documented formula


@pytest.mark.parametrize('scale', ['fast', '', '0', '-1', 'nan', 'inf'])
def test_budget_seconds_explains_a_bad_scale(monkeypatch, scale):
    monkeypatch.setenv('D2L_BUDGET_SCALE', scale)
    with pytest.raises(ValueError, match=rf"D2L_BUDGET_SCALE 应是一个正数.*{scale!r}.*删除它"):
        d2l.budget_seconds(60)


@pytest.mark.parametrize('seconds,error', [(0, ValueError), (-5, ValueError), (math.inf, ValueError),
                                           ('60', TypeError), (None, TypeError), (True, TypeError)])
def test_budget_seconds_explains_a_bad_budget(monkeypatch, seconds, error):
    monkeypatch.delenv('D2L_BUDGET_SCALE', raising=False)
    with pytest.raises(error, match='seconds（训练单元格的时间预算'):
        d2l.budget_seconds(seconds)
