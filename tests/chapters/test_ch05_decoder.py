"""Tests of the GRU decoder of chapter 5 (d2l_local, generated from notebooks/05_decoder.ipynb).

The key regression test is `test_step_by_step_equals_all_at_once`: d2l 0.17's decoder took its
context from the decoder's *current* state, so decoding one step per call (prediction) computed a
different function from decoding the whole sequence in one call (training).
"""
import pytest
import torch

import d2l_local as d2l

from chapter_support import EMBED, HIDDEN, LAYERS, VOCAB, make_model, tokens


# ---------------------------------------------------------------- decoder

def test_decoder_init_state_and_output_shapes():
    encoder, decoder = make_model()
    encoder.eval(), decoder.eval()
    assert isinstance(decoder, d2l.Decoder)
    enc_outputs = encoder(tokens(0, 4, 7))
    hidden, context = decoder.init_state(enc_outputs)
    assert hidden.shape == (LAYERS, 4, HIDDEN) and context.shape == (4, HIDDEN)
    assert torch.equal(hidden, enc_outputs[1])
    assert torch.equal(context, enc_outputs[1][-1])
    assert decoder.rnn.input_size == EMBED + HIDDEN
    for num_steps in (1, 5, 9):
        output, (new_hidden, new_context) = decoder(tokens(1, 4, num_steps), (hidden, context))
        assert output.shape == (4, num_steps, VOCAB)
        assert new_hidden.shape == (LAYERS, 4, HIDDEN) and new_context.shape == (4, HIDDEN)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("layers", [1, 2])
def test_step_by_step_equals_all_at_once(seed, layers):
    """Teacher forcing in one call (training) == one token per call (prediction)."""
    encoder, decoder = make_model(seed=seed, layers=layers)
    encoder.eval(), decoder.eval()
    X, dec_X = tokens(10 + seed, 3, 6), tokens(20 + seed, 3, 8)
    with torch.no_grad():
        enc_outputs = encoder(X)
        all_at_once, final_state = decoder(dec_X, decoder.init_state(enc_outputs))
        state = decoder.init_state(enc_outputs)
        steps = []
        for t in range(dec_X.shape[1]):
            logits, state = decoder(dec_X[:, t:t + 1], state)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), all_at_once, atol=1e-5, rtol=0)
    torch.testing.assert_close(state[0], final_state[0], atol=1e-5, rtol=0)


def test_any_chunking_equals_all_at_once():
    encoder, decoder = make_model(seed=5)
    encoder.eval(), decoder.eval()
    enc_outputs = encoder(tokens(0, 4, 7))
    dec_X = tokens(1, 4, 9)
    with torch.no_grad():
        expected, _ = decoder(dec_X, decoder.init_state(enc_outputs))
        for cuts in ([3], [1, 2], [2, 5, 8]):
            state, pieces, start = decoder.init_state(enc_outputs), [], 0
            for end in cuts + [dec_X.shape[1]]:
                logits, state = decoder(dec_X[:, start:end], state)
                pieces.append(logits)
                start = end
            torch.testing.assert_close(torch.cat(pieces, dim=1), expected, atol=1e-5, rtol=0)


def test_context_passes_through_unchanged():
    encoder, decoder = make_model(seed=7)
    encoder.eval(), decoder.eval()
    enc_outputs = encoder(tokens(0, 4, 7))
    top_final = enc_outputs[1][-1].clone()
    state = decoder.init_state(enc_outputs)
    with torch.no_grad():
        for t in range(5):
            _, state = decoder(tokens(t, 4, 1), state)
    hidden, context = state
    assert torch.equal(context, top_final)
    assert not torch.allclose(hidden[-1], top_final)   # the hidden state did move on


def test_reorder_state_selects_rows():
    encoder, decoder = make_model(seed=3)
    encoder.eval(), decoder.eval()
    X = tokens(0, 5, 7)
    state = decoder.init_state(encoder(X))
    index = torch.tensor([4, 0, 0, 2])
    hidden, context = decoder.reorder_state(state, index)
    assert hidden.shape == (LAYERS, 4, HIDDEN) and context.shape == (4, HIDDEN)
    for row, i in enumerate(index.tolist()):
        assert torch.equal(hidden[:, row], state[0][:, i])
        assert torch.equal(context[row], state[1][i])
    # the original state is left alone
    assert state[0].shape == (LAYERS, 5, HIDDEN) and state[1].shape == (5, HIDDEN)


def test_reorder_state_equals_decoding_the_selected_sentences_alone():
    encoder, decoder = make_model(seed=4)
    encoder.eval(), decoder.eval()
    X, dec_X = tokens(2, 5, 7), tokens(3, 5, 6)
    index = torch.tensor([3, 1, 1])
    with torch.no_grad():
        full, _ = decoder(dec_X, decoder.init_state(encoder(X)))
        # reorder in the middle of decoding, as beam search does
        state = decoder.init_state(encoder(X))
        _, state = decoder(dec_X[:, :2], state)
        rest, _ = decoder(dec_X[index, 2:], decoder.reorder_state(state, index))
        alone, _ = decoder(dec_X[index], decoder.init_state(encoder(X[index])))
    torch.testing.assert_close(rest, full[index, 2:], atol=1e-5, rtol=0)
    torch.testing.assert_close(rest, alone[:, 2:], atol=1e-5, rtol=0)


# ---------------------------------------------------------------- encoder-decoder

def test_encoder_decoder_forward_shapes():
    encoder, decoder = make_model()
    net = d2l.EncoderDecoder(encoder, decoder).eval()
    output, (hidden, context) = net(tokens(0, 4, 7), tokens(1, 4, 5))
    assert output.shape == (4, 5, VOCAB)
    assert hidden.shape == (LAYERS, 4, HIDDEN) and context.shape == (4, HIDDEN)


def test_encoder_decoder_accepts_valid_lens():
    encoder, decoder = make_model()
    net = d2l.EncoderDecoder(encoder, decoder).eval()
    X, dec_X = tokens(0, 4, 7), tokens(1, 4, 5)
    output, _ = net(X, dec_X, torch.tensor([7, 6, 3, 2]))
    assert torch.equal(output, net(X, dec_X)[0])


def test_gradients_reach_encoder_and_decoder():
    encoder, decoder = make_model(dropout=0.1)
    net = d2l.EncoderDecoder(encoder, decoder).train()
    output, _ = net(tokens(0, 4, 7), tokens(1, 4, 6))
    labels = tokens(2, 4, 6)
    loss = torch.nn.functional.cross_entropy(output.reshape(-1, VOCAB), labels.reshape(-1))
    loss.backward()
    for name, param in net.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_parameters_and_state_format_stay_checkpoint_compatible():
    """Checkpoints written by chapters 7-9 store these names and shapes; the state is (hidden, context)."""
    _, decoder = make_model()
    shapes = {name: tuple(p.shape) for name, p in decoder.state_dict().items()}
    E, H, V = EMBED, HIDDEN, VOCAB
    expected = {"embedding.weight": (V, E), "dense.weight": (V, H), "dense.bias": (V,)}
    for layer in range(LAYERS):
        expected.update({f"rnn.weight_ih_l{layer}": (3 * H, (E + H) if layer == 0 else H),
                         f"rnn.weight_hh_l{layer}": (3 * H, H),
                         f"rnn.bias_ih_l{layer}": (3 * H,), f"rnn.bias_hh_l{layer}": (3 * H,)})
    assert shapes == expected
    state = decoder.init_state((torch.zeros(7, 4, H), torch.zeros(LAYERS, 4, H)))
    assert isinstance(state, tuple) and len(state) == 2
