"""Make the student edition: ``python -m booktools.student [--out _build/student] [NOTEBOOK ...]``.

The notebooks in ``notebooks/`` are the teachers' edition: every coding exercise carries its
solution between two marker lines, in the spirit of nbgrader::

    def masked_mean(X, valid_len):
        ### BEGIN SOLUTION
        mask = d2l.sequence_mask(torch.ones_like(X), valid_len)
        return (X * mask).sum(dim=1) / valid_len
        ### END SOLUTION

The student edition (``_build/student/notebooks/``, with ``images/`` beside it so figures still
load) replaces each such block by a placeholder at the same indentation::

        # 在这里写你的代码（练习）
        raise NotImplementedError("练习：请完成这里的代码")

and drops the answers of written exercises, which live in markdown between ``<!-- BEGIN SOLUTION -->``
and ``<!-- END SOLUTION -->``. A cell of any type tagged ``solution`` (e.g. a demonstration that uses
the solution) is left out. Anything else that looks like a solution marker (another case or spacing,
``<!--BEGIN SOLUTION-->``, a marker in a raw cell) is an error that names the notebook and cell: an
answer is never published because its marker was spelled differently. Every cell that held a solution, and every cell tagged ``exercise`` (the check
cells), loses its stored outputs and is tagged ``nbval-ignore-output``: the checks print "not done
yet" instead of raising, so the student edition still runs from top to bottom without an error, and
``pytest --nbval`` over it (part of ``make test``) proves it.

The source notebooks are never written; the output directory may not be ``notebooks/``.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat

from booktools import nb as nbtools

ROOT = nbtools.ROOT
NOTEBOOKS = nbtools.NOTEBOOK_DIR
DEFAULT_OUT = nbtools.BUILD_DIR / "student"

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
SOLUTION_TAG, EXERCISE_TAG, IGNORE_TAG = nbtools.SOLUTION_TAG, nbtools.EXERCISE_TAG, nbtools.IGNORE_OUTPUT_TAG
PLACEHOLDER = ('# 在这里写你的代码（练习）',
               'raise NotImplementedError("练习：请完成这里的代码")')
# Anything a teacher may have meant as a solution marker: any case, any spacing, `#`-comment or HTML
# comment. What the tool strips is only the exact forms above; every other match is an error, so that
# no answer is published because its marker was spelled differently.
LOOSE_MARKER = re.compile(r"(?:#+|<!--)\s*(?:BEGIN|END)\s*SOLUTION\b", re.IGNORECASE)


class StudentEditionError(Exception):
    """A notebook whose solution markers cannot be stripped safely (the message says where and why)."""


def _where(path, index, cell):
    return nbtools.where(path, index, cell)


def _loose_markers(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every marker-like line of ``text``."""
    return [(number, line.strip()) for number, line in enumerate(text.split("\n"), 1) if LOOSE_MARKER.search(line)]


def strip_code(source: str, where: str) -> tuple[str, int]:
    """The source with every solution block replaced by the placeholder; and how many blocks."""
    out, inside, indent, blocks = [], False, "", 0
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise StudentEditionError(f"{where}, line {number}: `{BEGIN}` inside another solution block; "
                                          f"close the first one with `{END}`")
            inside, indent, blocks = True, line[:len(line) - len(line.lstrip())], blocks + 1
            out.extend(indent + p for p in PLACEHOLDER)
        elif stripped == END:
            if not inside:
                raise StudentEditionError(f"{where}, line {number}: `{END}` without a `{BEGIN}` before it")
            inside = False
        elif LOOSE_MARKER.search(stripped):
            raise StudentEditionError(f"{where}, line {number}: this looks like a solution marker but is not exactly "
                                      f"`{BEGIN}` or `{END}` alone on its line, so the answer would be published: "
                                      f"{stripped!r}. Write the marker exactly.")
        elif not inside:
            out.append(line)
    if inside:
        raise StudentEditionError(f"{where}: `{BEGIN}` is never closed; add `{END}` after the solution")
    return "\n".join(out), blocks


def strip_markdown(source: str, where: str) -> tuple[str, int]:
    """The markdown with every answer between the HTML-comment markers removed."""
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END) + r"\n?", re.S)
    stripped, blocks = pattern.subn("", source)
    if MD_BEGIN in stripped or MD_END in stripped:
        raise StudentEditionError(f"{where}: unbalanced `{MD_BEGIN}` / `{MD_END}` in markdown")
    left = _loose_markers(stripped)
    if left:
        number, line = left[0]
        raise StudentEditionError(f"{where}, line {number}: this looks like a solution marker but is not exactly "
                                  f"`{MD_BEGIN}` … `{MD_END}` (markdown), so the answer would be published: {line!r}. "
                                  "Write the markers exactly.")
    return stripped, blocks


def student_notebook(nb, path="notebook"):
    """A student-edition copy of `nb` (the argument is not modified) and the number of solutions removed."""
    nb = nbformat.from_dict(nb)  # a deep copy
    cells, removed = [], 0
    for index, cell in enumerate(nb.cells):
        where = _where(path, index, cell)
        tags = nbtools.tags(cell)
        if SOLUTION_TAG in tags:  # a teachers' cell of any type: code, markdown or raw
            removed += 1
            continue
        if cell.cell_type == "code":
            cell.source, blocks = strip_code(cell.source, where)
            if blocks or EXERCISE_TAG in tags:
                cell.outputs, cell.execution_count = [], None
                if IGNORE_TAG not in tags:
                    tags.append(IGNORE_TAG)
                cell.metadata["tags"] = tags
        elif cell.cell_type == "markdown":
            cell.source, blocks = strip_markdown(cell.source, where)
        else:  # raw cells are published as they are: a marker in one would publish its answer
            found = _loose_markers(cell.source)
            if found:
                number, line = found[0]
                raise StudentEditionError(f"{where}, line {number}: a {cell.cell_type} cell with a solution marker "
                                          f"({line!r}); the student edition strips solutions only from code and "
                                          "markdown cells. Move the answer into one, or tag the cell `solution`.")
            blocks = 0
        removed += blocks
        cells.append(cell)
    nb.cells = cells
    nb.metadata["book_edition"] = "student"
    return nb, removed


def make_edition(paths, out_dir: Path = DEFAULT_OUT) -> dict:
    """Write the student edition of `paths` to out_dir/notebooks (+ out_dir/images); {name: solutions removed}."""
    out_dir = Path(out_dir).resolve()
    notebooks_out = out_dir / "notebooks"
    for source_dir in {Path(p).resolve().parent for p in paths} | {NOTEBOOKS.resolve()}:
        if notebooks_out == source_dir or out_dir == source_dir:
            raise StudentEditionError(f"--out {out_dir} would overwrite the teachers' notebooks in {source_dir}; "
                                      "choose another directory (default: _build/student)")
    # Everything is checked before anything is written: a bad notebook leaves no half edition.
    editions = {}
    for path in paths:
        path = Path(path)
        try:
            nb = nbtools.read(path)
        except nbtools.NotebookError as error:
            raise StudentEditionError(str(error)) from None
        editions[path.name] = (*student_notebook(nb, nbtools.rel(path)), path.stat().st_mode & 0o777)
    notebooks_out.mkdir(parents=True, exist_ok=True)
    images = nbtools.IMAGES_DIR
    if images.is_dir():
        shutil.copytree(images, out_dir / "images", dirs_exist_ok=True)
    counts = {}
    for name, (nb, removed, mode) in editions.items():
        nbtools.write_atomically(notebooks_out / name, nb, mode=mode)  # the source notebook's mode
        counts[name] = removed
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter in notebooks/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: _build/student")
    args = parser.parse_args(argv)
    try:
        paths = args.notebooks or nbtools.chapter_paths(NOTEBOOKS)
    except nbtools.NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        counts = make_edition(paths, args.out)
    except StudentEditionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, removed in counts.items():
        print(f"{name}: {removed} solution(s) removed")
    print(f"student edition: {Path(args.out) / 'notebooks'} ({sum(counts.values())} solutions removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
