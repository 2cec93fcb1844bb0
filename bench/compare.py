"""Benchmark: the book's three translation models, the same training budget each, one held-out test set.

    D2L_DATA_DIR=/work/shared/data .venv/bin/python bench/compare.py [--budget 300]
        [--models gru,bahdanau,transformer] [--threads auto] [--precision auto] [--beam 4]

A table printer over the book's own code; it has no training loop of its own. The models are the
book's classes from d2l_local, unchanged:

* ``gru``: ``d2l.Seq2SeqEncoder`` + ``d2l.Seq2SeqDecoder`` (chapters 4-7, no attention);
* ``bahdanau``: ``d2l.Seq2SeqEncoder`` + ``d2l.Seq2SeqAttentionDecoder`` (chapter 12);
* ``transformer``: ``d2l.TransformerEncoder`` + ``d2l.TransformerDecoder`` (chapter 14).

All of them see the same data: the training part of ``d2l.load_data_nmt_split(seed=0,
max_tokens=...)`` (the whole fra-eng corpus, split by English sentence, pairs with at most
``max_tokens`` tokens on each side; vocabularies from the training part only). Each model is trained
by ``d2l.train_seq2seq`` with chapter 16's recipe: ``d2l.TokenBatches`` (length-bucketed batches of
a token budget), a learning rate that warms up and decays linearly to zero exactly when the budget
(wall-clock seconds by default) ends, label smoothing, gradient clipping, mixed precision where the
machine gains from it (``precision='auto'``), threads chosen while training (``cpu_threads='auto'``).
Then every model translates the distinct English sentences of the held-out test part
(``d2l.translate_all``: greedy, batched; beam search with ``--beam K``) and is scored with
``d2l.corpus_bleu`` against ALL reference translations of each sentence, in the book's tokenisation.

Seeds are fixed, but a wall-clock budget makes the number of steps (and so the result) depend on the
machine and on its load; the table's footer gives the load average at the start and at the end.
On a GPU (``d2l.try_gpu()``) everything runs on the GPU. No network is needed.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import d2l_local as d2l  # noqa: E402

MODEL_NAMES = ('gru', 'bahdanau', 'transformer')
# The names of d2l_local each model needs, and where the book defines them.
REQUIRES = {
    'gru': (('Seq2SeqEncoder', 'Seq2SeqDecoder'), 'chapters 4-5'),
    'bahdanau': (('Seq2SeqEncoder', 'Seq2SeqAttentionDecoder'), 'chapter 12'),
    'transformer': (('TransformerEncoder', 'TransformerDecoder'), 'chapter 14'),
}
# chapter 9 (evaluation) and chapter 16 (the recipe)
EVAL_REQUIRES = ('corpus_bleu', 'group_references', 'TokenBatches', 'translate_all', 'RecipeResult')

# The data every model shares.
DATA_DEFAULTS = dict(max_tokens=9, min_freq=5, num_train=None, seed=0)


@dataclasses.dataclass
class TrainConfig:
    """How one model is trained: the recipe options of d2l.train_seq2seq (sizes are in ModelSpec)."""
    lr: float                    # peak learning rate of Adam
    batch_tokens: int = 256      # target positions (padding included) per batch: d2l.TokenBatches
    schedule: str = 'linear'     # 'linear' (warm-up, then linear decay to 0 at the budget's end), 'constant', 'noam'
    warmup: float = 0.05         # 'linear': fraction of the budget spent warming up; 'noam': warm-up steps
    label_smoothing: float = 0.1
    clip: float = 1.0            # gradient-norm clipping threshold (train_seq2seq's theta)
    betas: tuple = (0.9, 0.98)
    bucket: bool = True          # length buckets (False: random batches, padded to num_steps)
    pad_source_to_num_steps: bool = False  # the GRU encoder has no valid_lens: keep its input as in decoding
    init: str = 'xavier'         # 'xavier' (chapter 7's init of Linear/GRU weights) or 'default' (the model's own)
    tie: bool = False            # share the target embedding and the output layer (d2l.tie_weights)


@dataclasses.dataclass
class ModelSpec:
    name: str
    sizes: dict
    train: TrainConfig


def default_specs():
    """The configuration of each model (sizes of the book's classes + the training recipe).

    Chosen by measurement on the 2-core CPU at a budget of a few minutes: at this budget every model
    is short of updates, so small batches (256 target positions, ~35 sentence pairs) and small models
    win."""
    return {
        'gru': ModelSpec('gru', dict(embed_size=256, num_hiddens=256, num_layers=2, dropout=0.2),
                         TrainConfig(lr=3e-3, pad_source_to_num_steps=True)),
        'bahdanau': ModelSpec('bahdanau', dict(embed_size=256, num_hiddens=256, num_layers=1, dropout=0.2),
                              TrainConfig(lr=3e-3, pad_source_to_num_steps=True)),
        'transformer': ModelSpec('transformer', dict(num_hiddens=256, num_layers=2, num_heads=4,
                                                     ffn_num_hiddens=512, dropout=0.0),
                                 TrainConfig(lr=1e-3, init='default')),
    }


def missing_names(model_name):
    names, _ = REQUIRES[model_name]
    return [n for n in names if not hasattr(d2l, n)]


def build_model(spec, src_vocab, tgt_vocab):
    """An EncoderDecoder made of the book's classes, with the sizes in spec.sizes."""
    s = spec.sizes
    with warnings.catch_warnings():
        # nn.GRU warns when given dropout with one layer; here a one-layer model means it on purpose
        # (the dropout still acts on the embeddings and the attention weights).
        warnings.filterwarnings('ignore', message='dropout option adds dropout after all but last')
        if spec.name in ('gru', 'bahdanau'):
            decoder_class = d2l.Seq2SeqDecoder if spec.name == 'gru' else d2l.Seq2SeqAttentionDecoder
            encoder = d2l.Seq2SeqEncoder(len(src_vocab), s['embed_size'], s['num_hiddens'], s['num_layers'],
                                         s['dropout'])
            decoder = decoder_class(len(tgt_vocab), s['embed_size'], s['num_hiddens'], s['num_layers'],
                                    s['dropout'])
        elif spec.name == 'transformer':
            h = s['num_hiddens']  # d2l's argument lists: key/query/value sizes, norm_shape, ffn input
            encoder = d2l.TransformerEncoder(len(src_vocab), h, h, h, h, [h], h, s['ffn_num_hiddens'],
                                             s['num_heads'], s['num_layers'], s['dropout'])
            decoder = d2l.TransformerDecoder(len(tgt_vocab), h, h, h, h, [h], h, s['ffn_num_hiddens'],
                                             s['num_heads'], s['num_layers'], s['dropout'])
        else:
            raise ValueError(f'unknown model {spec.name!r}; choose from {MODEL_NAMES}')
    net = d2l.EncoderDecoder(encoder, decoder)
    return d2l.tie_weights(net) if spec.train.tie else net


def num_parameters(net):
    return sum(p.numel() for p in net.parameters())


# ---- data ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class Data:
    """Everything the models share: vocabularies, the training pairs as padded index arrays (one row
    per pair, padded to num_steps: d2l.TokenBatches cuts the batches from them), and the test set."""
    src_vocab: object
    tgt_vocab: object
    arrays: tuple              # (X, X_valid_len, Y, Y_valid_len), as d2l.build_array_nmt makes them
    test_sources: list         # distinct English test sentences (str)
    test_references: list      # test_references[i]: every French translation of test_sources[i]
    num_steps: int
    description: str


def data_from_splits(splits, src_vocab, tgt_vocab, num_steps, description):
    """Data from token-list splits (the format of d2l.split_nmt)."""
    src, src_len = d2l.build_array_nmt(splits['train'][0], src_vocab, num_steps)
    tgt, tgt_len = d2l.build_array_nmt(splits['train'][1], tgt_vocab, num_steps)
    sources, references = d2l.group_references(*splits['test'])
    return Data(src_vocab, tgt_vocab, (src, src_len, tgt, tgt_len), sources, references, num_steps,
                description)


def load_corpus(max_tokens=10, min_freq=3, num_train=None, seed=0):
    """fra-eng through the book's d2l.load_data_nmt_split: pairs of at most max_tokens tokens on both
    sides, split by English sentence with `seed`; num_steps = max_tokens + 1 (room for <eos>), so
    nothing is truncated."""
    num_steps = max_tokens + 1
    train_iter, src_vocab, tgt_vocab, splits = d2l.load_data_nmt_split(
        64, num_steps, seed=seed, max_tokens=max_tokens, num_train=num_train, min_freq=min_freq)
    sources, references = d2l.group_references(*splits['test'])
    arrays = train_iter.dataset.tensors
    description = (f'fra-eng via d2l.load_data_nmt_split(seed={seed}, max_tokens={max_tokens}, '
                   f'num_train={num_train}, min_freq={min_freq}): {len(arrays[0]):,} training pairs, '
                   f'vocab {len(src_vocab):,} (en) / {len(tgt_vocab):,} (fr); test: '
                   f'{len(sources):,} distinct English sentences with '
                   f'{sum(map(len, references)):,} references, all of at most {max_tokens} tokens')
    return Data(src_vocab, tgt_vocab, arrays, sources, references, num_steps, description)


# ---- one row of the table ------------------------------------------------------------------------

def describe(spec):
    sizes = ', '.join(f'{k}={v}' for k, v in spec.sizes.items())
    t = spec.train
    schedule = {'linear': f'warm-up {t.warmup:.0%} of the budget, linear decay to 0',
                'constant': 'constant', 'noam': f'Noam, {t.warmup} warm-up steps'}.get(t.schedule, t.schedule)
    recipe = (f'Adam lr {t.lr:g} ({schedule}), betas {t.betas}, label smoothing {t.label_smoothing}, '
              f'clip {t.clip}, {t.batch_tokens} target positions per batch '
              f'({"length-bucketed" if t.bucket else "random, padded to num_steps"}'
              f'{", source padded to num_steps" if t.pad_source_to_num_steps else ""}), init {t.init}'
              f'{", tied embedding/output" if t.tie else ""}')
    return f'{sizes}; {recipe}'


def run_one(spec, data, budget, device, *, epochs=None, precision='auto', seed=0, max_steps=None,
            threads='auto', clock='wall', beam_size=None, log=print):
    """Builds, trains (d2l.train_seq2seq) and scores (d2l.translate_all, d2l.corpus_bleu) one model.

    budget: training seconds (by `clock`); epochs: instead, that many epochs of batches (a
    reproducible amount of work); max_steps: stop earlier (tests). Returns a row (dict) of the table."""
    cfg = spec.train
    torch.manual_seed(seed)
    net = build_model(spec, data.src_vocab, data.tgt_vocab)
    batches = d2l.TokenBatches(data.arrays, cfg.batch_tokens, bucket=cfg.bucket,
                               trim_source=not cfg.pad_source_to_num_steps, seed=seed)
    steps = max_steps
    if epochs is not None:  # a number of steps instead of seconds
        steps = max(1, round(epochs * len(batches)))
        if max_steps is not None:
            steps = min(steps, max_steps)
    if log:
        log(f'{spec.name}: {num_parameters(net):,} parameters; {describe(spec)}')
    result = d2l.train_seq2seq(
        net, batches, cfg.lr, None, data.tgt_vocab, device, theta=cfg.clip, plot=False,
        cpu_threads=threads, schedule=cfg.schedule, warmup=cfg.warmup, max_steps=steps,
        time_budget=None if epochs is not None else budget, clock=clock,
        label_smoothing=cfg.label_smoothing, precision=precision, betas=tuple(cfg.betas),
        init='xavier' if cfg.init == 'xavier' else None)
    row = dict(model=spec.name, params=num_parameters(net), config=describe(spec), seconds=result.seconds,
               steps=result.steps, epochs=result.epochs_seen, tokens=result.tokens,
               tokens_per_sec=result.tokens_per_sec, loss=result.loss, precision=result.precision,
               threads=result.threads or '-')
    if log:
        log(f'{spec.name}: trained {result.seconds:.0f} s, {result.steps} steps, {result.epochs_seen:.2f} '
            f'epochs, {result.precision}; decoding the test set ...')
    start = time.perf_counter()
    hyps = d2l.translate_all(net, data.test_sources, data.src_vocab, data.tgt_vocab, data.num_steps, device,
                             precision=result.precision)
    row['bleu'] = 100 * d2l.corpus_bleu(hyps, data.test_references)
    row['eval_seconds'] = time.perf_counter() - start
    row['beam_bleu'] = row['beam_seconds'] = None
    if beam_size and beam_size > 1:
        start = time.perf_counter()
        row['beam_bleu'] = d2l.evaluate_bleu(net, data.test_sources, data.test_references, data.src_vocab,
                                             data.tgt_vocab, data.num_steps, device, beam_size=beam_size,
                                             precision=result.precision)
        row['beam_seconds'] = time.perf_counter() - start
    if log:
        for i in range(0, len(hyps), max(1, len(hyps) // 5))[:5]:
            log(f'    {data.test_sources[i]}  =>  {hyps[i]}   [ref: {data.test_references[i][0]}]')
    return row


def format_table(rows, caption='', beam_size=None):
    """The markdown table: one row per model (with beam-search columns when beam_size > 1)."""
    beam = bool(beam_size and beam_size > 1)
    lines = [caption, ''] if caption else []
    header = ('| model | parameters | precision | training time | steps | epochs | target tokens/s '
              '| train loss | test BLEU, greedy | decoding time |')
    rule = '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|'
    if beam:
        header += f' test BLEU, beam {beam_size} | beam decoding time |'
        rule += '---:|---:|'
    lines += [header + ' CPU threads (share of training time) |', rule + '---|']
    for r in rows:
        line = (f"| {r['model']} | {r['params'] / 1e6:.1f} M | {r['precision']} | {r['seconds']:.0f} s "
                f"| {r['steps']:,} | {r['epochs']:.2f} | {r['tokens_per_sec']:,.0f} | {r['loss']:.2f} "
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
    parser.add_argument('--budget', type=float, default=300.0, help='training seconds per model (see --clock)')
    parser.add_argument('--models', default=','.join(MODEL_NAMES),
                        help=f'comma-separated, from {",".join(MODEL_NAMES)}')
    parser.add_argument('--threads', default='auto',
                        help="CPU threads for torch: a number, or 'auto' (default: while training, measure "
                             "1 thread against all cores on real steps, now and then, and use the faster)")
    parser.add_argument('--clock', choices=('wall', 'process'), default='wall',
                        help="what --budget measures: wall-clock time (default) or this process's CPU "
                             "time (with --threads 1: about the time on an idle machine; for development)")
    parser.add_argument('--beam', type=int, default=4,
                        help='beam size of the second evaluation (default 4; 1: greedy decoding only)')
    parser.add_argument('--precision', choices=('auto', 'bf16', 'fp16', 'fp32'), default='auto',
                        help="auto (default): bf16 where this machine computes it faster (GPUs, CPUs with "
                             "native bf16), else fp32 (fp16 on GPUs without bf16); see d2l.resolve_precision")
    parser.add_argument('--epochs', type=float, default=None,
                        help='train for this many epochs of batches instead of --budget seconds '
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
    threads = args.threads if args.threads == 'auto' else int(args.threads)
    if threads != 'auto':
        torch.set_num_threads(threads)  # for decoding too (train_seq2seq sets it while training)
    if args.clock == 'process' and threads != 1:
        raise SystemExit('--clock process needs --threads 1 (CPU time of several threads is not a budget)')
    models = [m.strip() for m in args.models.split(',') if m.strip()]
    for m in models:
        if m not in MODEL_NAMES:
            raise SystemExit(f'unknown model {m!r}; choose from {", ".join(MODEL_NAMES)}')
    missing_eval = [n for n in EVAL_REQUIRES if not hasattr(d2l, n)]
    if missing_eval:
        raise SystemExit(f'd2l_local has no {", ".join(missing_eval)} (chapters 9 and 16) yet: '
                         'regenerate it with `python -m booktools.extract`')
    specs = apply_overrides(default_specs(), args.set)
    device = d2l.try_gpu()
    load_start = load_average()
    wall_start = time.perf_counter()
    data = load_corpus(args.max_tokens, args.min_freq, args.num_train, seed=0)
    print(data.description, flush=True)
    print(f"precision {args.precision!r} -> {d2l.resolve_precision(args.precision, device)!r} on {device}"
          + (f' (bf16 matmul / fp32 matmul speed on this CPU: {d2l.cpu_bf16_speedup():.2f})'
             if device.type == 'cpu' else ''), flush=True)
    rows, skipped = [], []
    for name in models:
        missing = missing_names(name)
        if missing:
            skipped.append(f'{name} (d2l_local has no {", ".join(missing)} yet: {REQUIRES[name][1]})')
            print(f'{name}: skipped, {skipped[-1]}', flush=True)
            continue
        rows.append(run_one(specs[name], data, args.budget, device, epochs=args.epochs,
                            precision=args.precision, seed=args.seed, threads=threads,
                            clock=args.clock, beam_size=args.beam, log=lambda s: print(s, flush=True)))
    load_end = load_average()
    decoding = 'greedy decoding (`d2l.translate_all`)'
    if args.beam and args.beam > 1:
        decoding += f' and of beam search (beam size {args.beam})'
    amount = (f'{args.epochs:g} epochs' if args.epochs is not None else
              f'{args.budget:g} s' + (' of CPU time' if args.clock == 'process' else ''))
    caption = (f'**{len(rows)} translation models, {amount} of training each, precision {args.precision}** '
               f'(fra-eng; test set: the held-out test part of '
               f'`load_data_nmt_split(seed=0, max_tokens={args.max_tokens})`, i.e. only pairs with at most '
               f'{args.max_tokens} tokens on both sides, the same filter as for training: '
               f'{len(data.test_sources):,} distinct English sentences, each scored against all its '
               f'{sum(map(len, data.test_references)):,} references; corpus BLEU (`d2l.corpus_bleu`) of '
               f'{decoding}, in batches; train loss: per token, label smoothing included, over the last '
               f'(partial) epoch)')
    print()
    print('Configurations:')
    for r in rows:
        print(f"- {r['model']}: {r['config']}")
    print()
    print(format_table(rows, caption, args.beam))
    print()
    print(f'device {device}; torch {torch.__version__}; {os.cpu_count()} CPUs '
          f'({platform.processor() or platform.machine()}); '
          f'load average (1 min) {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end; '
          f'total wall time {time.perf_counter() - wall_start:.0f} s')
    if skipped:
        print('skipped: ' + '; '.join(skipped))
    return 0


if __name__ == '__main__':
    sys.exit(main())
