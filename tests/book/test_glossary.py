"""One term per concept (issue 11, item 5): the glossary page, the variants it bans, the notation table,
citation years, Chinese quotation marks and the spacing between Chinese and Latin text."""
from __future__ import annotations

from pathlib import Path

import pytest

from booktools import glossary, prose

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PAGE = NOTEBOOKS / "glossary.md"
CHAPTERS = prose.read_book(NOTEBOOKS)
IDS = [c.path.stem for c in CHAPTERS]
GLOSSARY = glossary.load(PAGE)


def listing(findings) -> str:
    return f"{len(findings)} finding(s):\n" + "\n".join(str(f) for f in findings)


# --- the page -------------------------------------------------------------------------------------------

def test_the_glossary_page_has_its_sections():
    text = PAGE.read_text(encoding="utf-8")
    for heading in ("# 术语表", "## 术语", "## 符号表", "## 文献的写法", "## 本书与 d2l 的版本",
                    "## 怎样有意引用一个不用的写法"):
        assert f"\n{heading}\n" in "\n" + text, heading


def test_every_term_row_is_complete_and_its_variants_are_not_terms():
    assert len(GLOSSARY.terms) >= 30
    forms = {f for t in GLOSSARY.terms for f in t.forms}
    seen = set()
    for t in GLOSSARY.terms:
        assert t.term and t.english and t.d2l_zh and t.first, t
        assert t.term not in seen, f"{t.term} is listed twice"
        seen.add(t.term)
        for v in t.banned:
            assert v not in forms, f"{v!r} is both a term and a banned variant"


def test_the_known_drifts_are_settled():
    banned = {v: t.term for t in GLOSSARY.terms for v in t.banned}
    assert banned["遮蔽"] == banned["屏蔽"] == "掩蔽"
    assert banned["热力图"] == "热图"
    assert banned["单元"] == banned["检查格"] == "单元格"
    assert banned["自己喂自己"] == "自回归"
    assert banned["GRU 单元"] == "门控循环单元"
    years = {c.author: c.year for c in GLOSSARY.citations}
    assert years["Bahdanau"] == "2015"


def test_the_page_says_which_d2l_zh_edition_matches():
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## 本书与 d2l 的版本", 1)[1].split("\n## ", 1)[0]
    for needle in ("d2l 0.17", "d2l 1.0", "d2l-zh 2.0.0", "《动手学深度学习》第二版"):
        assert needle in section, needle


def test_the_notation_table_lists_the_checked_symbols():
    table = "\n".join(" | ".join(row) for row in GLOSSARY.symbols)
    for needle in ("$L_i$", "$\\ell_i$", "$t'$", "$h$"):
        assert needle in table, needle


def test_first_appearances_are_right():
    findings = glossary.first_appearance_findings(GLOSSARY, CHAPTERS, PAGE, ROOT)
    assert not findings, listing(findings)


# --- the book -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_no_banned_variant(chapter):
    findings = glossary.glossary_findings(chapter, GLOSSARY, ROOT)
    assert not findings, listing(findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_citation_years_follow_the_glossary(chapter):
    findings = glossary.citation_findings(chapter, GLOSSARY, ROOT)
    assert not findings, listing(findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_notation_follows_the_symbol_table(chapter):
    findings = glossary.notation_findings(chapter, ROOT)
    assert not findings, listing(findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chinese_quotation_marks(chapter):
    findings = glossary.quote_findings(chapter, ROOT)
    assert not findings, listing(findings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_space_between_chinese_and_latin(chapter):
    findings = glossary.spacing_findings(chapter, ROOT)
    assert not findings, listing(findings)


def test_the_spacing_convention_is_what_the_book_does():
    counts = glossary.spacing_counts(CHAPTERS)
    assert counts["space"] > 99 * counts["no-space"], counts


# --- planted variants, the quoting marker, what is not a variant ------------------------------------------------

def _hits(text):
    return [h[2] for h in glossary.variant_hits(text, GLOSSARY)]


def test_variants_are_found_and_terms_that_contain_them_are_not():
    assert _hits("我们遮蔽填充位置，再画热力图。") == ["遮蔽", "热力图"]
    assert _hits("重新运行本单元；门控循环单元；隐藏单元；单元格；练习格") == ["单元", "练习格"]
    assert _hits("记忆单元") == ["记忆单元"], "the longer variant is reported once"


def test_the_marker_allows_only_the_word_it_names_on_its_line():
    assert _hits("d2l-zh 称之为“遮蔽” <!-- glossary-ok: 遮蔽 -->") == []
    assert _hits("d2l-zh 称之为“遮蔽”和“屏蔽” <!-- glossary-ok: 遮蔽 -->") == ["屏蔽"]
    assert _hits("d2l-zh 称之为“遮蔽” <!-- glossary-ok: 遮蔽 -->\n下一行又遮蔽了") == ["遮蔽"]
    assert _hits("x = mask  # 旧称遮蔽  glossary-ok: 遮蔽") == []


def test_a_planted_variant_is_reported_in_prose_comments_strings_and_outputs(book):
    copy = book.copy(CHAPTERS[0].path)

    def plant(nb):
        nb["cells"].insert(3, {"cell_type": "markdown", "id": "planted-md", "metadata": {},
                               "source": "下面的单元格把填充位置遮蔽掉。"})
        nb["cells"].insert(4, {"cell_type": "code", "id": "planted-code", "metadata": {}, "execution_count": None,
                               "source": "x = 1  # 自己喂自己\nprint('画一张热力图')",
                               "outputs": [{"output_type": "stream", "name": "stdout", "text": "画一张热力图\n"}]})

    book.edit(copy, plant)
    findings = glossary.glossary_findings(prose.read_chapter(copy), GLOSSARY, book.root)
    got = {(f.cell, f.cell_id, f.text) for f in findings}
    assert {(3, "planted-md", "遮蔽"), (4, "planted-code", "自己喂自己"), (4, "planted-code", "热力图")} <= got
    assert sum(1 for f in findings if f.cell == 4 and f.text == "热力图") == 2, "in the code and in the output"


def test_first_appearance_must_match_the_chapters(book):
    book.chapter("01_a", ["# 1. 甲", "这里讲掩码。"])
    book.chapter("02_b", ["# 2. 乙", "这里讲热图和掩码。"])
    page = book.notebooks / "glossary.md"
    page.write_text("# 术语表\n\n## 术语\n\n| 术语 | English | d2l-zh | 首次出现 | 不用的写法 |\n|---|---|---|---|---|\n"
                    "| 掩码 | mask | 掩码 | 第 2 章 | — |\n| 热图 | heatmap | 热图 | 第 2 章 | 热力图 |\n"
                    "| 束宽 | beam size | 束宽 | 第 7 章 | — |\n", encoding="utf-8")
    g = glossary.load(page)
    found = {f.text: f.detail for f in glossary.first_appearance_findings(g, prose.read_book(book.notebooks), page,
                                                                          book.root)}
    assert set(found) == {"掩码", "束宽"}
    assert "第 1 章" in found["掩码"] and "chapter 7" in found["束宽"]


# --- notation, citations, quotes, spacing: what is reported and what is not ------------------------------------

def _chapter(book, md):
    return prose.read_chapter(book.chapter("05_t", ["# 5. 测试", md]))


@pytest.mark.parametrize("md, reported", [
    ("有效长度 $L_i$ 与 $L_{i}$", 2), ("损失 $\\mathcal L$ 与 $L_{i,t'}$", 0), ("有效长度 $\\ell_i$", 0),
    ("$\\mathbf s_t = g(y_{t-1}, \\mathbf c, \\mathbf s_{t-1})$", 3),
    ("$\\mathbf s_{t'} = g(y_{t'-1}, \\mathbf c_{t'}, \\mathbf s_{t'-1})$", 0),
    ("编码器 $\\mathbf h_t$ 与层的输出 $\\mathbf y_t$", 0), ("$y_{t^\\prime}$", 0),
    ("$\\mathbf W_q^{(h)}$，第 $h$ 个头", 2), ("$[\\mathbf h_1; \\ldots; \\mathbf h_h]$，共 $h$ 个头", 0),
])
def test_notation(book, md, reported):
    assert len(glossary.notation_findings(_chapter(book, md), book.root)) == reported


@pytest.mark.parametrize("md, reported", [
    ("Bahdanau 等人（2014）", 1), ("Bahdanau、Cho 和 Bengio（2014）", 1), ("Bahdanau 等人（2015）", 0),
    ("Bahdanau, D., Cho, K., & Bengio, Y. (2015). Neural machine translation. *ICLR 2015*（arXiv 2014）.", 0),
    ("Vaswani 等人（2018）", 1),
    # the glossary's year is the first author's paper; as a co-author, Bahdanau is in other papers of 2014
    ("- Cho, K., van Merriënboer, B., Gulcehre, C., Bahdanau, D., Bougares, F., Schwenk, H., & Bengio, Y. "
     "(2014). Learning phrase representations using RNN encoder-decoder. *EMNLP 2014*.", 0),
    ("- Cho, K., van Merriënboer, B., Bahdanau, D., & Bengio, Y. (2014b). On the properties of neural machine "
     "translation. *SSST-8*.", 0),
    ("Cho、Bahdanau 等人（2014）的 GRU", 0),
    ("- Bahdanau, D., Cho, K., & Bengio, Y. (2014). Neural machine translation by jointly learning to align "
     "and translate.", 1),
    ("Cho 等人（2014）与 Bahdanau 等人（2014）", 1), ("Sutskever 等人和 Bahdanau 等人（2014）", 1),
])
def test_citation_years(book, md, reported):
    assert len(glossary.citation_findings(_chapter(book, md), GLOSSARY, book.root)) == reported


@pytest.mark.parametrize("md, reported", [
    ('上下文"漂走"了', 1), ('把 "they are watching ." 译成法语', 1), ("上下文“漂走”了", 0),
    ('代码里写 `print("漂走")`', 0), ('English only: "a quote" here', 0), ("「漂走」", 1),
    ('公式 $f("x")$ 里', 0),
])
def test_quotation_marks(book, md, reported):
    assert len(glossary.quote_findings(_chapter(book, md), book.root)) == reported


@pytest.mark.parametrize("md, reported", [
    ("说明d2l 版本", 1), ("说明 d2l 版本", 0), ("在GPU上", 2), ("共 3 个", 0), ("用`mask`做", 2),
    ("用 `mask` 做", 0), ("（d2l）的", 0), ("$x$是", 1),
])
def test_spacing(book, md, reported):
    assert len(glossary.spacing_findings(_chapter(book, md), book.root)) == reported
