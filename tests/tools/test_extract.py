"""The `#@save` → d2l_local extractor, rule by rule, on small notebooks built here with nbformat."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from booktools import extract
from booktools.extract import ExtractError

ROOT = Path(__file__).resolve().parents[2]


def make_notebook(folder: Path, name: str, *sources: str, markdown_first: bool = True) -> Path:
    """Write a notebook whose code cells have the given sources (after one markdown cell)."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell(f"# {name}")] if markdown_first else []
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = f"{Path(name).stem[:2]}c{i}"  # stable ids keep the output comparable
        cells.append(cell)
    nb.cells = cells
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.fixture
def book(tmp_path):
    """A scratch book: notebooks/ and d2l_local/ under tmp_path."""
    (tmp_path / "d2l_local").mkdir()
    return tmp_path


def run_cli(book: Path, *args: str) -> int:
    return extract.main([*args, "--notebooks", str(book / "notebooks"), "--package", str(book / "d2l_local")])


@contextlib.contextmanager
def imported_package(book: Path):
    """The generated package of a scratch book, imported as `d2l_local` (the real one is put back after)."""
    saved = {name: module for name, module in sys.modules.items() if name == "d2l_local" or name.startswith("d2l_local.")}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(book))
    try:
        yield importlib.import_module("d2l_local")
    finally:
        sys.path.remove(str(book))
        for name in [n for n in sys.modules if n == "d2l_local" or n.startswith("d2l_local.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def source_of(book: Path) -> str:
    return extract.extract(book / "notebooks").source


# --- what is saved ------------------------------------------------------------------------------

def test_first_line_marker_saves_whole_cell_without_the_marker(book):
    make_notebook(book / "notebooks", "01_a.ipynb",
                  "#@save\nimport torch\n\ndef zeros(n):\n    return torch.zeros(n)",
                  "def not_saved():\n    pass")
    source = source_of(book)
    assert "def zeros(n):\n    return torch.zeros(n)" in source
    assert [l for l in source.splitlines() if "#@save" in l and l not in extract.BANNER] == []  # only the banner
    assert "not_saved" not in source


def test_trailing_marker_saves_only_that_top_level_statement(book):
    make_notebook(book / "notebooks", "01_a.ipynb",
                  "x = 1\ndef kept(a):  #@save\n    return a + 1\nprint(kept(x))\nskipped = 2",
                  "import functools  #@save\n\n@functools.lru_cache()  #@save\ndef cached(n):\n    return n")
    source = source_of(book)
    assert "def kept(a):\n    return a + 1" in source
    assert "print(kept(x))" not in source and "skipped" not in source and "x = 1" not in source
    assert "@functools.lru_cache()\ndef cached(n):" in source  # decorator kept, marker gone
    assert "import functools" in source


def test_trailing_marker_on_def_line_of_decorated_function_keeps_decorator(book):
    make_notebook(book / "notebooks", "01_a.ipynb",
                  "import functools  #@save\n@functools.lru_cache()\ndef cached(n):  #@save\n    return n")
    assert "@functools.lru_cache()\ndef cached(n):\n    return n" in source_of(book)


@pytest.mark.parametrize("cell", [
    "def f():\n    x = 1  #@save\n    return x",           # indented line
    "y = (1 +\n     2)  #@save",                            # not the first line of the statement
    "#@save # with a comment after it\nz = 1",              # malformed head marker
])
def test_misplaced_trailing_marker_is_an_error(book, cell):
    make_notebook(book / "notebooks", "01_a.ipynb", cell)
    with pytest.raises(ExtractError, match=r"notebooks/01_a\.ipynb, cell 1.*must be the first line of the cell"):
        source_of(book)


def test_empty_saved_cell_is_an_error(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\n")
    with pytest.raises(ExtractError, match="cell 1.*no code"):
        source_of(book)


# --- layout of the module ----------------------------------------------------------------------

def test_reading_order_banner_and_provenance(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "02_second.ipynb", "#@save\ndef second():\n    return d2l.first()")
    make_notebook(notebooks, "01_first.ipynb", "#@save\ndef first():\n    return 1", "#@save\ndef also_first():\n    return 2")
    source = source_of(book)
    assert source.startswith("# ====")
    assert "Generated from notebooks/ — edit the notebook, then regenerate" in source
    p1 = source.index("# ---- notebooks/01_first.ipynb · cell id 01c0 ----\ndef first")
    p2 = source.index("# ---- notebooks/01_first.ipynb · cell id 01c1 ----\ndef also_first")
    p3 = source.index("# ---- notebooks/02_second.ipynb · cell id 02c0 ----\ndef second")
    assert p1 < p2 < p3
    files = extract.extract(notebooks).files
    assert sorted(files) == ["__init__.py", "ch01_first.py", "ch02_second.py"]
    assert "def second" in files["ch02_second.py"] and "def first" not in files["ch02_second.py"]
    init = files["__init__.py"]
    assert init.index("from .ch01_first import *") < init.index("from .ch02_second import *")


def test_imports_are_gathered_once_deduplicated_merged_and_sorted(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb",
                  "#@save\nimport torch\nfrom torch import nn\nimport collections\n\nLAYER = nn.Linear",
                  "#@save\nfrom __future__ import annotations\nimport torch\nfrom torch import optim\n\nOPT = optim.SGD",
                  "#@save\nimport numpy as np\nfrom torch import nn as torch_nn\n\nX = (np, torch, torch_nn, collections)")
    source = extract.extract(notebooks).files["ch01_a.py"]
    header = source[:source.index("__all__")]
    import_lines = [l for l in header.splitlines() if l.startswith(("import ", "from "))]
    assert import_lines == [
        "from __future__ import annotations",
        "import collections",
        "import numpy as np",
        "import torch",
        "from torch import nn, nn as torch_nn, optim",
        "import d2l_local as d2l  # other chapters' names: d2l.name",
    ]
    body = source[source.index("__all__"):]
    assert "import " not in body  # no import left inside the blocks


def test_import_sharing_a_line_with_code_is_an_error(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nimport os; X = os.sep")
    with pytest.raises(ExtractError, match="cell 1.*line of its own"):
        source_of(book)


def test_saved_code_says_d2l_name_for_other_chapters_and_the_package_exports_public_names(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "#@save\ndef base():\n    return 41\n\n\ndef _private():\n    return 0")
    make_notebook(notebooks, "02_b.ipynb", "#@save\ndef derived():\n    return d2l.base() + 1")
    assert run_cli(book) == 0
    with imported_package(book) as d2l:
        assert d2l.derived() == 42
        assert d2l.__all__ == ["base", "derived"]  # private helpers stay private
        assert not hasattr(d2l, "_private")
        assert d2l.ch01_a._private() == 0 and d2l.ch02_b.d2l is d2l
        assert d2l.derived.__module__ == "d2l_local.ch02_b"  # a traceback names the chapter


def test_a_name_of_another_chapter_used_bare_says_to_write_d2l_name(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "#@save\ndef base():\n    return 41")
    make_notebook(notebooks, "02_b.ipynb", "#@save\ndef derived():\n    return base() + 1")
    with pytest.raises(ExtractError, match=r"02_b\.ipynb, cell 1 \(id 02c0\): undefined name 'base' "
                                           r"\(notebooks/01_a\.ipynb defines it: write `d2l\.base`\)"):
        source_of(book)


def test_redefined_name_used_bare_in_its_own_chapter_must_say_d2l_name(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "#@save\ndef step():\n    return 1\n\n\ndef run():\n    return step()")
    make_notebook(notebooks, "02_b.ipynb", "#@save redefines=step\ndef step():\n    return 2")
    with pytest.raises(ExtractError, match=r"01_a\.ipynb, cell 1.*uses `step` bare.*02_b\.ipynb.*Write `d2l\.step`"):
        source_of(book)
    make_notebook(notebooks, "01_a.ipynb", "#@save\ndef step():\n    return 1\n\n\ndef run():\n    return d2l.step()")
    assert run_cli(book) == 0
    with imported_package(book) as d2l:
        assert d2l.run() == 2 and d2l.step() == 2


@pytest.mark.parametrize("marker", ["#@SAVE", "#@Save", "# @save", "#@ save"])
def test_a_marker_in_the_wrong_spelling_is_an_error_not_silently_skipped(book, marker):
    make_notebook(book / "notebooks", "01_a.ipynb", f"{marker}\ndef f():\n    return 1")
    with pytest.raises(ExtractError, match=r"cell 1.*line 1.*looks like a save marker but is not `#@save`"):
        source_of(book)


def test_a_saved_import_may_not_shadow_a_saved_definition_of_its_chapter(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\ndef sqrt(x):\n    return x ** 0.5",
                  "#@save\nfrom math import sqrt\n\nROOT2 = sqrt(2)")
    with pytest.raises(ExtractError, match=r"cell 2.*saved import binds `sqrt`.*cell 1.*saves as a definition"):
        source_of(book)


def test_a_hand_edited_cell_id_never_reaches_the_package(book):
    path = make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = 1")
    text = path.read_text(encoding="utf-8").replace('"id": "01c0"', '"id": "01c0\\nimport os; os.remove(x)"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExtractError, match=r"cell id .* is not a valid notebook cell id.*plain id"):
        source_of(book)


def test_stale_chapter_modules_are_removed_and_other_files_are_kept(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "#@save\nX = 1")
    make_notebook(notebooks, "02_b.ipynb", "#@save\nY = 2")
    data = book / "d2l_local" / "data"
    data.mkdir()
    (data / "corpus.txt.xz").write_bytes(b"\xfd7zXZ")
    (book / "d2l_local" / "handwritten.py").write_text("Z = 3\n")
    assert run_cli(book) == 0
    (notebooks / "02_b.ipynb").rename(notebooks / "03_b.ipynb")
    assert run_cli(book, "--check") == 1
    assert run_cli(book) == 0
    names = sorted(p.name for p in (book / "d2l_local").iterdir())
    assert names == ["__init__.py", "ch01_a.py", "ch03_b.py", "data", "handwritten.py"]
    assert (data / "corpus.txt.xz").read_bytes() == b"\xfd7zXZ"


def test_generated_files_keep_their_mode(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = 1")
    assert run_cli(book) == 0
    module = book / "d2l_local" / "ch01_a.py"
    assert module.stat().st_mode & 0o777 == 0o644
    module.chmod(0o664)
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = 2")
    assert run_cli(book) == 0
    assert module.stat().st_mode & 0o777 == 0o664


# --- determinism, atomic writes, --check -------------------------------------------------------

def test_two_runs_give_byte_identical_output(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nimport os\nimport sys\n\nSEP = os.sep + sys.platform")
    folder = book / "d2l_local"
    assert run_cli(book) == 0
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert run_cli(book) == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first
    for data in first.values():
        assert data.endswith(b"\n") and b"\r\n" not in data


def test_check_fails_with_diff_summary_when_stale_and_passes_after_regenerating(book, capsys):
    path = make_notebook(book / "notebooks", "01_a.ipynb", "#@save\ndef answer():\n    return 41")
    assert run_cli(book) == 0
    assert run_cli(book, "--check") == 0
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = "#@save\ndef answer():\n    return 42"
    nbformat.write(nb, path)
    capsys.readouterr()
    assert run_cli(book, "--check") == 1
    err = capsys.readouterr().err
    assert "stale" in err and "1 line(s) would be added and 1 removed" in err
    assert "-    return 41" in err and "+    return 42" in err
    assert "python -m booktools.extract" in err  # says how to fix it
    assert run_cli(book) == 0
    assert run_cli(book, "--check") == 0


def test_check_does_not_write(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = 1")
    target = book / "d2l_local" / "__init__.py"
    target.write_text("old\n")
    assert run_cli(book, "--check") == 1
    assert target.read_text() == "old\n"


def test_failed_write_leaves_old_module_and_no_temp_file(book, monkeypatch, capsys):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = 1")
    target = book / "d2l_local" / "__init__.py"
    target.write_text("old\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(extract.os, "replace", broken_replace)
    assert run_cli(book) == 2
    assert "nothing was changed" in capsys.readouterr().err
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["__init__.py"]


def test_unwritable_package_folder_gives_clear_error_and_changes_nothing(book, monkeypatch, capsys):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = 1")
    target = book / "d2l_local" / "__init__.py"
    target.write_text("old\n")

    def refuse(*args, **kwargs):  # what mkstemp raises in a read-only folder (root ignores chmod)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(extract.tempfile, "mkstemp", refuse)
    assert run_cli(book) == 2
    err = capsys.readouterr().err
    assert "cannot write into" in err and "Permission denied" in err and "make it writable" in err
    assert target.read_text() == "old\n"


def test_bad_input_does_not_touch_the_module(book, capsys):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\ndef broken(:\n    pass")
    target = book / "d2l_local" / "__init__.py"
    target.write_text("old\n")
    assert run_cli(book) == 2
    assert "notebooks/01_a.ipynb, cell 1" in capsys.readouterr().err
    assert target.read_text() == "old\n"


# --- bad input names the notebook and cell -----------------------------------------------------

def test_syntax_error_names_notebook_and_cell(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "print('fine')", "#@save\ndef broken(:\n    pass")
    with pytest.raises(ExtractError, match=r"notebooks/01_a\.ipynb, cell 2 \(id 01c1\): the saved code does not parse"):
        source_of(book)


def test_top_level_return_is_reported_as_not_compiling(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nreturn 1")
    with pytest.raises(ExtractError, match=r"notebooks/01_a\.ipynb, cell 1.*does not compile"):
        source_of(book)


def test_same_name_saved_in_two_notebooks_is_an_error(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "#@save\ndef helper():\n    return 1")
    make_notebook(notebooks, "02_b.ipynb", "#@save\nclass helper:\n    pass")
    with pytest.raises(ExtractError) as error:
        source_of(book)
    message = str(error.value)
    assert "notebooks/02_b.ipynb, cell 1" in message and "notebooks/01_a.ipynb, cell 1" in message
    assert "`helper`" in message and "redefines=helper" in message


def test_same_name_saved_twice_in_one_notebook_is_an_error(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nLIMIT = 1", "#@save\nLIMIT = 2")
    with pytest.raises(ExtractError, match="cell 2.*LIMIT"):
        source_of(book)


def test_declared_redefinition_is_allowed_and_the_later_block_wins(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "#@save\ndef helper():\n    return 1")
    make_notebook(notebooks, "02_b.ipynb", "#@save redefines=helper\ndef helper():\n    return 2",
                  "def other():  #@save redefines=helper\n    return 3\nhelper = other  #@save redefines=helper")
    source = source_of(book)
    assert "def helper" in source
    assert run_cli(book) == 0
    with imported_package(book) as d2l:
        assert d2l.helper() == 3


@pytest.mark.parametrize("cells, pattern", [
    (["#@save redefines=nowhere\ndef nowhere():\n    pass"], "no earlier `#@save` block defines `nowhere`"),
    (["#@save\ndef a():\n    pass", "#@save redefines=a\ndef b():\n    pass"], "does not define `a`"),
])
def test_wrong_redefinition_claims_are_errors(book, cells, pattern):
    make_notebook(book / "notebooks", "01_a.ipynb", *cells)
    with pytest.raises(ExtractError, match=pattern):
        source_of(book)


@pytest.mark.parametrize("cell", [
    "#@save\n%matplotlib inline\nX = 1",
    "#@save\n!pip install torch\nX = 1",
    "#@save\nfiles = !ls\nX = 1",
    "#@save\ndef f():\n    %timeit g()",
])
def test_magics_and_shell_escapes_in_saved_cells_are_errors(book, cell):
    make_notebook(book / "notebooks", "01_a.ipynb", cell)
    with pytest.raises(ExtractError, match=r"notebooks/01_a\.ipynb, cell 1.*IPython magic or shell escape"):
        source_of(book)


def test_get_ipython_in_saved_cell_is_an_error(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nget_ipython().run_line_magic('matplotlib', 'inline')")
    with pytest.raises(ExtractError, match="cell 1.*get_ipython"):
        source_of(book)


def test_magics_in_unsaved_cells_are_fine(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "%matplotlib inline\n!ls", "#@save\nX = 1")
    assert "X = 1" in source_of(book)


def test_modulo_on_a_continuation_line_is_not_mistaken_for_a_magic(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = (7\n     % 3)")
    assert "% 3)" in source_of(book)


def test_invalid_json_names_the_notebook(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nX = 1")
    (book / "notebooks" / "02_b.ipynb").write_text('{"cells": [ <<<<<<< HEAD', encoding="utf-8")
    with pytest.raises(ExtractError, match=r"notebooks/02_b\.ipynb: not valid JSON \(line 1"):
        source_of(book)


def test_json_that_is_not_a_notebook_is_an_error(book):
    (book / "notebooks").mkdir()
    (book / "notebooks" / "01_a.ipynb").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ExtractError, match="01_a.ipynb: not a notebook"):
        source_of(book)


def test_undefined_name_names_the_block_it_comes_from(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "import torch", "#@save\ndef zeros():\n    return torch.zeros(1)")
    with pytest.raises(ExtractError) as error:
        source_of(book)
    assert "notebooks/01_a.ipynb, cell 2 (id 01c1): undefined name 'torch'" in str(error.value)


@pytest.mark.parametrize("name", ["chapter.ipynb", "1_short.ipynb", "03_Upper.ipynb", "04_中文.ipynb"])
def test_notebook_names_must_be_numbered_ascii(book, name):
    make_notebook(book / "notebooks", name, "#@save\nX = 1")
    with pytest.raises(ExtractError, match="NN_ascii_name.ipynb"):
        source_of(book)


def test_two_notebooks_with_one_number_is_an_error(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "X = 1")
    make_notebook(book / "notebooks", "01_b.ipynb", "Y = 1")
    with pytest.raises(ExtractError, match="share the number 01"):
        source_of(book)


def test_cli_reports_errors_on_stderr_with_exit_code_2(book, capsys):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\n!ls")
    assert run_cli(book) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: notebooks/01_a.ipynb, cell 1")


# --- the real book ------------------------------------------------------------------------------

def test_d2l_local_is_in_sync_with_the_notebooks():
    """The sync check CI relies on: `python -m booktools.extract --check` on the repository."""
    result = subprocess.run([sys.executable, "-m", "booktools.extract", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_editing_a_saved_cell_of_the_real_book_makes_the_check_fail_until_regenerated(tmp_path):
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "checkpoints"))
    shutil.copytree(ROOT / "d2l_local", tmp_path / "d2l_local", ignore=shutil.ignore_patterns("__pycache__"))
    args = ["--notebooks", str(tmp_path / "notebooks"), "--package", str(tmp_path / "d2l_local")]
    assert extract.main(["--check", *args]) == 0
    for path in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        saved = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("#@save")]
        if saved:
            saved[-1].source += "\n\nEDITED_IN_TEST = True"
            nbformat.write(nb, path)
            break
    else:
        pytest.fail("the book has no #@save cell")
    assert extract.main(["--check", *args]) == 1
    assert extract.main(args) == 0
    assert extract.main(["--check", *args]) == 0
    assert "EDITED_IN_TEST = True" in "".join(p.read_text() for p in (tmp_path / "d2l_local").glob("*.py"))


def test_generated_package_imports_and_every_module_has_its_banner():
    import d2l_local

    modules = sorted(Path(d2l_local.__file__).parent.glob("*.py"))
    assert len(modules) >= 3
    for module in modules:
        assert "GENERATED FILE — DO NOT EDIT" in module.read_text(encoding="utf-8").splitlines()[1], module.name
    assert d2l_local.ch01_encoder_decoder.d2l is d2l_local
    assert all(name in dir(d2l_local) for name in d2l_local.__all__)
