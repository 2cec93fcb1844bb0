"""Run the nbval suite several times from a clean checkout and report every cell that ever differed.

    python -m booktools.stability [--runs 3] [--workers 2] [--ref HEAD]

A flaky cell passes on one run and fails on the next: one green run proves little. This command
clones the committed book (``git clone`` of ``--ref``) into a temporary folder, makes its student
edition there (``python -m booktools.student``), then runs ``pytest --nbval`` over both editions
(``notebooks/`` and ``_build/student/notebooks/``) ``--runs`` times in a row (each run re-executes
every notebook in fresh kernels and compares every stored output), and prints, for every cell that
failed at least once, on which runs and with what message. It exits 1 when any cell failed on any
run. ``--report FILE`` also writes the report (markdown) to FILE.

The clone is imported ahead of any installed d2l_local (``PYTHONPATH``), so what is tested is the
committed code, not the working tree. ``D2L_DATA_DIR`` and ``OMP_NUM_THREADS`` are passed through.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from booktools import nb as nbtools

ROOT = nbtools.ROOT
# The teachers' edition and the student edition (made in the clone before the first run).
NBVAL_PATHS = ("notebooks", "_build/student/notebooks")


@dataclass
class RunResult:
    seconds: float
    cells: int = 0  # notebook cells compared (nbval test items)
    failures: dict[str, str] = field(default_factory=dict)  # test id -> first line of the message


def parse_junit(path: Path) -> tuple[int, dict[str, str]]:
    """Notebook cells in a junit report, and those that failed or errored (id -> message)."""
    cells, failures = 0, {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        classname = case.get("classname", "")
        if ".ipynb" not in classname + name:
            continue
        test_id = f"{classname}::{name}" if classname else name
        if case.find("skipped") is not None:
            continue
        cells += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            message = (problem.get("message") or problem.text or "").strip()
            failures[test_id] = message.splitlines()[0][:200] if message else "failed"
    return cells, failures


def report(results: list[RunResult]) -> str:
    lines = [f"{len(results)} run(s) of the nbval suite (teachers' and student editions) from a clean checkout",
             "", "| run | seconds | cells compared | cells failed |", "|---|---|---|---|"]
    for i, result in enumerate(results, 1):
        lines.append(f"| {i} | {result.seconds:.0f} | {result.cells} | {len(result.failures)} |")
    ever = sorted({test for r in results for test in r.failures})
    lines.append("")
    if not ever:
        lines.append(f"Every cell matched its stored output on all {len(results)} runs.")
        return "\n".join(lines)
    lines += ["Cells that differed on at least one run:", "", "| cell | failed on runs | first message |", "|---|---|---|"]
    for test in ever:
        runs = [str(i) for i, r in enumerate(results, 1) if test in r.failures]
        first = next(r.failures[test] for r in results if test in r.failures)
        lines.append(f"| {test} | {', '.join(runs)} of {len(results)} | {first.replace('|', '/')} |")
    return "\n".join(lines)


def clone(ref: str, folder: Path) -> Path:
    target = folder / "book"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "checkout", "--quiet", ref], cwd=target, check=True)
    subprocess.run([sys.executable, "-m", "booktools.student"], cwd=target, check=True,
                   stdout=subprocess.DEVNULL)
    return target


def run_once(book: Path, index: int, workers: int, out: Path) -> RunResult:
    junit = out / f"run{index}.xml"
    env = dict(os.environ, PYTHONPATH=str(book) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "pytest", "--nbval", *NBVAL_PATHS, "-p", "no:cacheprovider", "-q",
               f"--junitxml={junit}"]
    if workers > 1:
        command += ["-n", str(workers), "--dist", "loadscope"]
    start = time.perf_counter()
    subprocess.run(command, cwd=book, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if not junit.exists():
        return RunResult(seconds, 0, {"pytest": "produced no report (crashed?)"})
    cells, failures = parse_junit(junit)
    return RunResult(seconds, cells, failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ref", default="HEAD", help="the commit to check out (default: HEAD)")
    parser.add_argument("--report", type=Path, help="also write the report (markdown) to this file")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="book-stability-") as tmp:
        book = clone(args.ref, Path(tmp))
        results = []
        for i in range(1, args.runs + 1):
            print(f"run {i}/{args.runs} ...", flush=True)
            results.append(run_once(book, i, args.workers, Path(tmp)))
            print(f"  {results[-1].cells} cells compared, {len(results[-1].failures)} failed, "
                  f"{results[-1].seconds:.0f} s", flush=True)
    text = report(results)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n", encoding="utf-8")
    return 1 if any(r.failures for r in results) or any(r.cells == 0 for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
