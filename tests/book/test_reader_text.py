"""No build machinery in the reader's text (issue 11, item 3): chapters' markdown cells and printed outputs
say nothing about nbval, pytest, the authors' machine, test or bench paths, the build tools or make targets.
No exemption exists yet; a teachers'-note tag may add one later."""
from __future__ import annotations

from pathlib import Path

import pytest

from booktools import prose

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = prose.read_book(NOTEBOOKS)


def listing(findings) -> str:
    return f"{len(findings)} finding(s):\n" + "\n".join(str(f) for f in findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.path.stem for c in CHAPTERS])
def test_no_build_machinery_in_markdown_or_outputs(chapter):
    findings = prose.reader_text_findings(chapter)
    assert not findings, listing(findings)


def test_no_build_machinery_in_the_glossary_page():
    findings = prose.page_reader_text_findings(NOTEBOOKS / "glossary.md")
    assert not findings, listing(findings)


BAD = [
    "nbval 会逐格比较这个单元格的输出。",
    "用 `pytest -q` 运行测试。",
    "在本书的开发机上，它要 14 秒。",
    "`tests/test_masking.py` 对更多形状重复了这些检查。",
    "`bench/compare.py` 训练 5 分钟。",
    "运行 `python -m bench.compare` 看看。",
    "用 `python -m booktools.build` 重建本章。",
    "见 `.ci/run`。",
    "运行 `make book`。",
    "```bash\nmake test\n```",
]
GOOD = [
    "这是一个基准（benchmark），它的测试集是留出的。",
    "训练集、验证集和测试集的大小。",
    "make sense 是英语里常见的说法。",
    "`nbformat` 读写笔记本。",
    "test BLEU 是 30。",
]


@pytest.mark.parametrize("text", BAD)
def test_machinery_is_found_in_markdown(book, text):
    path = book.chapter("01_t", ["# 1. 测试", text])
    (book.root / "Makefile").write_text("book:\n\techo\ntest:\n\techo\n", encoding="utf-8")
    findings = prose.reader_text_findings(prose.read_chapter(path), book.root)
    assert findings and all(f.cell == 1 and f.cell_id == "c01" for f in findings), text


@pytest.mark.parametrize("text", GOOD)
def test_ordinary_words_are_not_machinery(book, text):
    path = book.chapter("01_t", ["# 1. 测试", text])
    (book.root / "Makefile").write_text("book:\n\techo\ntest:\n\techo\n", encoding="utf-8")
    assert prose.reader_text_findings(prose.read_chapter(path), book.root) == []


def test_machinery_is_found_in_printed_outputs(book):
    path = book.chapter("01_t", ["# 1. 测试", {"code": "print(msg)", "out": "本书开发机上约为 0.21\n"}])
    (f,) = prose.reader_text_findings(prose.read_chapter(path), book.root)
    assert f.text == "开发机" and f.cell == 1 and "output" in f.detail


def test_make_targets_come_from_the_makefile():
    targets = prose.makefile_targets(ROOT)
    assert {"book", "test"} <= set(targets)
