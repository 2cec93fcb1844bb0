"""Build the book: regenerate d2l_local, execute notebooks in place, build the HTML edition.

    python -m booktools.build                 # every chapter, in reading order, then HTML
    python -m booktools.build notebooks/02_translation_corpus.ipynb   # one chapter (then HTML of all)
    python -m booktools.build --no-html ...   # execute only

The HTML edition (``_build/html``) is the student edition of every chapter rendered from the stored
outputs by Jupyter Book 1.x; see ``booktools.html``, which also builds it alone (``python -m booktools.html``).

Executing stores real outputs in the notebooks (that is what ``pytest --nbval`` compares later).
A chapter fails the build when a cell raises, or when a cell writes to stderr (a warning) and is
not tagged ``nbval-ignore-stderr``: nbval would fail on it anyway, and readers should not see it.
Each notebook is written back only after it ran to the end, atomically, so a failed build never
leaves a half-executed chapter behind.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from booktools import extract, html
from booktools import nb as nbtools

ROOT = nbtools.ROOT
NOTEBOOKS = nbtools.NOTEBOOK_DIR
HTML_DIR = nbtools.BUILD_DIR / "html"
CELL_TIMEOUT = 1200  # seconds; the slowest training cell on a 2-core CPU stays far below


class BuildError(Exception):
    pass


def stray_stderr(nb) -> list[str]:
    """Cells whose stored outputs include stderr text (warnings), unless tagged as expected."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = nbtools.tags(cell)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr" \
                    and nbtools.IGNORE_STDERR_TAG not in tags:
                text = "".join(output.get("text", ""))
                problems.append(f"cell {index}: wrote to stderr: {text.strip()[:300]}")
    return problems


def coalesce_streams(nb) -> None:
    """Merge adjacent stdout (stderr) outputs of a cell into one.

    How the kernel splits printed text into messages depends on timing, so without this a rebuild
    that prints the same text would still change the stored notebook (nbval merges them too).
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.get("outputs", []):
            if (output.get("output_type") == "stream" and merged
                    and merged[-1].get("output_type") == "stream" and merged[-1].name == output.name):
                merged[-1].text += output.text
            else:
                merged.append(output)
        cell.outputs = merged


def execute(path: Path, kernel_name: str = "python3") -> float:
    """Run ``path`` top to bottom in a fresh kernel (cwd: its folder) and store the outputs."""
    before = path.stat()  # to notice an edit made while the notebook runs
    nb = nbtools.read(path)
    start = time.perf_counter()
    # The kernel talks to us over local IPC sockets in a private folder, not TCP: nothing listens on
    # the network, and ipykernel has no reason to warn about unencrypted TCP on every chapter.
    with tempfile.TemporaryDirectory(prefix="d2l-kernel-") as sockets:
        km = KernelManager(kernel_name=kernel_name, transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, kernel_name=kernel_name, record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as error:
            raise BuildError(f"{path.name}: a cell failed (the notebook was left as it was; fix it, then build "
                             f"again):\n{error}") from None
        finally:
            if km.has_kernel:  # nbclient leaves a kernel it did not start running
                km.shutdown_kernel(now=False)
    seconds = time.perf_counter() - start
    coalesce_streams(nb)
    problems = stray_stderr(nb)
    if problems:
        raise BuildError(f"{path.name}: stderr output (fix the warning, or tag the cell and say why):\n  "
                         + "\n  ".join(problems))
    if not nbtools.write_atomically(path, nb, unchanged_since=before):
        raise BuildError(f"{path.name} was changed on disk while it ran (an edit, or `make stamp`?); "
                         "the build did not overwrite that change. Build it again.")
    return seconds


def export_html() -> dict:
    """Build the HTML edition of the whole book from the stored outputs (raises html.HtmlBuildError)."""
    return html.build(out=HTML_DIR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute the book's notebooks and store their outputs.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters to run (default: all)")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML edition (booktools.html)")
    args = parser.parse_args(argv)

    if not args.no_html:  # fail before the long part when the HTML tools are missing
        try:
            html.jupyter_book_version()
        except html.HtmlBuildError as error:
            print(f"error: {error}\n(or skip the HTML edition with --no-html)", file=sys.stderr)
            return 2
    # Check the arguments first: a typo in a path must not regenerate d2l_local or run anything.
    try:
        paths = [p.resolve() for p in args.notebooks] or nbtools.chapter_paths(NOTEBOOKS)
    except nbtools.NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        if not path.is_file() or path.suffix != ".ipynb":
            print(f"error: {path} does not exist or is not a notebook; give the path of a chapter, e.g. "
                  "notebooks/NN_name.ipynb (or no path: every chapter). Nothing was run.", file=sys.stderr)
            return 2
    if extract.main([]) != 0:  # the notebooks import d2l_local: it must say what they say
        return 2
    total = 0.0
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        try:
            seconds = execute(path)
        except BuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        total += seconds
        print(f"  done in {seconds:.1f} s", flush=True)
    if not args.no_html:
        print("building the HTML edition (student edition, Jupyter Book) ...", flush=True)
        try:
            summary = export_html()
        except html.HtmlBuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"HTML in {HTML_DIR.relative_to(ROOT)}/ ({summary['pages']} pages, {summary['seconds']:.1f} s)")
    print(f"executed {len(paths)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
