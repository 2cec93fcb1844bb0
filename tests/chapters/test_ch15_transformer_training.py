"""Chapter 15 (notebooks/15_transformer_training.ipynb): training the Transformer and predicting with it.

What the chapter relies on, checked on tiny seeded models: the learning-rate schedule reaches
d2l.train_seq2seq through an optimizer step pre-hook (no second training loop), the chapter's schedule
starts at 0, peaks at the end of the warm-up and ends at 0, and chapter 9's prediction functions work
with the Transformer (batched = one at a time, deterministic in train mode, all three kinds of
attention weights collected, beam width 1 = greedy). The chapter's own training runs are checked by
its check cells; no data, no network here.
"""
from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

import d2l_local as d2l

CPU = torch.device("cpu")
from chapter_support import T_VOCAB as VOCAB, make_decoder, make_encoder


# ------------------------------------------------------------------------------------ the schedule

def warmup_linear_lr(step, peak_lr, warmup_steps, total_steps):
    """The chapter's schedule (15.2), copied: the notebook's cell is not saved code."""
    if step <= warmup_steps:
        return peak_lr * step / warmup_steps
    return peak_lr * (total_steps - step) / (total_steps - warmup_steps)


def test_the_chapters_schedule_is_the_one_in_the_notebook():
    import nbformat
    from pathlib import Path
    nb = nbformat.read(Path(__file__).resolve().parents[2] / "notebooks" / "15_transformer_training.ipynb",
                       as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code" and "def warmup_linear_lr(" in c.source]
    assert len(sources) == 1
    namespace = {}
    exec(sources[0].split("\n\n")[0], namespace)                    # the function only, not the plot
    for step in (1, 50, 100, 101, 400, 700):
        assert namespace["warmup_linear_lr"](step, 0.01, 100, 700) == warmup_linear_lr(step, 0.01, 100, 700)


def test_schedule_warms_up_peaks_and_ends_at_zero():
    lrs = [warmup_linear_lr(s, 0.01, 100, 700) for s in range(1, 701)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[99] == pytest.approx(0.01) and lrs[-1] == 0.0
    assert max(lrs) == lrs[99]
    assert all(a < b for a, b in zip(lrs[:99], lrs[1:100]))          # rises during the warm-up
    assert all(a > b for a, b in zip(lrs[99:-1], lrs[100:]))          # then falls to 0


def tiny_data(seed=0, batch_size=4, n=12, vocab=VOCAB, num_steps=5):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randint(3, vocab, (n, num_steps), generator=generator)
    Y = torch.randint(3, vocab, (n, num_steps), generator=generator)
    lens = torch.full((n,), num_steps)
    return d2l.load_array((X, lens, Y, lens), batch_size)


def test_a_step_pre_hook_sets_the_learning_rate_of_train_seq2seq():
    """The chapter trains with d2l.train_seq2seq and sets each step's learning rate in a global optimizer
    step pre-hook: the rates the optimizer used must be the schedule's, and the hook must be gone after."""
    vocab = d2l.Vocab([[str(i) for i in range(VOCAB - 4)]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    net = d2l.EncoderDecoder(make_encoder(), make_decoder())
    data = tiny_data()
    total, used, step = 2 * len(data), [], 0

    def set_lr(optimizer, args, kwargs):
        nonlocal step
        step += 1
        for group in optimizer.param_groups:
            group["lr"] = warmup_linear_lr(step, 0.01, 2, total)

    def record(optimizer, args, kwargs):
        used.append(optimizer.param_groups[0]["lr"])

    hook = register_optimizer_step_pre_hook(set_lr)
    post = register_optimizer_step_post_hook(record)
    try:
        d2l.train_seq2seq(net, data, 0.5, 2, vocab, CPU, plot=False)
    finally:
        hook.remove()
        post.remove()
    assert used == [warmup_linear_lr(s, 0.01, 2, total) for s in range(1, total + 1)]
    # removed: a later optimizer keeps its own learning rate
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.5)
    param.grad = torch.ones(1)
    optimizer.step()
    assert optimizer.param_groups[0]["lr"] == 0.5 and param.item() == pytest.approx(-0.5)


def test_learning_rate_zero_leaves_the_weights_alone():
    """A schedule at 0 really stops the updates: the hook acts on the optimizer train_seq2seq uses."""
    vocab = d2l.Vocab([[str(i) for i in range(VOCAB - 4)]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    net = d2l.EncoderDecoder(make_encoder(1), make_decoder(1))
    torch.manual_seed(0)
    net.apply(d2l.xavier_init_weights)
    before = {k: v.clone() for k, v in net.state_dict().items()}

    def zero_lr(optimizer, args, kwargs):
        for group in optimizer.param_groups:
            group["lr"] = 0.0

    hook = register_optimizer_step_pre_hook(zero_lr)
    try:
        torch.manual_seed(0)
        d2l.train_seq2seq(net, tiny_data(1), 0.5, 1, vocab, CPU, plot=False)
    finally:
        hook.remove()
    after = net.state_dict()
    # train_seq2seq re-initialises the Linear layers (Xavier) with the same seed: compare the embeddings,
    # which only the optimizer changes
    for name in ("encoder.embedding.weight", "decoder.embedding.weight"):
        assert torch.equal(before[name], after[name]), name



# ------------------------------------------------------------------------------------ prediction (chapter 9)

SRC_WORDS = ["go", ".", "i", "lost", "he's", "calm", "i'm", "home", "run", "!", "we", "won"]
TGT_WORDS = ["va", "!", "j'ai", "perdu", "il", "est", "calme", ".", "je", "suis", "chez", "moi"]
SENTENCES = ["Go.", "I lost.", "He's calm.", "I'm home.", "run ! run !", "we won ."]
needs_ch7 = pytest.mark.skipif(not hasattr(d2l, "predict_seq2seq"), reason="chapter 9 not in d2l_local yet")


def translation_net(seed=0, dropout=0.0):
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = d2l.Vocab([SRC_WORDS], reserved_tokens=reserved)
    tgt_vocab = d2l.Vocab([TGT_WORDS], reserved_tokens=reserved)
    torch.manual_seed(seed)
    sizes = dict(hidden=16, heads=4, ffn=32, layers=2, dropout=dropout)
    net = d2l.EncoderDecoder(make_encoder(seed, vocab=len(src_vocab), **sizes),
                             make_decoder(seed, vocab=len(tgt_vocab), **sizes))
    with torch.no_grad():
        net.decoder.dense.weight.mul_(4.0)   # peaked, varied next-token distributions
    return net, src_vocab, tgt_vocab


@needs_ch7
def test_predict_seq2seq_batched_equals_one_at_a_time_and_is_deterministic():
    for seed in range(3):
        net, src_vocab, tgt_vocab = translation_net(seed, dropout=0.3)
        net.train()
        batched, _ = d2l.predict_seq2seq(net, SENTENCES, src_vocab, tgt_vocab, 6, CPU)
        one_by_one = [d2l.predict_seq2seq(net, s, src_vocab, tgt_vocab, 6, CPU)[0] for s in SENTENCES]
        assert batched == one_by_one
        assert d2l.predict_seq2seq(net, SENTENCES, src_vocab, tgt_vocab, 6, CPU)[0] == batched
        assert net.training   # the caller's mode is restored


@needs_ch7
def test_predict_seq2seq_collects_all_three_kinds_of_attention_weights():
    net, src_vocab, tgt_vocab = translation_net(1)
    translations, weights = d2l.predict_seq2seq(net, SENTENCES[:3], src_vocab, tgt_vocab, 6, CPU,
                                                save_attention_weights=True)
    for translation, steps in zip(translations, weights):
        num_words = len(translation.split())
        assert len(steps) in (num_words, num_words + 1)   # + the <eos> step unless num_steps ran out
        for t, (self_w, cross_w) in enumerate(steps):
            assert len(self_w) == len(cross_w) == 2                        # one per layer
            for s, c in zip(self_w, cross_w):
                assert s.shape == (4, 1, t + 1) and c.shape == (4, 1, 6)   # (num_heads, 1, keys)
                torch.testing.assert_close(s.sum(-1), torch.ones(4, 1), atol=1e-5, rtol=0)
    assert len(net.encoder.attention_weights) == 2


@needs_ch7
@pytest.mark.skipif(not hasattr(d2l, "predict_seq2seq_beam"), reason="no beam search in d2l_local")
def test_beam_search_of_width_one_is_greedy():
    net, src_vocab, tgt_vocab = translation_net(2)
    greedy, _ = d2l.predict_seq2seq(net, SENTENCES, src_vocab, tgt_vocab, 6, CPU)
    beam, _ = d2l.predict_seq2seq_beam(net, SENTENCES, src_vocab, tgt_vocab, 6, CPU, beam_size=1)
    assert beam == greedy
    wide, candidates = d2l.predict_seq2seq_beam(net, SENTENCES, src_vocab, tgt_vocab, 6, CPU, beam_size=3)
    assert len(wide) == len(SENTENCES) and all(c for c in candidates)
