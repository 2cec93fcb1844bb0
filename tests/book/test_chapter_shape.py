"""The end of every chapter (issue 11, item 6): it ends with ``## 参考文献``; every exercise is labelled
（编程） or （思考）; every （思考） exercise has a reference answer in the teachers' edition."""
from __future__ import annotations

from pathlib import Path

import pytest

from booktools import prose

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = prose.read_book(ROOT / "notebooks")


def listing(findings) -> str:
    return f"{len(findings)} finding(s):\n" + "\n".join(str(f) for f in findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.path.stem for c in CHAPTERS])
def test_references_last_labels_and_answers(chapter):
    findings = prose.shape_findings(chapter)
    assert not findings, listing(findings)


EXERCISES = ("## 练习\n\n"
             "1. （编程）写一个函数。\n"
             "2. （思考）为什么？\n"
             "<!-- BEGIN SOLUTION -->\n**参考答案**：因为……\n<!-- END SOLUTION -->\n"
             "3. （思考与编程）证明并验证。\n"
             "4. （思考）还有呢？\n"
             "<!-- BEGIN SOLUTION -->\n- 练习 3：……\n- 练习 4：……\n<!-- END SOLUTION -->\n")


def test_a_well_shaped_chapter_passes(book):
    path = book.chapter("01_t", ["# 1. 测试", EXERCISES, "## 参考文献\n\n- 某人（2014）。"])
    assert prose.shape_findings(prose.read_chapter(path), book.root) == []


def test_missing_references_are_reported(book):
    path = book.chapter("01_t", ["# 1. 测试", EXERCISES, {"code": "pass", "out": ""}])
    (f,) = prose.shape_findings(prose.read_chapter(path), book.root)
    assert f.text == "## 参考文献" and f.cell == 2


def test_references_in_the_middle_are_not_enough(book):
    path = book.chapter("01_t", ["# 1. 测试", "## 参考文献\n\n- 某人。", EXERCISES])
    assert [f.text for f in prose.shape_findings(prose.read_chapter(path), book.root)] == ["## 参考文献"]


def test_unlabelled_exercises_and_missing_answers_are_reported(book):
    md = EXERCISES.replace("1. （编程）", "1. （计算）").replace("- 练习 4：……\n", "")
    md += "5. 不带标签的练习。\n"
    path = book.chapter("01_t", ["# 1. 测试", md, "## 参考文献\n\n- 某人。"])
    found = {(f.text, f.detail.split(":")[0][:20]) for f in prose.shape_findings(prose.read_chapter(path), book.root)}
    assert {t for t, _ in found} == {"练习 1", "练习 4", "练习 5"}
