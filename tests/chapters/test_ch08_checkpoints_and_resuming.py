"""Chapter 8 (notebooks/08_checkpoints_and_resuming.ipynb): train_seq2seq's checkpoints and exact resuming.

Tiny models and a synthetic reversal task on the CPU (seconds). The checkpoint functions themselves
(atomic writing, validation before loading) are tested with appendix A.2
(test_ch20_appendix_training_tools.py); killed processes in tests/catalogues/test_interrupt.py.
"""
from __future__ import annotations

import math
import os

import pytest
import torch

import d2l_local as d2l
from training_support import (CPU, VOCAB, assert_same_tensors, overflow_at, reversal_data, tiny_net,
                              train, training_module, weights)


def test_resume_after_stopping_equals_an_uninterrupted_run(tmp_path):
    data = reversal_data()
    straight = tiny_net()
    full = train(straight, 6, data, checkpoint_path=tmp_path / 'straight.pt', save_every=2)

    path = tmp_path / 'resumed.pt'
    first = train(tiny_net(), 3, data, checkpoint_path=path, save_every=2)  # "session ends" at 3
    assert first.epochs_run == 3
    torch.manual_seed(1234)  # whatever the RNG is now: the checkpoint restores it
    resumed = tiny_net(seed=99)  # a fresh model object with other initial weights
    second = d2l.train_seq2seq(resumed, data, 0.01, 6, VOCAB, CPU, checkpoint_path=path, plot=False)
    assert (second.start_epoch, second.epochs_run) == (3, 3)
    assert second.loss_history == full.loss_history

    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f'parameter {name} differs after resuming'
    opt_a = torch.load(tmp_path / 'straight.pt', weights_only=True)['optimizer']
    opt_b = torch.load(path, weights_only=True)['optimizer']
    assert_same_tensors(opt_a, opt_b, 'optimizer')


def test_resume_after_a_crash_mid_epoch_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    data = reversal_data()  # 3 batches per epoch
    straight = tiny_net()
    train(straight, 5, data)

    path = tmp_path / 'crash.pt'
    real_clip, calls = d2l.grad_clipping, []

    def crash_in_epoch_4(net, theta):
        calls.append(1)
        if len(calls) == 3 * 3 + 2:  # the 2nd batch of epoch 4; the last checkpoint is from epoch 2
            raise KeyboardInterrupt('session lost')
        return real_clip(net, theta)

    monkeypatch.setattr(training_module(), 'grad_clipping', crash_in_epoch_4)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_net(), 5, data, checkpoint_path=path, save_every=2)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)['epoch'] == 2

    resumed = tiny_net(seed=7)
    result = train(resumed, 5, data, seed=999, checkpoint_path=path, save_every=2)
    assert (result.start_epoch, result.epochs_run) == (2, 3)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f'parameter {name} differs after resuming'


def test_checkpoint_is_plain_data_loadable_with_weights_only(tmp_path):
    path = tmp_path / 'sub' / 'ckpt.pt'  # the folder is created
    train(tiny_net(), 2, checkpoint_path=path)
    state = torch.load(path, weights_only=True)
    assert state['format'] == d2l.CHECKPOINT_FORMAT
    assert state['epoch'] == 2 and len(state['loss_history']) == 2
    assert {'model', 'optimizer', 'rng'} <= state.keys()
    assert {'torch', 'cuda', 'python'} <= state['rng'].keys()
    assert sorted(os.listdir(path.parent)) == ['ckpt.pt']  # no temporary files left behind


def test_checkpoint_of_another_model_shape_is_a_clear_error(tmp_path):
    path = tmp_path / 'ckpt.pt'
    train(tiny_net(num_hiddens=16), 1, checkpoint_path=path)
    other = tiny_net(num_hiddens=12)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(d2l.CheckpointError) as info:
        train(other, 3, checkpoint_path=path)
    message = str(info.value)
    assert 'encoder.rnn.weight_hh_l0' in message
    assert '(48, 16)' in message and '(36, 12)' in message  # checkpoint shape and model shape
    assert str(path) in message and '删除' in message and 'checkpoint_path' in message
    assert_same_tensors(before, other.state_dict(), 'model')  # nothing was loaded half-way
    with pytest.raises(d2l.CheckpointError, match='decoder.dense.weight'):
        d2l.load_checkpoint(path, other)


@pytest.mark.parametrize('damage', ['truncated', 'garbage', 'empty', 'not_a_checkpoint'])
def test_corrupt_checkpoint_is_a_clear_error_not_a_silent_restart(tmp_path, damage):
    path = tmp_path / 'ckpt.pt'
    train(tiny_net(), 1, checkpoint_path=path)
    data = path.read_bytes()
    if damage == 'truncated':
        path.write_bytes(data[:len(data) // 2])
    elif damage == 'garbage':
        path.write_bytes(b'\x00not a checkpoint' * 100)
    elif damage == 'empty':
        path.write_bytes(b'')
    else:
        torch.save({'weights': torch.ones(2)}, path)
    damaged = path.read_bytes()
    with pytest.raises(d2l.CheckpointError, match=r'ckpt\.pt') as info:
        train(tiny_net(), 3, checkpoint_path=path)
    if damage == 'not_a_checkpoint':  # maybe the user's own weights: never advise deleting them
        assert '删除' not in str(info.value) and 'load_state_dict' in str(info.value)
    else:
        assert '删除' in str(info.value)
    assert path.read_bytes() == damaged  # left alone for the user to inspect


def test_resuming_a_finished_run_only_reports_it(tmp_path, capsys):
    path = tmp_path / 'ckpt.pt'
    done = train(tiny_net(), 3, checkpoint_path=path)
    saved = path.read_bytes()
    capsys.readouterr()
    net = tiny_net(seed=5)
    again = train(net, 3, checkpoint_path=path)
    assert again.epochs_run == 0 and again.start_epoch == 3
    assert again.loss == done.loss and again.loss_history == done.loss_history
    assert '第 3 轮' in capsys.readouterr().out
    # the checkpoint's weights, untouched by any training step; the file is not rewritten
    assert_same_tensors(torch.load(path, weights_only=True)['model'], net.state_dict(), 'model')
    assert path.read_bytes() == saved
    assert train(tiny_net(), 2, checkpoint_path=path).epochs_run == 0  # fewer epochs: same


def test_missing_checkpoint_starts_fresh_and_load_reports_missing_files(tmp_path):
    path = tmp_path / 'new.pt'
    result = train(tiny_net(), 2, checkpoint_path=path, save_every=5)
    assert result.start_epoch == 0 and path.exists()  # saved at the end even if save_every > epochs
    with pytest.raises(FileNotFoundError):
        d2l.load_checkpoint(tmp_path / 'nope.pt', tiny_net())
    assert math.isfinite(result.loss)


# ---------------------------------------------------------------------------------------------
# A run that goes non-finite never overwrites a good checkpoint (issue 13, "loses work")


@pytest.mark.parametrize('fault', ['inf-gradient', 'huge-learning-rate'])
def test_a_non_finite_run_leaves_the_previous_checkpoint_byte_identical(tmp_path, fault):
    path = tmp_path / 'ckpt.pt'
    data = reversal_data()
    train(tiny_net(), 2, data, checkpoint_path=path, save_every=1)
    good = path.read_bytes()
    net, lr = tiny_net(seed=3), 0.01
    if fault == 'inf-gradient':
        overflow_at(net, step=2)  # epoch 3 (resumed), 2nd batch: grad_clipping turns it into nan
    else:
        lr = 1e38  # finite, but the first Adam step throws the weights to ~1e38 and beyond
    with pytest.raises(d2l.NonFiniteError, match=r'第 3 轮.*没有保存.*ckpt\.pt.*续训') as info:
        d2l.train_seq2seq(net, data, lr, 5, VOCAB, CPU, checkpoint_path=path, save_every=1, plot=False)
    assert f'lr={lr}' in str(info.value)
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pt']
    # the user does what the message says: a smaller learning rate resumes from the good epoch 2
    resumed = train(tiny_net(seed=4), 3, data, checkpoint_path=path, save_every=1)
    assert (resumed.start_epoch, resumed.epochs_run) == (2, 1) and math.isfinite(resumed.loss)


def test_resuming_with_an_infinite_learning_rate_is_refused_before_anything_changes(tmp_path):
    path = tmp_path / 'ckpt.pt'
    train(tiny_net(), 2, checkpoint_path=path)
    good = path.read_bytes()
    net = tiny_net(seed=5)
    before = weights(net)
    with pytest.raises(ValueError, match=r'lr.*正数'):
        d2l.train_seq2seq(net, reversal_data(), math.inf, 4, VOCAB, CPU, checkpoint_path=path, plot=False)
    assert path.read_bytes() == good
    assert all(torch.equal(a, b) for a, b in zip(before, weights(net)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_resume_on_a_gpu_equals_an_uninterrupted_run(tmp_path):
    """cuDNN keeps the dropout state of its GRU outside torch's generators; train_seq2seq reseeds it
    from the (checkpointed) CUDA generator every epoch, so resuming on a GPU is exact too."""
    gpu = torch.device('cuda:0')
    data = reversal_data()
    straight = tiny_net()
    train(straight, 6, data, device=gpu)
    path = tmp_path / 'gpu.pt'
    train(tiny_net(), 3, data, device=gpu, checkpoint_path=path)
    torch.manual_seed(4321)
    torch.cuda.manual_seed_all(4321)
    resumed = tiny_net(seed=77)
    result = d2l.train_seq2seq(resumed, data, 0.01, 6, VOCAB, gpu, checkpoint_path=path, plot=False)
    assert result.start_epoch == 3
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f'parameter {name} differs after resuming on the GPU'
