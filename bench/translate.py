"""Benchmark: the capstone's translators (chapter 18) and the same recipe on fra-eng, a CPU-time budget each.

    D2L_DATA_DIR=/work/shared/data .venv/bin/python -m bench.translate [--budget 300] [--threads 1]
        [--directions en-zh,zh-en,fra-eng] [--clock process] [--out bench/results/translate-DATE.md]

A table printer over the book's own code, no training loop of its own:

* en-zh and zh-en: chapter 17's bundled English-Chinese corpus (``d2l.read_data_cmn``, OpenCC
  simplified, ``d2l.split_cmn``: no test sentence on either side seen in training), English by
  ``d2l.BPETokenizer`` (lower-cased, learned on the distinct training sentences), Chinese by
  characters (``d2l.CharTokenizer``), ``d2l.build_translation_data`` and
  ``d2l.transformer_translator`` (chapter 18: chapter 14's Transformer with tied output/embedding);
* fra-eng: ``bench.compare``'s data (``d2l.load_data_nmt_split``, the book's word tokenisation) and
  the same Transformer and recipe.

Each model is trained by ``d2l.train_seq2seq`` with chapter 16's recipe (``d2l.TokenBatches``, warm-up
then linear decay that ends with the budget, label smoothing 0.1, Adam betas (0.9, 0.98)) for
``--budget`` seconds of ``--clock`` time. ``process`` (the default) is this process's CPU time, so the
other users of a shared machine disturb the budget less (they still slow every step down: the load
average is printed). The held-out test split is translated greedily (``d2l.predict_seq2seq``, batched)
and scored with ONE reference per test pair:

* en-zh: ``d2l.sacre_bleu(..., tokenize='zh')``; zh-en: ``tokenize='13a', lowercase=True`` on the
  detokenised English; both equal ``sacrebleu.corpus_bleu`` (checked when sacrebleu is installed);
* fra-eng: ``d2l.corpus_bleu`` in the book's tokenisation with the first reference of each distinct
  English sentence, and (the figure ``bench.compare`` reports) with all of its references.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import d2l_local as d2l  # noqa: E402

TARGETS = {'en-zh': 35.0, 'zh-en': 32.0, 'fra-eng': 40.0}   # issue 14
# The model and recipe of every row (chosen on this machine, see bench/README.md).
SIZES = dict(num_hiddens=256, num_layers=2, num_heads=4, ffn_num_hiddens=512, dropout=0.1)
RECIPE = dict(lr=1e-3, batch_tokens=256, warmup=0.05, label_smoothing=0.1, betas=(0.9, 0.98))
NUM_STEPS = 32
EN_BPE_VOCAB = 4000


def load_average():
    try:
        return '/'.join(f'{x:.1f}' for x in os.getloadavg())
    except OSError:
        return 'n/a'


def train(arrays, src_vocab, tgt_vocab, args, device, seed=0):
    """chapter 18's model, chapter 16's recipe; returns (net, d2l.RecipeResult)."""
    torch.manual_seed(seed)
    net = d2l.transformer_translator(src_vocab, tgt_vocab, **SIZES)
    batches = d2l.TokenBatches(arrays, RECIPE['batch_tokens'], trim_source=True, seed=seed)
    result = d2l.train_seq2seq(net, batches, RECIPE['lr'], None, tgt_vocab, device, plot=False,
                               cpu_threads=args.threads, schedule='linear', warmup=RECIPE['warmup'],
                               time_budget=args.budget, clock=args.clock, max_steps=args.max_steps,
                               label_smoothing=RECIPE['label_smoothing'], precision=args.precision,
                               betas=RECIPE['betas'], init=None)
    return net, result


def sacrebleu_score(hyps, refs, tokenize, lowercase):
    try:
        import sacrebleu
    except ImportError:
        return None
    return sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize, lowercase=lowercase).score


def run_cmn(direction, args, device, log):
    pairs = d2l.preprocess_cmn(d2l.parse_cmn(d2l.read_data_cmn()))
    splits = d2l.split_cmn(pairs, seed=0)
    train_pairs, test_pairs = splits['train'], splits['test']
    en_tok = d2l.BPETokenizer.learn(list(dict.fromkeys(en for en, _ in train_pairs)),
                                    vocab_size=EN_BPE_VOCAB, lowercase=True)
    zh_tok = d2l.CharTokenizer()
    source = direction.split('-')[0]
    src_tok, tgt_tok = (en_tok, zh_tok) if source == 'en' else (zh_tok, en_tok)
    arrays, src_vocab, tgt_vocab = d2l.build_translation_data(train_pairs, source, src_tok, tgt_tok, NUM_STEPS)
    net, result = train(arrays, src_vocab, tgt_vocab, args, device)
    sources = [en if source == 'en' else zh for en, zh in test_pairs]
    refs = [zh if source == 'en' else en for en, zh in test_pairs]
    start = time.process_time()
    hyps, _ = d2l.predict_seq2seq(net, sources, src_vocab, tgt_vocab, NUM_STEPS, device,
                                  src_tokenizer=src_tok, tgt_tokenizer=tgt_tok)
    decode = time.process_time() - start
    tokenize, lowercase = ('zh', False) if source == 'en' else ('13a', True)
    bleu = d2l.sacre_bleu(hyps, refs, tokenize=tokenize, lowercase=lowercase)
    for i in range(0, len(hyps), len(hyps) // 5)[:5]:
        log(f'    {sources[i]}  =>  {hyps[i]}   [ref: {refs[i]}]')
    metric = f"sacre_bleu tokenize='{tokenize}'" + (', lowercase' if lowercase else '')
    return dict(direction=direction, data=f'cmn-eng: {len(arrays[0]):,} training pairs, {len(test_pairs):,} test pairs',
                vocab=f'{len(src_vocab):,} / {len(tgt_vocab):,}', result=result, decode=decode, bleu=bleu,
                metric=metric, sacrebleu=sacrebleu_score(hyps, refs, tokenize, lowercase), params=net)


def run_fra(args, device, log):
    from bench import compare
    data = compare.load_corpus(**compare.DATA_DEFAULTS)
    net, result = train(data.arrays, data.src_vocab, data.tgt_vocab, args, device)
    start = time.process_time()
    hyps, _ = d2l.predict_seq2seq(net, data.test_sources, data.src_vocab, data.tgt_vocab, data.num_steps, device)
    decode = time.process_time() - start
    single = 100 * d2l.corpus_bleu(hyps, [refs[0] for refs in data.test_references])
    every = 100 * d2l.corpus_bleu(hyps, data.test_references)
    for i in range(0, len(hyps), len(hyps) // 5)[:5]:
        log(f'    {data.test_sources[i]}  =>  {hyps[i]}   [ref: {data.test_references[i][0]}]')
    return dict(direction='fra-eng (en→fr)', data=data.description.split(':')[0] + f': {len(data.arrays[0]):,} '
                f'training pairs, {len(hyps):,} distinct test sentences',
                vocab=f'{len(data.src_vocab):,} / {len(data.tgt_vocab):,}', result=result, decode=decode,
                bleu=single, metric='d2l.corpus_bleu, book tokenisation, first reference',
                sacrebleu=None, every=every, params=net)


def format_table(rows, args):
    lines = ['| direction | BLEU | target | reached | metric | steps | epochs | train s | decode CPU s '
             '| tokens/s | vocab (src / tgt) |',
             '|---|---:|---:|:---:|---|---:|---:|---:|---:|---:|---|']
    for row in rows:
        r = row['result']
        key = row['direction'].split(' ')[0]
        target = TARGETS[key]
        lines.append(f"| {row['direction']} | {row['bleu']:.2f} | {target:g} | {'yes' if row['bleu'] >= target else 'no'} "
                     f"| {row['metric']} | {r.steps:,} | {r.epochs_seen:.2f} | {r.seconds:.0f} ({args.clock}) "
                     f"| {row['decode']:.1f} | {r.tokens_per_sec:,.0f} | {row['vocab']} |")
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--budget', type=float, default=300.0, help='training seconds per model (default 300)')
    parser.add_argument('--clock', choices=('process', 'wall'), default='process',
                        help="'process': this process's CPU time (default); 'wall': wall-clock time")
    parser.add_argument('--threads', default='1', help="torch threads on the CPU: a number or 'auto'")
    parser.add_argument('--precision', default='fp32', help="'fp32', 'bf16', 'fp16' or 'auto'")
    parser.add_argument('--directions', default='en-zh,zh-en,fra-eng')
    parser.add_argument('--max-steps', type=int, default=None, help='stop after this many steps (tests)')
    parser.add_argument('--out', type=Path, default=None, help='also write the log and table to this file')
    args = parser.parse_args(argv)
    args.threads = args.threads if args.threads == 'auto' else int(args.threads)
    args.directions = [d.strip() for d in args.directions.split(',') if d.strip()]
    unknown = [d for d in args.directions if d not in TARGETS]
    if unknown:
        parser.error(f'unknown direction(s) {unknown}; choose from {sorted(TARGETS)}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out_lines = []

    def log(line=''):
        print(line, flush=True)
        out_lines.append(line)

    device = d2l.try_gpu()
    if device.type == 'cpu' and args.threads != 'auto':
        torch.set_num_threads(args.threads)
    log(f'# bench.translate, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC')
    log(f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, '
        f'device {device}, threads {args.threads}, budget {args.budget:g} s ({args.clock} time) per model, '
        f'load average at start {load_average()}')
    log(f'model {SIZES}; recipe {RECIPE}; num_steps {NUM_STEPS}; English BPE {EN_BPE_VOCAB} subwords')
    rows = []
    for direction in args.directions:
        start = time.perf_counter()
        row = run_fra(args, device, log) if direction == 'fra-eng' else run_cmn(direction, args, device, log)
        net = row.pop('params')
        row['num_params'] = sum(p.numel() for p in net.parameters())
        r = row['result']
        log(f"{row['direction']}: {row['data']}; {row['num_params']:,} parameters; {r.steps:,} steps "
            f"({r.epochs_seen:.2f} epochs) in {r.seconds:.0f} s; loss {r.loss:.3f}; BLEU {row['bleu']:.2f}"
            + (f" (sacrebleu {row['sacrebleu']:.2f})" if row['sacrebleu'] is not None else '')
            + (f"; all references {row['every']:.2f}" if 'every' in row else '')
            + f'; {time.perf_counter() - start:.0f} s wall; load average {load_average()}')
        rows.append(row)
    log()
    log(format_table(rows, args))
    log(f'\nload average at the end {load_average()}')
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text('\n'.join(out_lines) + '\n', encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
