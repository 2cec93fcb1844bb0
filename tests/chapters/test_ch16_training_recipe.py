"""Chapter 16 (notebooks/16_training_recipe.ipynb): the training recipe.

Token-budget batches, the learning-rate schedules, label smoothing, mixed precision, weight tying,
the best-BLEU checkpoint, and train_seq2seq's recipe options: their values, exact resume, the
unchanged d2l-compatible call, and clear errors for bad arguments. Everything runs on tiny models
and made-up data on the CPU, in seconds; no corpus, no network.
"""
from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.nn import functional as F

import d2l_local as d2l
from booktools import student
from d2l_exercises import ch16

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / 'notebooks' / '16_training_recipe.ipynb'
CPU = torch.device('cpu')
RESERVED = ['<pad>', '<bos>', '<eos>']


# ---------------------------------------------------------------------------------------------
# Made-up data: reversed "translations" of 1 to 6 words, so batches of several lengths exist


def toy_pairs(num_pairs=90, seed=0):
    rng = random.Random(seed)
    words = [f'w{i}' for i in range(8)]
    src = [[rng.choice(words) for _ in range(rng.randint(1, 6))] for _ in range(num_pairs)]
    tgt = [[w.upper() for w in reversed(s)] for s in src]
    return src, tgt


def toy_data(num_pairs=90, num_steps=8, seed=0):
    src, tgt = toy_pairs(num_pairs, seed)
    src_vocab = d2l.Vocab(src, reserved_tokens=RESERVED)
    tgt_vocab = d2l.Vocab(tgt, reserved_tokens=RESERVED)
    X, X_len = d2l.build_array_nmt(src, src_vocab, num_steps)
    Y, Y_len = d2l.build_array_nmt(tgt, tgt_vocab, num_steps)
    return (X, X_len, Y, Y_len), src_vocab, tgt_vocab


ARRAYS, SRC_VOCAB, TGT_VOCAB = toy_data()


def gru_net(seed=0, hidden=16, embed=8, dropout=0.2):
    torch.manual_seed(seed)
    return d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(SRC_VOCAB), embed, hidden, 2, dropout),
                              d2l.Seq2SeqDecoder(len(TGT_VOCAB), embed, hidden, 2, dropout))


def transformer_net(seed=0, h=16, tie=False, dropout=0.1):
    torch.manual_seed(seed)
    net = d2l.EncoderDecoder(
        d2l.TransformerEncoder(len(SRC_VOCAB), h, h, h, h, [h], h, 2 * h, 2, 1, dropout),
        d2l.TransformerDecoder(len(TGT_VOCAB), h, h, h, h, [h], h, 2 * h, 2, 1, dropout))
    return d2l.tie_weights(net) if tie else net


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


class DropAfter:
    """An iterable of batches that raises KeyboardInterrupt after n batches (a lost session)."""

    def __init__(self, batches, n):
        self.batches, self.left = batches, n

    def set_epoch(self, epoch):
        if hasattr(self.batches, 'set_epoch'):
            self.batches.set_epoch(epoch)

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            if self.left == 0:
                raise KeyboardInterrupt('session lost')
            self.left -= 1
            yield batch


# ---------------------------------------------------------------------------------------------
# cut_batches and TokenBatches


def test_cut_batches_keeps_order_and_budget():
    lengths = [2, 7, 3, 6, 2, 7, 3, 6]
    batches = d2l.cut_batches(lengths, 14)
    assert [i for b in batches for i in b] == list(range(8))
    assert batches == [[0, 1], [2, 3], [4, 5], [6, 7]]
    ordered = sorted(lengths)
    assert d2l.cut_batches(ordered, 14) == [[0, 1, 2, 3], [4, 5], [6, 7]]
    assert d2l.cut_batches([], 5) == []
    with pytest.raises(ValueError, match='batch_tokens'):
        d2l.cut_batches([3, 9, 2], 8)


def positions(batch):
    return batch[2].shape[0] * batch[2].shape[1]


@pytest.mark.parametrize('bucket', [True, False])
@pytest.mark.parametrize('trim_source', [True, False])
def test_token_batches_stay_within_the_budget_and_cover_every_pair_once(bucket, trim_source):
    X, X_len, Y, Y_len = ARRAYS
    data = d2l.TokenBatches(ARRAYS, 24, bucket=bucket, trim_source=trim_source, seed=3)
    for epoch in range(3):
        data.set_epoch(epoch)
        rows = [i for b in data.batches() for i in b]
        assert sorted(rows) == list(range(len(X)))
        batches = list(data)
        assert len(batches) == len(data)
        seen = []
        for (Xb, Xb_len, Yb, Yb_len), index in zip(batches, data.batches()):
            assert positions((Xb, Xb_len, Yb, Yb_len)) <= 24
            assert Yb.shape[1] == int(Yb_len.max())           # cut to the longest target of the batch
            assert torch.equal(Yb, Y[index, :Yb.shape[1]]) and torch.equal(Yb_len, Y_len[index])
            assert Xb.shape[1] == (int(Xb_len.max()) if trim_source else X.shape[1])
            assert torch.equal(Xb, X[index, :Xb.shape[1]])
            seen += index
        assert sorted(seen) == list(range(len(X)))


def test_token_batches_are_reproducible_and_change_with_the_epoch():
    a = d2l.TokenBatches(ARRAYS, 24, seed=0)
    b = d2l.TokenBatches(ARRAYS, 24, seed=0)
    assert a.batches(0) == b.batches(0) and a.batches(1) == b.batches(1)
    assert a.batches(0) != a.batches(1)
    assert a.batches(0) != d2l.TokenBatches(ARRAYS, 24, seed=1).batches(0)
    state = torch.get_rng_state()
    list(a)
    assert torch.equal(state, torch.get_rng_state()), 'TokenBatches must not use the global RNG'
    assert len({len(a.batches(e)) for e in range(5)}) == 1  # the same number of batches every epoch


def test_length_buckets_pad_far_less_than_random_batches():
    def padding(data):
        total = sum(positions(b) for b in data)
        return 1 - int(ARRAYS[3].sum()) / total
    bucketed, random_ = d2l.TokenBatches(ARRAYS, 24), d2l.TokenBatches(ARRAYS, 24, bucket=False)
    assert padding(bucketed) == 0.0 or padding(bucketed) < 0.05
    assert padding(random_) > 0.2


@pytest.mark.parametrize('num_shards', [2, 3, 4])
def test_shards_are_disjoint_equal_in_length_and_cover_every_pair_once(num_shards):
    shards = [d2l.TokenBatches(ARRAYS, 24, seed=5, num_shards=num_shards, shard=r) for r in range(num_shards)]
    for epoch in (0, 1, 7):
        rows = []
        for shard in shards:
            shard.set_epoch(epoch)
            rows.append([i for b in shard.batches() for i in b])
        assert len({len(s.batches()) for s in shards}) == 1
        assert len({len(s) for s in shards}) == 1
        everything = [i for part in rows for i in part]
        assert sorted(everything) == list(range(len(ARRAYS[0])))
        for shard in shards:
            assert all(positions(b) <= 24 for b in shard)


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(1, 7), min_size=1, max_size=40), extra=st.integers(0, 20),
       num_shards=st.integers(1, 4), bucket=st.booleans(), epoch=st.integers(0, 3))
def test_token_batches_property(lengths, extra, num_shards, bucket, epoch):
    """Any lengths, budget, shards: within the budget, every pair once per epoch, equal shards."""
    if num_shards > len(lengths):
        return
    num_steps = 8
    Y = torch.zeros(len(lengths), num_steps, dtype=torch.long)
    for i, n in enumerate(lengths):
        Y[i, :n] = 5
    Y_len = torch.tensor(lengths)
    budget = (max(lengths) if bucket else num_steps) + extra
    try:
        shards = [d2l.TokenBatches((Y, Y_len, Y, Y_len), budget, bucket=bucket, seed=1,
                                   num_shards=num_shards, shard=r) for r in range(num_shards)]
        for s in shards:
            s.set_epoch(epoch)
        parts = [s.batches() for s in shards]
    except ValueError as error:  # only when single-pair batches cannot be split evenly
        assert 'num_shards' in str(error)
        whole = d2l.TokenBatches((Y, Y_len, Y, Y_len), budget, bucket=bucket, seed=1).batches(epoch)
        # splitting a batch in two adds one batch, at most until every batch holds one pair
        assert not any(m % num_shards == 0 for m in range(len(whole), len(lengths) + 1))
        return
    assert len({len(p) for p in parts}) == 1
    rows = [i for p in parts for b in p for i in b]
    assert sorted(rows) == list(range(len(lengths)))
    for p in parts:
        for b in p:
            assert len(b) * max(lengths[i] for i in b) <= budget


def test_token_batches_reject_bad_arguments():
    with pytest.raises(ValueError, match='batch_tokens'):
        d2l.TokenBatches(ARRAYS, 5)  # shorter than the longest target (7 tokens)
    with pytest.raises(ValueError, match='batch_tokens'):
        d2l.TokenBatches(ARRAYS, 7, bucket=False)  # must hold a whole padded row
    with pytest.raises(ValueError, match='shard'):
        d2l.TokenBatches(ARRAYS, 24, num_shards=2, shard=2)
    with pytest.raises(ValueError, match='arrays'):
        d2l.TokenBatches(ARRAYS[:2], 24)
    with pytest.raises(ValueError, match='num_pairs'):
        d2l.TokenBatches((ARRAYS[0], ARRAYS[1][:3], ARRAYS[2], ARRAYS[3]), 24)


# ---------------------------------------------------------------------------------------------
# Schedules


def test_warmup_linear_decay_values():
    f = d2l.warmup_linear_decay
    assert f(0.0, 0.1) == 0.0 and f(0.1, 0.1) == 1.0 and f(1.0, 0.1) == 0.0
    assert f(0.05, 0.1) == pytest.approx(0.5) and f(0.55, 0.1) == pytest.approx(0.5)
    assert f(0.25, 0.0) == pytest.approx(0.75)
    assert f(-1, 0.1) == 0.0 and f(2, 0.1) == 0.0  # clamped to the budget
    values = [f(p / 100, 0.2) for p in range(101)]
    assert max(range(101), key=values.__getitem__) == 20
    assert all(a <= b for a, b in zip(values[:20], values[1:21]))
    assert all(a >= b for a, b in zip(values[20:], values[21:]))
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match='warmup'):
            f(0.5, bad)


def test_noam_values():
    d, w = 256, 4000
    peak = (d * w) ** -0.5
    assert d2l.noam_lr(w, d, w) == pytest.approx(peak)
    assert d2l.noam_lr(w // 4, d, w) == pytest.approx(peak / 4)        # linear warm-up
    assert d2l.noam_lr(4 * w, d, w) == pytest.approx(peak / 2)         # then step^-0.5
    assert d2l.noam_lr(1, d, w) == pytest.approx(d ** -0.5 * w ** -1.5)
    with pytest.raises(ValueError):
        d2l.noam_lr(0, d, w)


def train(net, data, lr=0.01, num_epochs=None, **kwargs):
    kwargs.setdefault('plot', False)
    return d2l.train_seq2seq(net, data, lr, num_epochs, TGT_VOCAB, CPU, **kwargs)


@pytest.mark.parametrize('schedule,warmup', [('linear', 0.2), ('linear', 0.0), ('noam', 3), ('constant', 0.05)])
def test_the_training_loop_uses_the_schedule(schedule, warmup):
    data = d2l.TokenBatches(ARRAYS, 24, seed=0)
    result = train(gru_net(), data, lr=0.01, max_steps=10, schedule=schedule, warmup=warmup)
    assert result.steps == 10 and len(result.lr_history) == 10
    for k, value in enumerate(result.lr_history, start=1):
        if schedule == 'linear':
            expected = 0.01 * d2l.warmup_linear_decay((k - 0.5) / 10, warmup)
        elif schedule == 'noam':
            expected = 0.01 * min(k / warmup, (warmup / k) ** 0.5)
        else:
            expected = 0.01
        assert value == pytest.approx(expected), (k, value, expected)


def test_a_callable_schedule_and_the_epoch_budget():
    data = d2l.TokenBatches(ARRAYS, 24, seed=0)
    calls = []
    result = train(gru_net(), data, num_epochs=2, schedule=lambda step, p: calls.append((step, p)) or 0.5)
    assert result.steps == 2 * len(data) and result.epochs_run == 2 and result.epochs_seen == 2
    assert [s for s, _ in calls] == list(range(1, result.steps + 1))
    total = 2 * len(data)
    assert [p for _, p in calls] == pytest.approx([(k - 0.5) / total for k in range(1, total + 1)])
    assert set(result.lr_history) == {0.005}


def test_a_time_budget_stops_training_and_decays_the_learning_rate():
    data = d2l.TokenBatches(ARRAYS, 24, seed=0)
    result = train(gru_net(), data, schedule='linear', time_budget=0.5, clock='process')
    assert result.steps >= 1 and 0.5 <= result.seconds < 5
    assert max(result.lr_history) <= 0.01
    if result.steps >= 10:
        assert result.lr_history[-1] < max(result.lr_history)


# ---------------------------------------------------------------------------------------------
# Label smoothing


def test_label_smoothing_equals_a_hand_computation():
    torch.manual_seed(0)
    eps, V = 0.1, 6
    pred = torch.randn(3, 4, V, dtype=torch.float64)
    label = torch.randint(0, V, (3, 4))
    valid_len = torch.tensor([4, 2, 0])
    total, count = 0.0, 0
    for i in range(3):
        for t in range(int(valid_len[i])):
            logits = pred[i, t].tolist()
            top = max(logits)
            log_z = top + math.log(sum(math.exp(v - top) for v in logits))
            log_p = [v - log_z for v in logits]
            target = [(1 - eps) * (k == int(label[i, t])) + eps / V for k in range(V)]
            total += -sum(q * lp for q, lp in zip(target, log_p))
            count += 1
    loss = d2l.MaskedSoftmaxCELoss(label_smoothing=eps)(pred, label, valid_len)
    assert loss.item() == pytest.approx(total / count, rel=1e-10)
    # and without smoothing it is the plain negative log-likelihood
    plain = d2l.MaskedSoftmaxCELoss()(pred, label, valid_len)
    nll = -F.log_softmax(pred, -1).gather(-1, label[..., None]).squeeze(-1)[:2]
    assert plain.item() == pytest.approx(float((nll[0].sum() + nll[1, :2].sum()) / 6), rel=1e-10)


def test_the_recipe_passes_label_smoothing_to_the_loss(monkeypatch):
    created = []
    real = d2l.MaskedSoftmaxCELoss

    class Spy(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self.label_smoothing)

    monkeypatch.setattr(d2l, 'MaskedSoftmaxCELoss', Spy)
    train(gru_net(), d2l.TokenBatches(ARRAYS, 24), max_steps=1, label_smoothing=0.2)
    train(gru_net(), d2l.TokenBatches(ARRAYS, 24), num_epochs=1)
    assert created == [0.2, 0.0]


# ---------------------------------------------------------------------------------------------
# Mixed precision


def test_resolve_precision(monkeypatch):
    for p in ('fp32', 'bf16', 'fp16'):
        assert d2l.resolve_precision(p, CPU) == p
    monkeypatch.setattr(d2l.ch16_training_recipe, 'cpu_bf16_speedup', lambda: 3.0)
    assert d2l.resolve_precision('auto', CPU) == 'bf16'
    monkeypatch.setattr(d2l.ch16_training_recipe, 'cpu_bf16_speedup', lambda: 0.05)
    assert d2l.resolve_precision('auto', CPU) == 'fp32'
    with pytest.raises(ValueError, match='precision'):
        d2l.resolve_precision('fp8', CPU)


def test_cpu_bf16_speedup_does_not_touch_the_global_rng():
    state = torch.get_rng_state()
    speedup = d2l.cpu_bf16_speedup()
    assert speedup > 0 and torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize('precision,dtype', [('bf16', torch.bfloat16), ('fp16', torch.float16), ('fp32', torch.float32)])
def test_mixed_precision_computes_low_but_keeps_float32_weights(precision, dtype):
    layer = nn.Linear(4, 3)
    with d2l.mixed_precision(CPU, precision):
        out = layer(torch.randn(2, 4))
    assert out.dtype == dtype and layer.weight.dtype == torch.float32


def test_auto_precision_falls_back_to_float32_on_a_cpu_without_fast_bf16(monkeypatch):
    """'auto' on a CPU where bf16 is not faster trains exactly as fp32 does: same weights, no warnings."""
    monkeypatch.setattr(d2l.ch16_training_recipe, 'cpu_bf16_speedup', lambda: 0.4)
    data = d2l.TokenBatches(ARRAYS, 24, trim_source=True, seed=0)
    nets, results = [], []
    for precision in ('auto', 'fp32'):
        torch.manual_seed(1)
        net = transformer_net(dropout=0.0)
        results.append(train(net, data, max_steps=5, precision=precision, init=None))
        nets.append(net)
    assert [r.precision for r in results] == ['fp32', 'fp32']
    assert same_weights(*nets)


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_training_in_low_precision_keeps_float32_state(precision, tmp_path):
    net = transformer_net()
    path = tmp_path / 'ckpt.pt'
    result = train(net, d2l.TokenBatches(ARRAYS, 24, trim_source=True), max_steps=6, precision=precision,
                   init=None, checkpoint_path=path)
    assert result.precision == precision and math.isfinite(result.loss)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    saved = torch.load(path, weights_only=True)['optimizer']
    scaler = saved['param_groups'][0]['recipe']['scaler']
    assert (scaler != {}) == (precision == 'fp16')  # the scaler's state is in the checkpoint
    if precision == 'fp16':
        assert scaler['scale'] > 0 and scaler['_growth_tracker'] >= 0


# ---------------------------------------------------------------------------------------------
# Weight tying


def test_tie_weights_shares_one_parameter():
    untied, tied = transformer_net(), transformer_net(tie=True)
    assert tied.decoder.dense.weight is tied.decoder.embedding.weight
    count = lambda net: sum(p.numel() for p in net.parameters())
    assert count(untied) - count(tied) == len(TGT_VOCAB) * 16
    assert d2l.tie_weights(tied.decoder) is tied.decoder  # a decoder works too


def test_tied_weights_stay_tied_after_a_checkpoint_round_trip(tmp_path):
    net = transformer_net(tie=True)
    optimizer = d2l.make_adam(net, 0.01)
    path = tmp_path / 'tied.pt'
    d2l.save_checkpoint(path, net, optimizer, 1)
    fresh = transformer_net(seed=9, tie=True)
    d2l.load_checkpoint(path, fresh, d2l.make_adam(fresh, 0.01))
    assert fresh.decoder.dense.weight is fresh.decoder.embedding.weight
    assert same_weights(net, fresh)
    # and training through train_seq2seq with a checkpoint keeps them tied and equal
    result = train(fresh, d2l.TokenBatches(ARRAYS, 24, trim_source=True), max_steps=4, init=None,
                   checkpoint_path=tmp_path / 'recipe.pt')
    assert result.steps == 4
    again = transformer_net(seed=3, tie=True)
    d2l.load_checkpoint(tmp_path / 'recipe.pt', again)
    assert again.decoder.dense.weight is again.decoder.embedding.weight
    assert torch.equal(again.decoder.dense.weight, fresh.decoder.embedding.weight)


def test_tie_weights_explains_a_size_mismatch():
    net = gru_net(hidden=16, embed=8)
    with pytest.raises(ValueError, match=r'embed_size.*num_hiddens.*（16）'):
        d2l.tie_weights(net)
    with pytest.raises(TypeError, match='embedding'):
        d2l.tie_weights(nn.Linear(3, 3))


# ---------------------------------------------------------------------------------------------
# translate_all / evaluate_bleu


def test_translate_all_keeps_the_order_and_matches_one_at_a_time():
    net = transformer_net()
    sentences = [' '.join(s) for s in toy_pairs(12, seed=4)[0]]
    batched = d2l.translate_all(net, sentences, SRC_VOCAB, TGT_VOCAB, 8, CPU, chunk=5)
    single = [d2l.predict_seq2seq(net, s, SRC_VOCAB, TGT_VOCAB, 8, CPU)[0] for s in sentences]
    assert batched == single
    bleu = d2l.evaluate_bleu(net, sentences, [[b] for b in batched], SRC_VOCAB, TGT_VOCAB, 8, CPU)
    assert bleu == pytest.approx(100.0) or bleu == 0.0  # identical hypotheses: 100 unless too short


# ---------------------------------------------------------------------------------------------
# Exact resume with the recipe options


def recipe_options(tmp_path=None, **extra):
    options = dict(schedule='linear', warmup=0.1, max_steps=14, label_smoothing=0.1, betas=(0.9, 0.98))
    options.update(extra)
    return options


@pytest.mark.parametrize('kind', ['token_batches', 'data_loader'])
def test_resume_mid_epoch_with_the_recipe_is_exact(tmp_path, kind):
    def data():
        if kind == 'token_batches':
            return d2l.TokenBatches(ARRAYS, 24, seed=0)  # 4 or 5 batches per epoch
        return d2l.load_array(ARRAYS, batch_size=20)     # shuffled with the global RNG
    srcs = [' '.join(s) for s in toy_pairs(6, seed=8)[0]]
    refs = [[' '.join(t)] for t in toy_pairs(6, seed=8)[1]]
    valid = lambda net: d2l.evaluate_bleu(net, srcs, refs, SRC_VOCAB, TGT_VOCAB, 8, CPU, beam_size=2)
    options = recipe_options(valid=valid, eval_every=3, best_checkpoint_path=tmp_path / 'best.pt')

    torch.manual_seed(1)
    straight = gru_net()
    full = train(straight, data(), **options)
    assert full.steps == 14 and len(full.valid_history) == 5  # steps 3, 6, 9, 12 and the end

    path = tmp_path / 'resume.pt'
    torch.manual_seed(1)
    with pytest.raises(KeyboardInterrupt):
        train(gru_net(), DropAfter(data(), 11), checkpoint_path=path, save_every_steps=4, **options)
    saved = torch.load(path, weights_only=True)
    assert saved['optimizer']['param_groups'][0]['recipe']['steps'] == 8
    torch.manual_seed(1234)  # whatever the RNG is now: the checkpoint restores it
    resumed_net = gru_net(seed=7)
    resumed = train(resumed_net, data(), checkpoint_path=path, save_every_steps=4, **options)
    assert same_weights(straight, resumed_net)
    assert resumed.lr_history == full.lr_history and resumed.valid_history == full.valid_history
    assert resumed.loss_history == full.loss_history and resumed.steps == 14
    assert (resumed.best_score, resumed.best_step) == (full.best_score, full.best_step)

    # calling again: the budget is used up, nothing happens
    again = train(gru_net(seed=3), data(), checkpoint_path=path, **options)
    assert again.steps == 14 and again.epochs_run == 0


def test_resume_with_fp16_restores_the_scaler(tmp_path):
    data = d2l.TokenBatches(ARRAYS, 24, trim_source=True, seed=0)
    options = recipe_options(precision='fp16', init=None, max_steps=10)
    torch.manual_seed(1)
    straight = transformer_net()
    train(straight, data, checkpoint_path=tmp_path / 'straight.pt', **options)
    path = tmp_path / 'resume.pt'
    torch.manual_seed(1)
    with pytest.raises(KeyboardInterrupt):
        train(transformer_net(), DropAfter(data, 7), checkpoint_path=path, save_every_steps=3, **options)
    resumed = transformer_net(seed=4)
    train(resumed, data, checkpoint_path=path, save_every_steps=3, **options)
    assert same_weights(straight, resumed)
    a = torch.load(tmp_path / 'straight.pt', weights_only=True)['optimizer']['param_groups'][0]['recipe']['scaler']
    b = torch.load(path, weights_only=True)['optimizer']['param_groups'][0]['recipe']['scaler']
    assert a == b and a['scale'] > 0


def test_the_best_checkpoint_holds_the_best_model(tmp_path):
    scores = iter([5.0, 9.0, 7.0, 8.0])
    snapshots = {}

    def valid(net):
        score = next(scores)
        snapshots[score] = {k: v.clone() for k, v in net.state_dict().items()}
        return score

    result = train(gru_net(), d2l.TokenBatches(ARRAYS, 24), max_steps=8, valid=valid, eval_every=2,
                   best_checkpoint_path=tmp_path / 'best.pt')
    assert result.valid_history == [(2, 5.0), (4, 9.0), (6, 7.0), (8, 8.0)]
    assert (result.best_score, result.best_step) == (9.0, 4)
    best = gru_net(seed=5)
    d2l.load_checkpoint(tmp_path / 'best.pt', best)
    assert all(torch.equal(best.state_dict()[k], v) for k, v in snapshots[9.0].items())


def test_a_tied_best_score_keeps_the_later_model(tmp_path):
    scores = iter([0.0, 0.0, 0.0])
    result = train(gru_net(), d2l.TokenBatches(ARRAYS, 24), max_steps=6, valid=lambda net: next(scores),
                   eval_every=2, best_checkpoint_path=tmp_path / 'best.pt')
    assert (result.best_score, result.best_step) == (0.0, 6)
    saved = torch.load(tmp_path / 'best.pt', weights_only=True)
    assert saved['optimizer']['param_groups'][0]['recipe']['steps'] == 6


# ---------------------------------------------------------------------------------------------
# The unchanged call: exactly chapter 7's train_seq2seq


def chapter7_train_seq2seq():
    """The train_seq2seq that chapter 7 saves (d2l.train_seq2seq is chapter 16's redefinition)."""
    return d2l.ch07_training.train_seq2seq


def test_the_unchanged_call_behaves_as_in_chapter_7(tmp_path, capsys):
    old = chapter7_train_seq2seq()
    assert old is not d2l.train_seq2seq
    data = d2l.load_array(ARRAYS, batch_size=16)
    results, nets, outputs = [], [], []
    for function, name in ((old, 'old'), (d2l.train_seq2seq, 'new')):
        torch.manual_seed(1)
        net = gru_net()
        result = function(net, data, 0.01, 3, TGT_VOCAB, CPU, checkpoint_path=tmp_path / f'{name}.pt',
                          save_every=2, plot=False)
        results.append(result)
        nets.append(net)
        outputs.append(capsys.readouterr().out)
    assert type(results[1]) is d2l.TrainResult
    assert same_weights(*nets)
    assert results[0].loss_history == results[1].loss_history
    assert (results[0].epochs_run, results[0].start_epoch, results[0].num_epochs) == \
        (results[1].epochs_run, results[1].start_epoch, results[1].num_epochs)
    pattern = r'每词元损失 \d+\.\d{3}，每秒 \d+ 个词元，设备 cpu\n'
    assert re.fullmatch(pattern, outputs[0]) and re.fullmatch(pattern, outputs[1])
    a, b = (torch.load(tmp_path / f'{n}.pt', weights_only=True) for n in ('old', 'new'))
    assert a.keys() == b.keys() and a['optimizer'].keys() == b['optimizer'].keys()  # a plain Adam state
    assert a['epoch'] == b['epoch'] == 3 and a['loss_history'] == b['loss_history']
    # a checkpoint of the old function resumes with the new one, as before
    torch.manual_seed(5)
    resumed = d2l.train_seq2seq(gru_net(seed=2), data, 0.01, 4, TGT_VOCAB, CPU,
                                checkpoint_path=tmp_path / 'old.pt', plot=False)
    assert resumed.start_epoch == 3 and resumed.epochs_run == 1


def test_explicit_default_options_are_the_unchanged_call(capsys):
    result = train(gru_net(), d2l.load_array(ARRAYS, batch_size=16), num_epochs=1, schedule='constant',
                   precision='fp32', label_smoothing=0.0, init='xavier')
    assert type(result) is d2l.TrainResult
    assert '个词元，设备 cpu' in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize('kwargs,match', [
    (dict(schedule='cosine', max_steps=3), 'schedule'),
    (dict(schedule='linear', warmup=1.5, max_steps=3), 'warmup'),
    (dict(schedule='noam', warmup=0.05, max_steps=3), 'warmup'),
    (dict(max_steps=0), 'max_steps'),
    (dict(max_steps=2.5), 'max_steps'),
    (dict(time_budget=-1), 'time_budget'),
    (dict(label_smoothing=1.0, max_steps=3), 'label_smoothing'),
    (dict(precision='fp8', max_steps=3), 'precision'),
    (dict(init='he', max_steps=3), 'init'),
    (dict(clock='cpu', max_steps=3), 'clock'),
    (dict(eval_every=5, max_steps=3), 'valid'),
    (dict(valid='bleu', max_steps=3), 'valid'),
    (dict(save_every_steps=2, max_steps=3), 'checkpoint_path'),
    (dict(), 'max_steps 或 time_budget'),  # num_epochs=None and no budget
])
def test_bad_recipe_arguments_get_clear_errors(kwargs, match):
    net = gru_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        train(net, d2l.TokenBatches(ARRAYS, 24), **kwargs)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_linear_schedule_needs_a_budget_it_can_compute():
    def endless():  # an iterable without a length
        yield from d2l.TokenBatches(ARRAYS, 24)
    with pytest.raises(ValueError, match='max_steps 或 time_budget'):
        train(gru_net(), endless(), num_epochs=2, schedule='linear')


def test_checkpoints_of_the_other_kind_are_refused_without_touching_the_model(tmp_path):
    plain, recipe = tmp_path / 'plain.pt', tmp_path / 'recipe.pt'
    train(gru_net(), d2l.TokenBatches(ARRAYS, 24), num_epochs=1, checkpoint_path=plain)
    train(gru_net(), d2l.TokenBatches(ARRAYS, 24), max_steps=2, checkpoint_path=recipe)
    for path, kwargs in ((plain, dict(max_steps=4)), (recipe, dict(num_epochs=2))):
        net = gru_net(seed=6)
        before = {k: v.clone() for k, v in net.state_dict().items()}
        with pytest.raises(d2l.CheckpointError, match='配方选项'):
            train(net, d2l.TokenBatches(ARRAYS, 24), checkpoint_path=path, **kwargs)
        assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_an_unwritable_best_checkpoint_folder_is_found_before_training(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    valid = lambda net: 0.0
    with pytest.raises(d2l.CheckpointError, match='best_checkpoint_path'):
        train(gru_net(), d2l.TokenBatches(ARRAYS, 24), max_steps=2, valid=valid,
              best_checkpoint_path=blocker / 'best.pt')


# ---------------------------------------------------------------------------------------------
# ThreadTuner


def test_thread_tuner_picks_the_faster_count():
    threads = torch.get_num_threads()
    try:
        tuner = d2l.ThreadTuner([1, 2], every=100.0, probe_steps=2)
        fake = {1: 0.01, 2: 0.05}
        elapsed = 0.0
        for step in range(10):
            used = tuner.before_step(elapsed, step)
            elapsed += fake[used]
            tuner.after_step(used, fake[used], elapsed)
        assert tuner.current == 1 and torch.get_num_threads() == 1
        assert tuner.summary().startswith('1: ')
    finally:
        torch.set_num_threads(threads)


def test_train_seq2seq_with_auto_threads_restores_the_setting():
    threads = torch.get_num_threads()
    result = train(gru_net(), d2l.TokenBatches(ARRAYS, 24), max_steps=4, cpu_threads='auto')
    assert result.steps == 4 and torch.get_num_threads() == threads


# ---------------------------------------------------------------------------------------------
# The chapter's checked exercises (d2l_exercises.ch16)


def exercise_source(name):
    cells = [c for c in json.loads(NOTEBOOK.read_text())['cells'] if c['cell_type'] == 'code']
    sources = [''.join(c['source']) for c in cells
               if 'exercise' in c['metadata'].get('tags', []) and f'def {name}(' in ''.join(c['source'])]
    assert len(sources) == 1
    return sources[0]


def load_exercise(name, source=None):
    namespace = {'math': math, 'torch': torch}
    exec(compile(source or exercise_source(name), '<exercise>', 'exec'), namespace)
    return namespace[name]


EXERCISES = [('warmup_cosine', ch16.warmup_cosine, '练习 16.9 预热加余弦衰减'),
             ('padding_ratio', ch16.padding_ratio, '练习 16.10 填充所占的比例')]


@pytest.mark.parametrize('name,check,title', EXERCISES)
def test_the_notebook_solution_passes_and_the_placeholder_is_not_done(name, check, title, capsys):
    assert check(load_exercise(name)) is True
    out = capsys.readouterr().out
    assert out.startswith(f'✓ {title}\n') and 'Traceback' not in out
    stripped, blocks = student.strip_code(exercise_source(name), 'test')
    assert blocks == 1 and 'NotImplementedError' in stripped
    assert check(load_exercise(name, stripped)) is False
    assert capsys.readouterr().out.startswith(f'⏳ {title}\n')
    for nonsense in (None, 'abc', [1, 2]):
        assert check(lambda *args, v=nonsense: v) is False
        assert capsys.readouterr().out.startswith(f'✗ {title}\n')
    cells = [''.join(c['source']) for c in json.loads(NOTEBOOK.read_text())['cells']]
    assert any(f'ok = checks.{name}({name})' in c and 'from d2l_exercises import ch16 as checks' in c
               for c in cells)


def test_the_cosine_reference_agrees_with_its_definition():
    for p, w in ((0.0, 0.1), (0.1, 0.1), (1.0, 0.1), (0.55, 0.1)):
        expected = p / w if p < w else 0.5 * (1 + math.cos(math.pi * (p - w) / (1 - w)))
        assert ch16._reference_cosine(p, w) == pytest.approx(expected)
    assert ch16._reference_cosine(0.55, 0.1) == pytest.approx(0.5)


# The typical mistakes of exercises 16.9 and 16.10 and their hints: tests/exercises/wrong_answers_ch16.py.
