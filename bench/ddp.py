"""Benchmark (issue 15): throughput of the book's training under torchrun (DDP) with 1, 2, ... processes.

    D2L_DATA_DIR=/work/shared/data .venv/bin/python -m bench.ddp [--nproc 1,2] [--steps 300]
        [--batch-tokens 512] [--num-hiddens 128] [--repeat 1]

Runs ``scripts/train_translator.py`` (``d2l.train_seq2seq`` with chapter 16's recipe; no training loop
of its own here) under ``torchrun --standalone --nproc_per_node=N`` for each N, the same number of
steps and the same batch per process (so the effective batch grows with N: weak scaling), and prints
a table: target tokens/s (all processes together; the script's ``RecipeResult.tokens_per_sec``: valid
target tokens over the training seconds of rank 0, evaluation and checkpoints excluded) and the
scaling efficiency ``tokens/s(N) / (N * tokens/s(1))``. On the CPU every process uses one thread
(``--cpu-threads 1``), gloo averages the gradients; with GPUs, one process per GPU and NCCL.

Wall-clock throughput depends on what else the machine is doing: the footer gives the load average
at the start and at the end. With fewer idle cores than processes, efficiency drops well below 1.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'train_translator.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--nproc', default='1,2', help='comma-separated numbers of processes')
    parser.add_argument('--steps', type=int, default=300, help='training steps of each run')
    parser.add_argument('--batch-tokens', type=int, default=512, help='target positions per batch per process')
    parser.add_argument('--num-hiddens', type=int, default=128, help='Transformer width')
    parser.add_argument('--num-layers', type=int, default=2, help='encoder and decoder layers')
    parser.add_argument('--num-train', type=int, default=40000, help='training pairs (loading is not timed)')
    parser.add_argument('--precision', default='fp32', choices=('fp32', 'bf16', 'fp16', 'auto'))
    parser.add_argument('--repeat', type=int, default=1, help='runs per process count; the fastest is kept')
    return parser.parse_args(argv)


def run(nproc, args, folder):
    """One torchrun; returns the script's report (dict) and the wall seconds of the whole launch."""
    report = Path(folder) / f'report-{nproc}.json'
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}',
               str(SCRIPT), '--max-steps', str(args.steps), '--batch-tokens', str(args.batch_tokens),
               '--num-hiddens', str(args.num_hiddens), '--num-layers', str(args.num_layers),
               '--num-train', str(args.num_train), '--precision', args.precision, '--dropout', '0.1',
               '--cpu-threads', '1', '--schedule', 'linear', '--report', str(report)]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f'torchrun with {nproc} processes failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}')
    return json.loads(report.read_text(encoding='utf-8')), time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    counts = [int(n) for n in args.nproc.split(',') if n.strip()]
    load_start = os.getloadavg()
    cpu_start = os.times()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for nproc in counts:
            runs = [run(nproc, args, folder) for _ in range(args.repeat)]
            report, wall = max(runs, key=lambda r: r[0]['tokens_per_sec'])
            rows.append(dict(nproc=nproc, wall=wall, **report))
            print(f'{nproc} process(es): {report["tokens_per_sec"]:,.0f} target tokens/s', flush=True)
    load_end, cpu_end = os.getloadavg(), os.times()
    base = next((r['tokens_per_sec'] for r in rows if r['nproc'] == 1), None)
    device = f'{torch.cuda.device_count()} GPU(s)' if torch.cuda.is_available() else 'CPU (gloo)'
    print()
    print(f'**DDP throughput: {args.steps} steps of a Transformer (num_hiddens {args.num_hiddens}, '
          f'{args.num_layers} layers), {args.batch_tokens} target positions per batch per process, '
          f'{args.precision}, on {device}**')
    print()
    print('| processes | effective batch (target positions) | steps | training seconds | target tokens/s '
          '| scaling efficiency | launch wall seconds |')
    print('|---:|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        efficiency = f"{r['tokens_per_sec'] / (r['nproc'] * base):.2f}" if base else '-'
        print(f"| {r['nproc']} | {r['nproc'] * args.batch_tokens:,} | {r['steps']} | {r['seconds']:.1f} "
              f"| {r['tokens_per_sec']:,.0f} | {efficiency} | {r['wall']:.0f} |")
    print()
    print(f'torch {torch.__version__}; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); '
          f'load average (1 min) {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end; '
          f'date {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; CPU time of all runs '
          f'{cpu_end.children_user + cpu_end.children_system - cpu_start.children_user - cpu_start.children_system:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
