"""Every figure and quoted translation in the prose comes from the chapter's own run (issue 11).

The chapter-parametrised tests read the stored notebooks (no kernel); the other tests pin down the
matching rule, each allowance rule, and show that planted mistakes in copies of real chapters are caught.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from booktools import prose

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = prose.read_book(NOTEBOOKS)
IDS = [c.path.stem for c in CHAPTERS]


def listing(findings) -> str:
    return f"{len(findings)} finding(s):\n" + "\n".join(str(f) for f in findings)


def test_the_book_has_chapters():
    assert CHAPTERS, "no chapter notebooks (NN_name.ipynb) found in notebooks/"


# --- the book ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_numbers_in_the_prose_come_from_code_or_outputs(chapter):
    findings = prose.number_findings(chapter, NOTEBOOKS)
    assert not findings, listing(findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_translations_in_the_prose_come_from_outputs(chapter):
    findings = prose.translation_findings(chapter, NOTEBOOKS, chapters=CHAPTERS)
    assert not findings, listing(findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_section_references_exist(chapter):
    findings = prose.section_ref_findings(chapter, CHAPTERS)
    assert not findings, listing(findings)


def test_bench_figures_equal_the_newest_logs():
    findings = prose.bench_findings(ROOT, CHAPTERS)
    assert not findings, listing(findings)


# --- reading numbers ----------------------------------------------------------------------------------

def parsed(text):
    return [(n.text, n.value, n.percent) for n in prose.parse_numbers(text) if n.checkable]


def test_parse_numbers_reads_decimals_percentages_thousands_scientific_and_wan():
    text = ("损失 0.35，准确率 63.5 % 和 48.7%，共 1,400 句，约 1.5 万种词，$1.4 \\times 10^{-5}$，"
            "eps=1e-6，$\\ln 10 \\approx 2.3026$")
    assert parsed(text) == [
        ("0.35", Decimal("0.35"), False), ("63.5 %", Decimal("63.5"), True), ("48.7%", Decimal("48.7"), True),
        ("1,400", Decimal("1400"), False), ("1.5 万", Decimal("1.5E4"), False),
        ("1.4 \\times 10^{-5}", Decimal("1.4E-5"), False), ("1e-6", Decimal("1E-6"), False),
        ("2.3026", Decimal("2.3026"), False)]


def test_parse_numbers_skips_integers_versions_dates_and_identifiers():
    text = "训练 300 轮，d2l 1.0.3，日期 25.11.2026，x86_64，U+2019，fp32，bf16，第 7 章"
    assert parsed(text) == []


@pytest.mark.parametrize("source, prose_value, ok", [
    ("0.350", "0.35", True),    # printed with more digits
    ("0.3512", "0.35", True),   # rounds to it
    ("0.345", "0.35", True),    # half-up
    ("0.3", "0.35", False),     # the prose may not be more precise than the output
    ("0.36", "0.35", False),
    ("2.55", "2.5", False),     # 2.55 rounds to 2.6 either way
    ("0.1", "0.10", True),      # equal values
    ("15123", "1.5E4", True),   # 1.5 万
])
def test_rounds_to(source, prose_value, ok):
    assert prose.rounds_to(Decimal(source), Decimal(prose_value)) is ok


def test_percentages_and_fractions_match_each_other():
    sources = prose.Sources(output_texts=["accuracy 0.9431, padding 12.4%, 1641 tests"])
    where = lambda text: sources.where(prose.parse_numbers(text)[0])  # noqa: E731
    assert where("94%") == "output"
    assert where("0.124") == "output"
    assert where("1,641") == "output"
    assert where("95%") is None


def test_code_numbers_must_be_exact_and_strings_do_not_count(book):
    path = book.chapter("01_t", [
        "# 1. 测试",
        {"code": "lr = 0.005\nprint('loss 约为 0.21')", "out": "loss 约为 0.21\n"},
        "学习率 0.005，损失约为 0.21；学习率也不是 0.01。",
    ])
    found = {f.text for f in prose.number_findings(prose.read_chapter(path), book.notebooks, book.root)}
    assert found == {"0.21", "0.01"}, "0.005 is configuration; 0.21 was typed into a string, not measured"


def test_a_number_only_in_an_ignored_output_is_reported_as_such(book):
    path = book.chapter("01_t", [
        "# 1. 测试",
        {"code": "print(f'acc {acc:.4f}')", "out": "acc 0.9431\n", "tags": ["nbval-ignore-output"]},
        "准确率约为 94%。",
    ])
    (f,) = prose.number_findings(prose.read_chapter(path), book.notebooks, book.root)
    assert f.text == "94%" and "nbval-ignore-output" in f.detail
    book.edit(path, lambda nb: nb["cells"][1]["metadata"].update(tags=[]))
    assert prose.number_findings(prose.read_chapter(path), book.notebooks, book.root) == []


# --- the allowance rules, one by one -------------------------------------------------------------------

RULE_CASES = [
    ("section", "见 7.3 节；练习 7.6 问的是……", "## 7.3 束搜索\n\n正文。"),
    ("version", "PyTorch 2.1 起有这个函数；torch ≥ 2.4 才支持；d2l 0.17 的写法；0.17 版的代码。", None),
    ("licence", "按 CC-BY 2.0 许可使用；Apache 2.0。", None),
    ("literature", "原论文的 BLEU 是 28.4（Vaswani 等人，2017）。", "Vaswani, A. (2017). Attention. *arXiv:1706.03762*."),
    ("calculation", "概率是 $0.5 \\times 0.4 \\times 0.5 = 0.10$，而 $\\ln 10 \\approx 2.3026$。", None),
    ("supposition", "设第 1 步 $P(A)=0.5$、$P(B)=0.4$。", None),
]


@pytest.mark.parametrize("rule, allowed, also_allowed", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_each_rule_allows_its_case(book, rule, allowed, also_allowed):
    cells = ["# 7. 测试", {"code": "pass", "out": ""}, allowed]
    if also_allowed:
        cells.append(also_allowed if rule != "literature" else "## 参考文献\n\n- " + also_allowed)
    path = book.chapter("07_t", cells)
    verdicts = prose.judge_numbers(prose.read_chapter(path), book.notebooks)
    assert verdicts, "the case must contain checkable numbers"
    unexplained = [v.context.number.text for v in verdicts if v.source not in ("code", "output") and not v.rule]
    assert not unexplained
    assert any(v.rule == rule for v in verdicts), [(v.context.number.text, v.rule) for v in verdicts]


RULE_COUNTEREXAMPLES = [
    ("section", "损失在 7.3 左右。"),                                     # a number that is not a reference
    ("version", "我们的模型比 PyTorch 快 2.4 倍。"),                        # a measurement near a name
    ("literature", "我们的 BLEU 是 28.4，比 Vaswani 的模型差。"),            # no year: not a citation
    ("calculation", "概率是 $0.5 \\times 0.4 = 0.25$。"),                  # the arithmetic is wrong
    ("calculation", "损失是 $\\ell = 0.21$。"),                            # a variable, not a calculation
    ("supposition", "在开发机上，准确率是 0.94；设想一下更大的模型。"),       # the sentence does not suppose
    ("supposition", "如果用 d2l 的初始化，准确率只有 2.1%。"),               # a conditional reports a run
    ("literature", "Transformer 2017 年的 BLEU 是 28.4。"),                  # a name and a year, no citation
]


@pytest.mark.parametrize("rule, text", RULE_COUNTEREXAMPLES, ids=[f"{r}-{i}" for i, (r, _) in
                                                                 enumerate(RULE_COUNTEREXAMPLES)])
def test_rules_do_not_allow_measurements(book, rule, text):
    path = book.chapter("07_t", ["# 7. 测试", {"code": "pass", "out": ""}, text])
    findings = prose.number_findings(prose.read_chapter(path), book.notebooks, book.root)
    assert findings, f"{text!r} should be reported"


def test_exercise_rule_covers_the_prompt_not_the_answer(book):
    path = book.chapter("07_t", [
        "# 7. 测试", {"code": "pass", "out": ""},
        "## 练习\n\n1. （编程）把 $\\theta$ 改成 0.1 和 10 各训练一次。\n"
        "<!-- BEGIN SOLUTION -->\n- 练习 1：损失降到 0.37。\n<!-- END SOLUTION -->\n"
        "2. （思考）为什么？\n",
    ])
    found = [f.text for f in prose.number_findings(prose.read_chapter(path), book.notebooks, book.root)]
    assert found == ["0.37"]


def test_diagram_rule_allows_the_figures_numbers(book):
    images = book.root / "images"
    images.mkdir()
    (images / "beam.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
                                     '<text>概率 0.288</text></svg>', encoding="utf-8")
    path = book.chapter("07_t", ["# 7. 测试", {"code": "pass", "out": ""},
                                 "![束搜索找到 B C eos，概率 0.288](../images/beam.svg)\n\n正文说 0.29。"])
    found = [f.text for f in prose.number_findings(prose.read_chapter(path), book.notebooks, book.root)]
    assert found == ["0.29"]


def test_every_rule_has_a_name_and_a_docstring():
    names = [prose.rule_name(r) for r in prose.NUMBER_RULES]
    assert len(set(names)) == len(names)
    for rule in prose.NUMBER_RULES:
        assert rule.__doc__ and ":" in rule.__doc__ and len(rule.__doc__) > 60


@pytest.mark.parametrize("latex, holds", [
    ("$\\log 10 \\approx 2.30$", True), ("$e^{-1/2} \\approx 0.61$", True), ("$8/3 \\approx 2.7$", True),
    ("$3 \\ln 3 / 12 \\approx 0.275$", True), ("$0.8^{50} \\approx 1.4 \\times 10^{-5}$", True),
    ("$[4\\ln 10/8,\\ 0] \\approx [1.1513,\\ 0]$", True),
    ("$0.5 \\times 0.4 = 0.25$", False), ("$e^{0.21} \\approx 1.3$", False), ("$P(A) = 0.5$", False),
])
def test_calculation_holds(latex, holds):
    assert prose.calculation_holds(latex) is holds


# --- planted mistakes in copies of real chapters -----------------------------------------------------------

def _matched_prose_number():
    """A chapter and a number of its prose (plain text) that currently matches an output."""
    for chapter in CHAPTERS:
        for v in prose.judge_numbers(chapter, NOTEBOOKS):
            ctx = v.context
            if v.source == "output" and ctx.segment.kind == "text" and re.fullmatch(r"\d+\.\d+", ctx.number.text):
                return chapter, ctx
    pytest.skip("no prose number matches an output in today's chapters")


def test_a_planted_wrong_number_is_reported_with_notebook_cell_and_number(book):
    chapter, ctx = _matched_prose_number()
    sources = prose.chapter_sources(chapter)
    for digit in "7319":
        wrong = ctx.number.text[:-1] + digit
        n = prose.parse_numbers(wrong)[0]
        if wrong != ctx.number.text and sources.where(n, False) is None:
            break
    else:
        pytest.skip("could not find a wrong value")
    copy = book.copy(chapter.path)
    md = ctx.md[:ctx.start] + wrong + ctx.md[ctx.end:]
    book.edit(copy, lambda nb: nb["cells"][ctx.cell.index].update(source=md))
    findings = prose.number_findings(prose.read_chapter(copy), book.notebooks, book.root)
    planted = [f for f in findings if f.text == wrong and f.cell == ctx.cell.index]
    assert planted, listing(findings)
    assert planted[0].where == f"notebooks/{chapter.name}" and planted[0].cell_id == ctx.cell.id
    assert f"notebooks/{chapter.name}, cell {ctx.cell.index}" in str(planted[0])


def test_a_planted_sentence_with_a_figure_is_reported(book):
    chapter = CHAPTERS[0]
    copy = book.copy(chapter.path)
    before = prose.number_findings(prose.read_chapter(copy), book.notebooks, book.root)

    def plant(nb):
        cell = {"cell_type": "markdown", "id": "planted", "metadata": {},
                "source": "在本书的开发机上，这个模型的准确率是 97.31%，损失降到了 0.04242。"}
        nb["cells"].insert(3, cell)

    book.edit(copy, plant)
    after = prose.number_findings(prose.read_chapter(copy), book.notebooks, book.root)
    planted = {(f.text, f.cell, f.cell_id) for f in after} - {(f.text, f.cell, f.cell_id) for f in before}
    assert {("97.31%", 3, "planted"), ("0.04242", 3, "planted")} <= planted


def test_a_planted_translation_is_reported(book):
    chapter = CHAPTERS[0]
    copy = book.copy(chapter.path)

    def plant(nb):
        nb["cells"].insert(3, {"cell_type": "markdown", "id": "planted", "metadata": {},
                               "source": "模型把 `i lost .` 译成了 `je suis complètement perdue ici .`。"})

    book.edit(copy, plant)
    findings = prose.translation_findings(prose.read_chapter(copy), book.notebooks, book.root)
    assert ("je suis complètement perdue ici .", 3, "planted") in {(f.text, f.cell, f.cell_id) for f in findings}


def test_translations_in_outputs_code_exercises_and_diagrams_are_fine(book):
    path = book.chapter("01_t", [
        "# 1. 测试",
        {"code": "src = ['they', 'are', 'watching', '.']\nprint(translate(src))", "out": "il est malade .\n"},
        "模型把 `he's calm .` 译成了 `il est malade .`；源句是 \"they are watching .\"。",
        "模型把它译成了 “elle est partie .”。",
        "## 练习\n\n1. （思考）为什么 `le chat voit le chien .` 难？\n",
    ])
    found = [f.text for f in prose.translation_findings(prose.read_chapter(path), book.notebooks, book.root)]
    assert found == ["he's calm .", "elle est partie ."]


def test_a_chinese_translation_after_a_cue_is_checked(book):
    path = book.chapter("18_t", [
        "# 18. 测试", {"code": "pass", "out": "我 很 好 。\n"},
        "模型把 `i'm fine .` 译成了“我很好。”，又把另一句翻译成“他们走了。”",
    ])
    found = [f.text for f in prose.translation_findings(prose.read_chapter(path), book.notebooks, book.root)]
    assert "他们走了。" in found


# --- cross-references -----------------------------------------------------------------------------------

def test_section_references_must_exist(book):
    book.chapter("01_a", ["# 1. 甲", "## 1.1 开头\n\n## 练习\n\n1. （编程）甲\n2. （思考）乙\n"])
    book.chapter("02_b", ["# 2. 乙", "见 1.1 节和 1.9 节；练习 1.2 与练习 1.5；第 1 章、第 9 章；附录 A.1。"])
    chapters = prose.read_book(book.notebooks)
    found = {f.text for f in prose.section_ref_findings(chapters[1], chapters, book.root)}
    assert found == {"1.9 节", "练习 1.5", "第 9 章", "附录 A.1"}


# --- bench figures --------------------------------------------------------------------------------------

LOG = ("| model | steps | test BLEU |\n|---|---:|---:|\n| gru | 8,692 | 26.9 |\n| transformer | 8,854 | 45.7 |\n"
       "load average 0.98 at the start\n")


def _bench_root(book, readme):
    results = book.root / "bench" / "results"
    results.mkdir(parents=True)
    (results / "compare-2026-01-01.log").write_text(LOG, encoding="utf-8")
    (results / "compare-2026-02-01.log").write_text(LOG.replace("45.7", "46.1"), encoding="utf-8")
    (book.root / "README.md").write_text(readme, encoding="utf-8")
    return prose.bench_findings(book.root, [], docs=("README.md",))


def test_bench_figures_that_match_the_newest_log_pass(book):
    readme = ("The comparison (`python -m bench.compare`, log `compare-2026-02-01.log`):\n\n"
              "| model | steps | BLEU |\n|---|---:|---:|\n| GRU (ch. 3) | 8,692 | 26.9 |\n| Transformer | 8,854 | 46.1 |\n")
    assert _bench_root(book, readme) == []


def test_a_planted_bench_mismatch_is_reported(book):
    readme = ("The comparison (`python -m bench.compare`, log `compare-2026-02-01.log`):\n\n"
              "| model | steps | BLEU |\n|---|---:|---:|\n| GRU | 8,692 | 26.9 |\n| Transformer | 8,854 | 47.3 |\n")
    findings = _bench_root(book, readme)
    assert [(f.text, f.where) for f in findings] == [("47.3", "README.md")]


def test_quoting_an_older_log_is_reported(book):
    readme = "Measured 2026-01-01 (`bench/results/compare-2026-01-01.log`): BLEU 45.7 after 8,854 steps.\n"
    findings = _bench_root(book, readme)
    assert any("newest log" in f.detail and "compare-2026-02-01.log" in f.detail for f in findings)


def test_untied_bench_figures_are_reported(book):
    readme = "`bench/compare.py` gives the Transformer 45.7 BLEU.\n\nAn unrelated paragraph with 0.5.\n"
    findings = _bench_root(book, readme)
    assert len(findings) == 1 and "not tied to a log" in findings[0].detail and "45.7" in findings[0].text


def test_a_cell_that_prints_a_log_must_print_the_newest_figures(book):
    results = book.root / "bench" / "results"
    results.mkdir(parents=True)
    (results / "compare-2026-02-01.log").write_text(LOG, encoding="utf-8")
    path = book.chapter("15_t", ["# 15. 测试",
                                 {"code": "show_bench('compare')",
                                  "out": "来源：compare-2026-02-01.log\ngru 26.9, transformer 45.8\n"}])
    findings = prose.bench_findings(book.root, [prose.read_chapter(path)], docs=())
    assert [(f.text, f.cell) for f in findings] == [("45.8", 1)]


# --- the command line --------------------------------------------------------------------------------------

def test_report_lists_findings_per_chapter_and_check(book):
    book.chapter("01_t", ["# 1. 测试", {"code": "pass", "out": ""}, "准确率是 93.7%。"])
    assert prose.main(["--root", str(book.root), "--report", "V.md"]) == 1
    text = (book.root / "V.md").read_text(encoding="utf-8")
    assert "## notebooks/01_t.ipynb" in text and "### numbers (1)" in text and "` 93.7% `" in text
    assert re.search(r"cell 2 \(id `c02`\)", text)
