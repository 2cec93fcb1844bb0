"""Chapter 14 (notebooks/14_transformer.ipynb): the Transformer's blocks, encoder and decoder.

The key regression tests are about prediction: decoding one token per call (with the decoder's cache
of earlier inputs) must give the same logits as decoding the whole teacher-forced target in one call.
d2l 0.17 restarted the positional encoding at position 0 in every call and dropped the causal mask in
eval mode, so both differed. Bad sizes and inputs get errors that say what to pass instead (their
rows are also in tests/catalogues/test_bad_inputs.py). Tiny seeded models only; a few seconds on a CPU.
Training and prediction with these models: tests/chapters/test_ch15_transformer_training.py.
"""
from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import d2l_local as d2l

CPU = torch.device("cpu")


from chapter_support import T_FFN as FFN, T_HEADS as HEADS, T_HIDDEN as HIDDEN, T_LAYERS as LAYERS
from chapter_support import T_VOCAB as VOCAB, make_decoder, make_encoder


def make_net(seed=0, dropout=0.0, **sizes):
    return d2l.EncoderDecoder(make_encoder(seed, dropout=dropout, **sizes),
                              make_decoder(seed, dropout=dropout, **sizes))


def padded_source(seed, batch_size=4, num_steps=7, vocab=VOCAB):
    """Random source tokens, <pad> (0) after each sentence's valid length; lengths include 1 and full."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randint(3, vocab, (batch_size, num_steps), generator=generator)
    valid_lens = torch.randint(1, num_steps + 1, (batch_size,), generator=generator)
    valid_lens[0], valid_lens[-1] = num_steps, 1
    X[torch.arange(num_steps)[None, :] >= valid_lens[:, None]] = 0
    return X, valid_lens


def teacher_input(seed, batch_size=4, num_steps=6, vocab=VOCAB):
    generator = torch.Generator().manual_seed(seed + 7)
    body = torch.randint(3, vocab, (batch_size, num_steps - 1), generator=generator)
    return torch.cat([torch.ones(batch_size, 1, dtype=torch.long), body], dim=1)  # <bos> = 1


@torch.no_grad()
def decode_in_chunks(decoder, enc_outputs, valid_lens, dec_X, sizes):
    state = decoder.init_state(enc_outputs, valid_lens)
    pieces, start = [], 0
    for size in sizes:
        logits, state = decoder(dec_X[:, start:start + size], state)
        pieces.append(logits)
        start += size
    assert start == dec_X.shape[1]
    return torch.cat(pieces, dim=1), state


# ------------------------------------------------------------------------------------ the blocks

def test_position_wise_ffn_shapes_and_positions_are_independent():
    torch.manual_seed(0)
    ffn = d2l.PositionWiseFFN(4, 8, 6)
    X = torch.randn(2, 3, 4)
    Y = ffn(X)
    assert Y.shape == (2, 3, 6)
    # every position goes through the same network on its own
    torch.testing.assert_close(Y[1, 2], ffn(X[1, 2].reshape(1, 1, 4))[0, 0], atol=1e-6, rtol=0)
    assert [type(m) for m in ffn.children()] == [nn.Linear, nn.ReLU, nn.Linear]


def test_add_norm_is_layer_norm_of_the_residual_sum():
    torch.manual_seed(0)
    add_norm = d2l.AddNorm([5], dropout=0.5).eval()
    X, Y = torch.randn(3, 4, 5), torch.randn(3, 4, 5)
    out = add_norm(X, Y)
    torch.testing.assert_close(out, nn.functional.layer_norm(X + Y, (5,)), atol=1e-6, rtol=0)
    # each position normalised over its own features
    torch.testing.assert_close(out.mean(-1), torch.zeros(3, 4), atol=1e-5, rtol=0)
    # dropout acts on the sub-layer output in train mode only
    add_norm.train()
    assert not torch.allclose(add_norm(X, Y), out)
    torch.testing.assert_close(add_norm(X, torch.zeros_like(Y)), nn.functional.layer_norm(X, (5,)),
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("batch_size, num_steps, hidden, heads", [(2, 5, 8, 2), (1, 1, 12, 3), (3, 9, 16, 4)])
def test_encoder_and_decoder_block_shapes(batch_size, num_steps, hidden, heads):
    torch.manual_seed(0)
    enc_blk = d2l.EncoderBlock(hidden, hidden, hidden, hidden, [hidden], hidden, 2 * hidden, heads, 0.1).eval()
    X = torch.randn(batch_size, num_steps, hidden)
    valid_lens = torch.full((batch_size,), num_steps)
    assert enc_blk(X, valid_lens).shape == (batch_size, num_steps, hidden)
    dec_blk = d2l.DecoderBlock(hidden, hidden, hidden, hidden, [hidden], hidden, 2 * hidden, heads, 0.1, 0).eval()
    state = [X, valid_lens, [None]]
    Y, new_state = dec_blk(torch.randn(batch_size, 2, hidden), state)
    assert Y.shape == (batch_size, 2, hidden)
    assert new_state[2][0].shape == (batch_size, 2, hidden)
    Z, newer = dec_blk(torch.randn(batch_size, 1, hidden), new_state)
    assert Z.shape == (batch_size, 1, hidden) and newer[2][0].shape == (batch_size, 3, hidden)
    assert state[2] == [None]  # the state passed in is left alone


# ------------------------------------------------------------------------------------ encoder

@pytest.mark.parametrize("layers, heads", [(1, 1), (2, 2), (3, 4)])
def test_encoder_shapes_and_attention_weights(layers, heads):
    encoder = make_encoder(layers=layers, heads=heads).eval()
    assert isinstance(encoder, d2l.Encoder)
    assert encoder.attention_weights is None
    X, valid_lens = padded_source(0, batch_size=3, num_steps=6)
    out = encoder(X, valid_lens)
    assert out.shape == (3, 6, HIDDEN)
    assert len(encoder.attention_weights) == layers
    for w in encoder.attention_weights:
        assert w.shape == (3 * heads, 6, 6) and not w.requires_grad
        w = w.reshape(3, heads, 6, 6)
        keep = torch.arange(6)[None, :] < valid_lens[:, None]               # (3, 6) valid keys
        assert torch.all(w.masked_select(~keep[:, None, None, :]) == 0)    # padded keys get weight 0
        torch.testing.assert_close(w.sum(-1), torch.ones(3, heads, 6), atol=1e-5, rtol=0)
    # without valid_lens every position is attended to
    assert encoder(X).shape == (3, 6, HIDDEN)


@pytest.mark.parametrize("seed", range(3))
def test_encoder_output_ignores_padded_source_tokens(seed):
    encoder = make_encoder(seed, dropout=0.1).eval()
    X, valid_lens = padded_source(seed)
    out = encoder(X, valid_lens)
    changed = X.clone()
    pad = torch.arange(X.shape[1])[None, :] >= valid_lens[:, None]
    changed[pad] = torch.randint(3, VOCAB, (int(pad.sum()),), generator=torch.Generator().manual_seed(seed))
    out2 = encoder(changed, valid_lens)
    torch.testing.assert_close(out2[~pad], out[~pad], atol=1e-6, rtol=0)


def test_embeddings_are_scaled_to_the_positional_encoding():
    encoder, decoder = make_encoder(hidden=64, heads=4), make_decoder(hidden=64, heads=4)
    for emb in (encoder.embedding, decoder.embedding):
        std = (emb.weight * math.sqrt(64)).std().item()
        assert 0.8 < std < 1.2, std   # N(0, 1/d) times sqrt(d): unit variance, like the encoding


# ------------------------------------------------------------------------------------ decoder

def test_decoder_state_shapes_and_attention_weights():
    encoder, decoder = make_encoder().eval(), make_decoder().eval()
    assert isinstance(decoder, d2l.AttentionDecoder)
    assert decoder.attention_weights is None
    X, valid_lens = padded_source(1, batch_size=3, num_steps=7)
    state = decoder.init_state(encoder(X, valid_lens), valid_lens)
    assert state[1] is valid_lens and state[2] == [None] * LAYERS
    dec_X = teacher_input(1, batch_size=3, num_steps=5)
    logits, state = decoder(dec_X[:, :3], state)
    assert logits.shape == (3, 3, VOCAB)
    self_w, cross_w = decoder.attention_weights
    assert len(self_w) == len(cross_w) == LAYERS
    for s, c in zip(self_w, cross_w):
        assert s.shape == (3 * HEADS, 3, 3) and c.shape == (3 * HEADS, 3, 7)
        assert torch.all(torch.triu(s, diagonal=1) == 0)   # causal
    logits, state = decoder(dec_X[:, 3:4], state)
    self_w, cross_w = decoder.attention_weights
    assert self_w[0].shape == (3 * HEADS, 1, 4) and cross_w[0].shape == (3 * HEADS, 1, 7)
    assert [c.shape for c in state[2]] == [(3, 4, HIDDEN)] * LAYERS
    # no valid lengths: the whole source is attended to
    state = decoder.init_state(encoder(X))
    assert decoder(dec_X, state)[0].shape == (3, 5, VOCAB)


@pytest.mark.parametrize("seed", range(4))
def test_step_by_step_equals_all_at_once_under_teacher_forcing(seed):
    encoder, decoder = make_encoder(seed, dropout=0.2).eval(), make_decoder(seed, dropout=0.2).eval()
    X, valid_lens = padded_source(seed)
    dec_X = teacher_input(seed)
    with torch.no_grad():
        enc_outputs = encoder(X, valid_lens)
    whole, _ = decode_in_chunks(decoder, enc_outputs, valid_lens, dec_X, [6])
    steps, state = decode_in_chunks(decoder, enc_outputs, valid_lens, dec_X, [1] * 6)
    torch.testing.assert_close(steps, whole, atol=1e-5, rtol=0)
    assert [c.shape for c in state[2]] == [(4, 6, HIDDEN)] * LAYERS
    for sizes in ([2, 4], [3, 1, 2], [5, 1]):
        chunked, _ = decode_in_chunks(decoder, enc_outputs, valid_lens, dec_X, sizes)
        torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)


def test_positions_continue_from_the_cache():
    """A decoder whose positional encoding restarts at 0 in every call (d2l 0.17) differs step by step."""
    encoder, decoder = make_encoder(3).eval(), make_decoder(3).eval()
    X, valid_lens = padded_source(3)
    dec_X = teacher_input(3)
    with torch.no_grad():
        enc_outputs = encoder(X, valid_lens)
    whole, _ = decode_in_chunks(decoder, enc_outputs, valid_lens, dec_X, [6])
    original = decoder.pos_encoding.forward
    decoder.pos_encoding.forward = lambda X, offset=0: original(X)   # forget the offset
    try:
        steps, _ = decode_in_chunks(decoder, enc_outputs, valid_lens, dec_X, [1] * 6)
    finally:
        del decoder.pos_encoding.forward
    torch.testing.assert_close(steps[:, 0], whole[:, 0], atol=1e-5, rtol=0)   # position 0 is right
    assert (steps[:, 1:] - whole[:, 1:]).abs().max() > 1e-2


@pytest.mark.parametrize("training", [False, True])
def test_decoder_is_causal_in_train_and_eval_mode(training):
    """Output at step t must not depend on decoder inputs after t, whole-sequence calls included."""
    encoder, decoder = make_encoder(5), make_decoder(5)   # dropout 0: train mode is deterministic
    encoder.train(training), decoder.train(training)
    X, valid_lens = padded_source(5)
    dec_X = teacher_input(5)
    enc_outputs = encoder(X, valid_lens)
    logits, _ = decoder(dec_X, decoder.init_state(enc_outputs, valid_lens))
    for t in range(dec_X.shape[1] - 1):
        changed = dec_X.clone()
        changed[:, t + 1:] = (changed[:, t + 1:] + 1) % VOCAB
        logits2, _ = decoder(changed, decoder.init_state(enc_outputs, valid_lens))
        torch.testing.assert_close(logits2[:, :t + 1], logits[:, :t + 1], atol=1e-5, rtol=0)
        assert (logits2[:, t + 1:] - logits[:, t + 1:]).abs().max() > 1e-4


def test_forward_does_not_modify_the_state_passed_in():
    encoder, decoder = make_encoder().eval(), make_decoder().eval()
    X, valid_lens = padded_source(2)
    dec_X = teacher_input(2)
    with torch.no_grad():
        state = decoder.init_state(encoder(X, valid_lens), valid_lens)
        _, after_two = decoder(dec_X[:, :2], state)
        assert state[2] == [None] * LAYERS
        first, _ = decoder(dec_X[:, 2:3], after_two)
        again, _ = decoder(dec_X[:, 2:3], after_two)   # the same state, used twice
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    assert [c.shape[1] for c in after_two[2]] == [2] * LAYERS


@pytest.mark.parametrize("index", [[2, 0, 0], [3, 2, 1, 0], [1]])
def test_reorder_state_mid_decoding_equals_decoding_the_selected_sentences_alone(index):
    encoder, decoder = make_encoder(4).eval(), make_decoder(4).eval()
    X, valid_lens = padded_source(4)
    dec_X = teacher_input(4)
    index = torch.tensor(index)
    with torch.no_grad():
        state = decoder.init_state(encoder(X, valid_lens), valid_lens)
        _, state = decoder(dec_X[:, :1], state)
        _, state = decoder(dec_X[:, 1:3], state)                  # a filled cache: 3 positions
        picked = decoder.reorder_state(state, index)
        assert picked[0].shape[0] == picked[1].shape[0] == len(index)
        assert [c.shape for c in picked[2]] == [(len(index), 3, HIDDEN)] * LAYERS
        rest = []
        for t in range(3, dec_X.shape[1]):
            logits, picked = decoder(dec_X[index, t:t + 1], picked)
            rest.append(logits)
        rest = torch.cat(rest, dim=1)
        alone_outputs = encoder(X[index], valid_lens[index])
    alone, _ = decode_in_chunks(decoder, alone_outputs, valid_lens[index], dec_X[index], [6])
    torch.testing.assert_close(rest, alone[:, 3:], atol=1e-5, rtol=0)
    # no valid lengths and an empty cache are selected too
    bare = decoder.reorder_state(decoder.init_state(alone_outputs), torch.tensor([0]))
    assert bare[1] is None and bare[2] == [None] * LAYERS and bare[0].shape[0] == 1


def test_eval_mode_is_deterministic_and_train_mode_is_not():
    net = make_net(6, dropout=0.3)
    X, valid_lens = padded_source(6)
    dec_X = teacher_input(6)
    net.eval()
    with torch.no_grad():
        a, _ = net(X, dec_X, valid_lens)
        b, _ = net(X, dec_X, valid_lens)
        torch.testing.assert_close(a, b, atol=0, rtol=0)
        net.train()
        c, _ = net(X, dec_X, valid_lens)
    assert not torch.allclose(a, c)


def test_gradients_reach_every_parameter():
    net = make_net(7, dropout=0.1).train()
    X, valid_lens = padded_source(7)
    dec_X = teacher_input(7)
    logits, _ = net(X, dec_X, valid_lens)
    loss = d2l.MaskedSoftmaxCELoss()(logits, dec_X.roll(-1, dims=1), torch.full((4,), 6))
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_decoding_past_max_len_is_a_clear_error_that_names_the_argument():
    torch.manual_seed(0)
    decoder = d2l.TransformerDecoder(VOCAB, 8, 8, 8, 8, [8], 8, 16, 2, 1, 0.0, max_len=4).eval()
    enc_outputs = torch.randn(2, 3, 8)
    state = decoder.init_state(enc_outputs, torch.tensor([3, 2]))
    with torch.no_grad():
        _, state = decoder(torch.ones(2, 4, dtype=torch.long), state)
        with pytest.raises(ValueError, match=r"TransformerDecoder\(\.\.\., max_len=5\)"):
            decoder(torch.ones(2, 1, dtype=torch.long), state)


def test_the_advised_max_len_works():
    """The error for an overlong source names `TransformerEncoder(..., max_len=N)`; building it so works."""
    short = make_encoder()
    short.pos_encoding = d2l.PositionalEncoding(HIDDEN, 0.0, max_len=5)   # as if built with max_len=5
    X = torch.randint(3, VOCAB, (2, 9))
    with pytest.raises(ValueError) as error:
        short(X)
    advised = int(re.search(r"TransformerEncoder\(\.\.\., max_len=(\d+)\)", str(error.value)).group(1))
    assert advised == 9
    torch.manual_seed(0)
    encoder = d2l.TransformerEncoder(VOCAB, HIDDEN, HIDDEN, HIDDEN, HIDDEN, [HIDDEN], HIDDEN, FFN, HEADS, LAYERS,
                                     0.0, max_len=advised)
    assert encoder(X).shape == (2, 9, HIDDEN)
    assert encoder.pos_encoding.max_len == advised
    assert make_encoder().pos_encoding.max_len == 1000                # the default is d2l's


@pytest.mark.parametrize("part", ["encoder", "decoder"])
@pytest.mark.parametrize("bad_id", [VOCAB, VOCAB + 5, -1])
def test_token_ids_outside_the_vocabulary_are_clear_errors(part, bad_id):
    X = torch.tensor([[1, 4, bad_id, 2]])
    with torch.no_grad():
        if part == "encoder":
            run = lambda: make_encoder()(X)
        else:
            decoder = make_decoder()
            state = decoder.init_state(torch.randn(1, 3, HIDDEN), torch.tensor([3]))
            run = lambda: decoder(X, state)
        with pytest.raises(ValueError, match=rf"词元索引 {bad_id}，不在 0 到 {VOCAB - 1} 之间.*词表"):
            run()
    with pytest.raises(TypeError, match="整数型的词元索引"):
        make_encoder()(X.float())


@pytest.mark.parametrize("change, match", [
    (dict(ffn_num_input=HIDDEN + 1), r"ffn_num_input=9 应等于 num_hiddens=8.*请传入 ffn_num_input=8"),
    (dict(key_size=4), r"key_size=4 应等于 num_hiddens=8"),
    (dict(norm_shape=[5, HIDDEN]), r"norm_shape=\[5, 8\] 应是 \[num_hiddens\] = \[8\]"),
    (dict(norm_shape="8"), r"norm_shape='8' 应是 \[num_hiddens\]"),
    (dict(num_heads=3), r"不能被 num_heads=3 整除"),
])
def test_inconsistent_sizes_are_clear_errors_at_construction(change, match):
    sizes = dict(key_size=HIDDEN, query_size=HIDDEN, value_size=HIDDEN, num_hiddens=HIDDEN, norm_shape=[HIDDEN],
                 ffn_num_input=HIDDEN, ffn_num_hiddens=FFN, num_heads=HEADS)
    sizes.update(change)
    for build in (lambda: d2l.TransformerEncoder(VOCAB, num_layers=1, dropout=0.0, **sizes),
                  lambda: d2l.TransformerDecoder(VOCAB, num_layers=1, dropout=0.0, **sizes),
                  lambda: d2l.EncoderBlock(dropout=0.0, **sizes),
                  lambda: d2l.DecoderBlock(dropout=0.0, i=0, **sizes)):
        with pytest.raises(ValueError, match=match):
            build()
    # an int norm_shape equal to num_hiddens is fine (nn.LayerNorm accepts it)
    d2l.EncoderBlock(HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, FFN, HEADS, 0.0)


@pytest.mark.parametrize("name, value, error", [("num_layers", 0, ValueError), ("num_layers", 2.0, TypeError),
                                                 ("vocab_size", 0, ValueError)])
def test_non_positive_or_float_sizes_are_clear_errors(name, value, error):
    args = dict(vocab_size=VOCAB, key_size=HIDDEN, query_size=HIDDEN, value_size=HIDDEN, num_hiddens=HIDDEN,
                norm_shape=[HIDDEN], ffn_num_input=HIDDEN, ffn_num_hiddens=FFN, num_heads=HEADS, num_layers=1,
                dropout=0.0)
    args[name] = value
    for cls in (d2l.TransformerEncoder, d2l.TransformerDecoder):
        with pytest.raises(error, match=f"{name} 应是正整数"):
            cls(**args)


def test_decoder_input_and_state_must_hold_the_same_sentences():
    decoder = make_decoder().eval()
    state = decoder.init_state(torch.randn(3, 4, HIDDEN), torch.tensor([4, 2, 3]))
    with pytest.raises(ValueError, match=r"输入有 2 个句子，状态里有 3 个.*reorder_state"):
        decoder(torch.ones(2, 1, dtype=torch.long), state)
    picked = decoder.reorder_state(state, torch.tensor([0, 2]))        # what the message says to do
    assert decoder(torch.ones(2, 1, dtype=torch.long), picked)[0].shape == (2, 1, VOCAB)


def test_a_bad_input_changes_nothing():
    """The checks run before anything is computed: the state passed in and the weights stay as they were."""
    decoder = make_decoder().eval()
    state = decoder.init_state(torch.randn(1, 3, HIDDEN), torch.tensor([3]))
    before = {k: v.clone() for k, v in decoder.state_dict().items()}
    with pytest.raises(ValueError):
        decoder(torch.tensor([[VOCAB]]), state)
    assert state[2] == [None] * LAYERS and decoder.attention_weights is None
    assert all(torch.equal(before[k], v) for k, v in decoder.state_dict().items())
