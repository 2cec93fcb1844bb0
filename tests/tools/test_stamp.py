"""The Colab badge and setup cell that `python -m booktools.stamp` writes, and what the setup cell does.

The setup cell is executed here in this process, with ``subprocess.run`` replaced by a recorder: locally
it must not call pip at all; with a fake ``google.colab`` module in ``sys.modules`` (what Colab's
kernel has) it must call pip with exactly the arguments below. The real install, in a fresh venv that
already has torch, is the slow test in ``tests/system/test_colab.py`` (``make colab-test``).
"""
from __future__ import annotations

import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from booktools import config, figures, stamp

ROOT = Path(__file__).resolve().parents[2]


def expected_colab_url(file_name: str) -> str:
    owner_repo = config.REPO_URL.removeprefix("https://github.com/").removesuffix(".git").strip("/")
    return (f"https://colab.research.google.com/github/{owner_repo}/blob/{config.REPO_BRANCH}"
            f"/notebooks/{file_name}")


def expected_pip_args() -> list[str]:
    # Written out here on purpose (not taken from stamp.py): this is the command the book promises.
    return [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", f"git+{config.REPO_URL}",
            "jieba>=0.42", "opencc-python-reimplemented>=0.1.7"]


def make_notebook(path: Path, with_setup: str | None = "old") -> Path:
    """A small chapter as it looked before this stamp: title, an old setup cell, code with outputs."""
    cells = [nbformat.v4.new_markdown_cell("# 3. 编码器\n\n**本章目标**")]
    if with_setup == "old":
        setup = nbformat.v4.new_code_cell(
            "import sys\nif 'google.colab' in sys.modules:\n    pass\nimport d2l_local as d2l",
            metadata={"tags": ["setup"]}, execution_count=1)
        cells.append(setup)
    cells.append(nbformat.v4.new_markdown_cell("为什么要这样做。"))
    code = nbformat.v4.new_code_cell("print(1 + 1)", execution_count=2)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    cells.append(code)
    nb = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(nb, path)
    return path


def setup_cell_source(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return nb.cells[stamp.setup_cell_index(nb)].source


# --- the badge -------------------------------------------------------------------------------------

def test_badge_is_the_first_cell_and_opens_this_very_notebook_in_colab(tmp_path):
    path = make_notebook(tmp_path / "04_encoder.ipynb")
    assert stamp.stamp(path) is True
    nb = nbformat.read(path, as_version=4)
    badge = nb.cells[0]
    assert badge.cell_type == "markdown" and stamp.BADGE_TAG in badge.metadata["tags"]
    assert figures.unembedded_source(badge.source) == \
        f"[![在 Colab 中打开](../images/open-in-colab.svg)]({expected_colab_url('04_encoder.ipynb')})"
    assert badge.source.startswith("[![在 Colab 中打开](data:image/svg+xml;base64,"), \
        "the badge image travels inside the notebook"
    assert stamp.stamp(path) is False, "stamping again changes nothing"
    assert nb.cells[1].source.startswith("# 3. 编码器"), "the title follows the badge"
    assert stamp.problems(nb, path.name) == []


def test_badge_names_each_notebooks_own_file(tmp_path):
    for name in ["01_encoder_decoder.ipynb", "14_transformer.ipynb"]:
        path = make_notebook(tmp_path / name)
        stamp.stamp(path)
        source = nbformat.read(path, as_version=4).cells[0].source
        assert source.endswith(f"/notebooks/{name})")
        other = "14_transformer.ipynb" if name.startswith("01") else "01_encoder_decoder.ipynb"
        assert other not in source


def test_badge_and_install_cell_follow_repo_url(tmp_path, monkeypatch):
    path = make_notebook(tmp_path / "06_masking_and_loss.ipynb")
    stamp.stamp(path)
    monkeypatch.setattr(config, "REPO_URL", "https://github.com/someone/a-fork")
    monkeypatch.setattr(config, "REPO_BRANCH", "dev")
    stale = nbformat.read(path, as_version=4)
    found = stamp.problems(stale, path.name)
    assert any("badge differs" in p for p in found) and any("setup cell" in p for p in found), found
    assert stamp.main(["--check", str(path)]) == 1

    assert stamp.stamp(path) is True
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source.endswith(
        "(https://colab.research.google.com/github/someone/a-fork/blob/dev/notebooks/06_masking_and_loss.ipynb)")
    assert '"git+https://github.com/someone/a-fork"' in setup_cell_source(path)
    assert "seq2seq-attention-book" not in nb.cells[0].source + setup_cell_source(path)
    assert stamp.main(["--check", str(path)]) == 0


@pytest.mark.parametrize("breakage", [
    "badge points at another notebook", "badge removed", "badge not first",
    "install without --no-deps", "install from another repository", "setup cell not first code cell",
])
def test_check_fails_when_a_notebook_disagrees_with_the_config(tmp_path, breakage, capsys):
    path = make_notebook(tmp_path / "05_decoder.ipynb")
    stamp.stamp(path)
    nb = nbformat.read(path, as_version=4)
    setup = stamp.setup_cell_index(nb)
    if breakage == "badge points at another notebook":
        nb.cells[0].source = nb.cells[0].source.replace("05_decoder", "04_encoder")
    elif breakage == "badge removed":
        del nb.cells[0]
    elif breakage == "badge not first":
        nb.cells.insert(1, nb.cells.pop(0))
    elif breakage == "install without --no-deps":
        nb.cells[setup].source = nb.cells[setup].source.replace('"--no-deps", ', "")
    elif breakage == "install from another repository":
        nb.cells[setup].source = nb.cells[setup].source.replace(config.REPO_URL, "https://github.com/x/y")
    elif breakage == "setup cell not first code cell":
        nb.cells.insert(setup, nbformat.v4.new_code_cell("x = 1"))
    nbformat.write(nb, path)

    assert stamp.problems(nbformat.read(path, as_version=4), path.name), breakage
    assert stamp.main(["--check", str(path)]) == 1
    assert "make stamp" in capsys.readouterr().err
    # ... and stamping repairs it.
    stamp.stamp(path)
    assert stamp.problems(nbformat.read(path, as_version=4), path.name) == []


def test_stamping_is_idempotent_and_keeps_ids_outputs_and_counts(tmp_path):
    path = make_notebook(tmp_path / "07_training.ipynb")
    before = nbformat.read(path, as_version=4)
    assert stamp.stamp(path) is True
    first = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    assert stamp.stamp(path) is False, "a second stamp changes nothing"
    assert path.read_bytes() == first and path.stat().st_mtime_ns == mtime, "and does not even rewrite the file"

    after = nbformat.read(path, as_version=4)
    assert [c.id for c in after.cells] == ["colab-badge"] + [c.id for c in before.cells]
    for old, new in zip(before.cells, after.cells[1:]):
        assert new.get("outputs") == old.get("outputs")
        assert new.get("execution_count") == old.get("execution_count")
    # A copy stamped elsewhere comes out byte-identical (the badge's id is fixed, not random).
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / path.name
    nbformat.write(before, copy)
    stamp.stamp(copy)
    assert copy.read_bytes() == first


def test_stamp_inserts_a_missing_setup_cell_before_the_first_code_cell(tmp_path):
    path = make_notebook(tmp_path / "10_attention_pooling.ipynb", with_setup=None)
    stamp.stamp(path)
    nb = nbformat.read(path, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "markdown", "code", "code"]
    assert nb.cells[3].source == stamp.setup_source() and "setup" in nb.cells[3].metadata.tags
    assert nb.cells[4].source == "print(1 + 1)"


def test_stamp_moves_the_badge_to_the_top_and_drops_stray_copies(tmp_path):
    path = make_notebook(tmp_path / "11_attention_scoring.ipynb")
    stamp.stamp(path)
    nb = nbformat.read(path, as_version=4)
    badge = nb.cells.pop(0)
    nb.cells.insert(2, badge)
    stray = nbformat.v4.new_markdown_cell("old badge", metadata={"tags": ["colab-badge"]})
    nb.cells.append(stray)
    nbformat.write(nb, path)
    assert stamp.stamp(path) is True
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].id == badge.id
    assert sum(stamp.BADGE_TAG in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert stamp.problems(nb, path.name) == []


def test_two_setup_cells_are_an_error_that_says_what_to_do(tmp_path):
    path = make_notebook(tmp_path / "12_bahdanau_attention.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys", metadata={"tags": ["setup"]}))
    nbformat.write(nb, path)
    before = path.read_bytes()
    with pytest.raises(stamp.StampError, match="keep only the first"):
        stamp.stamp(path)
    assert path.read_bytes() == before


def test_a_notebook_saved_by_someone_else_meanwhile_is_not_overwritten(tmp_path):
    path = make_notebook(tmp_path / "13_multihead_attention.ipynb")
    stat_before = path.stat()
    nb = nbformat.read(path, as_version=4)
    stamp.stamp_notebook(nb, path.name)
    theirs = nbformat.read(path, as_version=4)
    theirs.cells.append(nbformat.v4.new_markdown_cell("## 练习\n\n1. 新加的练习"))
    nbformat.write(theirs, path)  # another helper saves between our read and our write
    assert stamp.nbtools.write_atomically(path, nb, unchanged_since=stat_before) is False
    assert "新加的练习" in path.read_text(encoding="utf-8")
    stamp.stamp(path)  # a fresh read-modify-write keeps their cell
    text = path.read_text(encoding="utf-8")
    assert "新加的练习" in text and "colab-badge" in text
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left behind"


# --- config -------------------------------------------------------------------------------------------

def test_colab_url_accepts_a_file_name_a_path_or_a_stem():
    url = expected_colab_url("04_encoder.ipynb")
    assert config.colab_url("04_encoder.ipynb") == url
    assert config.colab_url(ROOT / "notebooks" / "04_encoder.ipynb") == url
    assert config.colab_url("04_encoder") == url
    assert config.github_url("04_encoder").startswith(config.REPO_URL + "/blob/")


def test_a_repo_url_colab_cannot_open_is_a_clear_error():
    with pytest.raises(ValueError, match="https://github.com/OWNER/REPO"):
        config.colab_url("04_encoder.ipynb", repo_url="https://gitlab.com/a/b")
    with pytest.raises(stamp.StampError, match="booktools/config.py"):
        stamp.setup_source('https://github.com/a/b"; import os; "')


def test_the_badge_image_is_our_own_offline_svg():
    svg = ROOT / "images" / "open-in-colab.svg"
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox")
    text = svg.read_text(encoding="utf-8")
    assert "Open in Colab" in text
    for element in root.iter():
        for key, value in element.attrib.items():
            if key.endswith("href") or "url(" in value:
                assert not value.startswith(("http:", "https:", "//")) and "url(http" not in value, \
                    f"{element.tag} {key}={value!r}: the badge must not fetch anything"
    assert "@import" not in text and "<image" not in text


# --- what the setup cell does ------------------------------------------------------------------------

class PipRecorder:
    """Stands in for subprocess.run: records each call; ``install`` makes d2l_local importable again."""

    def __init__(self, returncode=0, stderr="", install=None):
        self.calls, self.returncode, self.stderr, self.install = [], returncode, stderr, install

    def __call__(self, args, **kwargs):
        self.calls.append((list(args), kwargs))
        if self.install and self.returncode == 0:
            self.install()
        return subprocess.CompletedProcess(args, self.returncode, stdout="", stderr=self.stderr)


def run_setup_cell(source: str) -> dict:
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<setup cell>", "exec"), namespace)
    return namespace


@pytest.fixture
def stamped_setup(tmp_path):
    path = make_notebook(tmp_path / "01_encoder_decoder.ipynb")
    stamp.stamp(path)
    return setup_cell_source(path)


@pytest.fixture
def not_on_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


@pytest.fixture
def on_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))


def test_locally_the_setup_cell_never_calls_pip(stamped_setup, not_on_colab, monkeypatch):
    import d2l_local

    recorder = PipRecorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    namespace = run_setup_cell(stamped_setup)
    assert recorder.calls == []
    assert namespace["d2l"] is d2l_local


def test_locally_a_missing_d2l_local_says_how_to_install_it(stamped_setup, not_on_colab, monkeypatch):
    recorder = PipRecorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    monkeypatch.setitem(sys.modules, "d2l_local", None)  # import d2l_local now fails
    with pytest.raises(ImportError, match="make venv") as info:
        run_setup_cell(stamped_setup)
    assert "pip install -e ." in str(info.value)
    assert recorder.calls == [], "no pip call locally, even when d2l_local is missing"


def test_on_colab_the_setup_cell_installs_d2l_local_with_exactly_this_pip_command(
        stamped_setup, on_colab, monkeypatch):
    import d2l_local

    monkeypatch.setitem(sys.modules, "d2l_local", None)  # not installed yet
    recorder = PipRecorder(install=lambda: sys.modules.__setitem__("d2l_local", d2l_local))
    monkeypatch.setattr(subprocess, "run", recorder)
    namespace = run_setup_cell(stamped_setup)
    assert len(recorder.calls) == 1
    args, kwargs = recorder.calls[0]
    assert args == expected_pip_args()
    assert kwargs.get("capture_output") is True, "pip's messages are shown only when it fails"
    assert namespace["d2l"] is d2l_local, "the package imports in the same kernel right after pip"


def test_on_colab_rerunning_the_setup_cell_does_not_call_pip_again(stamped_setup, on_colab, monkeypatch):
    import d2l_local

    recorder = PipRecorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    namespace = run_setup_cell(stamped_setup)  # d2l_local is importable: already installed
    assert recorder.calls == []
    assert namespace["d2l"] is d2l_local


def test_on_colab_a_failed_pip_says_what_happened_and_what_to_do(stamped_setup, on_colab, monkeypatch):
    monkeypatch.setitem(sys.modules, "d2l_local", None)
    recorder = PipRecorder(returncode=1, stderr="ERROR: Could not resolve host: github.com\n")
    monkeypatch.setattr(subprocess, "run", recorder)
    with pytest.raises(RuntimeError) as info:
        run_setup_cell(stamped_setup)
    message = str(info.value)
    assert "Could not resolve host: github.com" in message, "pip's own error is shown"
    assert "重新运行本单元" in message and f"!pip install --no-deps git+{config.REPO_URL}" in message
    assert len(recorder.calls) == 1


def test_the_setup_cell_is_a_colab_form_and_it_and_the_checks_are_folded(tmp_path):
    path = make_notebook(tmp_path / "13_multihead_attention.ipynb")
    nb = nbformat.read(path, as_version=4)
    check = nbformat.v4.new_code_cell("from d2l_exercises import ch13 as checks\nok = checks.f(f)",
                                      metadata={"tags": ["exercise"]})
    scaffold = nbformat.v4.new_code_cell("def f():\n    pass", metadata={"tags": ["exercise"]})
    nb.cells += [scaffold, check]
    nbformat.write(nb, path)
    assert any("not folded" in p for p in stamp.problems(nbformat.read(path, as_version=4), path.name)) \
        or stamp.setup_cell_index(nb) is None
    stamp.stamp(path)
    nb = nbformat.read(path, as_version=4)
    assert stamp.problems(nb, path.name) == []
    setup = nb.cells[stamp.setup_cell_index(nb)]
    assert setup.source.startswith('#@title ') and '{ display-mode: "form" }' in setup.source.splitlines()[0]
    assert setup.metadata["jupyter"]["source_hidden"] is True
    assert nb.cells[-1].metadata["jupyter"]["source_hidden"] is True      # the check
    assert "jupyter" not in nb.cells[-2].metadata                        # the scaffold stays open
