"""booktools.nb: the chapter list, cell locations and the one atomic notebook writer every tool uses."""
from __future__ import annotations

import os

import nbformat
import pytest

from booktools import nb


def new_notebook(path, text="x = 1"):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(text)]
    nbformat.write(notebook, path)
    return path


def test_chapters_are_numbered_ascii_notebooks_in_reading_order(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "10_c.ipynb"):
        new_notebook(tmp_path / name)
    assert [p.name for p in nb.chapter_paths(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]
    assert nb.module_name(tmp_path / "10_c.ipynb") == "ch10_c" and nb.chapter_number("02_b.ipynb") == 2
    new_notebook(tmp_path / "Untitled.ipynb")
    with pytest.raises(nb.NotebookError, match="NN_ascii_name"):
        nb.chapter_paths(tmp_path)


def test_where_names_notebook_cell_and_only_the_first_line_of_an_id():
    cell = nbformat.v4.new_code_cell("x")
    cell["id"] = "ch07-08\nimport os"
    assert nb.where(nb.ROOT / "notebooks" / "07_training.ipynb", 9, cell) == \
        "notebooks/07_training.ipynb, cell 9 (id ch07-08)"


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o600, 0o755])
def test_write_atomically_keeps_the_files_mode(tmp_path, mode):
    path = new_notebook(tmp_path / "01_a.ipynb")
    path.chmod(mode)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = "x = 2"
    assert nb.write_atomically(path, notebook) is True
    assert path.stat().st_mode & 0o777 == mode
    assert nbformat.read(path, as_version=4).cells[0].source == "x = 2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_a.ipynb"]  # no temporary file left


def test_a_new_file_gets_the_umask_default_or_the_mode_asked_for(tmp_path):
    old = os.umask(0o022)
    try:
        nb.write_atomically(tmp_path / "new.txt", "text\n")
        nb.write_atomically(tmp_path / "other.txt", "text\n", mode=0o640)
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "other.txt").stat().st_mode & 0o777 == 0o640


def test_write_atomically_never_overwrites_an_edit_made_meanwhile(tmp_path):
    path = new_notebook(tmp_path / "01_a.ipynb")
    before = path.stat()
    mine = nbformat.read(path, as_version=4)
    new_notebook(path, "theirs = True  # saved by someone else while we worked")
    assert nb.write_atomically(path, mine, unchanged_since=before) is False
    assert "theirs" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_a.ipynb"]


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = new_notebook(tmp_path / "01_a.ipynb")
    old = path.read_bytes()

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nb.os, "replace", full_disk)
    with pytest.raises(OSError):
        nb.write_atomically(path, "new\n")
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_a.ipynb"]


def test_read_says_what_is_wrong(tmp_path):
    with pytest.raises(nb.NotebookError, match="no such notebook"):
        nb.read(tmp_path / "missing.ipynb")
    broken = tmp_path / "01_a.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(nb.NotebookError, match="not a readable notebook.*Restore it from git"):
        nb.read(broken)
