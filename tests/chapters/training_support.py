"""What the tests of chapters 7, 8 and appendix A.2 share: a tiny reversal task and a tiny seq2seq model.

Everything runs on the CPU with fixed seeds, so "the same" means bit-identical (torch.equal).
"""
from __future__ import annotations

import random
import sys

import torch

import d2l_local as d2l

CPU = torch.empty(0).device  # the CPU device, whatever d2l.try_gpu() would pick
BOS = 1
VOCAB = {'<pad>': 0, '<bos>': BOS, '<eos>': 2}
VOCAB_SIZE = 10  # 0..2 special, 3..9 ordinary tokens


def reversal_data(num_examples=48, num_steps=7, batch_size=16, seed=0):
    """Source: 2..5 random tokens + <eos>, padded; target: the tokens reversed + <eos>."""
    gen = random.Random(seed)
    src, tgt, src_len, tgt_len = [], [], [], []
    for _ in range(num_examples):
        tokens = [gen.randrange(3, VOCAB_SIZE) for _ in range(gen.randrange(2, 6))]
        for rows, lens, seq in ((src, src_len, tokens), (tgt, tgt_len, tokens[::-1])):
            seq = seq + [2]
            lens.append(len(seq))
            rows.append(seq + [0] * (num_steps - len(seq)))
    arrays = (torch.tensor(src), torch.tensor(src_len), torch.tensor(tgt), torch.tensor(tgt_len))
    return d2l.load_array(arrays, batch_size)


def tiny_net(num_hiddens=16, seed=0, dropout=0.2):
    torch.manual_seed(seed)
    # 2 layers so that the GRU's dropout (between layers) is active: resuming must restore its RNG
    encoder = d2l.Seq2SeqEncoder(VOCAB_SIZE, 8, num_hiddens, num_layers=2, dropout=dropout)
    decoder = d2l.Seq2SeqDecoder(VOCAB_SIZE, 8, num_hiddens, num_layers=2, dropout=dropout)
    return d2l.EncoderDecoder(encoder, decoder)


def train(net, num_epochs, data=None, seed=0, device=CPU, **kwargs):
    kwargs.setdefault('plot', False)
    torch.manual_seed(seed)  # the data order and dropout of the run
    data = reversal_data() if data is None else data
    return d2l.train_seq2seq(net, data, 0.01, num_epochs, VOCAB, device, **kwargs)


def training_module():
    """Where train_seq2seq's training loop looks names such as grad_clipping up (patch there): chapter 7's
    module, whose code uses them bare; the d2l_local package when a later chapter's redefinition of
    train_seq2seq (chapter 16) calls them as d2l.name."""
    module = sys.modules[d2l.train_seq2seq.__module__]
    return module if hasattr(module, 'grad_clipping') else d2l


def weights(net):
    return [p.detach().clone() for p in net.state_dict().values()]


def assert_same_tensors(a, b, where='state'):
    """Recursively compare two nested containers of tensors / numbers with torch.equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f'{where} differs'
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f'{where}: keys differ'
        for key in a:
            assert_same_tensors(a[key], b[key], f'{where}[{key!r}]')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f'{where}: lengths differ'
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


def overflow_at(net, step):
    """Make the gradient of the decoder's output layer inf at the step-th backward pass (1-based):
    what a numerical overflow does. Returns the hook's handle."""
    calls = []

    def hook(grad):
        calls.append(1)
        return torch.full_like(grad, float('inf')) if len(calls) == step else grad

    return net.decoder.dense.weight.register_hook(hook)
