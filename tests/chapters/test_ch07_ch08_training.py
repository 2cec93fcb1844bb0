"""Chapter 7 (notebooks/07_training.ipynb): training utilities, train_seq2seq and its checkpoints.

Everything runs on tiny models and a synthetic reversal task on the CPU, so the file takes seconds.
"""
from __future__ import annotations

import sys
import math
import os
import random

import pytest
import torch
from torch import nn

import d2l_local as d2l

CPU = torch.empty(0).device  # the CPU device, whatever d2l.try_gpu() would pick
BOS = 1
VOCAB = {'<pad>': 0, '<bos>': BOS, '<eos>': 2}
VOCAB_SIZE = 10  # 0..2 special, 3..9 ordinary tokens


def reversal_data(num_examples=48, num_steps=7, batch_size=16, seed=0):
    """Source: 2..5 random tokens + <eos>, padded; target: the tokens reversed + <eos>."""
    gen = random.Random(seed)
    src, tgt, src_len, tgt_len = [], [], [], []
    for _ in range(num_examples):
        tokens = [gen.randrange(3, VOCAB_SIZE) for _ in range(gen.randrange(2, 6))]
        for rows, lens, seq in ((src, src_len, tokens), (tgt, tgt_len, tokens[::-1])):
            seq = seq + [2]
            lens.append(len(seq))
            rows.append(seq + [0] * (num_steps - len(seq)))
    arrays = (torch.tensor(src), torch.tensor(src_len), torch.tensor(tgt), torch.tensor(tgt_len))
    return d2l.load_array(arrays, batch_size)


def tiny_net(num_hiddens=16, seed=0):
    torch.manual_seed(seed)
    # 2 layers so that the GRU's dropout (between layers) is active: resuming must restore its RNG
    encoder = d2l.Seq2SeqEncoder(VOCAB_SIZE, 8, num_hiddens, num_layers=2, dropout=0.2)
    decoder = d2l.Seq2SeqDecoder(VOCAB_SIZE, 8, num_hiddens, num_layers=2, dropout=0.2)
    return d2l.EncoderDecoder(encoder, decoder)


def train(net, num_epochs, data=None, seed=0, **kwargs):
    kwargs.setdefault('plot', False)
    torch.manual_seed(seed)  # the data order and dropout of the run
    data = reversal_data() if data is None else data
    return d2l.train_seq2seq(net, data, 0.01, num_epochs, VOCAB, CPU, **kwargs)


def assert_same_tensors(a, b, where='state'):
    """Recursively compare two nested containers of tensors / numbers with torch.equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f'{where} differs'
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f'{where}: keys differ'
        for key in a:
            assert_same_tensors(a[key], b[key], f'{where}[{key!r}]')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f'{where}: lengths differ'
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


# ---------------------------------------------------------------------------------------------
# try_gpu, Timer, Accumulator, Animator


def test_try_gpu_returns_a_device(monkeypatch):
    assert isinstance(d2l.try_gpu(), torch.device)
    assert d2l.try_gpu(10 ** 6).type == 'cpu'
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert d2l.try_gpu() == torch.device('cuda:0')
    assert d2l.try_gpu(1) == torch.device('cuda:1')
    assert d2l.try_gpu(2).type == 'cpu'
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    assert d2l.try_gpu() == torch.device('cpu')


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
# grad_clipping


def linear_with_grads(*grads):
    layer = nn.Linear(3, 2)
    for p, g in zip(layer.parameters(), grads):
        p.grad = g.clone()
    return layer


def global_norm(module):
    return torch.cat([p.grad.flatten() for p in module.parameters()]).norm()


def test_grad_clipping_limits_the_global_norm_and_keeps_the_direction():
    layer = linear_with_grads(torch.full((2, 3), 3.0), torch.full((2,), -4.0))
    before = torch.cat([p.grad.flatten() for p in layer.parameters()])
    norm = d2l.grad_clipping(layer, 1.0)
    after = torch.cat([p.grad.flatten() for p in layer.parameters()])
    assert float(norm) == pytest.approx(float(before.norm()))  # returns the norm before clipping
    assert float(after.norm()) == pytest.approx(1.0, rel=1e-5)
    assert torch.allclose(after * before.norm(), before, rtol=1e-5)  # same direction
    d2l.grad_clipping(layer, 5.0)  # already below the threshold now
    assert torch.equal(torch.cat([p.grad.flatten() for p in layer.parameters()]), after)


def test_grad_clipping_leaves_small_and_zero_gradients_alone():
    small = (torch.full((2, 3), 0.1), torch.full((2,), -0.2))
    layer = linear_with_grads(*small)
    d2l.grad_clipping(layer, 1.0)
    assert all(torch.equal(p.grad, g) for p, g in zip(layer.parameters(), small))
    layer = linear_with_grads(torch.zeros(2, 3), torch.zeros(2))
    d2l.grad_clipping(layer, 1.0)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in layer.parameters())  # no nan


def test_grad_clipping_skips_parameters_without_gradients():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    net[0].weight.grad = torch.full((2, 3), 10.0)
    d2l.grad_clipping(net, 2.0)
    assert float(global_norm(nn.ParameterList([net[0].weight]))) == pytest.approx(2.0, rel=1e-5)
    assert net[1].weight.grad is None
    d2l.grad_clipping(nn.Linear(2, 2), 1.0)  # no gradients at all: nothing to do


# ---------------------------------------------------------------------------------------------
# train_seq2seq


def test_train_seq2seq_lowers_the_loss_and_restores_threads(capsys):
    threads = torch.get_num_threads()
    result = train(tiny_net(), 15)
    assert isinstance(result, d2l.TrainResult)
    assert (result.epochs_run, result.start_epoch, result.num_epochs) == (15, 0, 15)
    assert len(result.loss_history) == 15 and result.loss == result.loss_history[-1]
    assert result.loss < 0.75 * result.loss_history[0]
    assert result.tokens_per_sec > 0 and result.seconds > 0
    assert torch.get_num_threads() == threads
    assert 'tokens/sec' in capsys.readouterr().out


def test_trimming_padded_label_columns_does_not_change_the_loss():
    """train_seq2seq drops label columns that are <pad> for the whole batch: a causal decoder gives
    the same logits on the remaining columns, so the masked loss is the same."""
    net = tiny_net().eval()
    X, X_valid_len, Y, Y_valid_len = next(iter(reversal_data()))
    loss = d2l.MaskedSoftmaxCELoss()

    def batch_loss(Y):
        dec_input = torch.cat([torch.full((Y.shape[0], 1), BOS), Y[:, :-1]], dim=1)
        return loss(net(X, dec_input, X_valid_len)[0], Y, Y_valid_len)

    width = int(Y_valid_len.max())
    assert width < Y.shape[1]
    assert torch.allclose(batch_loss(Y), batch_loss(Y[:, :width]), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# checkpoints


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

    # patch the name where train_seq2seq looks it up (its chapter's module)
    monkeypatch.setattr(sys.modules[d2l.train_seq2seq.__module__], 'grad_clipping', crash_in_epoch_4)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_net(), 5, data, checkpoint_path=path, save_every=2)
    monkeypatch.setattr(sys.modules[d2l.train_seq2seq.__module__], 'grad_clipping', real_clip)
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


def test_load_checkpoint_restores_model_optimizer_and_rng(tmp_path):
    net = tiny_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))[0].sum().backward()
    optimizer.step()
    random.seed(5)
    torch.manual_seed(5)
    d2l.save_checkpoint(tmp_path / 'c.pt', net, optimizer, 7, [3.0, 2.0])
    expected_py, expected_torch = random.random(), torch.rand(3)

    other = tiny_net(seed=3)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.01)
    info = d2l.load_checkpoint(tmp_path / 'c.pt', other, other_opt, restore_rng=True)
    assert info == {'epoch': 7, 'loss_history': [3.0, 2.0]}
    assert_same_tensors(net.state_dict(), other.state_dict(), 'model')
    assert_same_tensors(optimizer.state_dict(), other_opt.state_dict(), 'optimizer')
    assert random.random() == expected_py and torch.equal(torch.rand(3), expected_torch)


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


@pytest.mark.parametrize('broken', ['replace', 'save'])
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, broken):
    path = tmp_path / 'ckpt.pt'
    net = tiny_net()
    optimizer = torch.optim.Adam(net.parameters())
    d2l.save_checkpoint(path, net, optimizer, 1, [1.0])
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError('disk full')

    if broken == 'replace':
        monkeypatch.setattr(os, 'replace', boom)
    else:
        monkeypatch.setattr(torch, 'save', boom)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    with pytest.raises(OSError, match='disk full'):
        d2l.save_checkpoint(path, net, optimizer, 2, [1.0, 0.5])
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pt']  # the temporary file was removed
    assert d2l.load_checkpoint(path, tiny_net())['epoch'] == 1


def test_missing_checkpoint_starts_fresh_and_load_reports_missing_files(tmp_path):
    path = tmp_path / 'new.pt'
    result = train(tiny_net(), 2, checkpoint_path=path, save_every=5)
    assert result.start_epoch == 0 and path.exists()  # saved at the end even if save_every > epochs
    with pytest.raises(FileNotFoundError):
        d2l.load_checkpoint(tmp_path / 'nope.pt', tiny_net())
    assert math.isfinite(result.loss)
