"""The `#@save` → d2l_local extractor, rule by rule, on small notebooks built here with nbformat."""
from __future__ import annotations

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
    return extract.main([*args, "--notebooks", str(book / "notebooks"), "--output", str(book / "d2l_local" / "__init__.py")])


def source_of(book: Path) -> str:
    return extract.extract(book / "notebooks").source


# --- what is saved ------------------------------------------------------------------------------

def test_first_line_marker_saves_whole_cell_without_the_marker(book):
    make_notebook(book / "notebooks", "01_a.ipynb",
                  "#@save\nimport torch\n\ndef zeros(n):\n    return torch.zeros(n)",
                  "def not_saved():\n    pass")
    source = source_of(book)
    assert "def zeros(n):\n    return torch.zeros(n)" in source
    assert "#@save" not in source.split('"""', 2)[2]  # only the banner may mention the marker
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
    make_notebook(notebooks, "02_second.ipynb", "#@save\ndef second():\n    return first()")
    make_notebook(notebooks, "01_first.ipynb", "#@save\ndef first():\n    return 1", "#@save\ndef also_first():\n    return 2")
    source = source_of(book)
    assert source.startswith("# ====")
    assert "Generated from notebooks/ — edit the notebook, then regenerate" in source
    p1 = source.index("# ---- notebooks/01_first.ipynb · cell 1 · id 01c0 ----\ndef first")
    p2 = source.index("# ---- notebooks/01_first.ipynb · cell 2 · id 01c1 ----\ndef also_first")
    p3 = source.index("# ---- notebooks/02_second.ipynb · cell 1 · id 02c0 ----\ndef second")
    assert p1 < p2 < p3


def test_imports_are_gathered_once_deduplicated_merged_and_sorted(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb",
                  "#@save\nimport torch\nfrom torch import nn\nimport collections\n\nLAYER = nn.Linear",
                  "#@save\nfrom __future__ import annotations\nimport torch\nfrom torch import optim\n\nOPT = optim.SGD",
                  "#@save\nimport numpy as np\nfrom torch import nn as torch_nn\n\nX = (np, torch, torch_nn, collections)")
    source = source_of(book)
    header = source[:source.index("d2l = sys.modules")]
    import_lines = [l for l in header.splitlines() if l.startswith(("import ", "from "))]
    assert import_lines == [
        "from __future__ import annotations",
        "import collections",
        "import numpy as np",
        "import sys",
        "import torch",
        "from torch import nn, nn as torch_nn, optim",
    ]
    body = source[source.index("d2l = sys.modules"):]
    assert "import " not in body  # no import left inside the blocks


def test_import_sharing_a_line_with_code_is_an_error(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nimport os; X = os.sep")
    with pytest.raises(ExtractError, match="cell 1.*line of its own"):
        source_of(book)


def test_module_binds_d2l_to_itself_so_saved_code_can_say_d2l_name(book):
    notebooks = book / "notebooks"
    make_notebook(notebooks, "01_a.ipynb", "#@save\ndef base():\n    return 41")
    make_notebook(notebooks, "02_b.ipynb", "#@save\ndef derived():\n    return d2l.base() + 1")
    assert run_cli(book) == 0
    spec = importlib.util.spec_from_file_location("scratch_d2l", book / "d2l_local" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["scratch_d2l"] = module
    try:
        spec.loader.exec_module(module)
        assert module.derived() == 42
        assert module.d2l is module
    finally:
        del sys.modules["scratch_d2l"]


# --- determinism, atomic writes, --check -------------------------------------------------------

def test_two_runs_give_byte_identical_output(book):
    make_notebook(book / "notebooks", "01_a.ipynb", "#@save\nimport os\nimport sys\n\nSEP = os.sep + sys.platform")
    target = book / "d2l_local" / "__init__.py"
    assert run_cli(book) == 0
    first = target.read_bytes()
    assert run_cli(book) == 0
    assert target.read_bytes() == first
    assert first.endswith(b"\n") and b"\r\n" not in first


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
    namespace: dict = {}
    exec(compile(source, "generated", "exec"), namespace)
    assert namespace["helper"]() == 3


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
    args = ["--notebooks", str(tmp_path / "notebooks"), "--output", str(tmp_path / "d2l_local" / "__init__.py")]
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
    assert "EDITED_IN_TEST = True" in (tmp_path / "d2l_local" / "__init__.py").read_text()


def test_generated_package_imports_and_has_its_banner():
    import d2l_local

    text = Path(d2l_local.__file__).read_text(encoding="utf-8")
    assert "GENERATED FILE — DO NOT EDIT" in text.splitlines()[1]
    assert d2l_local.d2l is d2l_local
