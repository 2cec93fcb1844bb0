"""Tests of the GRU encoder of chapter 4 (d2l_local, generated from notebooks/04_encoder.ipynb)."""
import pytest
import torch

import d2l_local as d2l

from chapter_support import EMBED, HIDDEN, VOCAB, make_model, tokens


# ---------------------------------------------------------------- encoder

@pytest.mark.parametrize("vocab, embed, hidden, layers, batch_size, num_steps", [
    (10, 8, 16, 2, 4, 7),     # the chapters' tiny example
    (10, 8, 16, 1, 4, 7),     # one layer
    (10, 8, 16, 2, 1, 7),     # batch of one
    (10, 8, 16, 3, 5, 1),     # one time step
    (25, 4, 6, 2, 3, 11),
])
def test_encoder_shapes(vocab, embed, hidden, layers, batch_size, num_steps):
    torch.manual_seed(0)
    encoder = d2l.Seq2SeqEncoder(vocab, embed, hidden, layers).eval()
    output, state = encoder(tokens(1, batch_size, num_steps, vocab))
    assert output.shape == (num_steps, batch_size, hidden)
    assert state.shape == (layers, batch_size, hidden)
    assert torch.equal(output[-1], state[-1])


def test_encoder_is_an_encoder_and_ignores_extra_args():
    encoder, _ = make_model()
    encoder.eval()
    assert isinstance(encoder, d2l.Encoder)
    X = tokens(2, 4, 7)
    output, state = encoder(X)
    output2, state2 = encoder(X, torch.tensor([7, 5, 3, 1]))   # valid_lens are accepted, unused
    assert torch.equal(output, output2) and torch.equal(state, state2)


def test_encoder_dropout_in_train_mode():
    torch.manual_seed(0)
    encoder = d2l.Seq2SeqEncoder(VOCAB, EMBED, HIDDEN, num_layers=2, dropout=0.5).train()
    X = tokens(3, 4, 7)
    output, state = encoder(X)
    assert output.shape == (7, 4, HIDDEN) and state.shape == (2, 4, HIDDEN)
    # dropout acts between layers only: the top layer's output is its final state
    assert torch.equal(output[-1], state[-1])
    # dropout is active: two forward passes differ in train mode, not in eval mode
    assert not torch.equal(encoder(X)[0], output)
    encoder.eval()
    assert torch.equal(encoder(X)[0], encoder(X)[0])


def test_encoder_is_time_major_and_causal():
    encoder, _ = make_model()
    encoder.eval()
    X = tokens(4, 3, 6)
    output, _ = encoder(X)
    prefix_output, prefix_state = encoder(X[:, :4])
    # step t only depends on tokens up to t: the prefix's results sit in output[:4]
    torch.testing.assert_close(output[:4], prefix_output, atol=1e-6, rtol=0)
    torch.testing.assert_close(output[3], prefix_state[-1], atol=1e-6, rtol=0)


def test_gru_step_by_hand_matches_nn_gru_with_reset_after_the_matmul():
    """The chapter's equations (and images/gru-gates.svg): PyTorch applies r_t after W_hh h + b_hh."""
    torch.manual_seed(0)
    gru = torch.nn.GRU(input_size=5, hidden_size=7)
    x, h = torch.randn(1, 3, 5), torch.randn(1, 3, 7)
    _, expected = gru(x, h)
    W_xr, W_xz, W_xh = gru.weight_ih_l0.chunk(3)
    W_hr, W_hz, W_hh = gru.weight_hh_l0.chunk(3)
    b_xr, b_xz, b_xh = gru.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hh = gru.bias_hh_l0.chunk(3)
    x_t, h_prev = x[0], h[0]
    r = torch.sigmoid(x_t @ W_xr.T + b_xr + h_prev @ W_hr.T + b_hr)
    z = torch.sigmoid(x_t @ W_xz.T + b_xz + h_prev @ W_hz.T + b_hz)
    candidate = torch.tanh(x_t @ W_xh.T + b_xh + r * (h_prev @ W_hh.T + b_hh))
    torch.testing.assert_close((1 - z) * candidate + z * h_prev, expected[0], atol=1e-6, rtol=0)
    # the other convention (reset before the matmul, d2l-zh and Cho et al.) gives other numbers
    before = torch.tanh(x_t @ W_xh.T + b_xh + (r * h_prev) @ W_hh.T + b_hh)
    assert not torch.allclose((1 - z) * before + z * h_prev, expected[0], atol=1e-4)
