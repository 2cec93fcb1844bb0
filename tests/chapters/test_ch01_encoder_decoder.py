"""Behaviour of the encoder–decoder interfaces saved by chapter 1 (notebooks/01_encoder_decoder.ipynb)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import d2l_local as d2l


# ---------------------------------------------------------------------------------------------
# The base classes


@pytest.mark.parametrize("name", ["Encoder", "Decoder", "EncoderDecoder"])
def test_interfaces_are_exported_modules(name):
    cls = getattr(d2l, name)
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    assert cls.__doc__ and cls.__doc__.strip()


def test_encoder_forward_is_abstract():
    X = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(NotImplementedError, match=r"forward\(X, \*args\)"):
        d2l.Encoder()(X)
    with pytest.raises(NotImplementedError):
        d2l.Encoder()(X, torch.tensor([5, 3]))  # extra args do not change that


def test_decoder_init_state_is_abstract():
    with pytest.raises(NotImplementedError, match=r"init_state\(enc_all_outputs, \*args\)"):
        d2l.Decoder().init_state(torch.zeros(2, 5, 8))
    with pytest.raises(NotImplementedError):
        d2l.Decoder().init_state(torch.zeros(2, 5, 8), torch.tensor([5, 3]))


def test_decoder_forward_is_abstract():
    X = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(NotImplementedError, match=r"forward\(X, state\)"):
        d2l.Decoder()(X, None)


def test_error_names_the_subclass_that_forgot_to_implement():
    class HalfDoneEncoder(d2l.Encoder):
        pass

    class HalfDoneDecoder(d2l.Decoder):
        def init_state(self, enc_all_outputs, *args):
            return enc_all_outputs

    with pytest.raises(NotImplementedError, match="HalfDoneEncoder"):
        HalfDoneEncoder()(torch.zeros(1, 3, dtype=torch.long))
    state = HalfDoneDecoder().init_state(torch.ones(1, 4))  # the implemented half works
    assert torch.equal(state, torch.ones(1, 4))
    with pytest.raises(NotImplementedError, match="HalfDoneDecoder"):
        HalfDoneDecoder()(torch.zeros(1, 3, dtype=torch.long), state)


def test_abstract_encoder_decoder_fails_in_the_encoder():
    net = d2l.EncoderDecoder(d2l.Encoder(), d2l.Decoder())
    with pytest.raises(NotImplementedError, match=r"forward\(X, \*args\)"):
        net(torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))


# ---------------------------------------------------------------------------------------------
# EncoderDecoder.forward: encoder → decoder.init_state → decoder, with *args passed along


class RecordingEncoder(d2l.Encoder):
    def __init__(self, log):
        super().__init__()
        self.log = log
        self.output = (torch.randn(2, 5, 3), torch.randn(2, 3))

    def forward(self, X, *args):
        self.log.append(("encoder.forward", X, args))
        return self.output


class RecordingDecoder(d2l.Decoder):
    def __init__(self, log):
        super().__init__()
        self.log = log
        self.state = object()
        self.output = torch.randn(2, 4, 7)
        self.new_state = object()

    def init_state(self, enc_all_outputs, *args):
        self.log.append(("decoder.init_state", enc_all_outputs, args))
        return self.state

    def forward(self, X, state):
        self.log.append(("decoder.forward", X, state))
        return self.output, self.new_state


def test_forward_calls_encoder_then_init_state_then_decoder_with_extra_args():
    log = []
    encoder, decoder = RecordingEncoder(log), RecordingDecoder(log)
    net = d2l.EncoderDecoder(encoder, decoder)
    enc_X = torch.randint(0, 10, (2, 5))
    dec_X = torch.randint(0, 10, (2, 4))
    valid_lens, extra = torch.tensor([5, 3]), "extra"

    result = net(enc_X, dec_X, valid_lens, extra)

    assert [entry[0] for entry in log] == ["encoder.forward", "decoder.init_state", "decoder.forward"]
    (_, X_seen, enc_args), (_, enc_outputs_seen, init_args), (_, dec_X_seen, state_seen) = log
    assert X_seen is enc_X
    assert enc_args == (valid_lens, extra)
    assert enc_outputs_seen is encoder.output  # the encoder's output, untouched
    assert init_args == (valid_lens, extra)
    assert dec_X_seen is dec_X
    assert state_seen is decoder.state  # the state init_state returned
    # the decoder's (output, state) pair comes back unchanged
    assert isinstance(result, tuple) and len(result) == 2
    assert result[0] is decoder.output and result[1] is decoder.new_state


def test_forward_without_extra_args_passes_no_extra_args():
    log = []
    net = d2l.EncoderDecoder(RecordingEncoder(log), RecordingDecoder(log))
    net(torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    assert log[0][2] == () and log[1][2] == ()


def test_training_code_can_unpack_the_result():
    log = []
    decoder = RecordingDecoder(log)
    net = d2l.EncoderDecoder(RecordingEncoder(log), decoder)
    Y_hat, _ = net(torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), torch.tensor([5, 2]))
    assert Y_hat is decoder.output


# ---------------------------------------------------------------------------------------------
# A small trainable pair: EncoderDecoder is one nn.Module made of both parts


class TinyEncoder(d2l.Encoder):
    def __init__(self, vocab_size=10, embed_size=4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)

    def forward(self, X, *args):
        return self.embedding(X).mean(dim=1)  # (batch_size, embed_size)


class TinyDecoder(d2l.Decoder):
    def __init__(self, vocab_size=10, embed_size=4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.dense = nn.Linear(2 * embed_size, vocab_size)

    def init_state(self, enc_all_outputs, *args):
        return enc_all_outputs

    def forward(self, X, state):
        context = state.unsqueeze(1).expand(-1, X.shape[1], -1)
        return self.dense(torch.cat([self.embedding(X), context], dim=-1)), state


@pytest.fixture
def tiny_net():
    torch.manual_seed(0)
    return d2l.EncoderDecoder(TinyEncoder(), TinyDecoder())


def test_parameters_are_those_of_both_parts(tiny_net):
    ids = {id(p) for p in tiny_net.parameters()}
    enc_ids = {id(p) for p in tiny_net.encoder.parameters()}
    dec_ids = {id(p) for p in tiny_net.decoder.parameters()}
    assert enc_ids and dec_ids and not enc_ids & dec_ids
    assert ids == enc_ids | dec_ids
    names = {name for name, _ in tiny_net.named_parameters()}
    assert names == {"encoder.embedding.weight", "decoder.embedding.weight",
                     "decoder.dense.weight", "decoder.dense.bias"}


def test_submodules_are_the_given_objects_and_follow_train_eval(tiny_net):
    assert isinstance(tiny_net, nn.Module)
    assert dict(tiny_net.named_children()).keys() == {"encoder", "decoder"}
    tiny_net.eval()
    assert not tiny_net.encoder.training and not tiny_net.decoder.training
    tiny_net.train()
    assert tiny_net.encoder.training and tiny_net.decoder.training


def test_output_shapes_and_gradients_reach_both_parts(tiny_net):
    enc_X = torch.randint(0, 10, (2, 5))
    dec_X = torch.randint(0, 10, (2, 3))
    Y_hat, state = tiny_net(enc_X, dec_X)
    assert Y_hat.shape == (2, 3, 10)
    assert state.shape == (2, 4)
    Y_hat.sum().backward()
    for name, p in tiny_net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_one_optimizer_trains_both_parts(tiny_net):
    enc_X = torch.tensor([[3, 4, 5, 6, 2], [7, 8, 9, 6, 2]])
    dec_X = torch.tensor([[1, 3, 4, 5], [1, 6, 7, 8]])
    Y = torch.tensor([[3, 4, 5, 2], [6, 7, 8, 2]])
    before = {name: p.detach().clone() for name, p in tiny_net.named_parameters()}
    optimizer = torch.optim.Adam(tiny_net.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(60):
        Y_hat, _ = tiny_net(enc_X, dec_X)
        loss = loss_fn(Y_hat.reshape(-1, 10), Y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    for name, p in tiny_net.named_parameters():
        assert not torch.equal(p.detach(), before[name]), name


def test_state_dict_round_trip(tiny_net):
    torch.manual_seed(1)
    other = d2l.EncoderDecoder(TinyEncoder(), TinyDecoder())
    other.load_state_dict(tiny_net.state_dict())
    enc_X = torch.randint(0, 10, (2, 5))
    dec_X = torch.randint(0, 10, (2, 3))
    assert torch.equal(tiny_net(enc_X, dec_X)[0], other(enc_X, dec_X)[0])
