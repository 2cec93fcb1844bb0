"""Benchmark: the book's three translation models, the same wall-clock budget each, one held-out test set.

    D2L_DATA_DIR=/work/shared/data .venv/bin/python bench/compare.py [--budget 300]
        [--models gru,bahdanau,transformer] [--threads N] [--beam K] [--max-tokens 10] [--min-freq 3]

The models are the book's own classes from d2l_local, unchanged:

* ``gru``: ``d2l.Seq2SeqEncoder`` + ``d2l.Seq2SeqDecoder`` (chapters 4-7, no attention);
* ``bahdanau``: ``d2l.Seq2SeqEncoder`` + ``d2l.Seq2SeqAttentionDecoder`` (chapter 12);
* ``transformer``: ``d2l.TransformerEncoder`` + ``d2l.TransformerDecoder`` (chapter 14).

All of them see the same data: the training part of ``d2l.load_data_nmt_split(seed=0,
max_tokens=...)`` (the whole fra-eng corpus, split by English sentence, sentence pairs with at most
``max_tokens`` tokens on each side; vocabularies from the training part only). Each model trains for a
fixed WALL-CLOCK budget with this script's loop: length-bucketed batches of a fixed token budget,
Adam with a linear warm-up and a linear decay to zero that both follow the clock (the schedule ends
exactly when the budget does), label smoothing, gradient-norm clipping, dropout. Then every model
translates the distinct English sentences of the held-out test part with greedy decoding
(``d2l.predict_seq2seq`` on lists of sentences, i.e. batched) -- or beam search with ``--beam K``
(``d2l.predict_seq2seq_beam``) -- and is scored with ``d2l.corpus_bleu`` against ALL reference
translations of each sentence, in the book's tokenisation (lower-cased ``preprocess_nmt`` + split on
spaces). The script prints every model's configuration and a markdown table.

Seeds are fixed, but a wall-clock budget makes the number of steps (and so the result) depend on the
machine and on its load; the table's footer gives the load average at the start and at the end.
On a GPU (``d2l.try_gpu()``) everything runs on the GPU. No network is needed.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import os
import platform
import random
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import d2l_local as d2l  # noqa: E402

MODEL_NAMES = ('gru', 'bahdanau', 'transformer')
# The names of d2l_local each model needs, and where the book defines them.
REQUIRES = {
    'gru': (('Seq2SeqEncoder', 'Seq2SeqDecoder'), 'chapters 4-5'),
    'bahdanau': (('Seq2SeqEncoder', 'Seq2SeqAttentionDecoder'), 'chapter 12'),
    'transformer': (('TransformerEncoder', 'TransformerDecoder'), 'chapter 14'),
}
EVAL_REQUIRES = ('predict_seq2seq', 'corpus_bleu', 'group_references')  # chapter 9

# The data every model shares.
DATA_DEFAULTS = dict(max_tokens=9, min_freq=5, num_train=None, seed=0)


@dataclasses.dataclass
class TrainConfig:
    """How one model is trained (the model's sizes are in ModelSpec.sizes)."""
    lr: float                    # peak learning rate of Adam
    batch_tokens: int = 4096     # target positions (padding included) per batch
    warmup: float = 0.05         # fraction of the budget spent warming up linearly
    final_lr_frac: float = 0.0   # the learning rate at the end of the budget, relative to lr
    label_smoothing: float = 0.1
    clip: float = 1.0            # gradient-norm clipping threshold
    weight_decay: float = 0.0
    betas: tuple = (0.9, 0.98)
    bucket: bool = True          # batches of similar target length (False: random, padded to num_steps)
    pad_source_to_num_steps: bool = False  # the GRU encoder has no valid_lens: keep its input as in decoding
    init: str = 'xavier'         # 'xavier' (d2l's init of Linear/GRU weights) or 'default' (PyTorch's)


@dataclasses.dataclass
class ModelSpec:
    name: str
    sizes: dict
    train: TrainConfig


def default_specs():
    """The configuration of each model (sizes of the book's classes + the training recipe).

    Chosen by measurement on the 2-core CPU at a budget of a few minutes (see the module docstring):
    at this budget every model is short of updates, so small batches (256 target positions, ~35
    sentence pairs) and small models win."""
    return {
        'gru': ModelSpec('gru', dict(embed_size=256, num_hiddens=256, num_layers=2, dropout=0.2),
                         TrainConfig(lr=3e-3, batch_tokens=256, pad_source_to_num_steps=True)),
        'bahdanau': ModelSpec('bahdanau', dict(embed_size=256, num_hiddens=256, num_layers=1, dropout=0.2),
                              TrainConfig(lr=3e-3, batch_tokens=256, pad_source_to_num_steps=True)),
        'transformer': ModelSpec('transformer', dict(num_hiddens=256, num_layers=2, num_heads=4,
                                                     ffn_num_hiddens=512, dropout=0.0),
                                 TrainConfig(lr=1e-3, batch_tokens=256, init='default')),
    }


def missing_names(model_name):
    names, _ = REQUIRES[model_name]
    return [n for n in names if not hasattr(d2l, n)]


def build_model(spec, src_vocab, tgt_vocab):
    """An EncoderDecoder made of the book's classes, with the sizes in spec.sizes."""
    with warnings.catch_warnings():
        # nn.GRU warns when given dropout with one layer; here a one-layer model means it on purpose
        # (the dropout still acts on the embeddings and the attention weights).
        warnings.filterwarnings('ignore', message='dropout option adds dropout after all but last')
        return _build_model(spec, src_vocab, tgt_vocab)


def _build_model(spec, src_vocab, tgt_vocab):
    s = spec.sizes
    if spec.name == 'gru':
        encoder = d2l.Seq2SeqEncoder(len(src_vocab), s['embed_size'], s['num_hiddens'], s['num_layers'],
                                     s['dropout'])
        decoder = d2l.Seq2SeqDecoder(len(tgt_vocab), s['embed_size'], s['num_hiddens'], s['num_layers'],
                                     s['dropout'])
    elif spec.name == 'bahdanau':
        encoder = d2l.Seq2SeqEncoder(len(src_vocab), s['embed_size'], s['num_hiddens'], s['num_layers'],
                                     s['dropout'])
        decoder = d2l.Seq2SeqAttentionDecoder(len(tgt_vocab), s['embed_size'], s['num_hiddens'],
                                              s['num_layers'], s['dropout'])
    elif spec.name == 'transformer':
        h = s['num_hiddens']
        # d2l's argument lists: key/query/value sizes = num_hiddens, norm_shape = [num_hiddens],
        # ffn_num_input = num_hiddens.
        encoder = d2l.TransformerEncoder(len(src_vocab), h, h, h, h, [h], h, s['ffn_num_hiddens'],
                                         s['num_heads'], s['num_layers'], s['dropout'])
        decoder = d2l.TransformerDecoder(len(tgt_vocab), h, h, h, h, [h], h, s['ffn_num_hiddens'],
                                         s['num_heads'], s['num_layers'], s['dropout'])
    else:
        raise ValueError(f'unknown model {spec.name!r}; choose from {MODEL_NAMES}')
    return d2l.EncoderDecoder(encoder, decoder)


def init_weights(net, how):
    """'xavier': the book's d2l.xavier_init_weights (chapter 7: Xavier-uniform weights of every Linear
    and GRU layer, as d2l's train_seq2seq does); 'default': leave PyTorch's initialisation alone."""
    if how == 'xavier':
        net.apply(d2l.xavier_init_weights)
    elif how != 'default':
        raise ValueError(f"init must be 'xavier' or 'default', got {how!r}")


def num_parameters(net):
    return sum(p.numel() for p in net.parameters())


# ---- data ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class Data:
    """Everything the models share: vocabularies, the training pairs as padded index arrays (one row
    per pair, padded to num_steps; the batches are cut from them), and the test set."""
    src_vocab: object
    tgt_vocab: object
    src: torch.Tensor          # (num_pairs, num_steps), int64
    src_len: torch.Tensor      # (num_pairs,) valid lengths, <eos> included
    tgt: torch.Tensor
    tgt_len: torch.Tensor
    test_sources: list         # distinct English test sentences (str)
    test_references: list      # test_references[i]: every French translation of test_sources[i]
    num_steps: int
    description: str


def data_from_splits(splits, src_vocab, tgt_vocab, num_steps, description):
    """Data from token-list splits (the format of d2l.split_nmt)."""
    src, src_len = d2l.build_array_nmt(splits['train'][0], src_vocab, num_steps)
    tgt, tgt_len = d2l.build_array_nmt(splits['train'][1], tgt_vocab, num_steps)
    sources, references = d2l.group_references(*splits['test'])
    return Data(src_vocab, tgt_vocab, src, src_len, tgt, tgt_len, sources, references, num_steps,
                description)


def load_corpus(max_tokens=10, min_freq=3, num_train=None, seed=0):
    """fra-eng through the book's d2l.load_data_nmt_split: pairs of at most max_tokens tokens on both
    sides, split by English sentence with `seed`; num_steps = max_tokens + 1 (room for <eos>), so
    nothing is truncated."""
    num_steps = max_tokens + 1
    train_iter, src_vocab, tgt_vocab, splits = d2l.load_data_nmt_split(
        64, num_steps, seed=seed, max_tokens=max_tokens, num_train=num_train, min_freq=min_freq)
    src, src_len, tgt, tgt_len = train_iter.dataset.tensors
    sources, references = d2l.group_references(*splits['test'])
    description = (f'fra-eng via d2l.load_data_nmt_split(seed={seed}, max_tokens={max_tokens}, '
                   f'num_train={num_train}, min_freq={min_freq}): {len(src):,} training pairs, '
                   f'vocab {len(src_vocab):,} (en) / {len(tgt_vocab):,} (fr); test: '
                   f'{len(sources):,} distinct English sentences with '
                   f'{sum(map(len, references)):,} references, all of at most {max_tokens} tokens')
    return Data(src_vocab, tgt_vocab, src, src_len, tgt, tgt_len, sources, references, num_steps,
                description)


def make_batches(data, batch_tokens, rng, bucket=True):
    """One epoch of batches, as lists of row indices, in random order.

    bucket=True: pairs sorted by (target length, source length) -- ties in random order -- and cut
    into batches whose padded target size (rows x longest target) stays within batch_tokens, so a batch
    holds sentences of about one length and little padding. bucket=False: random batches of
    batch_tokens // num_steps pairs (d2l's scheme, padded to num_steps)."""
    n = len(data.tgt_len)
    order = list(range(n))
    rng.shuffle(order)
    if not bucket:
        size = max(1, batch_tokens // data.num_steps)
        return [order[i:i + size] for i in range(0, n, size)]
    tgt_len, src_len = data.tgt_len.tolist(), data.src_len.tolist()
    order.sort(key=lambda i: (tgt_len[i], src_len[i]))  # stable: random within equal lengths
    batches, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, tgt_len[i])
        if current and longest_if_added * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest_if_added = [], tgt_len[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def gather_batch(data, rows, cfg, device):
    """(X, X_valid_len, Y, Y_valid_len) for the given rows, on `device`, cut to the longest sentence
    of the batch (the source stays padded to num_steps when cfg.pad_source_to_num_steps), and the
    number of target tokens (an int, counted before the copy: no device synchronisation)."""
    index = torch.tensor(rows, dtype=torch.long)
    src_len, tgt_len = data.src_len[index], data.tgt_len[index]
    if cfg.bucket:
        src_steps = data.num_steps if cfg.pad_source_to_num_steps else int(src_len.max())
        tgt_steps = int(tgt_len.max())
    else:
        src_steps = tgt_steps = data.num_steps
    X = data.src[index, :src_steps]
    Y = data.tgt[index, :tgt_steps]
    batch = tuple(t.to(device, non_blocking=True) for t in (X, src_len, Y, tgt_len))
    return batch, int(tgt_len.sum())


# ---- training ------------------------------------------------------------------------------------

def lr_at(cfg, progress):
    """Linear warm-up over the first cfg.warmup of the budget, then linear decay to
    cfg.final_lr_frac * lr at the end. progress = elapsed / budget in [0, 1]."""
    if cfg.warmup > 0 and progress < cfg.warmup:
        return cfg.lr * max(progress / cfg.warmup, 0.01)
    rest = (progress - cfg.warmup) / max(1e-9, 1 - cfg.warmup)
    return cfg.lr * (1 - (1 - cfg.final_lr_frac) * min(1.0, rest))


def make_optimizer(net, cfg, device):
    kwargs = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.weight_decay:
        return torch.optim.AdamW(net.parameters(), **kwargs)
    try:
        return torch.optim.Adam(net.parameters(), fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):  # an older torch or a device without fused Adam
        return torch.optim.Adam(net.parameters(), **kwargs)


def autocast(device, precision):
    """bf16 mixed precision (weights, optimizer and loss stay float32) or nothing."""
    if precision == 'bf16':
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision != 'fp32':
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    return contextlib.nullcontext()


class ThreadTuner:
    """Picks torch's number of CPU threads while training, from the speed of real training steps.

    On a busy 2-core machine two threads can be several times SLOWER than one (each thread waits for
    the other while other processes hold the cores); on an idle one two are faster. So after a warm-up
    step the steps alternate between the current choice and the other candidate (probe_steps each),
    the one with the least time per batch position wins, and the probe is repeated every `every`
    seconds because the load changes. A candidate more than twice as slow as the current choice ends
    the probe at once. The probe steps are ordinary training steps: nothing is thrown away."""

    def __init__(self, candidates, every=90.0, probe_steps=2):
        self.candidates = list(dict.fromkeys(candidates))
        self.every, self.probe_steps = every, probe_steps
        self.current = self.candidates[0]
        self.queue, self.times, self.next_probe = [], {}, 0.0
        self.seconds_at = {}  # threads -> seconds of training spent with that many

    def before_step(self, elapsed, step):
        if len(self.candidates) > 1 and not self.queue and elapsed >= self.next_probe and step > 0:
            others = [c for c in self.candidates if c != self.current]
            self.queue = [c for _ in range(self.probe_steps) for c in [self.current] + others]
            self.times = {c: [] for c in self.candidates}
        threads = self.queue[0] if self.queue else self.current
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        return threads

    def after_step(self, threads, seconds, positions, elapsed):
        self.seconds_at[threads] = self.seconds_at.get(threads, 0.0) + seconds
        if not self.queue:
            return
        self.queue.pop(0)
        self.times[threads].append(seconds / positions)
        mine = self.times[self.current]
        if threads != self.current and mine and self.times[threads][-1] > 2 * min(mine):
            self.queue = []  # far slower: no need to look further
        if not self.queue:  # the probe is over: the best median time per position wins
            self.current = min((c for c in self.candidates if self.times[c]),
                               key=lambda c: sorted(self.times[c])[(len(self.times[c]) - 1) // 2])
            torch.set_num_threads(self.current)
            self.next_probe = elapsed + self.every

    def finish(self):
        """Back to the best known choice (e.g. for decoding after training)."""
        self.queue = []
        torch.set_num_threads(self.current)

    def summary(self):
        total = sum(self.seconds_at.values()) or 1.0
        used = sorted(self.seconds_at.items(), key=lambda kv: -kv[1])
        return ', '.join(f'{t}: {s / total:.0%}' for t, s in used)


def train_model(net, data, cfg, budget, device, *, epochs=None, precision='fp32', seed=0, max_steps=None,
                threads=None, clock='wall', log=None, log_every=30.0):
    """Trains `net` for `budget` seconds -- or, when `epochs` is given, for that many epochs' worth of
    target tokens, whatever the time (a reproducible amount of work). The learning-rate schedule
    follows the clock (or the tokens), so it always ends with the budget. max_steps stops earlier (for
    tests). threads: a number, or 'auto' (ThreadTuner, CPU only), or None (leave torch's setting).
    clock='wall' measures wall-clock time; clock='process' measures this process's CPU time (with one
    thread: roughly the time on an idle machine, whatever the load -- for development).

    Returns a dict: seconds, steps, epochs (pairs seen / training pairs), tokens (target tokens, <eos>
    included, padding excluded), tokens_per_sec, loss (per-token training loss, label smoothing
    included, over the last 10% of the steps), threads (how the training time was split between thread
    counts)."""
    token_budget = None if epochs is None else epochs * int(data.tgt_len.sum())
    now = {'wall': time.perf_counter, 'process': time.process_time}[clock]
    if device.type != 'cpu' or threads is None:
        tuner = ThreadTuner([torch.get_num_threads()])
    elif threads == 'auto':
        tuner = ThreadTuner([1, os.cpu_count() or 1])  # start with 1: safe on a busy machine
    else:
        tuner = ThreadTuner([int(threads)])
    net.to(device)
    net.train()
    loss_fn = d2l.MaskedSoftmaxCELoss(label_smoothing=cfg.label_smoothing)
    optimizer = make_optimizer(net, cfg, device)
    rng = random.Random(seed)
    bos = data.tgt_vocab['<bos>']
    num_pairs = len(data.tgt_len)
    steps = pairs_seen = tokens = 0
    recent = []  # (loss * tokens, tokens) per step; summed at the end
    start = now()
    next_log = log_every
    elapsed = 0.0
    done = False
    while not done:
        for rows in make_batches(data, cfg.batch_tokens, rng, cfg.bucket):
            elapsed = now() - start
            progress = elapsed / budget if token_budget is None else tokens / token_budget
            if progress >= 1 or (max_steps is not None and steps >= max_steps):
                done = True
                break
            lr = lr_at(cfg, progress)
            for group in optimizer.param_groups:
                group['lr'] = lr
            step_threads = tuner.before_step(elapsed, steps)
            (X, X_valid_len, Y, Y_valid_len), n_tokens = gather_batch(data, rows, cfg, device)
            dec_input = torch.cat([torch.full_like(Y[:, :1], bos), Y[:, :-1]], dim=1)  # teacher forcing
            with autocast(device, precision):
                Y_hat, _ = net(X, dec_input, X_valid_len)
            loss = loss_fn(Y_hat.float(), Y, Y_valid_len)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip:
                nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            optimizer.step()
            recent.append((loss.detach() * n_tokens, n_tokens))
            steps += 1
            pairs_seen += len(rows)
            tokens += n_tokens
            tuner.after_step(step_threads, now() - start - elapsed, Y.numel() + X.numel(), now() - start)
            if log is not None and elapsed >= next_log:
                next_log += log_every
                log(f'    {elapsed:5.0f} s  step {steps:6d}  epoch {pairs_seen / num_pairs:5.2f}  '
                    f'lr {lr:.2e}  loss {loss.detach().item():.3f}  threads {step_threads}')
    if device.type == 'cuda':
        torch.cuda.synchronize()
    seconds = now() - start
    tuner.finish()
    tail = recent[-max(1, len(recent) // 10):] if recent else []
    loss_value = (float(sum(l for l, _ in tail)) / max(1, sum(n for _, n in tail))) if tail else float('nan')
    return dict(seconds=seconds, steps=steps, epochs=pairs_seen / max(1, num_pairs), tokens=tokens,
                tokens_per_sec=tokens / seconds if seconds > 0 else 0.0, loss=loss_value,
                threads=tuner.summary() if device.type == 'cpu' else '-')


# ---- evaluation ----------------------------------------------------------------------------------

def translate(net, sentences, data, device, *, beam_size=None, precision='fp32', chunk=1000):
    """Translations of `sentences` (str, already in the book's tokenisation) with d2l.predict_seq2seq
    (greedy) or d2l.predict_seq2seq_beam (beam_size > 1). The sentences are sorted by length and
    decoded `chunk` at a time (one batch per call), then put back in their order."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i].split()))
    out = [None] * len(sentences)
    for begin in range(0, len(order), chunk):
        part = order[begin:begin + chunk]
        batch = [sentences[i] for i in part]
        with autocast(device, precision):
            if beam_size and beam_size > 1:
                translations, _ = d2l.predict_seq2seq_beam(net, batch, data.src_vocab, data.tgt_vocab,
                                                           data.num_steps, device, beam_size=beam_size)
            else:
                translations, _ = d2l.predict_seq2seq(net, batch, data.src_vocab, data.tgt_vocab,
                                                      data.num_steps, device)
        for i, t in zip(part, translations):
            out[i] = t
    return out


def evaluate(net, data, device, *, beam_size=None, precision='fp32'):
    """Corpus BLEU (in percent) of the test set against all references of each sentence, with greedy
    decoding and, when beam_size > 1, with beam search too. Returns a dict: bleu, seconds (greedy
    decoding + scoring), beam_bleu and beam_seconds (None without beam search), examples (a few
    greedy translations)."""
    start = time.perf_counter()
    hyps = translate(net, data.test_sources, data, device, precision=precision)
    bleu = 100 * d2l.corpus_bleu(hyps, data.test_references)
    seconds = time.perf_counter() - start
    beam_bleu = beam_seconds = None
    if beam_size and beam_size > 1:
        start = time.perf_counter()
        beam_hyps = translate(net, data.test_sources, data, device, beam_size=beam_size, precision=precision)
        beam_bleu = 100 * d2l.corpus_bleu(beam_hyps, data.test_references)
        beam_seconds = time.perf_counter() - start
    examples = [(data.test_sources[i], hyps[i], data.test_references[i][0])
                for i in range(0, len(hyps), max(1, len(hyps) // 5))][:5]
    return dict(bleu=bleu, seconds=seconds, beam_bleu=beam_bleu, beam_seconds=beam_seconds,
                examples=examples)


# ---- the benchmark -------------------------------------------------------------------------------

def describe(spec):
    sizes = ', '.join(f'{k}={v}' for k, v in spec.sizes.items())
    t = spec.train
    recipe = (f'Adam{"W" if t.weight_decay else ""} lr {t.lr:g} (warm-up {t.warmup:.0%} of the budget, '
              f'linear decay to {t.final_lr_frac:g}x), betas {t.betas}, label smoothing {t.label_smoothing}, '
              f'clip {t.clip}, {t.batch_tokens} target positions per batch '
              f'({"length-bucketed" if t.bucket else "random, padded to num_steps"}'
              f'{", source padded to num_steps" if t.pad_source_to_num_steps else ""}), init {t.init}')
    return f'{sizes}; {recipe}'


def run_one(spec, data, budget, device, *, epochs=None, precision='fp32', seed=0, max_steps=None,
            threads=None, clock='wall', beam_size=None, log=print):
    """Builds, trains and evaluates one model; returns a row (dict) of the table."""
    torch.manual_seed(seed)
    net = build_model(spec, data.src_vocab, data.tgt_vocab)
    init_weights(net, spec.train.init)
    if log:
        log(f'{spec.name}: {num_parameters(net):,} parameters; {describe(spec)}')
    result = train_model(net, data, spec.train, budget, device, epochs=epochs, precision=precision,
                         seed=seed, max_steps=max_steps, threads=threads, clock=clock, log=log)
    if log:
        log(f'{spec.name}: trained {result["seconds"]:.0f} s, {result["steps"]} steps, '
            f'{result["epochs"]:.2f} epochs, final loss {result["loss"]:.3f}; decoding the test set ...')
    evaluation = evaluate(net, data, device, beam_size=beam_size, precision=precision)
    if log:
        for src, hyp, ref in evaluation['examples']:
            log(f'    {src}  =>  {hyp}   [ref: {ref}]')
    return dict(model=spec.name, params=num_parameters(net), config=describe(spec), **result,
                bleu=evaluation['bleu'], eval_seconds=evaluation['seconds'],
                beam_bleu=evaluation['beam_bleu'], beam_seconds=evaluation['beam_seconds'])


def format_table(rows, caption='', beam_size=None):
    """The markdown table: one row per model (with beam-search columns when beam_size > 1)."""
    beam = bool(beam_size and beam_size > 1)
    lines = [caption, ''] if caption else []
    header = ('| model | parameters | training time | steps | epochs | target tokens/s | train loss '
              '| test BLEU, greedy | decoding time |')
    rule = '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
    if beam:
        header += f' test BLEU, beam {beam_size} | beam decoding time |'
        rule += '---:|---:|'
    lines += [header + ' CPU threads (share of training time) |', rule + '---|']
    for r in rows:
        line = (f"| {r['model']} | {r['params'] / 1e6:.1f} M | {r['seconds']:.0f} s | {r['steps']:,} "
                f"| {r['epochs']:.2f} | {r['tokens_per_sec']:,.0f} | {r['loss']:.2f} "
                f"| {r['bleu']:.1f} | {r['eval_seconds']:.1f} s |")
        if beam:
            line += f" {r['beam_bleu']:.1f} | {r['beam_seconds']:.1f} s |"
        lines.append(line + f" {r.get('threads', '-')} |")
    return '\n'.join(lines)


def load_average():
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return (float('nan'),) * 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--budget', type=float, default=300.0, help='training seconds per model (wall clock)')
    parser.add_argument('--models', default=','.join(MODEL_NAMES),
                        help=f'comma-separated, from {",".join(MODEL_NAMES)}')
    parser.add_argument('--threads', default='auto',
                        help="CPU threads for torch: a number, or 'auto' (default: while training, measure "
                             "1 thread against all cores on real steps, now and then, and use the faster)")
    parser.add_argument('--clock', choices=('wall', 'process'), default='wall',
                        help="what --budget measures: wall-clock time (default) or this process's CPU "
                             "time (with --threads 1: about the time on an idle machine; for development)")
    parser.add_argument('--beam', type=int, default=4,
                        help='beam size of the second evaluation, with d2l.predict_seq2seq_beam '
                             '(default 4; 1: greedy decoding only)')
    parser.add_argument('--precision', choices=('bf16', 'fp32'), default='bf16',
                        help='bf16: mixed precision (torch.autocast, float32 weights); fp32: float32 throughout')
    parser.add_argument('--epochs', type=float, default=None,
                        help='train for this many epochs of target tokens instead of --budget seconds '
                             '(a reproducible amount of work, for comparing settings)')
    parser.add_argument('--max-tokens', type=int, default=DATA_DEFAULTS['max_tokens'])
    parser.add_argument('--min-freq', type=int, default=DATA_DEFAULTS['min_freq'])
    parser.add_argument('--num-train', type=int, default=DATA_DEFAULTS['num_train'])
    parser.add_argument('--seed', type=int, default=DATA_DEFAULTS['seed'],
                        help='seed of the models and batches (the split always uses seed 0)')
    parser.add_argument('--set', action='append', default=[], metavar='MODEL.KEY=VALUE',
                        help='override a size or training setting, e.g. --set gru.num_hiddens=256 '
                             '--set transformer.lr=5e-4 --set all.bucket=False (repeatable)')
    return parser.parse_args(argv)


def apply_overrides(specs, overrides):
    """--set MODEL.KEY=VALUE (MODEL may be 'all'): KEY is a size of the model or a TrainConfig field."""
    for item in overrides:
        target, _, value = item.partition('=')
        model, _, key = target.partition('.')
        if not key or not value:
            raise SystemExit(f'--set expects MODEL.KEY=VALUE, got {item!r}')
        if model != 'all' and model not in specs:
            raise SystemExit(f'--set: unknown model {model!r}; choose from {", ".join(specs)} or all')
        try:
            parsed = ast.literal_eval(value)  # numbers, booleans, tuples, quoted strings
        except (ValueError, SyntaxError):
            parsed = value  # a bare word, e.g. all.init=default
        train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
        changed = 0
        for name in (specs if model == 'all' else [model]):
            spec = specs[name]
            if key in train_keys:
                setattr(spec.train, key, parsed)
            elif key in spec.sizes:  # with 'all': only the models that have this size
                spec.sizes[key] = parsed
            else:
                continue
            changed += 1
        if not changed:
            raise SystemExit(f'--set: no setting {key!r} in {model}; sizes: '
                             f'{sorted(set().union(*(s.sizes for s in specs.values())))}, '
                             f'training: {sorted(train_keys)}')
    return specs


def main(argv=None):
    args = parse_args(argv)
    if args.threads != 'auto':
        torch.set_num_threads(int(args.threads))
    if args.clock == 'process' and torch.get_num_threads() != 1:
        raise SystemExit('--clock process needs --threads 1 (CPU time of several threads is not a budget)')
    models = [m.strip() for m in args.models.split(',') if m.strip()]
    for m in models:
        if m not in MODEL_NAMES:
            raise SystemExit(f'unknown model {m!r}; choose from {", ".join(MODEL_NAMES)}')
    missing_eval = [n for n in EVAL_REQUIRES if not hasattr(d2l, n)]
    if missing_eval:
        raise SystemExit(f'd2l_local has no {", ".join(missing_eval)} (chapter 9) yet: '
                         'regenerate it with `python -m booktools.extract`')
    specs = apply_overrides(default_specs(), args.set)
    device = d2l.try_gpu()
    load_start = load_average()
    wall_start = time.perf_counter()
    data = load_corpus(args.max_tokens, args.min_freq, args.num_train, seed=0)
    print(data.description, flush=True)
    rows, skipped = [], []
    for name in models:
        missing = missing_names(name)
        if missing:
            skipped.append(f'{name} (d2l_local has no {", ".join(missing)} yet: {REQUIRES[name][1]})')
            print(f'{name}: skipped, {skipped[-1]}', flush=True)
            continue
        rows.append(run_one(specs[name], data, args.budget, device, epochs=args.epochs,
                            precision=args.precision, seed=args.seed, threads=args.threads,
                            clock=args.clock, beam_size=args.beam, log=lambda s: print(s, flush=True)))
    load_end = load_average()
    decoding = 'greedy decoding (`d2l.predict_seq2seq`)'
    if args.beam and args.beam > 1:
        decoding += f' and of beam search (beam size {args.beam}, `d2l.predict_seq2seq_beam`)'
    amount = (f'{args.epochs:g} epochs' if args.epochs is not None else
              f'{args.budget:g} s' + (' of CPU time' if args.clock == 'process' else ''))
    caption = (f'**{len(rows)} translation models, {amount} of training each, {args.precision}** '
               f'(fra-eng; test set: the held-out test part of '
               f'`load_data_nmt_split(seed=0, max_tokens={args.max_tokens})`, i.e. only pairs with at most '
               f'{args.max_tokens} tokens on both sides, the same filter as for training: '
               f'{len(data.test_sources):,} distinct English sentences, each scored against all its '
               f'{sum(map(len, data.test_references)):,} references; corpus BLEU (`d2l.corpus_bleu`) of '
               f'{decoding}, in batches)')
    print()
    print('Configurations:')
    for r in rows:
        print(f"- {r['model']}: {r['config']}")
    print()
    print(format_table(rows, caption, args.beam))
    print()
    print(f'device {device}; torch {torch.__version__}; {torch.get_num_threads()} threads; '
          f'{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); '
          f'load average (1 min) {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end; '
          f'total wall time {time.perf_counter() - wall_start:.0f} s')
    if skipped:
        print('skipped: ' + '; '.join(skipped))
    return 0


if __name__ == '__main__':
    sys.exit(main())
