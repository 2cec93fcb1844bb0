"""Tests of the Bahdanau attention decoder of chapter 12 (d2l_local, generated from
notebooks/12_bahdanau_attention.ipynb).

The decoder keeps the encoder's outputs and valid lengths in its state, so decoding one step per
call (prediction) must compute exactly what decoding the whole target in one call (training)
computes -- the property chapter 5 fixed for the GRU decoder. Tiny models only; no data, no network.
"""
import pytest
import torch

import d2l_local as d2l

VOCAB, EMBED, HIDDEN, LAYERS = 11, 8, 16, 2


def make_model(seed=0, vocab=VOCAB, embed=EMBED, hidden=HIDDEN, layers=LAYERS, dropout=0.0):
    torch.manual_seed(seed)
    encoder = d2l.Seq2SeqEncoder(vocab, embed, hidden, layers, dropout=dropout)
    decoder = d2l.Seq2SeqAttentionDecoder(vocab, embed, hidden, layers, dropout=dropout)
    return encoder, decoder


def padded_source(seed, valid_lens, num_steps, vocab=VOCAB):
    """Random source tokens (never <pad>=0) with <pad> after each valid length."""
    generator = torch.Generator().manual_seed(seed)
    valid_lens = torch.as_tensor(valid_lens)
    X = torch.randint(4, vocab, (len(valid_lens), num_steps), generator=generator)
    return X.masked_fill(torch.arange(num_steps)[None, :] >= valid_lens[:, None], 0), valid_lens


def decoder_input(seed, batch_size, num_steps, vocab=VOCAB):
    generator = torch.Generator().manual_seed(seed + 100)
    body = torch.randint(4, vocab, (batch_size, num_steps - 1), generator=generator)
    return torch.cat([torch.ones(batch_size, 1, dtype=torch.long), body], dim=1)  # <bos> first


# ---------------------------------------------------------------- interface

def test_attention_decoder_base_class_says_what_to_do():
    class Forgetful(d2l.AttentionDecoder):
        pass

    decoder = Forgetful()
    assert isinstance(decoder, d2l.Decoder)
    with pytest.raises(NotImplementedError, match="attention_weights"):
        decoder.attention_weights
    # not an AttributeError: hasattr must not silently say "this decoder has no attention"
    with pytest.raises(NotImplementedError):
        hasattr(decoder, "attention_weights")


def test_decoder_is_an_attention_decoder_and_weights_start_as_none():
    _, decoder = make_model()
    assert isinstance(decoder, d2l.AttentionDecoder) and isinstance(decoder, d2l.Decoder)
    assert decoder.attention_weights is None
    assert isinstance(decoder.attention, d2l.AdditiveAttention)


@pytest.mark.parametrize("vocab, embed, hidden, layers, valid_lens, src_steps, tgt_steps", [
    (11, 8, 16, 2, [7, 5, 3, 6], 7, 6),   # the chapter's example
    (11, 8, 16, 1, [4, 4, 2], 4, 5),      # one layer
    (11, 8, 16, 3, [1], 9, 1),            # batch of one, one valid token, one step
    (25, 4, 6, 2, [11, 2, 8], 11, 3),     # embed_size != num_hiddens
])
def test_shapes(vocab, embed, hidden, layers, valid_lens, src_steps, tgt_steps):
    encoder, decoder = make_model(vocab=vocab, embed=embed, hidden=hidden, layers=layers)
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(1, valid_lens, src_steps, vocab)
    batch_size = X.shape[0]
    state = decoder.init_state(encoder(X, valid_lens), valid_lens)
    enc_outputs, hidden_state, enc_valid_lens = state
    assert enc_outputs.shape == (batch_size, src_steps, hidden)      # batch-major
    assert hidden_state.shape == (layers, batch_size, hidden)
    assert enc_valid_lens is valid_lens
    # batch-major enc_outputs are the encoder's time-major output, permuted
    assert torch.equal(enc_outputs, encoder(X, valid_lens)[0].permute(1, 0, 2))
    logits, new_state = decoder(decoder_input(2, batch_size, tgt_steps, vocab), state)
    assert logits.shape == (batch_size, tgt_steps, vocab)
    assert isinstance(new_state, tuple) and len(new_state) == 3
    assert new_state[0] is enc_outputs and new_state[2] is enc_valid_lens
    assert new_state[1].shape == (layers, batch_size, hidden)
    assert decoder.attention_weights.shape == (batch_size, tgt_steps, src_steps)


# ---------------------------------------------------------------- attention weights

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_sum_to_one_on_valid_positions_and_are_zero_on_padding(seed):
    encoder, decoder = make_model(seed)
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(seed, [7, 5, 1, 3], 7)
    state = decoder.init_state(encoder(X, valid_lens), valid_lens)
    with torch.no_grad():
        decoder(decoder_input(seed, 4, 5), state)
    weights = decoder.attention_weights                                # (4, 5, 7)
    padding = torch.arange(7)[None, None, :] >= valid_lens[:, None, None]
    assert bool((weights.masked_select(padding.expand_as(weights)) == 0).all())
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(4, 5), atol=1e-6, rtol=0)
    assert bool((weights >= 0).all())
    assert torch.equal(weights[2, :, 0], torch.ones(5))                # one valid token gets everything


def test_encoder_outputs_at_padded_positions_are_never_read():
    """Padded positions get zero weight: whatever the state holds there, the output is the same.
    (The *initial* state still depends on the padding: the encoder reads <pad> tokens before its
    final state, as in chapters 4 and 5.)"""
    encoder, decoder = make_model(3)
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(3, [4, 2, 3], 6)
    dec_X = decoder_input(3, 3, 5)
    with torch.no_grad():
        enc_outputs, hidden_state, _ = decoder.init_state(encoder(X, valid_lens), valid_lens)
        reference, _ = decoder(dec_X, (enc_outputs, hidden_state, valid_lens))
        padding = torch.arange(6)[None, :, None] >= valid_lens[:, None, None]      # (3, 6, 1)
        noise = torch.randn(enc_outputs.shape, generator=torch.Generator().manual_seed(0)) * 10
        garbage = torch.where(padding, noise, enc_outputs)
        other, _ = decoder(dec_X, (garbage, hidden_state, valid_lens))
    torch.testing.assert_close(other, reference, atol=1e-6, rtol=0)


def test_without_valid_lens_every_position_counts():
    encoder, decoder = make_model(4)
    encoder.eval(), decoder.eval()
    X, _ = padded_source(4, [5, 5], 5)
    state = decoder.init_state(encoder(X))                             # enc_valid_lens defaults to None
    assert state[2] is None
    with torch.no_grad():
        decoder(decoder_input(4, 2, 3), state)
    assert bool((decoder.attention_weights > 0).all())
    picked = decoder.reorder_state(state, torch.tensor([1, 1, 0]))
    assert picked[2] is None and picked[0].shape == (3, 5, HIDDEN)


def test_weights_are_detached_and_kept_in_train_mode():
    encoder, decoder = make_model(5, dropout=0.5)
    encoder.train(), decoder.train()
    X, valid_lens = padded_source(5, [6, 3], 6)
    logits, _ = decoder(decoder_input(5, 2, 4), decoder.init_state(encoder(X, valid_lens), valid_lens))
    assert logits.requires_grad
    weights = decoder.attention_weights
    assert not weights.requires_grad and weights.grad_fn is None
    # the stored weights are those before dropout: still a distribution over the valid positions
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 4), atol=1e-6, rtol=0)


# ---------------------------------------------------------------- step by step == all at once

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_step_by_step_equals_all_at_once(seed):
    encoder, decoder = make_model(seed)
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(seed, [7, 2, 5, 4, 6], 7)
    dec_X = decoder_input(seed, 5, 8)
    with torch.no_grad():
        state = decoder.init_state(encoder(X, valid_lens), valid_lens)
        all_logits, all_state = decoder(dec_X, state)
        all_weights = decoder.attention_weights
        steps, weights = [], []
        for t in range(dec_X.shape[1]):
            logits, state = decoder(dec_X[:, t:t + 1], state)
            assert logits.shape == (5, 1, VOCAB)
            assert decoder.attention_weights.shape == (5, 1, 7)
            steps.append(logits)
            weights.append(decoder.attention_weights)
    torch.testing.assert_close(torch.cat(steps, dim=1), all_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat(weights, dim=1), all_weights, atol=1e-5, rtol=0)
    torch.testing.assert_close(state[1], all_state[1], atol=1e-5, rtol=0)


def test_any_split_equals_all_at_once():
    encoder, decoder = make_model(6)
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(6, [3, 6, 6], 6)
    dec_X = decoder_input(6, 3, 7)
    with torch.no_grad():
        state = decoder.init_state(encoder(X, valid_lens), valid_lens)
        reference, _ = decoder(dec_X, state)
        chunks, s = [], state
        for start, stop in ((0, 2), (2, 3), (3, 7)):
            logits, s = decoder(dec_X[:, start:stop], s)
            chunks.append(logits)
    torch.testing.assert_close(torch.cat(chunks, dim=1), reference, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- reorder_state

def test_reorder_state_equals_running_the_selected_sentences_alone():
    encoder, decoder = make_model(7)
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(7, [7, 5, 3, 6], 7)
    dec_X = decoder_input(7, 4, 6)
    index = torch.tensor([2, 0, 0, 3])                                # repeat and reorder
    with torch.no_grad():
        _, mid = decoder(dec_X[:, :3], decoder.init_state(encoder(X, valid_lens), valid_lens))
        picked = decoder.reorder_state(mid, index)
        rest, _ = decoder(dec_X[index, 3:], picked)
        rest_weights = decoder.attention_weights
        alone_state = decoder.init_state(encoder(X[index], valid_lens[index]), valid_lens[index])
        alone, _ = decoder(dec_X[index], alone_state)
        alone_weights = decoder.attention_weights
    assert picked[0].shape == (4, 7, HIDDEN) and picked[1].shape == (LAYERS, 4, HIDDEN)
    assert picked[2].tolist() == [3, 7, 7, 6]
    torch.testing.assert_close(rest, alone[:, 3:], atol=1e-5, rtol=0)
    torch.testing.assert_close(rest_weights, alone_weights[:, 3:], atol=1e-5, rtol=0)


def test_reorder_state_does_not_modify_the_state():
    encoder, decoder = make_model(8)
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(8, [4, 2], 4)
    state = decoder.init_state(encoder(X, valid_lens), valid_lens)
    copies = [part.clone() for part in state]
    decoder.reorder_state(state, torch.tensor([1]))
    assert all(torch.equal(a, b) for a, b in zip(state, copies))


# ---------------------------------------------------------------- training plumbing

def test_gradients_reach_every_parameter_through_encoder_decoder():
    encoder, decoder = make_model(9)
    net = d2l.EncoderDecoder(encoder, decoder).train()
    X, valid_lens = padded_source(9, [7, 5, 3, 6], 7)
    dec_X = decoder_input(9, 4, 6)
    output, state = net(X, dec_X, valid_lens)                         # valid_lens reach init_state
    assert output.shape == (4, 6, VOCAB) and state[2] is valid_lens
    labels = torch.randint(0, VOCAB, (4, 6), generator=torch.Generator().manual_seed(0))
    d2l.MaskedSoftmaxCELoss()(output, labels, torch.tensor([6, 4, 5, 2])).backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    names = {name for name, _ in net.named_parameters()}
    assert {"decoder.attention.W_q.weight", "decoder.attention.W_k.weight",
            "decoder.attention.w_v.weight"} <= names


def test_eval_mode_is_deterministic_with_dropout():
    encoder, decoder = make_model(10, dropout=0.5)
    net = d2l.EncoderDecoder(encoder, decoder).eval()
    X, valid_lens = padded_source(10, [5, 3], 5)
    dec_X = decoder_input(10, 2, 4)
    with torch.no_grad():
        first, _ = net(X, dec_X, valid_lens)
        second, _ = net(X, dec_X, valid_lens)
    assert torch.equal(first, second)


# ---------------------------------------------------------------- with chapter 9's prediction

def tiny_translation_setup(seed=11):
    src = [["go", "."], ["i", "lost", "."], ["he", "is", "calm", "."], ["i", "am", "home", "."]]
    tgt = [["va", "!"], ["j'ai", "perdu", "."], ["il", "est", "calme", "."], ["je", "suis", "chez", "moi", "."]]
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = d2l.Vocab(src, reserved_tokens=reserved)
    tgt_vocab = d2l.Vocab(tgt, reserved_tokens=reserved)
    torch.manual_seed(seed)
    net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(src_vocab), 8, 16, 2),
                             d2l.Seq2SeqAttentionDecoder(len(tgt_vocab), 8, 16, 2))
    return net, src_vocab, tgt_vocab


def test_predict_seq2seq_collects_per_step_weights_for_a_batch():
    net, src_vocab, tgt_vocab = tiny_translation_setup()
    num_steps = 6
    sentences = ["go .", "i am home .", "he is calm ."]
    translations, weights = d2l.predict_seq2seq(net, sentences, src_vocab, tgt_vocab, num_steps,
                                                torch.device("cpu"), save_attention_weights=True)
    assert len(translations) == len(weights) == 3
    for sentence, translation, steps in zip(sentences, translations, weights):
        valid = len(sentence.split()) + 1                                  # words + <eos>
        generated = len(translation.split()) if translation else 0
        assert len(steps) in (generated, generated + 1)                    # + the <eos> step
        assert 1 <= len(steps) <= num_steps
        for w in steps:
            assert tuple(w.shape) == (1, num_steps)
            torch.testing.assert_close(w.sum(), torch.tensor(1.0), atol=1e-5, rtol=0)
            assert bool((w[:, valid:] == 0).all())
    # a sentence decoded alone gets the same translation and weights as inside the batch
    alone, alone_weights = d2l.predict_seq2seq(net, sentences[1], src_vocab, tgt_vocab, num_steps,
                                               torch.device("cpu"), save_attention_weights=True)
    assert alone == translations[1]
    assert len(alone_weights) == len(weights[1])
    for a, b in zip(alone_weights, weights[1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- bad inputs: clear errors, nothing changed

@pytest.mark.parametrize("value, error, match", [
    (2.0, TypeError, r"num_layers 应是正整数，现在是 2\.0（float）：请写成 num_layers=2"),
    (2.5, TypeError, r"num_layers 应是正整数，现在是 2\.5（float）。"),
    (True, TypeError, r"num_layers 应是正整数，现在是 True（bool）"),
    ("2", TypeError, r"num_layers 应是正整数"),
    (0, ValueError, r"num_layers 应是正整数（至少为 1），现在是 0"),
    (-3, ValueError, r"现在是 -3"),
])
def test_check_positive_sizes_says_what_to_write(value, error, match):
    with pytest.raises(error, match=match):
        d2l.check_positive_sizes(num_layers=value)
    with pytest.raises(error, match=match):
        d2l.Seq2SeqAttentionDecoder(VOCAB, EMBED, HIDDEN, value)


def test_check_positive_sizes_accepts_integer_types():
    import numpy as np
    d2l.check_positive_sizes(a=1, b=np.int64(3), c=torch.tensor(2))


@pytest.mark.parametrize("bad_id", [VOCAB, VOCAB + 100, -1])
def test_token_id_outside_the_vocabulary_is_a_clear_error(bad_id):
    encoder, decoder = make_model()
    encoder.eval(), decoder.eval()
    X, valid_lens = padded_source(0, [4, 2], 5)
    state = decoder.init_state(encoder(X, valid_lens), valid_lens)
    dec_X = decoder_input(0, 2, 3)
    dec_X[1, 2] = bad_id
    with pytest.raises(ValueError, match=rf"词元索引 {bad_id}，不在 0 到 {VOCAB - 1} 之间（这个模型的词表有 {VOCAB} 个词元）"):
        decoder(dec_X, state)
    assert decoder.attention_weights is None                     # nothing was computed
    with pytest.raises(TypeError, match="整数型的词元索引"):
        decoder(dec_X.float(), state)


def test_init_state_wants_the_rnn_encoders_output_of_the_same_size():
    encoder, decoder = make_model()
    X, valid_lens = padded_source(0, [4, 2], 5)
    with pytest.raises(TypeError, match=r"Seq2SeqEncoder 返回的 \(output, state\).*TransformerEncoder 的输出请配"):
        decoder.init_state(torch.randn(2, 5, HIDDEN), valid_lens)   # a Transformer encoder's output
    wide, _ = make_model(hidden=2 * HIDDEN)
    with pytest.raises(ValueError, match=rf"编码器的 num_hiddens 是 {2 * HIDDEN}，解码器的是 {HIDDEN}"):
        decoder.init_state(wide(X, valid_lens), valid_lens)
    deep, _ = make_model(layers=LAYERS + 1)
    with pytest.raises(ValueError, match=rf"编码器有 {LAYERS + 1} 层，解码器有 {LAYERS} 层"):
        decoder.init_state(deep(X, valid_lens), valid_lens)


def test_input_and_state_must_hold_the_same_sentences():
    encoder, decoder = make_model()
    X, valid_lens = padded_source(0, [4, 2, 5], 5)
    state = decoder.init_state(encoder(X, valid_lens), valid_lens)
    with pytest.raises(ValueError, match=r"输入有 2 个句子，状态里有 3 个.*reorder_state"):
        decoder(decoder_input(0, 2, 1), state)
    picked = decoder.reorder_state(state, torch.tensor([0, 2]))
    assert decoder(decoder_input(0, 2, 1), picked)[0].shape == (2, 1, VOCAB)
