"""Chapter 14 (notebooks/14_transformer.ipynb): the Transformer's blocks, encoder and decoder.

The key regression tests are about prediction: decoding one token per call (with the decoder's cache
of earlier inputs) must give the same logits as decoding the whole teacher-forced target in one call.
d2l 0.17 restarted the positional encoding at position 0 in every call and dropped the causal mask in
eval mode, so both differed. Tiny seeded models only; the module runs in a few seconds on a CPU.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import d2l_local as d2l

CPU = torch.device("cpu")


VOCAB, HIDDEN, HEADS, FFN, LAYERS = 13, 8, 2, 16, 2


def make_encoder(seed=0, vocab=VOCAB, hidden=HIDDEN, heads=HEADS, ffn=FFN, layers=LAYERS, dropout=0.0):
    torch.manual_seed(seed)
    return d2l.TransformerEncoder(vocab, hidden, hidden, hidden, hidden, [hidden], hidden, ffn, heads,
                                  layers, dropout)


def make_decoder(seed=0, vocab=VOCAB, hidden=HIDDEN, heads=HEADS, ffn=FFN, layers=LAYERS, dropout=0.0):
    torch.manual_seed(seed + 1000)
    return d2l.TransformerDecoder(vocab, hidden, hidden, hidden, hidden, [hidden], hidden, ffn, heads,
                                  layers, dropout)


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


def test_decoding_past_max_len_is_a_clear_error():
    torch.manual_seed(0)
    decoder = d2l.TransformerDecoder(VOCAB, 8, 8, 8, 8, [8], 8, 16, 2, 1, 0.0).eval()
    decoder.pos_encoding = d2l.PositionalEncoding(8, 0.0, max_len=4)
    enc_outputs = torch.randn(2, 3, 8)
    state = decoder.init_state(enc_outputs, torch.tensor([3, 2]))
    with torch.no_grad():
        _, state = decoder(torch.ones(2, 4, dtype=torch.long), state)
        with pytest.raises(ValueError, match="max_len"):
            decoder(torch.ones(2, 1, dtype=torch.long), state)


# ------------------------------------------------------------------------------------ chapter 9

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
