"""Benchmark: greedy decoding one sentence at a time (d2l-style) vs. one batch (chapter 9).

    D2L_DATA_DIR=/work/shared/data .venv/bin/python bench/decode.py [--sentences 2000] [--train-steps 100] [--threads N]

Data: load_data_nmt_split(max_tokens=10) (pairs of at most 10 tokens a side, vocabularies from the
training part with min_freq=2); the sentences are --sentences distinct English sentences of the
held-out test part (a seeded shuffle), num_steps = 10.
Model: d2l.Seq2SeqEncoder/Seq2SeqDecoder, 2 layers, embed_size = num_hiddens = 256, trained briefly
(--train-steps Adam steps of batch 128, 100 by default, seeded) so that it emits <eos> at sensible
lengths like a real model; both rows decode with this same model.
Row (a) re-implements what d2l's predict_seq2seq does per sentence (batch of 1, no torch.no_grad,
one .item() per token); row (b) is chapter 9's predict_seq2seq on the whole list in one call.
The batched run is compute-bound (the output layer is most of the arithmetic), so the speed-up
depends on the target vocabulary size and on how many cores the matmuls get: the table prints the
arithmetic and the achieved GFLOP/s. Timings are only meaningful on an otherwise idle machine.
Prints a markdown table; needs no network (the corpus comes from $D2L_DATA_DIR or the cache).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import d2l_local as d2l  # noqa: E402

NUM_STEPS = 10
D2L_REFERENCE = "d2l one-at-a-time: about 100–140 sentences/s on the 2-core CPU"


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


def decode_gflop(num_sentences, output_lengths, num_steps, E, H, V, num_layers=2):
    """Multiply-adds (x 2) of batched greedy decoding: the encoder over all num_steps positions,
    then one decoder step per generated token (<eos> included; finished sentences leave the batch).
    Returns (total GFLOP, share of the output layer)."""
    def gru(input_size):
        return sum(2 * 3 * H * ((input_size if layer == 0 else H) + H) for layer in range(num_layers))
    encoder = num_sentences * num_steps * gru(E)
    tokens = sum(min(length + 1, num_steps) for length in output_lengths)
    output_layer = tokens * 2 * H * V
    total = encoder + tokens * gru(E + H) + output_layer
    return total / 1e9, output_layer / total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sentences', type=int, default=2000)
    parser.add_argument('--train-steps', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=3, help='batched runs; the best is reported')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s)')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = d2l.try_gpu()
    torch.manual_seed(0)
    train_iter, src_vocab, tgt_vocab, splits = d2l.load_data_nmt_split(
        128, NUM_STEPS, max_tokens=NUM_STEPS)
    sources, _ = d2l.group_references(*splits['test'])
    random.Random(0).shuffle(sources)
    if len(sources) < args.sentences:
        raise SystemExit(f'only {len(sources)} test sentences, asked for {args.sentences}')
    sources = sources[:args.sentences]

    net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(src_vocab), 256, 256, 2),
                             d2l.Seq2SeqDecoder(len(tgt_vocab), 256, 256, 2)).to(device)
    start = time.perf_counter()
    loss = train_briefly(net, train_iter, tgt_vocab, args.train_steps, device)
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    one_by_one = [d2l_style_predict(net, s, src_vocab, tgt_vocab, NUM_STEPS, device) for s in sources]
    loop_rate = len(sources) / (time.perf_counter() - start)

    d2l.predict_seq2seq(net, sources[:64], src_vocab, tgt_vocab, NUM_STEPS, device)  # warm-up
    best = float('inf')
    for _ in range(args.repeats):
        start = time.perf_counter()
        batched, _ = d2l.predict_seq2seq(net, sources, src_vocab, tgt_vocab, NUM_STEPS, device)
        if device.type == 'cuda':
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    batch_rate = len(sources) / best
    same = sum(a == b for a, b in zip(one_by_one, batched))
    lengths = [len(t.split()) for t in batched]

    print(f'device: {device}; torch {torch.__version__}; {torch.get_num_threads()} threads')
    print(f'model: 2-layer GRU seq2seq, E = H = 256, vocab {len(src_vocab)} → {len(tgt_vocab)}, '
          f'trained {args.train_steps} steps of batch 128 ({train_s:.0f} s, last loss {loss:.2f}); '
          f'{len(sources)} held-out sentences, num_steps = {NUM_STEPS}, '
          f'mean output length {sum(lengths) / len(lengths):.1f} words')
    print()
    print('| benchmark | measured | target | reference |')
    print('|---|---|---|---|')
    print(f'| greedy, one sentence at a time (d2l-style loop) | {loop_rate:,.0f} sentences/s | — '
          f'| {D2L_REFERENCE} |')
    print(f'| greedy, batched `predict_seq2seq` (one call, {len(sources)} sentences) '
          f'| {batch_rate:,.0f} sentences/s | ≥ 20× the loop (≈ 2,500/s) | best of {args.repeats} runs |')
    print(f'| speed-up, batched / one at a time | {batch_rate / loop_rate:.1f}× | ≥ 20× | |')
    gflop, output_share = decode_gflop(len(sources), lengths, NUM_STEPS, 256, 256, len(tgt_vocab))
    print(f'| batched decoding: arithmetic, throughput | {gflop:.0f} GFLOP ({output_share:.0%} in the '
          f'256 × {len(tgt_vocab):,} output layer), {gflop / best:.0f} GFLOP/s | — '
          f'| compute-bound: fp32 matmul throughput sets the ceiling |')
    print(f'| identical translations, batched vs one at a time | {same}/{len(sources)} | all | |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
