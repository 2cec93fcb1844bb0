"""Write the canonical setup cell into every notebook: ``python -m booktools.stamp [NOTEBOOK ...]``.

The setup cell is the first code cell of each chapter (tagged ``setup``). On Colab it installs
d2l_local from the repository (pip leaves Colab's torch alone, because our requirement is a
lower bound it already satisfies); locally it does nothing but import d2l_local, and when that
import fails it says how to install it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from booktools.config import REPO_URL

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SETUP_TAG = "setup"


def setup_source(repo_url: str = REPO_URL) -> str:
    return f'''\
# 准备环境：在 Colab 上先安装本书的代码包 d2l_local（不会重装 Colab 自带的 torch）；在本地什么也不做。
import sys

if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "git+{repo_url}"], check=True)

try:
    import d2l_local as d2l
except ImportError as error:
    raise ImportError(
        "找不到 d2l_local。本地：在仓库根目录运行 `make venv`，再选 .venv 里的 Python 作内核"
        "（或在自己的环境里运行 `pip install -e .`）；Colab：重新运行本单元，它会先安装 d2l_local。"
    ) from error'''


def setup_cell_index(nb) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def stamp(path: Path) -> bool:
    """Make ``path``'s setup cell canonical; return True when the file changed."""
    nb = nbformat.read(path, as_version=4)
    source = setup_source()
    index = setup_cell_index(nb)
    if index is None:
        first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG]})
        nb.cells.insert(first_code, cell)
    elif nb.cells[index].source == source:
        return False
    else:
        nb.cells[index].source = source
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        if stamp(path):
            print(f"stamped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
