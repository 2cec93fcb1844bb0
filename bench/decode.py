"""Benchmark: batched greedy decoding (chapter 9) against one sentence at a time, and against the
machine's fp32 matmul rate measured in the same process.

    D2L_DATA_DIR=/work/shared/data .venv/bin/python bench/decode.py [--threads 1] [--sentences 2000]

Data: load_data_nmt_split(max_tokens=10) (pairs of at most 10 tokens a side, vocabularies from the
training part with min_freq=2); the sentences are --sentences distinct English sentences of the
held-out test part (a seeded shuffle), num_steps = 10.
Model: d2l.Seq2SeqEncoder/Seq2SeqDecoder, 2 layers, embed_size = num_hiddens = 256, trained briefly
(--train-steps Adam steps of batch 128, 100 by default, seeded) so that it emits <eos> at sensible
lengths like a real model; every row decodes with this same model (the same weights).

Rows:
  (a) d2l's predict_seq2seq re-implemented (batch of 1, no torch.no_grad, one .item() per token);
  (b) chapter 9's predict_seq2seq on the whole list in one call (what the book does);
  (c) the same call with finished sentences kept in the batch (the decoder's reorder_state hidden),
      to show what dropping them is worth;
  (d) the same call with chapter 5's decoder patched to project its constant context once per
      sentence (ContextOnceDecoder below: the same parameters, a proposed change to Seq2SeqDecoder).

"Fraction of the matmul rate": the machine's fp32 matmul rate R is measured here, in this process,
with the same threads (a 1024 x 1024 x 1024 torch.mm, best of several; the rate of the decoder's
own output-layer shape is printed too). The arithmetic W of decoding with the book's model is
counted (decode_gflop: the encoder over all num_steps positions, one decoder step per generated
token including <eos>; finished sentences leave the batch). Possible sentences/s = R / (W per
sentence); a row's fraction = its sentences/s / possible sentences/s. The matrix products of
decoding are also replayed alone (matmul_replay: the same shapes and batch sizes), which shows how
much of the gap to R is the BLAS on these shapes rather than the book's code. Rows (c) and (d) are scored
against the same W, so their fraction says how fast they translate the same sentences.
(b) is the book; (c) and (d) are the levers, measured on the same model and sentences.

Timings use CPU time (time.process_time) on the CPU, so that other processes on a shared machine
disturb them less; on a GPU, wall-clock time with synchronisation. They still depend on the
machine: the table prints the load average. Prints a markdown table; needs no network.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import d2l_local as d2l  # noqa: E402

NUM_STEPS = 10
EMBED = HIDDEN = 256
LAYERS = 2


def d2l_style_predict(net, src_sentence, src_vocab, tgt_vocab, num_steps, device):
    """What d2l's predict_seq2seq does, step for step: one sentence, batch size 1, no torch.no_grad,
    a .item() (a device synchronisation) per generated token, lower() + split(' ') as preprocessing."""
    net.eval()
    ids = src_vocab[src_sentence.lower().split(' ')] + [src_vocab['<eos>']]
    valid_len = torch.tensor([len(ids)], device=device)
    enc_X = torch.tensor([d2l.truncate_pad(ids, num_steps, src_vocab['<pad>'])], dtype=torch.long,
                         device=device)
    state = net.decoder.init_state(net.encoder(enc_X, valid_len), valid_len)
    dec_X = torch.tensor([[tgt_vocab['<bos>']]], dtype=torch.long, device=device)
    output = []
    for _ in range(num_steps):
        Y, state = net.decoder(dec_X, state)
        dec_X = Y.argmax(dim=2)
        token = dec_X.squeeze(dim=0).type(torch.int32).item()
        if token == tgt_vocab['<eos>']:
            break
        output.append(token)
    return ' '.join(tgt_vocab.to_tokens(output))


class KeepFinished(nn.Module):
    """Wraps a decoder and hides its reorder_state: predict_seq2seq then keeps finished sentences
    in the batch until the last one ends (their extra tokens are ignored)."""

    def __init__(self, decoder):
        super().__init__()
        self.inner = decoder

    def init_state(self, *args):
        return self.inner.init_state(*args)

    def forward(self, X, state):
        return self.inner(X, state)


class ContextOnceDecoder(d2l.Seq2SeqDecoder):
    """Chapter 5's Seq2SeqDecoder with the same parameters (its state_dict loads unchanged), but the
    constant context c's share of the first GRU layer's input projection, W_ih[:, E:] c, is computed
    once per sentence in init_state instead of at every step. The GRU is then stepped by hand (the
    gate formulas of torch's own GRU cell, in the same order), because nn.GRU cannot take a
    per-sentence input bias. The proposed patch for chapter 5."""

    def init_state(self, enc_all_outputs, *args):
        hidden, context = super().init_state(enc_all_outputs, *args)
        embed_size = self.embedding.embedding_dim
        context_gates = F.linear(context, self.rnn.weight_ih_l0[:, embed_size:])  # (batch_size, 3 * num_hiddens)
        return hidden, context, context_gates

    @staticmethod
    def _gru_step(input_gates, h, w_hh, b_hh):
        """One step of one GRU layer, given the input's gate pre-activations (as torch's GRU cell)."""
        i_r, i_z, i_n = input_gates.chunk(3, dim=-1)
        h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
        r = torch.sigmoid(h_r + i_r)
        z = torch.sigmoid(h_z + i_z)
        n = torch.tanh(i_n + h_n * r)
        return (h - n) * z + n

    def forward(self, X, state):
        hidden, context, context_gates = state
        rnn = self.rnn
        embed_size = self.embedding.embedding_dim
        embs = self.embedding(X.t())                                   # (num_steps, batch_size, embed_size)
        inputs = F.linear(embs, rnn.weight_ih_l0[:, :embed_size], rnn.bias_ih_l0) + context_gates
        new_hidden = []
        for layer in range(rnn.num_layers):
            w_hh, b_hh = getattr(rnn, f'weight_hh_l{layer}'), getattr(rnn, f'bias_hh_l{layer}')
            if layer > 0:  # inputs: the previous layer's outputs (dropout between layers when training)
                inputs = F.dropout(inputs, rnn.dropout, self.training)
                inputs = F.linear(inputs, getattr(rnn, f'weight_ih_l{layer}'), getattr(rnn, f'bias_ih_l{layer}'))
            h, outputs = hidden[layer], []
            for gates in inputs:                                       # one step per position
                h = self._gru_step(gates, h, w_hh, b_hh)
                outputs.append(h)
            inputs = torch.stack(outputs)                               # (num_steps, batch_size, num_hiddens)
            new_hidden.append(h)
        logits = self.dense(inputs).transpose(0, 1)                     # (batch_size, num_steps, vocab_size)
        return logits, (torch.stack(new_hidden), context, context_gates)

    def reorder_state(self, state, index):
        hidden, context, context_gates = state
        return hidden.index_select(1, index), context.index_select(0, index), context_gates.index_select(0, index)


def train_briefly(net, train_iter, tgt_vocab, steps, device, lr=0.005):
    """A plain teacher-forcing loop (chapter 7's recipe without plots), `steps` minibatches."""
    loss_fn = d2l.MaskedSoftmaxCELoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    done, loss = 0, None
    while done < steps:
        for X, X_valid_len, Y, Y_valid_len in train_iter:
            X, X_valid_len, Y, Y_valid_len = (t.to(device) for t in (X, X_valid_len, Y, Y_valid_len))
            bos = torch.full((Y.shape[0], 1), tgt_vocab['<bos>'], dtype=torch.long, device=device)
            Y_hat, _ = net(X, torch.cat([bos, Y[:, :-1]], dim=1), X_valid_len)
            loss = loss_fn(Y_hat, Y, Y_valid_len)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            done += 1
            if done == steps:
                break
    return loss.item() if loss is not None else float('nan')


def gru_flop(input_size, num_hiddens=HIDDEN, num_layers=LAYERS):
    """FLOP (2 x multiply-adds) of one step of a multi-layer GRU for one sentence."""
    return sum(2 * 3 * num_hiddens * ((input_size if layer == 0 else num_hiddens) + num_hiddens)
               for layer in range(num_layers))


def decode_gflop(num_sentences, output_lengths, num_steps, vocab_size):
    """FLOP of batched greedy decoding with the book's model: the encoder over all num_steps
    positions, then one decoder step per generated token (<eos> included; finished sentences leave
    the batch). Returns (total GFLOP, share of the output layer)."""
    encoder = num_sentences * num_steps * gru_flop(EMBED)
    tokens = sum(min(length + 1, num_steps) for length in output_lengths)
    output_layer = tokens * 2 * HIDDEN * vocab_size
    total = encoder + tokens * gru_flop(EMBED + HIDDEN) + output_layer
    return total / 1e9, output_layer / total


class Clock:
    """CPU time on the CPU (less disturbed by other processes), synchronised wall time on a GPU."""

    def __init__(self, device):
        self.cuda = device.type == 'cuda'

    def now(self):
        if self.cuda:
            torch.cuda.synchronize()
            return time.perf_counter()
        return time.process_time()

    def best(self, fn, repeats):
        """(best seconds over `repeats` calls, the last result)."""
        best, result = float('inf'), None
        for _ in range(repeats):
            start = self.now()
            result = fn()
            best = min(best, self.now() - start)
        return best, result


def matmul_rate(clock, device, m, k, n, repeats=5):
    """GFLOP/s of an fp32 (m, k) @ (k, n) torch.mm on device (best of `repeats` timed runs of 3)."""
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    torch.mm(a, b)  # warm-up
    seconds, _ = clock.best(lambda: [torch.mm(a, b) for _ in range(3)], repeats)
    return 3 * 2 * m * k * n / seconds / 1e9


def matmul_replay(clock, device, num_sentences, output_lengths, vocab_size, repeats):
    """The matrix products of batched greedy decoding alone, with the shapes and batch sizes the
    decoding used (no gates, no argmax, no Python loop around them): (best seconds, GFLOP).
    The GFLOP equal decode_gflop's W: the ceiling that the book's code could reach with this BLAS."""
    alive = [sum(min(length + 1, NUM_STEPS) > t for length in output_lengths) for t in range(NUM_STEPS)]
    shapes = [(num_sentences * NUM_STEPS, EMBED if layer == 0 else HIDDEN, 3 * HIDDEN)  # encoder inputs
              for layer in range(LAYERS)]
    shapes += [(num_sentences, HIDDEN, 3 * HIDDEN)] * (NUM_STEPS * LAYERS)             # encoder states
    for b in filter(None, alive):                                                      # decoder steps
        shapes += [(b, EMBED + HIDDEN, 3 * HIDDEN), (b, HIDDEN, 3 * HIDDEN)]               # layer 0
        shapes += [(b, HIDDEN, 3 * HIDDEN)] * (2 * (LAYERS - 1))                           # layers 1..
        shapes.append((b, HIDDEN, vocab_size))                                             # output layer
    mats = {shape: (torch.randn(shape[0], shape[1], device=device), torch.randn(shape[1], shape[2], device=device))
            for shape in set(shapes)}

    def run():
        for shape in shapes:
            torch.mm(*mats[shape])

    run()  # warm-up
    seconds, _ = clock.best(run, repeats)
    return seconds, sum(2 * m * k * n for m, k, n in shapes) / 1e9


def load_average():
    return os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sentences', type=int, default=2000)
    parser.add_argument('--train-steps', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=3, help='timed runs of each batched row; the best counts')
    parser.add_argument('--check', type=int, default=300,
                        help='sentences of row (d) also decoded one at a time (must equal its batched run)')
    parser.add_argument('--threads', type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = load_average()

    device = d2l.try_gpu()
    clock = Clock(device)
    torch.manual_seed(0)
    train_iter, src_vocab, tgt_vocab, splits = d2l.load_data_nmt_split(
        128, NUM_STEPS, max_tokens=NUM_STEPS)
    sources, _ = d2l.group_references(*splits['test'])
    random.Random(0).shuffle(sources)
    if len(sources) < args.sentences:
        raise SystemExit(f'only {len(sources)} test sentences, asked for {args.sentences}')
    sources = sources[:args.sentences]
    V = len(tgt_vocab)

    net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(src_vocab), EMBED, HIDDEN, LAYERS),
                             d2l.Seq2SeqDecoder(V, EMBED, HIDDEN, LAYERS)).to(device)
    start = time.perf_counter()
    loss = train_briefly(net, train_iter, tgt_vocab, args.train_steps, device)
    train_s = time.perf_counter() - start
    net.eval()

    # the machine's fp32 matmul rate, in this process, with these threads
    peak = max(matmul_rate(clock, device, 1024, 1024, 1024) for _ in range(2))
    output_shape = matmul_rate(clock, device, args.sentences, HIDDEN, V)

    def predict(model, batch=sources):
        return d2l.predict_seq2seq(model, batch, src_vocab, tgt_vocab, NUM_STEPS, device)[0]

    loop_s, one_by_one = clock.best(
        lambda: [d2l_style_predict(net, s, src_vocab, tgt_vocab, NUM_STEPS, device) for s in sources], 1)
    predict(net, sources[:64])  # warm-up
    book_s, batched = clock.best(lambda: predict(net), args.repeats)

    kept_net = d2l.EncoderDecoder(net.encoder, KeepFinished(net.decoder))
    kept_s, kept = clock.best(lambda: predict(kept_net), args.repeats)

    patched_decoder = ContextOnceDecoder(V, EMBED, HIDDEN, LAYERS).to(device)
    patched_decoder.load_state_dict(net.decoder.state_dict())
    patched_net = d2l.EncoderDecoder(net.encoder, patched_decoder).eval()
    predict(patched_net, sources[:64])  # warm-up
    patched_s, patched = clock.best(lambda: predict(patched_net), args.repeats)
    patched_one = [predict(patched_net, [s])[0] for s in sources[:args.check]]
    load_end = load_average()

    n = len(sources)
    lengths = [len(t.split()) for t in batched]
    gflop, output_share = decode_gflop(n, lengths, NUM_STEPS, V)
    possible = peak / (gflop / n)  # sentences/s at the matmul rate
    replay_s, replay_gflop = matmul_replay(clock, device, n, lengths, V, args.repeats)
    assert abs(replay_gflop - gflop) < 1e-6 * gflop, (replay_gflop, gflop)

    def row(name, seconds, translations, reference_name, reference):
        rate = n / seconds
        same = sum(a == b for a, b in zip(translations, reference))
        return (f'| {name} | {rate:,.0f} | {gflop / seconds:.1f} | {rate / possible:.0%} '
                f'| {same}/{n} = {reference_name} |')

    timing = 'CPU time' if device.type == 'cpu' else 'wall time, synchronised'
    print(f'bench/decode.py, {datetime.date.today().isoformat()}; device: {device}; '
          f'{platform.processor() or platform.machine()}; torch {torch.__version__}; '
          f'{torch.get_num_threads()} threads; timings: {timing}; '
          f'load average {load_start:.2f} at the start, {load_end:.2f} at the end')
    print(f'model: 2-layer GRU seq2seq, E = H = {HIDDEN}, vocab {len(src_vocab):,} → {V:,}, '
          f'trained {args.train_steps} steps of batch 128 ({train_s:.0f} s wall, last loss {loss:.2f}); '
          f'{n} held-out sentences, num_steps = {NUM_STEPS}, mean output length '
          f'{sum(lengths) / n:.1f} words')
    print(f'fp32 matmul rate R: {peak:.1f} GFLOP/s (1024³ torch.mm, best of several); '
          f'the output layer\'s shape ({n} × {HIDDEN} @ {HIDDEN} × {V:,}) alone: {output_shape:.1f} GFLOP/s '
          f'({output_shape / peak:.0%} of R)')
    print(f'decoding arithmetic W: {gflop:.1f} GFLOP ({output_share:.0%} in the output layer) → '
          f'possible at R: {possible:,.0f} sentences/s')
    print(f'the same matrix products alone (the shapes and batch sizes of row (b), nothing else): '
          f'{replay_s:.2f} s, {gflop / replay_s:.1f} GFLOP/s = {gflop / replay_s / peak:.0%} of R: '
          f'the ceiling for the book\'s code with this BLAS; row (b) reaches {replay_s / book_s:.0%} of it')
    print()
    print('| decoding | sentences/s | GFLOP/s (of W) | fraction of R | identical translations |')
    print('|---|---:|---:|---:|---|')
    print(row('(a) one sentence at a time (d2l-style loop)', loop_s, one_by_one, '(a)', one_by_one))
    print(row('(b) batched `predict_seq2seq` (chapter 9)', book_s, batched, '(a)', one_by_one))
    print(row('(c) (b) with finished sentences kept in the batch', kept_s, kept, '(b)', batched))
    print(row('(d) (b) with the context projected once (proposed chapter-5 patch)', patched_s, patched,
              '(b)', batched))
    same_d = sum(a == b for a, b in zip(patched_one, patched))
    print()
    print(f'speed-up (b)/(a): {loop_s / book_s:.1f}×; dropping finished sentences, (b) vs (c): '
          f'{kept_s / book_s:.2f}×; the chapter-5 patch, (d) vs (b): {book_s / patched_s:.2f}×')
    print(f'(d) batched vs (d) one sentence at a time, first {len(patched_one)} sentences: '
          f'{same_d}/{len(patched_one)} identical')
    return 0


if __name__ == '__main__':
    sys.exit(main())
