"""One term per concept: the glossary page (``notebooks/glossary.md``) and the checks that keep the book
to it (issue 11, item 5).

``python -m booktools.glossary`` prints what the checks find; ``--first`` prints, for every term of the
glossary, the chapter where the book first uses it (to fill the 首次出现 column after a renumbering).
The report of :mod:`booktools.prose` includes these findings.

The checks (each a :class:`booktools.prose.Finding`):

``glossary``
    A variant the glossary bans (its 不用的写法 column) in a chapter's markdown, in a code comment or
    string literal, or in a printed output. An occurrence that is part of an accepted term of the glossary
    is not a variant (``单元`` is banned for a notebook cell, but ``门控循环单元`` and ``单元格`` are
    terms). To quote a banned word on purpose (``d2l-zh 称之为“遮蔽”``), name it in a marker on the same
    line: ``<!-- glossary-ok: 遮蔽 -->`` in markdown, ``# glossary-ok: 遮蔽`` in code. Keep it rare.
    Also: the glossary's 首次出现 must name a chapter that uses the term, and no earlier chapter may use it.

``citations``
    A paper cited with another year than the glossary's 文献的写法 table gives (Bahdanau et al. is
    *2015*: published at ICLR 2015, preprint arXiv 2014; the preprint's own year, ``arXiv 2014``, is fine).
    The years are for papers whose *first* author is the one named: a name that follows another author in
    an author list (Cho, K., …, Bahdanau, D., … (2014)) belongs to another paper and is not checked.

``notation``
    The symbols the 符号表 settles and a machine can check in LaTeX: the valid length is ``\\ell_i``, never
    :math:`L_i` (the loss is :math:`\\mathcal L`); the decoder's time step is ``t'`` (``y_t``, ``\\mathbf s_t``,
    ``\\mathbf c_t`` are the decoder's symbols with the encoder's index); ``h`` counts heads and never
    indexes one (``\\mathbf W^{(h)}``, 第 $h$ 个头; ``\\mathbf h_h`` for the last of ``h`` heads is fine, like
    ``x_T``). Not checked: symbols in diagrams and in prose outside LaTeX.

``quotes``
    Chinese quotation marks “” in prose: ASCII ``"…"`` in a line of Chinese text (outside code, math,
    links and HTML) is reported, whatever it quotes; so is 「」 once the book uses “”.

``spacing``
    The book puts a space between Chinese and Latin letters, digits, inline code and math (counted: more
    than 99 % of such boundaries have one). A boundary without it (``说明d2l 版本``) is reported.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from booktools import prose
from booktools.prose import CJK, Chapter, Finding, excerpt, masked, rel, segments

GLOSSARY = "glossary.md"
OK_MARKER = re.compile(r"glossary-ok\s*:\s*([^>\n]*?)\s*(?:-->|$)", re.M)


@dataclass
class Term:
    term: str  # the book's term, e.g. 掩蔽
    english: str
    d2l_zh: str
    first: str  # "第 6 章", "附录 A.2"
    banned: list[str]
    line: int  # line of the glossary file (1-based)

    @property
    def forms(self) -> list[str]:
        """The accepted spellings: the term's parts before any （…） note, split at 、/／."""
        head = re.split(r"[（(]", self.term)[0]
        return [f.strip() for f in re.split(r"[、/／]", head) if f.strip()]


@dataclass
class Citation:
    author: str  # first author's surname, e.g. Bahdanau
    year: str  # e.g. 2014
    line: int


@dataclass
class Glossary:
    terms: list[Term]
    citations: list[Citation]
    symbols: list[list[str]]
    text: str


def _table(text: str, heading: str) -> list[tuple[int, list[str]]]:
    """Rows (line number, cells) of the first table under ``## heading``."""
    m = re.search(r"^##\s+" + re.escape(heading) + r"\s*$", text, re.M)
    if not m:
        return []
    rows = []
    line_no = text[:m.end()].count("\n") + 1
    started = False
    for i, line in enumerate(text[m.end():].splitlines()[1:], start=line_no + 1):
        if line.startswith("## "):
            break
        if line.lstrip().startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            rows.append((i, cells))
        elif started and line.strip():
            break
    return rows[1:]  # without the header


def _split_list(cell: str) -> list[str]:
    if cell in ("", "—", "-", "–"):
        return []
    return [v.strip() for v in re.split(r"[、,，]", cell) if v.strip() and v.strip() not in ("—", "-")]


def load(path: Path) -> Glossary:
    text = Path(path).read_text(encoding="utf-8")
    terms = []
    for line, cells in _table(text, "术语"):
        if len(cells) != 5:
            raise ValueError(f"{path}:{line}: a term row has 5 columns (术语 | English | d2l-zh | 首次出现 | "
                             f"不用的写法); this one has {len(cells)}")
        term, english, d2l_zh, first, banned = cells
        terms.append(Term(term, english, d2l_zh, first, _split_list(banned), line))
    citations = []
    for line, cells in _table(text, "文献的写法"):
        m = re.match(r"([A-Z][\w'’-]+)", cells[0]) if cells else None
        y = re.search(r"(?:19|20)\d\d", cells[1]) if len(cells) > 1 else None
        if m and y:
            citations.append(Citation(m.group(1), y.group(0), line))
    symbols = [cells for _, cells in _table(text, "符号表")]
    return Glossary(terms, citations, symbols, text)


# ---------------------------------------------------------------------------------------------------
# Where the checks look
# ---------------------------------------------------------------------------------------------------

@dataclass
class Text:
    """A piece of a chapter's text: markdown, a code comment or string, or an output."""
    cell: prose.Cell
    kind: str  # "markdown" | "code" | "output"
    text: str


def chapter_texts(chapter: Chapter) -> list[Text]:
    out = []
    for cell in chapter.cells:
        if prose.BADGE_TAG in cell.tags:
            continue
        if cell.kind == "markdown":
            out.append(Text(cell, "markdown", masked(cell.source, keep=("text", "code", "fence", "math",
                                                                         "display", "comment"))))
        elif cell.kind == "code":
            # Chinese words can only be in comments and strings; the whole source keeps each line's marker
            out.append(Text(cell, "code", cell.source))
            out += [Text(cell, "output", o.text) for o in cell.outputs]
    return out


def ok_words(line: str) -> set[str]:
    words = set()
    for m in OK_MARKER.finditer(line):
        words |= {w.strip() for w in re.split(r"[、,，\s]+", m.group(1)) if w.strip()}
    return words


# ---------------------------------------------------------------------------------------------------
# Banned variants and first appearances
# ---------------------------------------------------------------------------------------------------

def _patterns(glossary: Glossary):
    """The accepted forms (longest first) and one pattern that finds any banned variant (cached on the
    glossary object)."""
    cached = getattr(glossary, "_compiled", None)
    if cached is None:
        forms = sorted({f for t in glossary.terms for f in t.forms}, key=len, reverse=True)
        banned = sorted({v for t in glossary.terms for v in t.banned}, key=len, reverse=True)
        cached = ([re.compile(re.escape(f)) for f in forms],
                  re.compile("|".join(re.escape(v) for v in banned) or r"(?!x)x"))
        glossary._compiled = cached
    return cached


def variant_hits(text: str, glossary: Glossary) -> list[tuple[int, int, str, Term]]:
    """(start, end, variant, term) for every banned variant in ``text`` that is not part of an accepted
    term, not quoted with a glossary-ok marker, and not inside a longer banned variant."""
    accepted, variants = _patterns(glossary)
    if not variants.search(text):
        return []
    covered = []
    for form in accepted:
        covered += [(m.start(), m.end()) for m in form.finditer(text)]
    hits = []
    for term in glossary.terms:
        for variant in term.banned:
            for m in re.finditer(re.escape(variant), text):
                a, b = m.start(), m.end()
                if any(ca <= a and b <= cb and (cb - ca) > (b - a) for ca, cb in covered):
                    continue  # part of an accepted term: 单元 in 门控循环单元
                if any(ca < b and a < cb and not (a <= ca and cb <= b) for ca, cb in covered):
                    continue  # overlaps an accepted term it does not contain: 单元 in 单元格
                line_start = text.rfind("\n", 0, a) + 1
                line_end = text.find("\n", b)
                line = text[line_start:line_end if line_end != -1 else len(text)]
                if variant in ok_words(line):
                    continue
                hits.append((a, b, variant, term))
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    kept = []
    for h in hits:
        if any(k[0] <= h[0] and h[1] <= k[1] and (k[1] - k[0]) > (h[1] - h[0]) for k in kept):
            continue  # inside a longer variant: report that one
        kept.append(h)
    return kept


def glossary_findings(chapter: Chapter, glossary: Glossary, root: Path) -> list[Finding]:
    where = rel(chapter.path, root)
    out = []
    for piece in chapter_texts(chapter):
        for a, b, variant, term in variant_hits(piece.text, glossary):
            out.append(Finding("glossary", where, piece.cell.index, piece.cell.id, variant,
                               excerpt(piece.text, a, b),
                               f"the glossary's term is “{term.term}” ({term.english}); “{variant}” is a banned "
                               f"variant (in a {piece.kind})." + (
                                   f" To quote it on purpose, add <!-- glossary-ok: {variant} --> on the line"
                                   if piece.kind == "markdown" else
                                   f" To quote it on purpose, add a comment # glossary-ok: {variant} on the line"
                                   if piece.kind == "code" else " Change the code that prints it.")))
    return out


def chapter_label_of(first: str) -> str | None:
    m = re.fullmatch(r"\s*(?:第\s*(\d+)\s*章|附录\s*([A-Z](?:\.\d+)?))\s*", first)
    if not m:
        return None
    return m.group(1) or m.group(2)


def prose_text(chapter: Chapter) -> str:
    """The chapter's markdown prose (cached on the chapter object)."""
    cached = getattr(chapter, "_prose_text", None)
    if cached is None:
        cached = _prose_text(chapter)
        chapter._prose_text = cached
    return cached


def _prose_text(chapter: Chapter) -> str:
    return "\n".join(masked(c.source, keep=("text",)) for c in chapter.markdown())


def first_use(term: Term, chapters: list[Chapter]) -> Chapter | None:
    for ch in chapters:
        text = prose_text(ch)
        if any(form in text for form in term.forms):
            return ch
    return None


def first_appearance_findings(glossary: Glossary, chapters: list[Chapter], glossary_path: Path,
                              root: Path) -> list[Finding]:
    where = rel(glossary_path, root)
    labels = [c.label for c in chapters]
    out = []
    for term in glossary.terms:
        label = chapter_label_of(term.first)
        if label is None:
            out.append(Finding("glossary", where, None, None, term.term, f"line {term.line}: {term.first}",
                               "首次出现 must read `第 N 章` or `附录 A.N`"))
            continue
        if label not in labels:
            out.append(Finding("glossary", where, None, None, term.term, f"line {term.line}: {term.first}",
                               f"首次出现 names chapter {label}, which the book does not have"))
            continue
        actual = first_use(term, chapters)
        stated = chapters[labels.index(label)]
        if actual is None:
            out.append(Finding("glossary", where, None, None, term.term, f"line {term.line}: {term.first}",
                               "no chapter uses this term: drop the row or use the term"))
        elif actual is not stated:
            used_there = any(f in prose_text(stated) for f in term.forms)
            out.append(Finding("glossary", where, None, None, term.term, f"line {term.line}: {term.first}",
                               f"the term first appears in {_label_text(actual.label)} ({actual.name})"
                               + ("" if used_there else f"; {_label_text(label)} does not use it")
                               + f": write 首次出现 = {_label_text(actual.label)}"))
    return out


def _label_text(label: str) -> str:
    return f"附录 {label}" if label[:1].isalpha() else f"第 {label} 章"


# ---------------------------------------------------------------------------------------------------
# Citations
# ---------------------------------------------------------------------------------------------------

VENUE = r"(?:ICLR|NeurIPS|NIPS|EMNLP|ACL|NAACL|ICML|CVPR|AAAI|IJCAI|COLING|SSST-8|Workshop|arXiv)"


# What comes right before a co-author's surname in an author list: another author's initial or surname and
# a separator ("Cho, K., van Merriënboer, B., Bahdanau, D.", "Cho、Bahdanau", "Cho and Bahdanau").
_COAUTHOR_BEFORE = re.compile(r"(?:\b[A-Z]\.|\b[A-Z][A-Za-zÀ-ÿ'’-]+)\s*(?:,|&|\band\b|、|和)\s*$")


def _is_coauthor(before: str) -> bool:
    """Whether the surname that follows ``before`` stands after another author's name in the same author list,
    so the year that follows is another paper's (the glossary's years are for first authors only)."""
    return bool(_COAUTHOR_BEFORE.search(before[-40:]))


def citation_findings(chapter: Chapter, glossary: Glossary, root: Path) -> list[Finding]:
    where = rel(chapter.path, root)
    out = []
    for cell in chapter.markdown():
        text = masked(cell.source, keep=("text", "code"))
        for cit in glossary.citations:
            for m in re.finditer(r"\b" + re.escape(cit.author) + r"\b", text):
                if _is_coauthor(text[:m.start()]):
                    continue  # e.g. Cho, K., …, Bahdanau, D., … (2014): another paper, with its own year
                window = text[m.end():m.end() + 60]
                window = re.split(r"[。\n]", window)[0]
                y = re.search(r"(?<!\d)((?:19|20)\d\d)[a-z]?(?!\d)", window)
                if not y or re.search(VENUE + r"\W{0,3}$", window[:y.start()]):
                    continue
                if y.group(1) != cit.year:
                    out.append(Finding("citations", where, cell.index, cell.id, f"{cit.author} … {y.group(1)}",
                                       excerpt(text, m.start(), m.end() + y.end()),
                                       f"the glossary cites {cit.author} et al. as {cit.year} (文献的写法)"))
    return out


# ---------------------------------------------------------------------------------------------------
# Notation
# ---------------------------------------------------------------------------------------------------

NOTATION = [
    ("valid-length",
     re.compile(r"(?<![\w\\])L\s*_\s*(?:\{\s*i\s*\}|i)(?![\w,]|\s*,)"),
     "the valid length is $\\ell_i$ (符号表); the loss is $\\mathcal L$"),
    ("decoder-step",
     re.compile(r"(?:(?<![A-Za-z\\])(?<!\\mathbf )(?<!\\mathbf\{)y|\\mathbf\s*\{?\s*[sc]\s*\}?)\s*_\s*"
                r"(?:\{\s*)?t(?![\w'′]|\s*\^|\s*\\prime)"),
     "the decoder's time step is t′ (符号表): write y_{t'}, \\mathbf s_{t'}, \\mathbf c_{t'}"),
    ("head-index",
     re.compile(r"\^\s*\{\s*\(\s*h\s*\)\s*\}"),
     "h is the number of heads (符号表); index a head with i"),
]


def notation_findings(chapter: Chapter, root: Path) -> list[Finding]:
    where = rel(chapter.path, root)
    out = []
    for cell in chapter.markdown():
        for seg in segments(cell.source):
            if seg.kind in ("math", "display"):
                for name, pattern, why in NOTATION:
                    for m in pattern.finditer(seg.text):
                        if name == "decoder-step" and re.search(r"\\mathbf\s*\{?\s*$", seg.text[:m.start()]) \
                                and m.group(0).lstrip().startswith("y"):
                            continue  # a bold y is another vector (a layer's output), not the target token
                        out.append(Finding("notation", where, cell.index, cell.id, m.group(0),
                                           excerpt(cell.source, seg.start + m.start(), seg.start + m.end()),
                                           f"{name}: {why}"))
        text = masked(cell.source, keep=("text", "math"))
        for m in re.finditer(r"第\s*\$\s*h\s*\$\s*个头", text):
            out.append(Finding("notation", where, cell.index, cell.id, m.group(0), excerpt(text, m.start(), m.end()),
                               "head-index: h is the number of heads (符号表); index a head with i"))
    return out


# ---------------------------------------------------------------------------------------------------
# Typography: quotation marks and spacing
# ---------------------------------------------------------------------------------------------------

PLACEHOLDER = "\x03"


def typography_text(md: str) -> str:
    """Prose with inline code and math replaced by a placeholder letter (a boundary with them counts) and
    everything else that is not prose (fenced code, comments, link targets, HTML) blanked out."""
    parts = []
    for seg in segments(md):
        if seg.kind == "text":
            parts.append(seg.text)
        elif seg.kind in ("code", "math"):
            parts.append(PLACEHOLDER * len(seg.text))
        else:
            parts.append("".join("\n" if ch == "\n" else " " for ch in seg.text))
    return "".join(parts)


def quote_findings(chapter: Chapter, root: Path, book_uses_curly: bool = True) -> list[Finding]:
    where = rel(chapter.path, root)
    out = []
    for cell in chapter.markdown():
        text = typography_text(cell.source)
        for line_match in re.finditer(r"[^\n]+", text):
            line = line_match.group(0)
            if not re.search("[" + CJK + "]", line):
                continue
            for m in re.finditer(r'"([^"\n]*)"', line):
                a = line_match.start() + m.start()
                inner = "Chinese" if re.search("[" + CJK + "]", m.group(1)) else "Latin"
                out.append(Finding("quotes", where, cell.index, cell.id, cell.source[a:a + len(m.group(0))],
                                   excerpt(cell.source, a, a + len(m.group(0))),
                                   f"ASCII quotation marks around {inner} text in Chinese prose: use “…”"))
            if book_uses_curly:
                for m in re.finditer(r"「[^」\n]*」", line):
                    a = line_match.start() + m.start()
                    out.append(Finding("quotes", where, cell.index, cell.id, m.group(0), excerpt(cell.source, a, a + 2),
                                       "the book quotes with “…”, not 「…」"))
    return out


SPACE_PATTERNS = [
    ("no-space", re.compile("([" + CJK + "])([A-Za-z0-9" + PLACEHOLDER + "])")),
    ("no-space", re.compile("([A-Za-z0-9" + PLACEHOLDER + "])([" + CJK + "])")),
    ("space", re.compile("([" + CJK + "]) ([A-Za-z0-9" + PLACEHOLDER + "])")),
    ("space", re.compile("([A-Za-z0-9" + PLACEHOLDER + "]) ([" + CJK + "])")),
]


def spacing_counts(chapters: list[Chapter]) -> dict[str, int]:
    counts = {"space": 0, "no-space": 0}
    for ch in chapters:
        for cell in ch.markdown():
            text = typography_text(cell.source)
            for kind, pattern in SPACE_PATTERNS:
                counts[kind] += len(pattern.findall(text))
    return counts


def spacing_findings(chapter: Chapter, root: Path) -> list[Finding]:
    where = rel(chapter.path, root)
    out = []
    for cell in chapter.markdown():
        text = typography_text(cell.source)
        for kind, pattern in SPACE_PATTERNS:
            if kind != "no-space":
                continue
            for m in pattern.finditer(text):
                shown = cell.source[max(0, m.start() - 6):m.end() + 6].replace("\n", " ")
                out.append(Finding("spacing", where, cell.index, cell.id, shown, excerpt(cell.source, m.start(), m.end()),
                                   "no space between Chinese and Latin/digits/code/math: the book puts one there"))
    return out


# ---------------------------------------------------------------------------------------------------
# All of it
# ---------------------------------------------------------------------------------------------------

def glossary_path(notebook_dir: Path) -> Path:
    """The glossary page next to the chapters (this checkout's page when checking another folder)."""
    path = Path(notebook_dir) / GLOSSARY
    return path if path.exists() else prose.ROOT / "notebooks" / GLOSSARY


def all_findings(root: Path, notebook_dir: Path, chapters: list[Chapter]) -> list[Finding]:
    root, notebook_dir = Path(root), Path(notebook_dir)
    out = []
    path = glossary_path(notebook_dir)
    if path.exists():
        glossary = load(path)
        for ch in chapters:
            out += glossary_findings(ch, glossary, root)
            out += citation_findings(ch, glossary, root)
        out += first_appearance_findings(glossary, chapters, path, root)
    else:
        out.append(Finding("glossary", rel(path, root), None, None, GLOSSARY, "", "the glossary page is missing"))
    for ch in chapters:
        out += notation_findings(ch, root)
        out += quote_findings(ch, root)
        out += spacing_findings(ch, root)
    return out


def variant_counts(glossary: Glossary, chapters: list[Chapter]) -> list[tuple[str, str, int, dict[str, int]]]:
    """(term, variant, total, {chapter label: count}) for every banned variant the book uses."""
    rows = []
    for term in glossary.terms:
        for variant in term.banned:
            per = {}
            for ch in chapters:
                n = sum(1 for piece in chapter_texts(ch) for h in variant_hits(piece.text, glossary) if h[2] == variant)
                if n:
                    per[ch.label] = n
            if per:
                rows.append((term.term, variant, sum(per.values()), per))
    return rows


def report_appendix(root: Path, notebook_dir: Path, chapters: list[Chapter]) -> list[str]:
    path = glossary_path(notebook_dir)
    lines = ["## Variants the glossary bans, with counts", ""]
    if not path.exists():
        return lines + ["(no glossary page)", ""]
    glossary = load(path)
    lines += ["| term | banned variant | total | per chapter |", "|---|---|---:|---|"]
    for term, variant, total, per in variant_counts(glossary, chapters):
        lines.append(f"| {term} | {variant} | {total} | " + ", ".join(f"{k}: {v}" for k, v in per.items()) + " |")
    counts = spacing_counts(chapters)
    lines += ["", f"Spacing between Chinese and Latin/digits/code/math: {counts['space']} boundaries with a space, "
              f"{counts['no-space']} without (the book's convention is the space).", ""]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.glossary")
    parser.add_argument("--root", type=Path, default=prose.ROOT)
    parser.add_argument("--notebooks", type=Path, default=None)
    parser.add_argument("--first", action="store_true", help="print where each term first appears")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    notebook_dir = (args.notebooks or root / "notebooks").resolve()
    chapters = prose.read_book(notebook_dir)
    if args.first:
        glossary = load(glossary_path(notebook_dir))
        for term in glossary.terms:
            ch = first_use(term, chapters)
            print(f"{term.term}\t{term.first}\t{_label_text(ch.label) if ch else '—'}")
        return 0
    findings = all_findings(root, notebook_dir, chapters)
    for f in findings:
        print(f)
    print(f"{len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
