"""Interrupted work: training killed with SIGKILL mid-epoch resumes to the same weights, a checkpoint
save killed half-way never replaces (or poses as) a good checkpoint, and Ctrl-C (SIGINT) inside
torch.save is an ordinary KeyboardInterrupt that leaves the old checkpoint intact.

The work runs in other processes, so the kill is real: no ``finally`` block, exception handler or
``atexit`` of the killed process runs. Importing torch takes seconds on a busy 2-core machine, so a
child process (the script ``CHILD`` below) imports it once and then forks one process per job, as a
fork server does: each job starts from an interpreter that has imported the book and done nothing
else. A job announces on stdout that it has reached the point to be killed at (a given training
step, or the middle of writing a checkpoint) and waits there; the test sends it SIGKILL, and the
server reports how each job ended. Everything runs on the CPU with fixed seeds and one thread, so
"the same weights" means bit-identical (``torch.equal``).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import d2l_local as d2l

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX fork and signals")

CHILD = r'''
"""Fork server for tests/test_interrupt.py: one job per JSON line on stdin, each in a forked process."""
import io
import json
import os
import signal
import sys
import threading
import time

import torch

import d2l_local as d2l

torch.set_num_threads(1)


def say(line):
    os.write(1, (line + "\n").encode())  # one write per line: lines of several processes never interleave


def wait_to_be_killed(line):
    say(line)
    while True:
        time.sleep(1)


def model(vocab_size, seed):
    torch.manual_seed(seed)  # the embeddings keep this initialisation (Xavier covers GRU and Linear)
    # two GRU layers with dropout between them: resuming must restore the dropout RNG too
    return d2l.EncoderDecoder(d2l.Seq2SeqEncoder(vocab_size, 8, 24, 2, dropout=0.2),
                              d2l.Seq2SeqDecoder(vocab_size, 8, 24, 2, dropout=0.2))


def train(job):
    """4 epochs on the date task, a checkpoint after every epoch; optionally stop at a training step."""
    data_iter, src_vocab, tgt_vocab = d2l.load_data_dates(batch_size=32, num_examples=256, seed=0)
    net = model(max(len(src_vocab), len(tgt_vocab)), job["init_seed"])
    if job.get("pause_at_step"):
        real_clip, steps = d2l.grad_clipping, [0]

        def clip_then_maybe_pause(net, theta):  # called once per training step
            steps[0] += 1
            if steps[0] == job["pause_at_step"]:
                wait_to_be_killed(f"{job['tag']}: PAUSED at step {steps[0]}")
            return real_clip(net, theta)

        # where train_seq2seq looks the name up: its chapter's module when that chapter defines it
        # (chapter 7), else the package (chapter 16's redefinition calls d2l.grad_clipping)
        module = sys.modules[d2l.train_seq2seq.__module__]
        setattr(module if hasattr(module, "grad_clipping") else d2l, "grad_clipping", clip_then_maybe_pause)
    torch.manual_seed(1)  # the run's randomness: Xavier init, data order, dropout
    result = d2l.train_seq2seq(net, data_iter, 0.01, 4, tgt_vocab, torch.device("cpu"),
                               checkpoint_path=job["checkpoint"], save_every=1, plot=False)
    torch.save({"model": net.state_dict(), "loss_history": result.loss_history,
                "start_epoch": result.start_epoch}, job["out"])


def slow_save(job):
    """save_checkpoint to every path at once (a thread each); every write stops half-way."""
    real_save = torch.save

    def save_half_then_wait(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[:len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
        wait_to_be_killed(f"{job['tag']}: HALF {len(data)}")

    torch.save = save_half_then_wait
    net = model(20, job["init_seed"])
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    savers = [threading.Thread(target=d2l.save_checkpoint, args=(path, net, optimizer, 2, [1.5, 1.0]))
              for path in job["checkpoints"]]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join()


def interrupted_save(job):
    """save_checkpoint over a good checkpoint; the write waits inside torch.save until SIGINT arrives."""
    real_save = torch.save

    class WaitingFile(io.RawIOBase):
        def __init__(self, f):
            self.f, self.calls = f, 0

        def writable(self):
            return True

        def write(self, data):
            self.calls += 1
            if self.calls == 2:
                say(f"{job['tag']}: IN-SAVE")
                while True:  # Ctrl-C lands here: in a Python callback of torch.save's C++ writer
                    time.sleep(0.05)
            return self.f.write(data)

    torch.save = lambda obj, f, *args, **kwargs: real_save(obj, WaitingFile(f), *args, **kwargs)
    net = model(20, job["init_seed"])
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    try:
        d2l.save_checkpoint(job["checkpoint"], net, optimizer, 2, [1.5, 1.0])
    except BaseException as error:  # what a notebook would show the user
        say(f"{job['tag']}: RAISED {type(error).__name__}: {error}")


tags = {}  # pid -> job tag


def reap(signum, frame):
    """SIGCHLD: report how each finished job ended (exit code, or minus the signal that killed it)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        say(f"{tags.pop(pid, pid)}: EXIT {code}")


signal.signal(signal.SIGCHLD, reap)
say("READY")
for line in sys.stdin:  # no threads here: forking is safe
    job = json.loads(line)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # reap only after the pid is recorded
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        code = 1
        try:
            {"train": train, "slow-save": slow_save, "interrupted-save": interrupted_save}[job["kind"]](job)
            code = 0
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    tags[pid] = job["tag"]
    say(f"{job['tag']}: PID {pid}")
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
'''


class ForkServer:
    """The CHILD process; ``run(tag, kind, **job)`` starts a job, ``wait_for(text)`` reads its lines."""

    def __init__(self, folder: Path, timeout: float = 120):
        script = folder / "fork_server.py"
        script.write_text(CHILD, encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=folder,
                                     start_new_session=True)  # its own process group: see kill_all
        self.timeout, self.lines, self.seen = timeout, queue.Queue(), []
        self.pids: dict[str, int] = {}
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def wait_for(self, text: str) -> str:
        """The first line (seen before or arriving now) that starts with text."""
        while True:
            for line in self.seen:
                if line.startswith(text):
                    self.seen.remove(line)
                    return line
            try:
                line = self.lines.get(timeout=self.timeout)
            except queue.Empty:
                pytest.fail(f"no line {text!r} within {self.timeout} s; got {self.seen}")
            if line is None:
                pytest.fail(f"the fork server ended before printing {text!r}:\n" + "\n".join(self.seen)
                            + self.proc.stderr.read())
            self.seen.append(line)

    def run(self, tag: str, kind: str, **job):
        self.proc.stdin.write(json.dumps(dict(job, tag=tag, kind=kind), default=str) + "\n")
        self.proc.stdin.flush()
        self.pids[tag] = int(self.wait_for(f"{tag}: PID ").split()[-1])

    def kill(self, tag: str):
        os.kill(self.pids[tag], signal.SIGKILL)
        assert self.wait_for(f"{tag}: EXIT ") == f"{tag}: EXIT {-signal.SIGKILL}"

    def kill_all(self):
        """SIGKILL to the server and every job it forked (its own process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self):
        """End the server; no job may have written to stderr (a warning, a traceback)."""
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        stderr = self.proc.stderr.read()
        assert self.proc.returncode == 0 and stderr == "", stderr


@pytest.fixture
def server(tmp_path):
    server = ForkServer(tmp_path)
    server.wait_for("READY")
    yield server
    if server.proc.poll() is None:  # the test failed half-way: leave no process behind
        server.kill_all()
        server.proc.wait()


def _net(init_seed=0):
    """The jobs' model and data, built here (must match CHILD)."""
    data_iter, src_vocab, tgt_vocab = d2l.load_data_dates(batch_size=32, num_examples=256, seed=0)
    torch.manual_seed(init_seed)
    size = max(len(src_vocab), len(tgt_vocab))
    net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(size, 8, 24, 2, dropout=0.2),
                             d2l.Seq2SeqDecoder(size, 8, 24, 2, dropout=0.2))
    return net, data_iter, tgt_vocab


def test_training_killed_mid_epoch_resumes_to_the_same_weights(tmp_path, server):
    """4 epochs of 8 steps, a checkpoint after every epoch; SIGKILL at step 20 (the 4th step of epoch
    3, after the epoch-2 checkpoint); a new process resumes and must end bit-identical to a run that
    was never interrupted (model weights, optimizer state and every epoch's loss)."""
    server.run("victim", "train", checkpoint=tmp_path / "run.pt", out=tmp_path / "victim.out",
               init_seed=0, pause_at_step=20)

    # meanwhile, the uninterrupted run, here (same code, seeds and thread count as the jobs)
    net, data_iter, tgt_vocab = _net(init_seed=0)
    torch.manual_seed(1)
    straight = d2l.train_seq2seq(net, data_iter, 0.01, 4, tgt_vocab, torch.device("cpu"),
                                 checkpoint_path=tmp_path / "straight.pt", save_every=1, plot=False)

    assert server.wait_for("victim: PAUSED") == "victim: PAUSED at step 20"
    assert torch.load(tmp_path / "run.pt", weights_only=True)["epoch"] == 2  # the last checkpoint before the kill
    server.kill("victim")
    assert not (tmp_path / "victim.out").exists()
    assert list(tmp_path.glob("run.pt.*")) == []  # killed between saves: no temporary file

    # a new process with another initial model: everything must come from the checkpoint
    server.run("resumed", "train", checkpoint=tmp_path / "run.pt", out=tmp_path / "resumed.out", init_seed=99)
    assert server.wait_for("resumed: EXIT") == "resumed: EXIT 0"
    assert server.wait_for("从检查点 run.pt 的第 2 轮之后继续训练")
    server.close()

    result = torch.load(tmp_path / "resumed.out", weights_only=True)
    assert result["start_epoch"] == 2
    assert len(straight.loss_history) == 4 and result["loss_history"] == straight.loss_history
    assert result["model"].keys() == net.state_dict().keys()
    for name, value in net.state_dict().items():
        assert torch.equal(result["model"][name], value), f"{name} differs after resuming"
    opt_a = torch.load(tmp_path / "straight.pt", weights_only=True)["optimizer"]["state"]
    opt_b = torch.load(tmp_path / "run.pt", weights_only=True)["optimizer"]["state"]
    assert opt_a.keys() == opt_b.keys()
    for key in opt_a:
        for field in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(opt_a[key][field], opt_b[key][field]), f"optimizer {key}.{field} differs"


def test_a_save_killed_half_way_never_replaces_or_poses_as_a_good_checkpoint(tmp_path, server):
    """A process is killed while two save_checkpoint calls have each written half of their file: one
    over a good checkpoint (epoch 1), one where there was none. The good file is untouched and still
    loads; the half-written temporary file is not at the checkpoint's path, does not load, and
    resuming ignores it (epoch 1 in the first folder, a fresh start in the second)."""
    over_good, fresh = tmp_path / "over_good", tmp_path / "fresh"
    over_good.mkdir()
    fresh.mkdir()
    net, data_iter, tgt_vocab = _net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    good_path = over_good / "ckpt.pt"
    d2l.save_checkpoint(good_path, net, optimizer, 1, [1.5])
    good_bytes = good_path.read_bytes()

    server.run("saver", "slow-save", checkpoints=[good_path, fresh / "ckpt.pt"], init_seed=5)
    sizes = [int(server.wait_for("saver: HALF").split()[-1]) for _ in range(2)]
    for folder in (over_good, fresh):
        partial = list(folder.glob("ckpt.pt.*.tmp"))
        assert len(partial) == 1 and partial[0].stat().st_size in {n // 2 for n in sizes}  # really half-written
    server.kill("saver")  # one SIGKILL interrupts both writes
    server.close()

    # the good checkpoint: byte-for-byte the same, and it loads with its epoch and weights
    assert good_path.read_bytes() == good_bytes
    loaded, _, _ = _net(init_seed=3)
    assert d2l.load_checkpoint(good_path, loaded)["epoch"] == 1
    for (name, a), b in zip(net.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    # where there was no checkpoint, there still is none
    assert not (fresh / "ckpt.pt").exists()

    # the leftovers are temporary files that do not load: nothing could mistake them for a checkpoint
    for folder in (over_good, fresh):
        leftovers = [p for p in folder.iterdir() if p.name != "ckpt.pt"]
        assert len(leftovers) == 1 and leftovers[0].name.startswith("ckpt.pt.") and leftovers[0].suffix == ".tmp"
        with pytest.raises(d2l.CheckpointError, match="只写了一半"):
            d2l.load_checkpoint(leftovers[0], _net()[0])

    # resuming uses the good checkpoint (already at epoch 1 of 1: nothing to train) ...
    result = d2l.train_seq2seq(_net()[0], data_iter, 0.01, 1, tgt_vocab, torch.device("cpu"),
                               checkpoint_path=good_path, plot=False)
    assert (result.start_epoch, result.epochs_run, result.loss_history) == (1, 0, [1.5])
    # ... and starts afresh where the only save was killed
    result = d2l.train_seq2seq(_net()[0], data_iter, 0.01, 1, tgt_vocab, torch.device("cpu"),
                               checkpoint_path=fresh / "ckpt.pt", plot=False)
    assert (result.start_epoch, result.epochs_run) == (0, 1)
    assert d2l.load_checkpoint(fresh / "ckpt.pt", _net()[0])["epoch"] == 1


def test_ctrl_c_inside_torch_save_is_an_ordinary_interrupt_and_keeps_the_old_checkpoint(tmp_path, server):
    """SIGINT while save_checkpoint is inside torch.save: torch's C++ writer wraps the interrupt into a
    RuntimeError of its own; the user must see a KeyboardInterrupt, and the old checkpoint unchanged."""
    runs = tmp_path / "runs"
    runs.mkdir()
    net, _, _ = _net()
    good = runs / "ckpt.pt"
    d2l.save_checkpoint(good, net, torch.optim.Adam(net.parameters(), lr=0.01), 1, [1.5])
    good_bytes = good.read_bytes()

    server.run("ctrl-c", "interrupted-save", checkpoint=good, init_seed=5)
    server.wait_for("ctrl-c: IN-SAVE")
    assert len(list(runs.glob("ckpt.pt.*.tmp"))) == 1  # really in the middle of writing
    os.kill(server.pids["ctrl-c"], signal.SIGINT)
    raised = server.wait_for("ctrl-c: RAISED")
    assert raised.startswith("ctrl-c: RAISED KeyboardInterrupt: 保存检查点时被中断"), raised
    assert raised.endswith("没有被改动。")
    assert server.wait_for("ctrl-c: EXIT") == "ctrl-c: EXIT 0"
    server.close()
    assert good.read_bytes() == good_bytes
    assert sorted(os.listdir(runs)) == ["ckpt.pt"]  # the temporary file was removed
