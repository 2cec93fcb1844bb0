"""Smoke test of bench/decode.py's machinery (no corpus, no timing): the patched decoder it measures
computes chapter 5's decoder, the wrapper that keeps finished sentences changes no translation, and
the replayed matrix products have exactly the arithmetic the table divides by."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import d2l_local as d2l

ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")
RESERVED = ["<pad>", "<bos>", "<eos>"]
WORDS = ["go", ".", "i", "lost", "he's", "calm", "!", "run", "home", "we", "won"]


@pytest.fixture(scope="module")
def decode():
    spec = importlib.util.spec_from_file_location("bench_decode", ROOT / "bench" / "decode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model():
    vocab = d2l.Vocab([WORDS], reserved_tokens=RESERVED)
    torch.manual_seed(0)
    net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(vocab), 8, 16, 2), d2l.Seq2SeqDecoder(len(vocab), 8, 16, 2))
    with torch.no_grad():
        net.decoder.dense.weight.mul_(4.0)  # peaked, varied next-token distributions
    return net.eval(), vocab


def test_context_once_decoder_computes_chapter_5s_decoder(decode, model):
    net, vocab = model
    patched = decode.ContextOnceDecoder(len(vocab), 8, 16, 2)
    patched.load_state_dict(net.decoder.state_dict())  # the same parameters, nothing added
    patched.eval()
    X = torch.randint(0, len(vocab), (5, 6))
    Y = torch.randint(0, len(vocab), (5, 4))
    with torch.no_grad():
        enc = net.encoder(X)
        want, (want_h, _) = net.decoder(Y, net.decoder.init_state(enc))
        got, (got_h, _, _) = patched(Y, patched.init_state(enc))
        assert torch.allclose(got, want, atol=1e-5) and torch.allclose(got_h, want_h, atol=1e-5)
        state = patched.reorder_state(patched.init_state(enc), torch.tensor([4, 0]))
        step, _ = patched(Y[[4, 0], :1], state)
        assert torch.allclose(step, want[[4, 0], :1], atol=1e-5)


def test_levers_change_no_translation(decode, model):
    net, vocab = model
    sentences = ["go .", "i lost .", "he's calm !", "we won .", "run run run", "i lost home ."]
    book, _ = d2l.predict_seq2seq(net, sentences, vocab, vocab, 6, CPU)
    kept = d2l.EncoderDecoder(net.encoder, decode.KeepFinished(net.decoder))
    assert not hasattr(kept.decoder, "reorder_state")
    assert d2l.predict_seq2seq(kept, sentences, vocab, vocab, 6, CPU)[0] == book
    patched = decode.ContextOnceDecoder(len(vocab), 8, 16, 2)
    patched.load_state_dict(net.decoder.state_dict())
    patched_net = d2l.EncoderDecoder(net.encoder, patched).eval()
    assert d2l.predict_seq2seq(patched_net, sentences, vocab, vocab, 6, CPU)[0] == book


def test_replayed_products_have_the_counted_arithmetic(decode):
    lengths = [0, 3, 9, 12, 5]  # 12 words never end: capped at num_steps
    gflop, share = decode.decode_gflop(len(lengths), lengths, decode.NUM_STEPS, 50)
    seconds, replay_gflop = decode.matmul_replay(decode.Clock(CPU), CPU, len(lengths), lengths, 50, repeats=1)
    assert replay_gflop == pytest.approx(gflop, rel=1e-12)
    assert seconds > 0 and 0 < share < 1
