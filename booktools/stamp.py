"""Stamp the Colab badge and the setup cell into every notebook: ``python -m booktools.stamp [NOTEBOOK ...]``.

Both are generated from ``booktools/config.py`` (``REPO_URL``, ``REPO_BRANCH``), the one place the
repository's address is written; ``--check`` only reports notebooks that disagree with it.

* The badge is the first cell of each chapter: a markdown cell (id and tag ``colab-badge``) holding
  our own badge image ``images/open-in-colab.svg`` linked to ``config.colab_url(<this notebook>)``.
* Every diagram a markdown cell shows (``../images/name.svg``, the badge included) is written into
  that cell as a data URI (``booktools/figures.py``), so a chapter copied alone (Colab's
  "save a copy in Drive", a download) keeps its figures; ``images/`` stays the source of truth and
  ``--check`` reports a stale or missing copy.
* The setup cell is the first code cell (tagged ``setup``). On Colab it installs d2l_local from the
  repository with ``pip install --no-deps`` (pip never resolves, upgrades or reinstalls Colab's torch,
  numpy or matplotlib), only when it is not importable yet (re-running the cell does not call pip),
  and turns a failed pip into an error that says what to do. Locally it does not call pip at all: it
  imports d2l_local and, when that fails, says how to install it.

Stamping is idempotent, keeps every other cell (ids, outputs, execution counts) as it is, writes a
notebook only when it changes, and writes it atomically right after reading it (retrying when the
file changed in between), so it is safe while other people edit other cells.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from booktools import config, figures
from booktools import nb as nbtools

ROOT = nbtools.ROOT
NOTEBOOKS = nbtools.NOTEBOOK_DIR

SETUP_TAG = nbtools.SETUP_TAG
BADGE_TAG = nbtools.BADGE_TAG
BADGE_CELL_ID = "colab-badge"
BADGE_IMAGE = "../images/open-in-colab.svg"  # relative to notebooks/; drawn for this book; embedded by stamp
BADGE_ALT = "在 Colab 中打开"


class StampError(Exception):
    """A notebook the stamp cannot fix by itself (the message says what to do)."""


def badge_source(notebook_name, repo_url: str | None = None) -> str:
    """The badge cell's markdown for one notebook (its file name, path or stem)."""
    return f"[![{BADGE_ALT}]({BADGE_IMAGE})]({config.colab_url(notebook_name, repo_url)})"


_SETUP_TEMPLATE = '''\
#@title 准备环境（运行即可） { display-mode: "form" }
# 在 Colab 上先安装本书的代码包 d2l_local（只装它本身，不动 Colab 自带的 torch）；在本地只导入它。
import sys

if "google.colab" in sys.modules:
    import importlib.util
    if importlib.util.find_spec("d2l_local") is None:  # 重新运行本单元格时已经装好，不再调用 pip
        import subprocess
        # --no-deps：torch、numpy、matplotlib 用 Colab 自带的，pip 不去解析、升级或重装它们；
        # 第 17、18 章的中文分词（jieba）和繁简转换（OpenCC 的纯 Python 实现）一起装上（都没有依赖）
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "git+@REPO_URL@",
             "jieba>=0.42", "opencc-python-reimplemented>=0.1.7"],
            capture_output=True, text=True)
        if pip.returncode != 0:
            raise RuntimeError(
                "在 Colab 上安装 d2l_local 失败（pip 的报错在最后）。检查网络连接后重新运行本单元格；"
                "仍然失败就在新单元格里运行 `!pip install --no-deps git+@REPO_URL@` 查看完整输出。\\n"
                + pip.stderr[-2000:])
        importlib.invalidate_caches()  # 让同一个内核马上就能导入刚装好的包

try:
    import d2l_local as d2l
except ImportError as error:
    raise ImportError(
        f"无法导入 d2l_local（{error}）。本地：在仓库根目录运行 `make venv`，再选 .venv 里的 Python 作内核"
        "（或在自己的环境里运行 `pip install -e .`）；Colab：重新运行本单元格，它会先安装 d2l_local。"
    ) from error'''


def setup_source(repo_url: str | None = None) -> str:
    """The setup cell's code (default: the repository in ``booktools/config.py``)."""
    url = config.REPO_URL if repo_url is None else repo_url
    if not url or any(ch in url for ch in "\"'\\\n ") or not url.startswith(("https://", "file://")):
        raise StampError(f"REPO_URL {url!r} cannot go into a pip command: use https://github.com/OWNER/REPO "
                         "in booktools/config.py")
    return _SETUP_TEMPLATE.replace("@REPO_URL@", url)


def _tags(cell) -> list:
    return nbtools.tags(cell)


def setup_cell_index(nb) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and SETUP_TAG in _tags(cell):
            return i
    return None


def badge_cell_index(nb) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and BADGE_TAG in _tags(cell):
            return i
    return None


# JupyterLab shows these cells folded ("…"): the setup cell and the exercise checks are plumbing, the
# reader runs them but need not read them (Colab folds the setup cell by its `#@title` form line; the
# HTML edition drops the setup cell and folds the checks, see booktools.html).
HIDDEN_SOURCE = {"source_hidden": True}


def is_check_cell(cell) -> bool:
    """A checked exercise's check cell: tagged `exercise`, calls a check of d2l_exercises."""
    return (cell.cell_type == "code" and nbtools.EXERCISE_TAG in _tags(cell)
            and "from d2l_exercises import" in nbtools.source(cell))


def folded_cells(nb) -> list[int]:
    """Indices of the cells whose source JupyterLab shows folded: the setup cell and the check cells."""
    return [i for i, cell in enumerate(nb.cells)
            if (cell.cell_type == "code" and SETUP_TAG in _tags(cell)) or is_check_cell(cell)]


def _is_folded(cell) -> bool:
    return cell.get("metadata", {}).get("jupyter", {}).get("source_hidden") is True


def problems(nb, notebook_name, repo_url: str | None = None) -> list[str]:
    """What in ``nb`` disagrees with the config (empty when the badge and setup cell are canonical)."""
    found = []
    fix = "run `make stamp` (python -m booktools.stamp)"
    badge = badge_cell_index(nb)
    expected_badge = badge_source(notebook_name, repo_url)
    if badge is None:
        found.append(f"no Colab badge cell (a markdown cell tagged {BADGE_TAG!r}): {fix}")
    else:
        if badge != 0:
            found.append(f"the Colab badge is cell {badge}, not the first cell: {fix}")
        if figures.unembedded_source(nb.cells[badge].source) != expected_badge:
            found.append(f"the Colab badge differs from booktools/config.py (expected {expected_badge!r}, "
                         f"found {nb.cells[badge].source!r}): {fix}")
    setup = setup_cell_index(nb)
    if setup is None:
        found.append(f"no setup cell (a code cell tagged {SETUP_TAG!r}): {fix}")
    else:
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        if setup != first_code:
            found.append(f"the setup cell is cell {setup}, but the first code cell is cell {first_code}: {fix}")
        if nb.cells[setup].source != setup_source(repo_url):
            found.append(f"the setup cell (install command) differs from booktools/config.py: {fix}")
    for index in folded_cells(nb):
        if not _is_folded(nb.cells[index]):
            found.append(f"cell {index} (the setup cell or an exercise check) is not folded in JupyterLab: {fix}")
    found.extend(figures.problems(nb))
    return found


def fold(nb) -> bool:
    """Fold the setup cell and the check cells in JupyterLab; True when anything changed."""
    changed = False
    for index in folded_cells(nb):
        cell = nb.cells[index]
        if not _is_folded(cell):
            cell.metadata.setdefault("jupyter", {}).update(HIDDEN_SOURCE)
            changed = True
    return changed


def stamp_notebook(nb, notebook_name, repo_url: str | None = None) -> bool:
    """Make ``nb``'s badge, setup cell and embedded figures canonical, in memory; True when anything changed."""
    changed = _stamp_cells(nb, notebook_name, repo_url)
    return figures.embed(nb) or changed


def _stamp_cells(nb, notebook_name, repo_url: str | None = None) -> bool:
    changed = False
    setups = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and SETUP_TAG in _tags(c)]
    if len(setups) > 1:
        raise StampError(f"{notebook_name}: cells {setups} are all tagged {SETUP_TAG!r}; keep only the first "
                         "code cell's tag (delete the other cells or their tag), then stamp again.")

    # The badge: one markdown cell, first in the notebook.
    badge_text = badge_source(notebook_name, repo_url)
    badges = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and BADGE_TAG in _tags(c)]
    if badges:
        cell = nb.cells[badges[0]]
        for i in reversed(badges[1:]):  # stray copies (e.g. from a merge)
            del nb.cells[i]
            changed = True
        if badges[0] != 0:
            nb.cells.remove(cell)
            nb.cells.insert(0, cell)
            changed = True
        if figures.unembedded_source(cell.source) != badge_text:
            cell.source = badge_text  # embedded again below
            changed = True
    else:
        cell = nbformat.v4.new_markdown_cell(badge_text, metadata={"tags": [BADGE_TAG]})
        if all(c.get("id") != BADGE_CELL_ID for c in nb.cells):
            cell.id = BADGE_CELL_ID  # the same id in every notebook: stamping a copy gives the same file
        nb.cells.insert(0, cell)
        changed = True

    # The setup cell: the first code cell.
    source = setup_source(repo_url)
    index = setup_cell_index(nb)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    if index is None:
        nb.cells.insert(first_code, nbformat.v4.new_code_cell(
            source, metadata={"tags": [SETUP_TAG], "jupyter": dict(HIDDEN_SOURCE)}))
        fold(nb)
        return True
    cell = nb.cells[index]
    if index != first_code:
        nb.cells.remove(cell)
        nb.cells.insert(first_code, cell)
        changed = True
    if cell.source != source:
        cell.source = source  # outputs and execution count stay: locally the cell prints nothing
        changed = True
    return fold(nb) or changed


def stamp(path: Path, repo_url: str | None = None, attempts: int = 5) -> bool:
    """Make ``path``'s badge and setup cell canonical; return True when the file changed."""
    path = Path(path)
    for _ in range(attempts):
        stat_before = path.stat()
        nb = nbformat.read(path, as_version=4)
        if not stamp_notebook(nb, path.name, repo_url):
            return False
        if nbtools.write_atomically(path, nb, unchanged_since=stat_before):  # else: saved meanwhile, read again
            return True
    raise StampError(f"{path}: the file kept changing while it was being stamped; stamp again when it is saved.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter in notebooks/")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a notebook's badge or setup cell disagrees with the config")
    args = parser.parse_args(argv)
    try:
        paths = args.notebooks or nbtools.chapter_paths(NOTEBOOKS)
    except nbtools.NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            if args.check:
                found = problems(nbformat.read(path, as_version=4), path.name)
                for problem in found:
                    print(f"{path}: {problem}", file=sys.stderr)
                status = status or (1 if found else 0)
            elif stamp(path):
                print(f"stamped {path}")
        except (StampError, ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
