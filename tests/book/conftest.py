"""Helpers for the text checks' tests: small synthetic chapters, and copies of real ones to plant mistakes in."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]


def make_notebook(path: Path, cells) -> Path:
    """Write a chapter notebook. ``cells`` holds markdown strings and code cells given as dicts:
    ``{"code": "...", "out": "printed text", "tags": [...]}``."""
    nb = nbformat.v4.new_notebook()
    count = 0
    for k, c in enumerate(cells):
        if isinstance(c, str):
            cell = nbformat.v4.new_markdown_cell(c)
        else:
            count += 1
            cell = nbformat.v4.new_code_cell(c.get("code", "pass"), execution_count=count)
            if c.get("out") is not None:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=c["out"])]
            if c.get("tags"):
                cell.metadata["tags"] = list(c["tags"])
        cell.id = f"c{k:02d}"
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def book(tmp_path):
    """A book in a temporary root: ``book.chapter(name, cells)`` writes notebooks/<name>.ipynb,
    ``book.copy(real_path)`` copies a real chapter (and the glossary) into it."""

    class Book:
        root = tmp_path
        notebooks = tmp_path / "notebooks"

        def chapter(self, name, cells):
            return make_notebook(self.notebooks / f"{name}.ipynb", cells)

        def copy(self, path: Path) -> Path:
            self.notebooks.mkdir(parents=True, exist_ok=True)
            glossary = ROOT / "notebooks" / "glossary.md"
            if glossary.exists():
                shutil.copy(glossary, self.notebooks / "glossary.md")
            target = self.notebooks / Path(path).name
            shutil.copy(path, target)
            return target

        @staticmethod
        def edit(path: Path, change) -> None:
            """Apply ``change(notebook_dict)`` to a notebook file in place."""
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            change(data)
            Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    return Book()
