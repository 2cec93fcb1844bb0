"""The checked exercise of chapter 17 (练习 17.7, ``bpe_segment``): the notebook's own solution passes,
typical mistakes fail with the hint written for them, the student edition's placeholder reports "not done
yet", and an exception in the student's code is reported without a traceback."""
from __future__ import annotations

import re

import pytest

import d2l_local as d2l
from d2l_exercises import ch17
from exercise_support import exercise_cells, notebook, run, solution_cells, student_version

NAME = "17_subwords"


def exercise_pair():
    cells = exercise_cells(NAME)
    scaffolds = [c for c in cells if "### BEGIN SOLUTION" in c]
    checks = [c for c in cells if "### BEGIN SOLUTION" not in c]
    assert len(scaffolds) == len(checks) == 1
    return scaffolds[0], checks[0]


def test_notebook_solution_passes():
    scaffold, check = exercise_pair()
    assert scaffold in solution_cells(NAME)
    namespace, printed = run(scaffold + "\n" + check, {"d2l": d2l})
    assert namespace["ok"] is True
    assert printed.startswith("✓ 练习 17.7"), printed
    assert "8 个检查全部通过" in printed


def test_student_placeholder_reports_not_done():
    scaffold, check = exercise_pair()
    student = student_version(scaffold)
    assert "### BEGIN SOLUTION" not in student and "NotImplementedError" in student
    namespace, printed = run(student + "\n" + check, {"d2l": d2l})
    assert namespace["ok"] is False
    assert printed.startswith("⏳ 练习 17.7"), printed
    assert "还没有完成" in printed and "Traceback" not in printed


def test_exercise_list_marks_the_checked_one_and_cells_come_last():
    nb = notebook(NAME)
    listing = [c.source for c in nb.cells if c.cell_type == "markdown" and re.search(r"^##\s+练习", c.source, re.M)]
    assert len(listing) == 1 and "7. （编程，自动检查，见下方）" in listing[0]
    for number in range(1, 7):
        assert re.search(rf"^{number}\. （(编程|思考)）", listing[0], re.M), number
    index = next(i for i, c in enumerate(nb.cells) if c.source == listing[0])
    after = nb.cells[index + 1:]
    assert after[-1].cell_type == "markdown" and after[-1].source.startswith("## 参考文献")
    for cell in after[:-1]:
        tags = cell.metadata.get("tags", [])
        assert cell.cell_type == "markdown" or "exercise" in tags or "solution" in tags
    headings = [c.source.splitlines()[0] for c in after[:-1] if c.cell_type == "markdown"]
    assert headings == ["### 练习 17.7（自动检查）：按合并规则切分一个词"]


def test_reference_agrees_with_the_chapters_tokenizer():
    for case in ch17._cases():
        word, merges = case.args
        symbols = list(word)
        for pair in merges:
            symbols = d2l.merge_pair(symbols, pair)
        assert case.expected == symbols
        if word:
            alphabet = sorted({ch for ch in word} | {ch for pair in merges for part in pair for ch in part})
            known = [pair for pair in merges if set("".join(pair)) <= set(alphabet)]
            assert d2l.BPETokenizer(alphabet, known)._segment(word) == case.expected


def verdict(func, capsys):
    ok = ch17.bpe_segment(func)
    return ok, capsys.readouterr().out


def assert_fails_with(func, capsys, *fragments):
    ok, out = verdict(func, capsys)
    assert ok is False
    assert out.startswith("✗ 练习 17.7"), out
    for fragment in fragments:
        assert fragment in out, (fragment, out)
    assert "Traceback" not in out
    return out


def test_an_own_correct_version_passes(capsys):
    def by_rank(word, merges):                    # the chapter's way: always the best-ranked pair next
        rank = {tuple(pair): k for k, pair in enumerate(merges)}
        symbols = list(word)
        while True:
            pairs = [(rank[p], i) for i, p in enumerate(zip(symbols, symbols[1:])) if p in rank]
            if not pairs:
                return symbols
            best = min(pairs)[0]
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and rank.get((symbols[i], symbols[i + 1])) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
    ok, out = verdict(by_rank, capsys)
    assert ok is True, out


def test_leftmost_pair_first(capsys):
    assert_fails_with(ch17._leftmost_first, capsys, "最靠左", "先后")


def test_longest_match_is_wordpiece_not_bpe(capsys):
    out = assert_fails_with(ch17._longest_match, capsys)
    assert "最靠左" in out or "WordPiece" in out


def test_each_merge_only_once(capsys):
    assert_fails_with(lambda w, m: ch17._in_order(w, m, first_only=True), capsys, "只合并了第一处")


def test_right_to_left(capsys):
    assert_fails_with(lambda w, m: ch17._in_order(w, m, right_to_left=True), capsys, "从右往左")


def test_merges_in_reverse_order(capsys):
    assert_fails_with(lambda w, m: ch17._in_order(w, list(reversed(m))), capsys, "倒过来")


def test_returns_a_string_or_loses_symbols(capsys):
    assert_fails_with(lambda w, m: "".join(ch17._reference(w, m)), capsys, "却返回了一个 str")

    def drops_last(word, merges):
        return ch17._reference(word, merges)[:-1]
    assert_fails_with(drops_last, capsys, "拼起来应当就是原来的词")

    def empty_as_one_piece(word, merges):
        return ch17._reference(word, merges) if word else [""]
    assert_fails_with(empty_as_one_piece, capsys, "空列表 []")


def test_exception_is_reported_without_traceback(capsys):
    def broken(word, merges):
        return list(word) + [merges[len(merges)][0]]          # one past the end: IndexError
    with pytest.raises(IndexError) as error:
        broken("abab", [("a", "b")])
    out = assert_fails_with(broken, capsys, f"IndexError: {error.value}", "在你的代码")
    assert "提示：" in out
