"""Issue 15: the book's train_seq2seq under torchrun (DDP, gloo on the CPU), through scripts/train_translator.py.

- two processes train to the same weights as one process that sees the same global batches;
- killing one rank ends the job non-zero within a timeout, the last checkpoint stays intact, and the same
  command again resumes and ends with the weights of an uninterrupted run;
- a rank whose peers never come ends with a clear error within its --timeout;
- the script's shards are disjoint and cover every pair once per epoch.

A tiny made-up corpus (D2L_DATA_DIR points at it) and a tiny Transformer; each torchrun takes seconds.
"""
from __future__ import annotations

import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import d2l_local as d2l

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'train_translator.py'
pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason='torch.distributed is not available')

STEPS = 120
OPTIONS = ['--max-tokens', '6', '--min-freq', '1', '--model', 'transformer', '--num-hiddens', '32',
           '--num-layers', '1', '--num-heads', '2', '--dropout', '0', '--batch-tokens', '48', '--lr', '0.005',
           '--max-steps', str(STEPS), '--precision', 'fp32', '--save-every-steps', '10', '--timeout', '20']


def load_script():
    spec = importlib.util.spec_from_file_location('train_translator', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    """A made-up English-French corpus: 300 pairs of 1 to 5 words ('french' is the English reversed)."""
    folder = tmp_path_factory.mktemp('data')
    rng = random.Random(0)
    words = ['go', 'run', 'we', 'they', 'see', 'cats', 'dogs', 'now', 'here', 'home']
    lines = []
    for _ in range(300):
        english = [rng.choice(words) for _ in range(rng.randint(1, 5))]
        french = [w[::-1] for w in reversed(english)]
        lines.append(f"{' '.join(english)} .\t{' '.join(french)} .\tCC-BY 2.0 (test)")
    (folder / 'fra-eng').mkdir()
    (folder / 'fra-eng' / 'fra.txt').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return folder


def environment(data_dir):
    env = dict(os.environ, D2L_DATA_DIR=str(data_dir), OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    env.pop('WORLD_SIZE', None)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def torchrun(data_dir, checkpoint, nproc=2, options=OPTIONS):
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}',
               '--monitor-interval=0.1', str(SCRIPT), *options, '--checkpoint', str(checkpoint)]
    return subprocess.Popen(command, env=environment(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def finish(process, timeout=60):
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f'torchrun did not end within {timeout} s:\n{output[-3000:]}')
    return process.returncode, output


def saved_weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['model']


def saved_steps(path):
    state = torch.load(path, map_location='cpu', weights_only=True)
    return state['optimizer']['param_groups'][0]['recipe']['steps']


def assert_close(a, b, atol=1e-5):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=atol, rtol=1e-4), \
            f'{name} differs by {float((a[name] - b[name]).abs().max()):.2e}'


@pytest.fixture(scope='module')
def two_process_run(data_dir, tmp_path_factory):
    """One uninterrupted torchrun with two processes: its final checkpoint."""
    checkpoint = tmp_path_factory.mktemp('ddp') / 'straight.pt'
    code, output = finish(torchrun(data_dir, checkpoint))
    assert code == 0, output[-3000:]
    assert '2 个进程' in output
    return checkpoint


class GlobalBatches:
    """What the two processes see together at each step, as one batch: shard 0's and shard 1's batch
    of that step, padded to the same widths and stacked."""

    def __init__(self, shards, src_pad, tgt_pad):
        self.shards, self.src_pad, self.tgt_pad = shards, src_pad, tgt_pad

    def set_epoch(self, epoch):
        for shard in self.shards:
            shard.set_epoch(epoch)

    def __len__(self):
        return len(self.shards[0])

    def __iter__(self):
        for parts in zip(*self.shards):
            X = self.stack([p[0] for p in parts], self.src_pad)
            Y = self.stack([p[2] for p in parts], self.tgt_pad)
            yield X, torch.cat([p[1] for p in parts]), Y, torch.cat([p[3] for p in parts])

    @staticmethod
    def stack(tensors, pad):
        width = max(t.shape[1] for t in tensors)
        return torch.cat([torch.nn.functional.pad(t, (0, width - t.shape[1]), value=pad) for t in tensors])


def test_two_processes_train_the_weights_of_one_process_with_the_same_global_batch(data_dir, two_process_run,
                                                                                 monkeypatch):
    monkeypatch.setenv('D2L_DATA_DIR', str(data_dir))
    script = load_script()
    args = script.parse_args([*OPTIONS])
    arrays, src_vocab, tgt_vocab, _, _ = script.load_data(args)
    shards = [script.make_batches(arrays, args, 2, rank) for rank in range(2)]
    net = script.build_model(args, src_vocab, tgt_vocab)
    result = d2l.train_seq2seq(net, GlobalBatches(shards, src_vocab['<pad>'], tgt_vocab['<pad>']), args.lr, None,
                               tgt_vocab, torch.device('cpu'), plot=False, schedule=args.schedule,
                               warmup=args.warmup, max_steps=STEPS, label_smoothing=args.label_smoothing,
                               precision='fp32', betas=(0.9, 0.98), init=None)
    assert result.steps == STEPS == saved_steps(two_process_run)
    assert_close(saved_weights(two_process_run), net.state_dict())
    # the token count of the distributed run is both processes' together
    saved = torch.load(two_process_run, weights_only=True)
    assert saved['optimizer']['param_groups'][0]['recipe']['tokens'] == result.tokens


def worker_pid(agent_pid, rank):
    """The pid of the worker process with this RANK among the children of the torchrun agent."""
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / 'status').read_text()
            parent = int(next(line for line in status.splitlines() if line.startswith('PPid:')).split()[1])
            env = (entry / 'environ').read_bytes().split(b'\0')
        except (OSError, StopIteration):
            continue
        if parent == agent_pid and f'RANK={rank}'.encode() in env:
            return int(entry.name)
    return None


# With dropout, so that a resumed rank must also continue its own random stream.
DROPOUT_OPTIONS = [o if OPTIONS[i - 1] != '--dropout' else '0.1' for i, o in enumerate(OPTIONS)]


@pytest.fixture(scope='module')
def two_process_run_with_dropout(data_dir, tmp_path_factory):
    checkpoint = tmp_path_factory.mktemp('ddp') / 'straight-dropout.pt'
    code, output = finish(torchrun(data_dir, checkpoint, options=DROPOUT_OPTIONS))
    assert code == 0, output[-3000:]
    return checkpoint


@pytest.mark.skipif(not Path('/proc/self/environ').exists(), reason='needs /proc to find the worker')
def test_a_killed_rank_ends_the_job_and_a_relaunch_resumes_to_the_same_weights(data_dir, tmp_path,
                                                                               two_process_run_with_dropout):
    options, straight = DROPOUT_OPTIONS, two_process_run_with_dropout
    assert options[options.index('--dropout') + 1] == '0.1'
    checkpoint = tmp_path / 'killed.pt'
    process = torchrun(data_dir, checkpoint, options=options)
    deadline = time.monotonic() + 60
    while not checkpoint.exists():  # the first checkpoint: step 10
        assert process.poll() is None, process.communicate()[0][-3000:]
        assert time.monotonic() < deadline, 'no checkpoint within 60 s'
        time.sleep(0.01)
    pid = worker_pid(process.pid, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    code, output = finish(process, timeout=60)
    assert code != 0, output[-3000:]
    assert time.monotonic() - killed_at < 60
    steps = saved_steps(checkpoint)  # intact: it loads, and it is one of the periodic checkpoints
    assert steps % 10 == 0 and 10 <= steps < STEPS, steps
    script = load_script()
    os.environ['D2L_DATA_DIR'] = str(data_dir)
    try:
        args = script.parse_args([*options])
        _, src_vocab, tgt_vocab, _, _ = script.load_data(args)
    finally:
        del os.environ['D2L_DATA_DIR']
    d2l.load_checkpoint(checkpoint, script.build_model(args, src_vocab, tgt_vocab))

    code, output = finish(torchrun(data_dir, checkpoint, options=options))  # the same command again
    assert code == 0, output[-3000:]
    assert f'第 {steps} 步' in output  # it resumed
    assert saved_steps(checkpoint) == STEPS
    assert_close(saved_weights(straight), saved_weights(checkpoint), atol=1e-6)


def test_a_single_process_resumes_a_two_process_checkpoint(data_dir, two_process_run, tmp_path):
    checkpoint = tmp_path / 'more.pt'
    checkpoint.write_bytes(two_process_run.read_bytes())
    more = [o if o != str(STEPS) else str(STEPS + 6) for o in OPTIONS]
    command = [sys.executable, str(SCRIPT), *more, '--checkpoint', str(checkpoint)]
    done = subprocess.run(command, env=environment(data_dir), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f'第 {STEPS} 步' in done.stdout and saved_steps(checkpoint) == STEPS + 6


def test_a_rank_whose_peers_never_come_ends_with_a_clear_error(data_dir):
    env = dict(environment(data_dir), WORLD_SIZE='2', RANK='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()))
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(SCRIPT), *OPTIONS, '--timeout', '3'], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert time.monotonic() - start < 60
    assert '没能与其他进程建立连接' in done.stderr and '--timeout' in done.stderr, done.stderr[-2000:]


def test_the_shards_of_the_script_are_disjoint_and_cover_every_pair_once_per_epoch(data_dir, monkeypatch):
    monkeypatch.setenv('D2L_DATA_DIR', str(data_dir))
    script = load_script()
    args = script.parse_args([*OPTIONS])
    arrays, *_ = script.load_data(args)
    for world in (1, 2, 3):
        for epoch in (1, 2):
            seen = []
            for rank in range(world):
                shard = script.make_batches(arrays, args, world, rank)
                shard.set_epoch(epoch)
                seen.append([i for batch in shard.batches() for i in batch])
            assert len({len(script.make_batches(arrays, args, world, r)) for r in range(world)}) == 1
            flat = [i for part in seen for i in part]
            assert sorted(flat) == list(range(arrays[0].shape[0])), (world, epoch)


def test_help_explains_every_option():
    done = subprocess.run([sys.executable, str(SCRIPT), '--help'], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0 and 'torchrun' in done.stdout
    actions = [a for a in load_script().build_parser()._actions if a.dest != 'help']
    assert len(actions) > 20
    for action in actions:
        assert action.help and action.option_strings[0] in done.stdout, action.dest
