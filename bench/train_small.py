"""Benchmark of chapter 7: d2l's small fra-eng configuration, 300 epochs.

    D2L_DATA_DIR=../shared/data .venv/bin/python -m bench.train_small [--epochs 300] [--skip-reference]

Trains the configuration of d2l's seq2seq section (600 sentence pairs, embed_size = num_hiddens = 32,
2 GRU layers, dropout 0.1, batch 64, num_steps 10, lr 0.005, 300 epochs) on the same data, with the
same model code (d2l_local's Seq2SeqEncoder/Seq2SeqDecoder) and the same seed:

1. with the book's ``d2l.train_seq2seq`` (plot=False; it trains with one thread on the CPU);
2. with a minimal re-implementation of the d2l 0.17-style loop (the reference): per-sequence losses
   averaged over the *padded* length and summed for backward, a Python ``if`` on the gradient norm in
   clipping, a ``float()`` per batch for the metrics, the plain (for-loop) Adam, no trimming of padded
   label columns -- and no animator, so that the loops are compared. It runs twice: with one thread
   (the loop alone), and with torch's default number of threads (what a d2l user gets). On a busy
   2-core machine the multi-threaded run can be many times slower, so that run is capped at
   ``--default-threads-budget`` seconds and extrapolated linearly to all epochs when it stops early.

It prints a markdown table ``| benchmark | measured | target | reference |``. The d2l loop reports a
"loss" that is the per-token loss divided by num_steps; the table shows its true per-token loss
(that number times num_steps), so that both loops are compared on the same scale. The last-epoch loss
varies with the seed by about +-0.02 for both loops (dropout and data order). Needs no network: the
data come from $D2L_DATA_DIR (or the cache) as everywhere in the book.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

import d2l_local as d2l

CONFIG = dict(batch_size=64, num_steps=10, num_examples=600, embed_size=32, num_hiddens=32,
              num_layers=2, dropout=0.1, lr=0.005)
TARGET_SECONDS = 15.0


def make_net(src_vocab, tgt_vocab, seed=0):
    torch.manual_seed(seed)
    c = CONFIG
    encoder = d2l.Seq2SeqEncoder(len(src_vocab), c['embed_size'], c['num_hiddens'], c['num_layers'], c['dropout'])
    decoder = d2l.Seq2SeqDecoder(len(tgt_vocab), c['embed_size'], c['num_hiddens'], c['num_layers'], c['dropout'])
    return d2l.EncoderDecoder(encoder, decoder)


# ---- the reference: a d2l 0.17-style loop, re-implemented minimally ---------------------------

class PerSequenceLoss(nn.Module):
    """d2l 0.17's loss: token losses, padding zeroed, averaged over the padded length per sequence."""

    def forward(self, pred, label, valid_len):
        weights = (torch.arange(label.shape[1], device=label.device)[None, :] < valid_len[:, None]).float()
        token_loss = F.cross_entropy(pred.permute(0, 2, 1), label, reduction='none')
        return (token_loss * weights).mean(dim=1)  # (batch_size,)


def clip_like_d2l(net, theta):
    params = [p for p in net.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    if norm > theta:  # a Python bool of a tensor: a device sync on GPU
        for p in params:
            p.grad[:] *= theta / norm


def init_like_d2l(m):
    if type(m) == nn.Linear:
        nn.init.xavier_uniform_(m.weight)
    if type(m) == nn.GRU:
        for name in m._flat_weights_names:
            if 'weight' in name:
                nn.init.xavier_uniform_(m._parameters[name])


def reference_loop(net, data_iter, lr, num_epochs, tgt_vocab, device, budget=None):
    """Train like d2l 0.17; stop early (returning how many epochs ran) once ``budget`` seconds pass."""
    net.apply(init_like_d2l)
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss = PerSequenceLoss()
    net.train()
    num_tokens_total, seconds, epochs_run = 0.0, 0.0, 0
    for epoch in range(num_epochs):
        start = time.perf_counter()
        metric = [0.0, 0.0]  # d2l's Accumulator: float() of each value, every batch
        for batch in data_iter:
            optimizer.zero_grad()
            X, X_valid_len, Y, Y_valid_len = [x.to(device) for x in batch]
            bos = torch.tensor([tgt_vocab['<bos>']] * Y.shape[0], device=device).reshape(-1, 1)
            dec_input = torch.cat([bos, Y[:, :-1]], 1)
            Y_hat, _ = net(X, dec_input, X_valid_len)
            l = loss(Y_hat, Y, Y_valid_len)
            l.sum().backward()
            clip_like_d2l(net, 1)
            num_tokens = Y_valid_len.sum()
            optimizer.step()
            with torch.no_grad():
                metric[0] += float(l.sum())
                metric[1] += float(num_tokens)
        seconds += time.perf_counter() - start
        num_tokens_total += metric[1]
        epochs_run += 1
        if budget is not None and seconds > budget:
            break
    printed = metric[0] / metric[1]  # what d2l prints as "loss"
    return {'printed_loss': printed, 'loss': printed * CONFIG['num_steps'], 'epochs_run': epochs_run,
            'seconds': seconds, 'tokens_per_sec': num_tokens_total / seconds}


def timed(fn, *args, **kwargs):
    """Run fn; return (its result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def mean(values):
    return sum(values) / len(values)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=300)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0], metavar='SEED',
                        help='seeds to train with (default: 0); times and losses are averaged over them')
    parser.add_argument('--skip-reference', action='store_true', help='only time train_seq2seq')
    parser.add_argument('--default-threads-budget', type=float, default=30.0, metavar='SECONDS',
                        help='cap for the d2l-style run with torch default threads (default 30)')
    args = parser.parse_args(argv)
    c = CONFIG
    device = d2l.try_gpu()
    default_threads = torch.get_num_threads()
    data_iter, src_vocab, tgt_vocab = d2l.load_data_nmt(c['batch_size'], c['num_steps'], c['num_examples'])

    def fresh_net(seed):
        net = make_net(src_vocab, tgt_vocab, seed)
        torch.manual_seed(seed)  # the same data order and dropout for both loops
        return net

    # warm-up, not timed: the first training steps of a process pay one-off costs (allocator, kernels)
    d2l.train_seq2seq(fresh_net(0), data_iter, c['lr'], 1, tgt_vocab, device, plot=False)
    reference_loop(fresh_net(0), data_iter, c['lr'], 1, tgt_vocab, device)
    ours, ref1 = [], []  # per seed: (result, wall seconds, CPU seconds)
    for seed in args.seeds:
        ours.append(timed(d2l.train_seq2seq, fresh_net(seed), data_iter, c['lr'], args.epochs,
                          tgt_vocab, device, plot=False))
        if not args.skip_reference:
            torch.set_num_threads(1)
            ref1.append(timed(reference_loop, fresh_net(seed), data_iter, c['lr'], args.epochs,
                              tgt_vocab, device))
            torch.set_num_threads(default_threads)
    if not args.skip_reference:
        refn, refn_wall, _ = timed(reference_loop, fresh_net(args.seeds[0]), data_iter, c['lr'], args.epochs,
                                   tgt_vocab, device, budget=args.default_threads_budget)

    target = TARGET_SECONDS * args.epochs / 300  # the target is for 300 epochs
    ours_wall, ours_cpu = mean([w for _, w, _ in ours]), mean([u for _, _, u in ours])
    ours_loss, ours_train = mean([r.loss for r, _, _ in ours]), mean([r.seconds for r, _, _ in ours])
    seeds = ', '.join(map(str, args.seeds))
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print()
    print(f'fra-eng, 600 pairs, E=H=32, 2 GRU layers, dropout 0.1, batch 64, 10 steps, lr 0.005, '
          f'{args.epochs} epochs, seed(s) {seeds} (means over seeds); device {device}; '
          f'torch {torch.__version__}; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); '
          f'load average at the end {load:.2f} (other processes make wall times noisy; '
          f'CPU seconds of this process are in parentheses)')
    print()
    print('| benchmark | measured | target | reference |')
    print('| --- | --- | --- | --- |')
    if args.skip_reference:
        print(f'| wall time, {args.epochs} epochs, `d2l.train_seq2seq` | {ours_wall:.1f} s ({ours_cpu:.1f} s CPU) '
              f'| ≤ {target:.1f} s | skipped |')
        print(f'| final per-token loss (last epoch) | {ours_loss:.3f} | ≤ reference | skipped |')
        return 0
    ref1_wall, ref1_cpu = mean([w for _, w, _ in ref1]), mean([u for _, _, u in ref1])
    ref1_loss, ref1_train = mean([r['loss'] for r, _, _ in ref1]), mean([r['seconds'] for r, _, _ in ref1])
    print(f'| wall time, {args.epochs} epochs: `d2l.train_seq2seq` vs d2l-style loop, both 1 thread '
          f'| {ours_wall:.1f} s ({ours_cpu:.1f} s CPU) | ≤ {target:.1f} s '
          f'| {ref1_wall:.1f} s ({ref1_cpu:.1f} s CPU) |')
    refn_total = refn['seconds'] / refn['epochs_run'] * args.epochs
    if refn['epochs_run'] == args.epochs:
        refn_text = f'{refn_wall:.1f} s'
    else:
        refn_text = (f"≈ {refn_total:.0f} s (extrapolated: stopped after {refn['epochs_run']} epochs "
                     f"in {refn['seconds']:.1f} s)")
    print(f'| wall time of the d2l-style loop with torch default threads ({default_threads}), '
          f'seed {args.seeds[0]} | {ours[0][1]:.1f} s | ≤ {target:.1f} s | {refn_text} |')
    losses = '; '.join(f"seed {seed}: {o[0].loss:.3f} vs {r[0]['loss']:.3f}"
                       for seed, o, r in zip(args.seeds, ours, ref1))
    print(f'| final per-token loss (last epoch; varies by ±0.02 with the seed) | {ours_loss:.3f} '
          f'| ≈ reference or lower | {ref1_loss:.3f} (d2l would print {ref1_loss / c["num_steps"]:.4f} '
          f'= per-token / num_steps) |')
    if len(args.seeds) > 1:
        print(f'| per seed (ours vs reference) | {losses} | | |')
    print(f'| training speed, target tokens/s | {mean([r.tokens_per_sec for r, _, _ in ours]):.0f} | '
          f"| {mean([r['tokens_per_sec'] for r, _, _ in ref1]):.0f} (1 thread), "
          f"{refn['tokens_per_sec']:.0f} ({default_threads} threads) |")
    print(f'| speed-up of the training loop over the d2l-style loop, 1 thread / default threads '
          f'| {ref1_train / ours_train:.2f}× / {refn_total / ours[0][0].seconds:.2f}× | | 1× |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
