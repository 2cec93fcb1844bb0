"""Small things several chapter test files share: the real-corpus guard (its fixture `corpus` is in conftest.py), and the tiny
seq2seq and Transformer models the encoder/decoder and Transformer chapters build their tests on."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import d2l_local as d2l


# ---------------------------------------------------------------- the real corpus (never downloaded)

def real_corpus_available() -> bool:
    data_dir = os.environ.get("D2L_DATA_DIR")
    if data_dir and (Path(data_dir) / "fra-eng" / "fra.txt").is_file():
        return True
    return (d2l.cache_dir() / "fra-eng" / "fra.txt").is_file()


needs_corpus = pytest.mark.skipif(
    not real_corpus_available(),
    reason="fra-eng/fra.txt is neither in $D2L_DATA_DIR nor in the cache (tests never download)")


# ---------------------------------------------------------------- the RNN encoder and decoder (ch. 4, 5)

VOCAB, EMBED, HIDDEN, LAYERS = 10, 8, 16, 2


def make_model(seed=0, vocab=VOCAB, embed=EMBED, hidden=HIDDEN, layers=LAYERS, dropout=0.0):
    torch.manual_seed(seed)
    encoder = d2l.Seq2SeqEncoder(vocab, embed, hidden, layers, dropout=dropout)
    decoder = d2l.Seq2SeqDecoder(vocab, embed, hidden, layers, dropout=dropout)
    return encoder, decoder


def tokens(seed, batch_size, num_steps, vocab=VOCAB):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (batch_size, num_steps), generator=generator)


# ---------------------------------------------------------------- the Transformer (ch. 14, 15)

T_VOCAB, T_HIDDEN, T_HEADS, T_FFN, T_LAYERS = 13, 8, 2, 16, 2


def make_encoder(seed=0, vocab=T_VOCAB, hidden=T_HIDDEN, heads=T_HEADS, ffn=T_FFN, layers=T_LAYERS, dropout=0.0):
    torch.manual_seed(seed)
    return d2l.TransformerEncoder(vocab, hidden, hidden, hidden, hidden, [hidden], hidden, ffn, heads,
                                  layers, dropout)


def make_decoder(seed=0, vocab=T_VOCAB, hidden=T_HIDDEN, heads=T_HEADS, ffn=T_FFN, layers=T_LAYERS, dropout=0.0):
    torch.manual_seed(seed + 1000)
    return d2l.TransformerDecoder(vocab, hidden, hidden, hidden, hidden, [hidden], hidden, ffn, heads,
                                  layers, dropout)
