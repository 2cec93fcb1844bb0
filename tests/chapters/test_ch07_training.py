"""Chapter 7 (notebooks/07_training.ipynb): grad_clipping, try_gpu, train_epoch_seq2seq and train_seq2seq.

Everything runs on tiny models and a synthetic reversal task on the CPU, so the file takes seconds.
Checkpoints are chapter 8 (test_ch08_checkpoints_and_resuming.py); the tools train_seq2seq uses
(Timer, Accumulator, Animator, the argument and number checks) are appendix A.2
(test_ch20_appendix_training_tools.py).
"""
from __future__ import annotations

import math
import os

import pytest
import torch
from torch import nn

import d2l_local as d2l
from training_support import (BOS, CPU, VOCAB, overflow_at, reversal_data, tiny_net, train,
                              weights)


# ---------------------------------------------------------------------------------------------
# try_gpu


def test_try_gpu_returns_a_device(monkeypatch):
    assert isinstance(d2l.try_gpu(), torch.device)
    assert d2l.try_gpu(10 ** 6).type == 'cpu'
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert d2l.try_gpu() == torch.device('cuda:0')
    assert d2l.try_gpu(1) == torch.device('cuda:1')
    assert d2l.try_gpu(2).type == 'cpu'
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    assert d2l.try_gpu() == torch.device('cpu')


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


@pytest.mark.parametrize('theta,error', [(0, ValueError), (-1.0, ValueError), (math.nan, ValueError),
                                         (math.inf, ValueError), ('1', TypeError), (True, TypeError)])
def test_grad_clipping_refuses_a_threshold_that_is_not_a_positive_number(theta, error):
    """theta = -1 would turn every step into gradient *ascent*; theta = 0 into no step at all."""
    grads = (torch.full((2, 3), 3.0), torch.full((2,), -4.0))
    layer = linear_with_grads(*grads)
    with pytest.raises(error, match='theta'):
        d2l.grad_clipping(layer, theta)
    assert all(torch.equal(p.grad, g) for p, g in zip(layer.parameters(), grads))  # untouched


def test_an_inf_gradient_gives_a_non_finite_norm_that_the_loop_can_see():
    layer = linear_with_grads(torch.full((2, 3), math.inf), torch.ones(2))
    norm = d2l.grad_clipping(layer, 1.0)
    assert not torch.isfinite(norm)
    assert torch.isnan(layer.weight.grad).all()  # inf * 0: why train_seq2seq must stop, not go on


# ---------------------------------------------------------------------------------------------
# train_epoch_seq2seq and train_seq2seq


def test_train_seq2seq_lowers_the_loss_and_restores_threads(capsys):
    threads = torch.get_num_threads()
    result = train(tiny_net(), 15)
    assert isinstance(result, d2l.TrainResult)
    assert (result.epochs_run, result.start_epoch, result.num_epochs) == (15, 0, 15)
    assert len(result.loss_history) == 15 and result.loss == result.loss_history[-1]
    assert result.loss < 0.75 * result.loss_history[0]
    assert result.tokens_per_sec > 0 and result.seconds > 0
    assert torch.get_num_threads() == threads
    out = capsys.readouterr().out
    assert out.startswith('每词元损失 ') and '词元' in out and 'cpu' in out  # one Chinese line


def test_train_epoch_counts_valid_tokens_and_reports_finite_gradients():
    data = reversal_data()
    net = tiny_net()
    optimizer = d2l.make_adam(net, 0.01)
    loss, tokens, finite = d2l.train_epoch_seq2seq(net, data, d2l.MaskedSoftmaxCELoss(), optimizer,
                                                   VOCAB, 1.0, CPU)
    assert tokens == sum(int(batch[3].sum()) for batch in data)
    assert math.isfinite(loss) and loss > 0 and finite is True


def test_trimming_padded_label_columns_does_not_change_the_loss():
    """train_epoch_seq2seq drops label columns that are <pad> for the whole batch: a causal decoder
    gives the same logits on the remaining columns, so the masked loss is the same."""
    net = tiny_net().eval()
    X, X_valid_len, Y, Y_valid_len = next(iter(reversal_data()))
    loss = d2l.MaskedSoftmaxCELoss()

    def batch_loss(Y):
        dec_input = torch.cat([torch.full((Y.shape[0], 1), BOS), Y[:, :-1]], dim=1)
        return loss(net(X, dec_input, X_valid_len)[0], Y, Y_valid_len)

    width = int(Y_valid_len.max())
    assert width < Y.shape[1]
    assert torch.allclose(batch_loss(Y), batch_loss(Y[:, :width]), atol=1e-6)


def test_a_device_given_as_a_string_is_accepted():
    by_object = train(tiny_net(), 2)
    by_string = train(tiny_net(), 2, device='cpu')
    assert by_string.loss_history == by_object.loss_history


class CountingData:
    """A data iterable that records how often it was iterated (a training step needs one)."""

    def __init__(self, data):
        self.data, self.iterations = data, 0

    def __iter__(self):
        self.iterations += 1
        return iter(self.data)

    def __len__(self):
        return len(self.data)


BAD_ARGUMENTS = [
    ({'save_every': 0}, ValueError, 'save_every'),
    ({'plot_every': 0}, ValueError, 'plot_every'),
    ({'save_every': 2.5}, TypeError, 'save_every'),
    ({'theta': -1.0}, ValueError, 'theta'),
    ({'theta': 0}, ValueError, 'theta'),
    ({'cpu_threads': 0}, ValueError, 'cpu_threads'),
    ({'lr': 0}, ValueError, 'lr'),
    ({'lr': math.inf}, ValueError, 'lr'),
    ({'lr': math.nan}, ValueError, 'lr'),
    ({'num_epochs': 0}, ValueError, 'num_epochs'),
    ({'num_epochs': 2.5}, TypeError, 'num_epochs=2'),
    ({'device': 'gpu'}, ValueError, r'd2l\.try_gpu\(\)'),
    ({'device': 'cuda:99'}, ValueError, r'cuda:99.*d2l\.try_gpu\(\)'),
]


@pytest.mark.parametrize('change,error,says', BAD_ARGUMENTS, ids=[str(c) for c, _, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_reported_before_the_first_step(tmp_path, change, error, says):
    """Nothing trained, nothing initialised, nothing saved: the error comes before any work."""
    kwargs = dict(lr=0.01, num_epochs=2, device=CPU, checkpoint_path=tmp_path / 'c.pt', plot=False)
    kwargs.update(change)
    net = tiny_net()
    before = weights(net)
    data = CountingData(reversal_data())
    with pytest.raises(error, match=says):
        d2l.train_seq2seq(net, data, kwargs.pop('lr'), kwargs.pop('num_epochs'), VOCAB, kwargs.pop('device'),
                          **kwargs)
    assert data.iterations == 0
    assert all(torch.equal(a, b) for a, b in zip(before, weights(net)))
    assert list(tmp_path.iterdir()) == []


def test_an_empty_data_iterator_is_an_error_not_loss_zero(tmp_path):
    # (d2l.load_array refuses empty data by itself since chapter 3: build the empty DataLoader directly)
    empty = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.zeros(0, 5, dtype=torch.long), torch.zeros(0, dtype=torch.long),
        torch.zeros(0, 5, dtype=torch.long), torch.zeros(0, dtype=torch.long)), batch_size=4)
    for data in (empty, []):
        with pytest.raises(ValueError, match='空'):
            train(tiny_net(), 2, data, checkpoint_path=tmp_path / 'c.pt')
    assert list(tmp_path.iterdir()) == []  # no checkpoint for epochs that never happened


def test_a_one_shot_generator_is_an_error_in_the_second_epoch(tmp_path):
    """The first epoch uses the generator up; the second would train nothing and report loss 0."""
    path = tmp_path / 'c.pt'
    batches = (batch for batch in reversal_data())
    with pytest.raises(ValueError, match=r'第 2 轮.*只能遍历一次.*DataLoader'):
        train(tiny_net(), 3, batches, checkpoint_path=path, save_every=1)
    assert torch.load(path, weights_only=True)['epoch'] == 1  # epoch 2 was not saved


def test_batches_that_are_not_four_tensors_are_a_clear_error():
    three = [(torch.zeros(2, 4, dtype=torch.long), torch.ones(2), torch.zeros(2, 4, dtype=torch.long))]
    with pytest.raises(ValueError, match=r'\(X, X_valid_len, Y, Y_valid_len\)'):
        train(tiny_net(), 1, three)


def test_labels_outside_the_target_vocabulary_are_a_clear_error():
    vocab = d2l.Vocab([['a', 'b']], reserved_tokens=['<pad>', '<bos>', '<eos>'])  # 6 tokens
    data = reversal_data()  # labels up to 9
    with pytest.raises(ValueError, match=r'目标词表只有 6 个词元.*弄反'):
        d2l.train_seq2seq(tiny_net(), data, 0.01, 1, vocab, CPU, plot=False)


def test_a_diverging_run_stops_with_the_epoch_and_what_to_do(capsys):
    net = tiny_net()
    overflow_at(net, step=4)  # the 1st batch of epoch 2 (3 batches per epoch)
    with pytest.raises(d2l.NonFiniteError, match=r'第 2 轮.*nan 或 inf.*lr=0\.01.*调小.*重新构造模型'):
        train(net, 3)
    assert 'tokens' not in capsys.readouterr().out  # no normal-looking report of a broken run
    # the same (now broken) model object again: refused before training, not another broken epoch
    data = CountingData(reversal_data())
    with pytest.raises(d2l.NonFiniteError, match='训练开始之前.*重新构造模型'):
        train(net, 3, data)
    assert data.iterations == 0
