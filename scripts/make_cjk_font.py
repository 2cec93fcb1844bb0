"""Make the CJK font that d2l_local ships for Chinese plot labels (a subset of Noto Sans CJK SC).

    apt-get install fonts-noto-cjk && pip install fonttools
    python scripts/make_cjk_font.py

Readers' machines (and Colab) often have no CJK font, and matplotlib then draws Chinese labels as
empty boxes and warns on stderr. The book ships a subset of Noto Sans CJK SC (SIL Open Font License
1.1, © 2014-2021 Adobe; the licence is in d2l_local/data/fonts/) holding the characters the book can
need: the 3,755 most common Chinese characters (GB 2312 level 1), every character of the Chinese side
of the bundled English-Chinese corpus, every character in the notebooks' code cells and in d2l_exercises, ASCII,
CJK punctuation and a few mathematical symbols. `tests/tools/test_cjk_font.py` fails when a notebook
uses a Chinese character the font lacks: run this script again then.
"""
from __future__ import annotations

import json
import lzma
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_INDEX = 2  # the collection's Simplified Chinese face, "Noto Sans CJK SC"
TARGET = ROOT / "d2l_local" / "data" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
SYMBOLS = ("−±×÷≈≤≥≠∞√∑∏→←↑↓⇒·•°′″²³¹⁰ⁱⁿ₀₁₂₃₄₅₆₇₈₉ᵢⱼₖₜₙₘᵀ⁻⁺⊙⊗∘αβγδεζηθικλμνξπρστυφχψω"
           "ΓΔΘΛΞΠΣΦΨΩℓ∈∉∀∃∂∇‖≪≫∝“”‘’—–…")


def characters() -> str:
    chars = set(SYMBOLS)
    for high in range(0xB0, 0xD8):  # GB 2312 level 1: rows 16-55
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    corpus = ROOT / "d2l_local" / "data" / "cmn-eng.txt.xz"
    if corpus.exists():
        for line in lzma.open(corpus, "rt", encoding="utf-8"):
            chars.update(line.split("\t")[1] if "\t" in line else "")
    for path in ROOT.glob("notebooks/*.ipynb"):  # the code cells: plot labels are written there
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                chars.update("".join(cell["source"]))
    for path in ROOT.glob("d2l_exercises/*.py"):
        chars.update(path.read_text(encoding="utf-8"))
    chars.update(chr(c) for c in range(0x20, 0x7F))
    chars.update(chr(c) for c in range(0x3000, 0x3040))  # CJK punctuation
    chars.update(chr(c) for c in range(0xFF01, 0xFF5F))  # full-width forms
    return "".join(sorted(c for c in chars if c.isprintable()))


def main() -> int:
    if not SOURCE.exists():
        print(f"error: {SOURCE} is missing: apt-get install fonts-noto-cjk", file=sys.stderr)
        return 1
    text = ROOT / "_build" / "cjk-font-characters.txt"
    text.parent.mkdir(exist_ok=True)
    text.write_text(characters(), encoding="utf-8")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "fontTools.subset", str(SOURCE), f"--font-number={SOURCE_INDEX}",
                    f"--text-file={text}", f"--output-file={TARGET}", "--layout-features=", "--no-hinting",
                    "--name-IDs=*", "--drop-tables+=GSUB,GPOS,vhea,vmtx,VORG"], check=True)
    print(f"wrote {TARGET.relative_to(ROOT)} ({TARGET.stat().st_size:,} bytes, "
          f"{len(text.read_text(encoding='utf-8')):,} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
