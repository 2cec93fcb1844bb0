"""Helpers for the tests of the chapters' checked exercises (tests/test_exercises_*.py).

The solutions live in the notebooks (between `### BEGIN SOLUTION` / `### END SOLUTION`); these
helpers pull a chapter's exercise cells out of the notebook so that a test runs exactly the code a
teacher's notebook holds, and its student-edition version (placeholder instead of the solution).
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat

from booktools import student

ROOT = Path(__file__).resolve().parents[2]


def notebook(name: str):
    """nbformat notebook `notebooks/<name>` (name with or without .ipynb)."""
    if not name.endswith(".ipynb"):
        name += ".ipynb"
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def solution_cells(name: str) -> list[str]:
    """Sources of the code cells of chapter `name` that hold a solution block, in order."""
    return [c.source for c in notebook(name).cells if c.cell_type == "code" and student.BEGIN in c.source]


def exercise_cells(name: str) -> list[str]:
    """Sources of the code cells tagged `exercise` (scaffolds and checks), in order."""
    return [c.source for c in notebook(name).cells
            if c.cell_type == "code" and student.EXERCISE_TAG in c.metadata.get("tags", [])]


def student_version(source: str) -> str:
    """The cell as the student edition prints it (solution replaced by the placeholder)."""
    stripped, _ = student.strip_code(source, "test")
    return stripped


def run(source: str, namespace: dict | None = None) -> tuple[dict, str]:
    """exec `source` in `namespace` (a fresh one by default); returns (namespace, printed text)."""
    namespace = {} if namespace is None else namespace
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(source, "<exercise cell>", "exec"), namespace)
    return namespace, buffer.getvalue()
