"""Appendix A.3 (notebooks/21_appendix_display_tools.ipynb): the bundled CJK font for plot labels."""
from __future__ import annotations

import importlib.resources
import subprocess
import sys
import unicodedata
from pathlib import Path

import matplotlib
import nbformat
from fontTools.ttLib import TTFont

import d2l_local as d2l

ROOT = Path(__file__).resolve().parents[2]
FONT = importlib.resources.files("d2l_local").joinpath("data", "fonts", d2l.CHINESE_FONT_FILE)


def test_the_font_and_its_licence_ship_with_the_package():
    assert Path(str(FONT)).is_file()
    licence = importlib.resources.files("d2l_local").joinpath("data", "fonts", "LICENSE-OFL.txt").read_text()
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Adobe" in licence


def test_import_makes_chinese_fall_back_to_the_bundled_font():
    assert d2l.CHINESE_FONT_NAME == "Noto Sans CJK SC"
    assert matplotlib.rcParams["font.family"][-1] == d2l.CHINESE_FONT_NAME
    assert d2l.use_chinese_font() == d2l.CHINESE_FONT_NAME  # calling it again changes nothing
    assert matplotlib.rcParams["font.family"].count(d2l.CHINESE_FONT_NAME) == 1


def test_a_chinese_plot_renders_without_a_warning(tmp_path):
    code = ("import warnings; warnings.simplefilter('error')\n"
            "import matplotlib; matplotlib.use('Agg')\n"
            "import d2l_local, matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots(); ax.plot([0, 1], [1, -1], label='训练集 −1')\n"
            "ax.set_title('注意力权重（热图）“引号”'); ax.set_xlabel('键的位置 ℓᵢ'); ax.legend()\n"
            f"fig.savefig({str(tmp_path / 'plot.png')!r})\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (tmp_path / "plot.png").stat().st_size > 1000


def _cjk(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return ord(ch) > 0x2E7F and ("CJK" in name or "FULLWIDTH" in name or "IDEOGRAPHIC" in name
                                 or unicodedata.category(ch) == "Lo")


def test_the_font_covers_every_chinese_character_the_notebooks_and_checks_use():
    """Plot labels come from code cells and exercise checks; a character the subset lacks would be drawn
    as an empty box (and warn) on a machine without a CJK font: run scripts/make_cjk_font.py."""
    covered = TTFont(str(FONT)).getBestCmap()
    used = set()
    for path in ROOT.glob("notebooks/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                used.update(cell.source)
    for path in ROOT.glob("d2l_exercises/*.py"):
        used.update(path.read_text(encoding="utf-8"))
    missing = sorted(ch for ch in used if _cjk(ch) and ord(ch) not in covered)
    assert missing == [], f"not in the bundled font: {''.join(missing)!r}; run scripts/make_cjk_font.py"
