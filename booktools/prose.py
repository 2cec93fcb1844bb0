"""Every sentence true to the reader's own run: the checks of issue 11 that read the book's text.

Run ``python -m booktools.prose`` (exit status 1 when something is found) or
``python -m booktools.prose --report`` (writes ``VIOLATIONS.md``: every finding, per chapter and check).
Nothing here starts a kernel: the checks read the stored notebooks.

The checks (each returns :class:`Finding` objects that name the notebook, the cell and the text):

``numbers``
    Every decimal number, percentage, number with thousands separators (``1,400``), number in scientific
    notation (``1.4 \\times 10^{-5}``, ``1e-6``) or with 万/亿 in a markdown cell -- in plain text, inline
    code, table cells and LaTeX alike -- must appear in the same chapter's code or in the outputs nbval
    compares, or be allowed by one of the named rules in :data:`NUMBER_RULES`.

    *Appears* means: a number in the **code** must be equal (``0.10`` and ``0.1`` are equal); a number in
    the **outputs** may be rounded, never made more precise. The prose's number ``p`` written with ``k``
    decimals appears in an output that prints ``o`` when ``o == p``, or when ``o`` has more decimals and
    rounds to ``p`` (half-up or half-even): ``0.35`` appears in ``0.350`` and in ``0.3512``, not in
    ``0.3`` or ``0.36``. A percentage also appears as a fraction (``94%`` in ``0.9431``), a fraction as a
    percentage; ``1,400`` is ``1400``; ``1.5 万`` appears in ``15,123``. Signs are ignored. Outputs of
    cells tagged ``nbval-ignore-output`` or ``nbval-skip`` do **not** count: they differ between runs, so a
    figure copied from them will not match the reader's run (the finding says so).

    Not checked: plain integers (counts, sizes, epochs: too often configuration, and a chance match is
    almost certain), numbers in fenced code blocks inside markdown (shown code, not claims), in link
    targets, HTML comments and tags; tokens with two or more dots (``1.0.3``, ``25.11.2026``).
    A short number (``0.1``) is a weak check: it also "appears" in any output that rounds to it.

``translations``
    A sentence in the book's tokenised form (lowercase words separated by spaces, the final punctuation
    split off: ``il est malade .``) quoted in prose -- in backticks or quotes -- must appear in the
    chapter's compared outputs or in code (the same sentence, whitespace collapsed; a list of string
    literals ``['they', 'are', '.']`` counts as the sentence ``they are .``). So must a quoted span of
    Chinese right after a word that presents it as a translation (译成, 翻译成, 译为, ``→``). Code of any
    chapter counts (a sentence the book's code writes is an input or a reference, not a result), and so do
    sentences the chapter's exercises themselves pose and sentences whose words a diagram of the cell shows.
    Limits: a translation paraphrased in words, written untokenised (``"He's calm."``) or in Chinese
    without such a cue word is not recognised; a model output that happens to equal a sentence of some
    code (an input) passes; the chapter as a whole is searched, not the cell next to the sentence.

``section-refs``
    ``7.3 节``, ``练习 7.6`` and ``第 7 章`` name a section, exercise or chapter that exists (headings
    ``## 7.3 …``, the 7th chapter's 练习 list, titles ``# 7. …``): cross-references survive renumbering.

``bench``
    Figures from ``bench/`` runs, anywhere in the book (chapters, ``README.md``, ``bench/README.md``), are
    tied to a log in ``bench/results/`` by naming it (``compare-2026-11-25.log``): in the paragraph or
    table itself or in the paragraph just before it, or -- in a chapter -- in the output of the cell that
    prints them. Every number of a tied block must appear in that log (same matching as above), its dates
    must be the log's date, and the log must be the newest of its benchmark (``<name>-<YYYY-MM-DD>.<ext>``).
    A block that mentions a benchmark (``bench/…``, ``compare.py``, ``make bench``, …) and quotes
    figures without naming a log is reported as untied (numbers the scripts ``bench/*.py`` set themselves
    are configuration, not figures).

``reader-text``
    No build machinery in the reader's text (markdown cells, including code blocks shown in them, and
    every printed output): nbval, pytest, 开发机, ``tests/…`` and ``bench/…`` paths, ``python -m bench…``,
    ``booktools``, ``.ci/``, ``make <target>`` for a target of the Makefile. No exemption yet (a
    teachers'-note tag may add one later).

``shape``
    Every chapter ends with ``## 参考文献`` (the last cell is markdown and its last ``##`` heading is 参考文献); every item of ``## 练习`` starts with （编程） or （思考）
    (（思考与编程） counts as both); every （思考） item has a reference answer between
    ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` -- right after the item, or labelled
    ``练习 k：`` in a solution block of the chapter.

The glossary, notation, citation and typography checks live in :mod:`booktools.glossary`; the report
includes them.
"""
from __future__ import annotations

import argparse
import ast
import functools
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from booktools import figures

ROOT = Path(__file__).resolve().parent.parent

CHAPTER_FILE = re.compile(r"^(\d{2})_[a-z0-9_]+\.ipynb$")
IGNORE_TAGS = {"nbval-ignore-output", "nbval-skip"}
BADGE_TAG = "colab-badge"
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


# ---------------------------------------------------------------------------------------------------
# Reading the book
# ---------------------------------------------------------------------------------------------------

@dataclass
class Output:
    text: str
    ignored: bool  # the cell is tagged nbval-ignore-output / nbval-skip: nbval does not compare it


@dataclass
class Cell:
    index: int  # 0-based position among all cells (the badge is cell 0)
    id: str | None
    kind: str  # "markdown" | "code" | "raw"
    source: str
    tags: list[str]
    outputs: list[Output] = field(default_factory=list)

    @property
    def ignored(self) -> bool:
        return bool(IGNORE_TAGS & set(self.tags))


@dataclass
class Chapter:
    path: Path
    label: str  # "7" or "A.1": the number in the title `# 7. …` / `# 附录 A.1 …`
    title: str
    cells: list[Cell]

    @property
    def name(self) -> str:
        return self.path.name

    def markdown(self):
        return [c for c in self.cells if c.kind == "markdown" and BADGE_TAG not in c.tags]

    def code(self):
        return [c for c in self.cells if c.kind == "code"]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def output_texts(cell_json) -> list[str]:
    """The text of every output of a code cell: streams, text/plain, text/markdown, text/html, errors."""
    texts = []
    for out in cell_json.get("outputs", []):
        if out.get("output_type") == "stream":
            texts.append(_text(out.get("text")))
        elif out.get("output_type") == "error":
            texts.append("\n".join(out.get("traceback", [])))
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/"):
                texts.append(_text(value))
    return texts


TITLE = re.compile(r"^#\s+(?:附录\s*)?([A-Z]?\d*(?:\.\d+)*)\.?\s+(.*)$", re.M)


def read_chapter(path: Path) -> Chapter:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = []
    for i, c in enumerate(data.get("cells", [])):
        tags = list(c.get("metadata", {}).get("tags", []))
        source = _text(c.get("source"))
        if c.get("cell_type") == "markdown":
            source = figures.unembedded_source(source)  # a stamped diagram is read as ../images/name
        cell = Cell(i, c.get("id"), c.get("cell_type", ""), source, tags)
        if cell.kind == "code":
            cell.outputs = [Output(t, cell.ignored) for t in output_texts(c)]
        cells.append(cell)
    label, title = "", ""
    for cell in cells:
        if cell.kind == "markdown" and BADGE_TAG not in cell.tags:
            match = TITLE.search(cell.source)
            if match:
                label, title = match.group(1).rstrip("."), match.group(2).strip()
            break
    if not label:
        match = CHAPTER_FILE.match(Path(path).name)
        label = str(int(match.group(1))) if match else Path(path).stem
    return Chapter(Path(path), label, title, cells)


def chapter_paths(notebook_dir: Path) -> list[Path]:
    """Every chapter notebook (``NN_name.ipynb``) of the folder, in reading order. Nothing is hard-coded:
    whatever chapters exist are checked."""
    return sorted(p for p in Path(notebook_dir).glob("*.ipynb") if CHAPTER_FILE.match(p.name))


def read_book(notebook_dir: Path) -> list[Chapter]:
    return [read_chapter(p) for p in chapter_paths(notebook_dir)]


@dataclass(frozen=True)
class Finding:
    check: str  # "numbers", "translations", "bench", …
    where: str  # notebook (or file) path relative to the root, e.g. "notebooks/07_training.ipynb"
    cell: int | None  # cell index (0-based), None for a file that is not a notebook
    cell_id: str | None
    text: str  # what was found: the number, the sentence, the word
    context: str  # an excerpt around it
    detail: str  # why it is a violation and what to do

    def location(self) -> str:
        if self.cell is None:
            return self.where
        return f"{self.where}, cell {self.cell}" + (f" (id {self.cell_id})" if self.cell_id else "")

    def __str__(self) -> str:
        return f"{self.location()}: [{self.check}] {self.text!r} — {self.detail}\n    …{self.context}…"


def rel(path: Path, root: Path = ROOT) -> str:
    """``path`` relative to ``root`` (or to this checkout, when it lies outside ``root``)."""
    for base in (root, ROOT):
        try:
            return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            continue
    return Path(path).as_posix()


def excerpt(text: str, start: int, end: int, width: int = 40) -> str:
    a, b = max(0, start - width), min(len(text), end + width)
    return text[a:b].replace("\n", " ").strip()


# ---------------------------------------------------------------------------------------------------
# Markdown: what is prose, what is code, math, a link target, a comment
# ---------------------------------------------------------------------------------------------------

HTML_TAGS = ("a|b|i|u|br|hr|p|div|span|img|sup|sub|em|strong|code|pre|kbd|font|center|small|big|table|"
             "thead|tbody|tr|td|th|ul|ol|li|details|summary|figure|figcaption|video|audio|source|iframe")

SEGMENT = re.compile(
    r"(?P<fence>^[ \t]*(?P<fmark>```+|~~~+)[^\n]*\n.*?^[ \t]*(?P=fmark)[ \t]*$)"
    r"|(?P<comment><!--.*?-->)"
    r"|(?P<display>\$\$.+?\$\$)"
    r"|(?P<code>(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`))"
    r"|(?P<math>(?<![\\$A-Za-z0-9_])\$(?=[^\s$])(?:\\\$|[^$\n])+?(?<![\s\\])\$(?![A-Za-z0-9_]))"
    r"|(?P<url>(?<=\])\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)|https?://[^\s)\]>，。；）、]+)"
    r"|(?P<html></?(?:" + HTML_TAGS + r")\b[^>\n]*>)",
    re.S | re.M,
)


@dataclass(frozen=True)
class Segment:
    kind: str  # text | fence | comment | display | code | math | url | html
    start: int
    end: int
    text: str


@functools.lru_cache(maxsize=4096)
def segments(md: str) -> tuple[Segment, ...]:
    """Split markdown into consecutive segments that cover it completely."""
    out, pos = [], 0
    for m in SEGMENT.finditer(md):
        if m.start() > pos:
            out.append(Segment("text", pos, m.start(), md[pos:m.start()]))
        kind = next(k for k in ("fence", "comment", "display", "code", "math", "url", "html") if m.group(k))
        out.append(Segment(kind, m.start(), m.end(), m.group(0)))
        pos = m.end()
    if pos < len(md):
        out.append(Segment("text", pos, len(md), md[pos:]))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def masked(md: str, keep=("text",), fill: str = " ") -> str:
    """The markdown with every segment whose kind is not in ``keep`` replaced by ``fill`` characters
    (newlines kept), so offsets stay valid."""
    parts = []
    for seg in segments(md):
        if seg.kind in keep:
            parts.append(seg.text)
        else:
            parts.append("".join("\n" if ch == "\n" else fill for ch in seg.text))
    return "".join(parts)


SOLUTION = re.compile(r"<!--\s*BEGIN SOLUTION\s*-->(.*?)<!--\s*END SOLUTION\s*-->", re.S)


def solution_spans(md: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in SOLUTION.finditer(md)]


def sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    """The sentence around ``pos``: from the previous 。！？ or line break to the next one."""
    start = max(text.rfind(ch, 0, pos) for ch in "。！？\n") + 1
    ends = [i for i in (text.find(ch, pos) for ch in "。！？\n") if i != -1]
    end = min(ends) + 1 if ends else len(text)
    return start, end


CHECKED_EXERCISE = re.compile(r"^###\s+练习\s*[A-Z]?\d+(?:\.\d+)+", re.M)


def exercise_prompt_spans(md: str) -> list[tuple[int, int]]:
    """Where the markdown asks rather than tells: the items of a ``## 练习`` list (without their answers)
    and a checked exercise's description (a cell headed ``### 练习 N.k …``, up to a solution block)."""
    spans = [(a, b) for _, a, b, _ in exercise_items(md)]
    head = CHECKED_EXERCISE.search(md)
    if head:
        sol = SOLUTION.search(md, head.start())
        spans.append((head.start(), sol.start() if sol else len(md)))
    return spans


def exercise_items(md: str) -> list[tuple[int, int, int, str]]:
    """The numbered items of a ``## 练习`` section in this markdown: (number, start, end, text).
    An item runs to the next item, the next heading or the end of the section; reference answers
    (solution blocks) are cut out of it."""
    head = re.search(r"^##\s+练习\s*$", md, re.M)
    if not head:
        return []
    section_end = re.search(r"^#{1,3}\s", md[head.end():], re.M)
    stop = head.end() + section_end.start() if section_end else len(md)
    body_start = head.end()
    items = []
    starts = [m for m in re.finditer(r"^(\d+)\.\s", md[body_start:stop], re.M)]
    for k, m in enumerate(starts):
        a = body_start + m.start()
        b = body_start + starts[k + 1].start() if k + 1 < len(starts) else stop
        text = md[a:b]
        sol = SOLUTION.search(text)
        if sol:  # the item ends where its answer begins
            b = a + sol.start()
            text = md[a:b]
        items.append((int(m.group(1)), a, b, text))
    return items


def referenced_svgs(md: str, notebook_dir: Path) -> list[Path]:
    paths = []
    for target in re.findall(r"!\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+\.svg)", md):
        path = (Path(notebook_dir) / target).resolve()
        if path.exists():
            paths.append(path)
    for name in re.findall(r"attachment:([\w.-]+\.svg)", md):
        path = (Path(notebook_dir).parent / "images" / name).resolve()
        if path.exists():
            paths.append(path)
    return paths


def svg_text(path: Path) -> str:
    """The text a diagram shows (its <text>/<tspan> content and titles)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return ""
    parts = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag in ("text", "tspan", "title", "desc") and el.text:
            parts.append(el.text)
        if tag in ("text", "tspan") and el.tail and el.tail.strip():
            parts.append(el.tail)
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------------

NUM = re.compile(
    r"(?<![A-Za-z0-9_.\\])"  # not inside an identifier, a longer number or a LaTeX command
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])|\d+\.\d+|\d+)"
    r"(?P<sci>\s*(?:\\times|×|\\cdot)\s*10\s*\^\s*\{?\s*(?P<exp>[-−]?\d+)\s*\}?|[eE](?P<exp2>[-+]?\d+)(?![A-Za-z]))?"
    r"(?P<pct>\s?(?:\\%|%|％))?"
    r"(?P<mag>\s?[万亿](?![元]))?"
    r"(?![A-Za-z0-9_]|\.\d)"
)
DOTTED = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:\.\d+){2,}(?![A-Za-z0-9_.])|\d+(?:\.\d+){2,}")


@dataclass(frozen=True)
class Number:
    text: str  # as written
    value: Decimal  # absolute value, with its precision (exponent) as written
    percent: bool
    checkable: bool  # decimal / percentage / thousands / scientific / 万 — what the prose check reads
    start: int
    end: int


def parse_numbers(text: str) -> list[Number]:
    blank = DOTTED.sub(lambda m: " " * len(m.group(0)), text)
    out = []
    for m in NUM.finditer(blank):
        raw = m.group("num")
        digits = raw.replace(",", "")
        try:
            value = Decimal(digits)
        except InvalidOperation:
            continue
        exp = m.group("exp") or m.group("exp2")
        if exp is not None:
            value = value.scaleb(int(exp.replace("−", "-")))
        mag = (m.group("mag") or "").strip()
        if mag:
            value = value.scaleb(4 if mag == "万" else 8)
        percent = bool(m.group("pct"))
        checkable = bool("." in raw or "," in raw or percent or exp is not None or mag)
        out.append(Number(m.group(0).strip(), abs(value), percent, checkable, m.start(), m.end()))
    return out


def _exp(d: Decimal) -> int:
    return d.as_tuple().exponent  # type: ignore[return-value]


def rounds_to(source: Decimal, prose: Decimal) -> bool:
    """True when ``source`` is ``prose`` or, printed more precisely, rounds to it (half-up or half-even)."""
    if source == prose:
        return True
    if _exp(source) >= _exp(prose):
        return False
    quantum = Decimal(1).scaleb(_exp(prose))
    try:
        return any(source.quantize(quantum, rounding=mode) == prose for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN))
    except InvalidOperation:
        return False


class Sources:
    """The numbers a chapter's prose may quote: its code (exactly) and its compared outputs (rounded)."""

    def __init__(self, code_texts=(), output_texts=(), ignored_texts=()):
        self.code = self._collect(code_texts)
        self.outputs = self._collect(output_texts)
        self.ignored = self._collect(ignored_texts)

    @staticmethod
    def _collect(texts, exclude=frozenset()):
        plain, percent = set(), set()
        for text in texts:
            for n in parse_numbers(text):
                if n.value in exclude:
                    continue
                if n.percent:
                    percent.add(n.value)
                    plain.add(n.value.scaleb(-2))
                else:
                    plain.add(n.value)
                    if n.value <= 1:
                        percent.add(n.value.scaleb(2))
        return plain, percent

    @staticmethod
    def _has(pool, number: Number, exact: bool) -> bool:
        plain, percent = pool
        candidates = percent if number.percent else plain
        if exact:
            return number.value in candidates
        return any(rounds_to(v, number.value) for v in candidates)

    def where(self, number: Number) -> str | None:
        """"code", "output", "ignored output" or None."""
        if self._has(self.code, number, exact=True):
            return "code"
        if self._has(self.outputs, number, exact=False):
            return "output"
        if self._has(self.ignored, number, exact=False):
            return "ignored output"
        return None


def split_code(source: str) -> tuple[str, str]:
    """(the code without its string literals and comments, the string literals and comments).
    A number typed into a print() string or a comment is prose in disguise, not configuration."""
    import io
    import tokenize

    lines = [("" if re.match(r"\s*[%!]", line) else line) for line in source.splitlines(keepends=True)]
    code, text = [], []
    literal = {tokenize.STRING, tokenize.COMMENT} | {getattr(tokenize, "FSTRING_MIDDLE", -1)}
    try:
        for tok in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            (text if tok.type in literal else code).append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        strings = re.findall(r"""(\"\"\"[\s\S]*?\"\"\"|'\'\'[\s\S]*?'\'\'|"[^"\n]*"|'[^'\n]*'|#[^\n]*)""", source)
        rest = source
        for lit in strings:
            rest = rest.replace(lit, " ")
        return rest, "\n".join(strings)
    return " ".join(code), "\n".join(text)


class ChapterSources:
    """A chapter's numbers: code (without strings), its string literals, compared and ignored outputs."""

    def __init__(self, chapter: Chapter):
        parts = [split_code(c.source) for c in chapter.code()]
        self.plain = Sources([p[0] for p in parts])
        self.literals = Sources([p[1] for p in parts])
        for cell, (_, literal) in zip(chapter.code(), parts):
            # a figure the cell prints from a string literal was typed, not measured
            typed = {n.value for n in parse_numbers(literal)}
            for out in cell.outputs:
                pool = Sources._collect([out.text], exclude=typed)
                target = self.plain.ignored if out.ignored else self.plain.outputs
                target[0].update(pool[0])
                target[1].update(pool[1])

    def where(self, number: Number, in_code_span: bool) -> str | None:
        where = self.plain.where(number)
        if where in ("code", "output"):
            return where
        if in_code_span and self.literals.where(number) == "code":
            return "code"  # `3.5` in backticks: a datum the code itself uses
        return where


def chapter_sources(chapter: Chapter) -> ChapterSources:
    return ChapterSources(chapter)


# --- the rules that allow a number the outputs do not show ------------------------------------------

@dataclass
class NumberContext:
    """Everything a rule may look at: the number, where it sits, the sentence around it."""
    number: Number
    md: str  # the whole markdown cell
    start: int  # offset of the number in ``md``
    end: int
    segment: Segment
    sentence: str
    cell: Cell
    chapter: Chapter
    in_exercise_prompt: bool
    in_bibliography: bool
    svg_texts: list[str]


SECTION_BEFORE = re.compile(r"(?:练习|§|第|附录|见|Section|section|ch\.|Ch\.)\s*(?:\*\*)?\s*$")
SECTION_AFTER = re.compile(r"^\s*(?:\*\*)?\s*(?:节|小节|章)")


def rule_section_number(ctx: NumberContext) -> bool:
    """section: the number names a section, exercise or chapter of the book -- ``7.3 节``, ``练习 7.6``,
    ``§7.3``, ``附录 A.1`` -- or is a heading's own number (``## 7.3 束搜索``). Whether the section exists
    is checked separately (``section-refs``)."""
    before = ctx.md[max(0, ctx.start - 12):ctx.start]
    after = ctx.md[ctx.end:ctx.end + 6]
    if SECTION_BEFORE.search(before) or SECTION_AFTER.match(after):
        return "." in ctx.number.text and not ctx.number.percent
    line_start = ctx.md.rfind("\n", 0, ctx.start) + 1
    return bool(re.fullmatch(r"#{1,6}\s+(?:附录\s*)?(?:[A-Z]\.)?", ctx.md[line_start:ctx.start]))


SOFTWARE = (r"PyTorch|torch|Python|d2l-zh|d2l|D2L|CUDA|cuDNN|NumPy|numpy|matplotlib|Jupyter\s*Book|JupyterLab|"
            r"Jupyter|Colab|nbformat|nbval|sacrebleu|SacreBLEU|fairseq|tensor2tensor|Chromium|Playwright|"
            r"ipykernel|pip|setuptools|MathJax|Sphinx|jieba|hypothesis|pytest|Debian|Ubuntu|TensorFlow|JAX|"
            r"MXNet|PaddlePaddle|transformers|tokenizers|sentencepiece|Noto\s*Sans\s*CJK|OFL|Unicode|UTF|"
            r"ONNX|Triton|GCC|LLVM|macOS|Windows|Linux|ICLR|NeurIPS|NIPS|EMNLP|ACL|NAACL|ICML|arXiv")


def rule_software_version(ctx: NumberContext) -> bool:
    """version: a version of a named piece of software or of a publication venue (``PyTorch 2.1``,
    ``torch ≥ 2.4``, ``d2l 0.17``, ``Python ≥ 3.10``, ``d2l-zh 2.0``), or a number followed by 版/版本
    (``0.17 版``). Add a name to ``SOFTWARE`` when the book cites a new tool's version."""
    before = ctx.md[max(0, ctx.start - 40):ctx.start]
    after = ctx.md[ctx.end:ctx.end + 4]
    if re.search(r"(?:" + SOFTWARE + r")\W{0,3}(?:v|版本\s*|version\s*)?(?:≥|>=|<=|≤|<|>|==|~=|\s)*[\(（]?\s*$",
                 before):
        return not ctx.number.percent
    return bool(re.match(r"\s*(?:版|版本)", after))


LICENCE = re.compile(r"(?:CC[- ]?BY(?:[- ](?:SA|NC|ND))*|署名(?:[-–—\s]*(?:相同方式共享|非商业性使用))*|Apache|GPL|LGPL|"
                     r"MPL|OFL|BSD)\W{0,4}(?:License|许可证?)?\s*[\(（]?\s*$")


def rule_licence(ctx: NumberContext) -> bool:
    """licence: the version of a licence (``CC-BY 2.0``, ``署名 2.0``, ``Apache 2.0``)."""
    return bool(LICENCE.search(ctx.md[max(0, ctx.start - 30):ctx.start]))


_AUTHORS = r"[A-Z][A-Za-zÀ-ÿ'’\-]+(?:\s*(?:,|、|和|与|and|&)\s*[A-Z][A-Za-zÀ-ÿ'’\-]+)*"
CITATION = re.compile(
    _AUTHORS + r"\s*(?:et al\.?|等人?)\s*[,，]?\s*[\(（]?\s*(?:19|20)\d\d"        # Vaswani et al. 2017, X 等人（2017）
    r"|" + _AUTHORS + r"\s*[\(（]\s*(?:19|20)\d\d[a-z]?\s*[\)）]"                # Sutskever, Vinyals 和 Le（2014）
    r"|[\(（][A-Z][^()（）\n]{0,60}?[,，]\s*(?:19|20)\d\d[a-z]?\s*[\)）]"         # (Vaswani et al., 2017)
    r"|arXiv:\s*\d{4}\.\d{4,5}"
)


def rule_literature(ctx: NumberContext) -> bool:
    """literature: a figure from a publication, with its citation in the same sentence
    (``BLEU 28.4（Vaswani 等人，2017）``, ``Sutskever 等人（2014）用 4 层 LSTM``), or any number in the
    chapter's ``## 参考文献`` list itself (volumes, pages, arXiv numbers)."""
    if ctx.in_bibliography:
        return True
    return bool(CITATION.search(ctx.sentence))


LATEX_FUNCS = {r"\ln": "log", r"\log": "log", r"\exp": "exp", r"\sqrt": "sqrt"}


def latex_value(expr: str) -> float | None:
    """The value of a LaTeX expression made only of numbers (``0.5 \\times 0.4``, ``e^{-1/2}``,
    ``3 \\ln 3 / 12``, ``\\frac{8}{3}``, ``1.4 \\times 10^{-5}``); None when it has a variable or
    anything else."""
    s = expr.strip().strip("$").strip()
    s = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)\b", "", s)
    s = re.sub(r"\\[,;:! ]|~", " ", s)
    s = s.replace("{,}", "")
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))", s)
    s = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", s)
    for cmd, name in LATEX_FUNCS.items():
        s = re.sub(re.escape(cmd) + r"(?![A-Za-z])\s*", f" {name} ", s)
    s = s.replace(r"\times", "*").replace("×", "*").replace(r"\cdot", "*").replace("·", "*").replace("−", "-")
    s = s.replace(r"\pi", " pi ").replace("{", "(").replace("}", ")").replace("^", "**")
    if re.search(r"\\|[A-Za-df-z_]", re.sub(r"\b(?:log|exp|sqrt|pi)\b", "", s)):
        return None  # a variable, a function we do not know, a LaTeX command
    s = re.sub(r"(?<![\w.])e(?![\w])", " E ", s)
    s = re.sub(r"\b(log|exp|sqrt)\s+([0-9.]+|E|pi)", r"\1(\2)", s)  # \ln 10 -> log(10)
    s = re.sub(r"(\d|\))\s*(?=\(|log|exp|sqrt|pi|E\b)", r"\1*", s)  # 3 \ln 3 -> 3*log(3)
    try:
        tree = ast.parse(s.strip(), mode="eval")
    except SyntaxError:
        return None
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Call, ast.Name, ast.Load,
               ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            return None
        if isinstance(node, ast.Name) and node.id not in ("log", "exp", "sqrt", "pi", "E"):
            return None
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            return None
    try:
        value = eval(compile(tree, "<latex>", "eval"),  # noqa: S307 -- only numbers and 3 functions
                     {"__builtins__": {}}, {"log": math.log, "exp": math.exp, "sqrt": math.sqrt,
                                            "pi": math.pi, "E": math.e})
    except (ArithmeticError, ValueError, TypeError, OverflowError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _written_precision(literal: str) -> float:
    """Half a unit of the last digit of a number as written (``0.10`` -> 0.005, ``9100`` -> 0.5,
    ``1.4 \\times 10^{-5}`` -> 5e-7)."""
    nums = parse_numbers(literal)
    if len(nums) == 1:
        return float(Decimal(1).scaleb(_exp(nums[0].value))) / 2
    return 0.5


def _split_top(text: str, seps: str) -> list[str]:
    """Split at the separators that are not inside (), [] or {}."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch in seps and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _statement_holds(parts: list[str]) -> bool | None:
    """None when a part is not made only of numbers; else whether all parts agree with the last one."""
    values = []
    for part in parts:
        v = latex_value(part)
        if v is None:
            return None
        values.append(v)
    target, literal = values[-1], parts[-1]
    return all(abs(v - target) <= _written_precision(literal) * 1.0001 + 1e-12 * abs(target) for v in values[:-1])


RELATION = r"\\approx|≈|(?<![<>!\\])=|\\simeq"


def calculation_holds(math_text: str) -> bool:
    """True when the LaTeX holds one or more statements ``expr = value`` / ``expr \\approx value`` made only
    of numbers (element by element for ``[a, b] \\approx [c, d]``), and each holds to the precision the
    value is written with."""
    body = math_text.strip().strip("$")
    body = re.sub(r"\\[,;:! ]", " ", body)
    found = False
    for statement in _split_top(body, ",，;；"):
        statement = statement.replace(r"\quad", " ").replace(r"\qquad", " ")
        parts = re.split(RELATION, statement)
        if len(parts) < 2:
            continue
        lists = [re.fullmatch(r"\s*(?:\\left)?\[(.*)(?:\\right)?\]\s*", p, re.S) for p in parts]
        if all(lists):
            columns = [_split_top(m.group(1), ",") for m in lists]
            if len({len(c) for c in columns}) != 1:
                return False
            for row in zip(*columns):
                ok = _statement_holds(list(row))
                if ok is False:
                    return False
                found = found or ok is True
            continue
        ok = _statement_holds(parts)
        if ok is False:
            return False
        found = found or ok is True
    return found


def rule_calculation(ctx: NumberContext) -> bool:
    """calculation: part of a worked calculation in LaTeX that holds by itself
    (``$0.5 \\times 0.4 \\times 0.5 = 0.10$``, ``$\\ln 10 \\approx 2.3026$``, ``$e^{-1/2} \\approx 0.61$``):
    the reader can check it with a pencil; it is not a measurement. The result must agree with the
    expression to the precision it is written with."""
    if ctx.segment.kind not in ("math", "display"):
        return False
    return calculation_holds(ctx.segment.text)


def rule_exercise_prompt(ctx: NumberContext) -> bool:
    """exercise: a value an exercise asks the reader to try (``把 θ 改成 0.1 和 10``), in an item of the
    ``## 练习`` list or in a checked exercise's description (``### 练习 N.k``) -- not in a reference
    answer, which makes claims like the rest of the text."""
    return ctx.in_exercise_prompt


SUPPOSE = re.compile(r"^\s*(?:[-*]\s+)?(?:\*\*[^*]*\*\*[：:]?\s*)?(?:练习\s*\d+[：:]\s*)?(?:设|假设|假如|假定|令|不妨设)")


def rule_supposition(ctx: NumberContext) -> bool:
    """supposition: a value the sentence sets up as a hypothesis (the sentence opens with 设, 假设, 假如,
    假定, 令): a constructed example, not a result. A conditional (如果、若) is not enough: "如果用 d2l 的
    初始化，准确率只有 2%" reports a run."""
    return bool(SUPPOSE.match(ctx.sentence))


def rule_diagram(ctx: NumberContext) -> bool:
    """diagram: a number written in a diagram (``images/*.svg``) that this very cell shows: the prose
    describes the figure's worked example."""
    return any(re.search(r"(?<![\d.])" + re.escape(ctx.number.text.replace(" ", "")) + r"(?![\d])", t)
               for t in ctx.svg_texts)


NUMBER_RULES = [rule_section_number, rule_software_version, rule_licence, rule_literature, rule_calculation,
                rule_exercise_prompt, rule_supposition, rule_diagram]


def rule_name(rule) -> str:
    return (rule.__doc__ or rule.__name__).split(":", 1)[0].strip()


def bibliography_cells(chapter: Chapter) -> set[int]:
    """Cells of the ``## 参考文献`` section (from its heading to the next ``#``/``##`` heading)."""
    inside, cells = False, set()
    for cell in chapter.markdown():
        for line in cell.source.splitlines():
            if re.match(r"^#{1,2}\s", line):
                inside = bool(re.match(r"^##\s+参考文献", line))
        if inside or re.search(r"^##\s+参考文献", cell.source, re.M):
            cells.add(cell.index)
    return cells


def number_contexts(chapter: Chapter, notebook_dir: Path):
    """Every checkable number of the chapter's markdown, with its context."""
    biblio = bibliography_cells(chapter)
    for cell in chapter.markdown():
        md = cell.source
        prompts = exercise_prompt_spans(md)
        svgs = [svg_text(p) for p in referenced_svgs(md, notebook_dir)]
        for seg in segments(md):
            if seg.kind not in ("text", "code", "math", "display"):
                continue
            for n in parse_numbers(seg.text):
                if not n.checkable:
                    continue
                start, end = seg.start + n.start, seg.start + n.end
                s0, s1 = sentence_bounds(md, start)
                in_prompt = any(a <= start < b for a, b in prompts)
                heading_biblio = cell.index in biblio and _in_bibliography_section(md, start)
                yield NumberContext(n, md, start, end, seg, md[s0:s1], cell, chapter, in_prompt,
                                    heading_biblio, svgs)


def _in_bibliography_section(md: str, pos: int) -> bool:
    heads = [m for m in re.finditer(r"^#{1,2}\s+(.*)$", md[:pos], re.M)]
    if heads:
        return heads[-1].group(1).startswith("参考文献")
    return True  # a cell of the section without its own heading


@dataclass
class NumberVerdict:
    context: NumberContext
    source: str | None  # "code" / "output" / "ignored output" / None
    rule: str | None  # name of the rule that allows it


def judge_numbers(chapter: Chapter, notebook_dir: Path) -> list[NumberVerdict]:
    sources = chapter_sources(chapter)
    verdicts = []
    for ctx in number_contexts(chapter, notebook_dir):
        where = sources.where(ctx.number, ctx.segment.kind == "code")
        rule = None
        if where not in ("code", "output"):
            rule = next((rule_name(r) for r in NUMBER_RULES if r(ctx)), None)
        verdicts.append(NumberVerdict(ctx, where, rule))
    return verdicts


def number_findings(chapter: Chapter, notebook_dir: Path, root: Path = ROOT) -> list[Finding]:
    out = []
    for v in judge_numbers(chapter, notebook_dir):
        if v.source in ("code", "output") or v.rule:
            continue
        ctx = v.context
        if v.source == "ignored output":
            detail = ("appears only in the output of a cell tagged nbval-ignore-output (it differs between "
                      "runs): print it from a cell with an f-string instead of typing it")
        else:
            detail = ("not in this chapter's code or compared outputs: print it from a cell, or say only "
                      "what holds on every run (cite a source if it is from the literature)")
        out.append(Finding("numbers", rel(chapter.path, root), ctx.cell.index, ctx.cell.id, ctx.number.text,
                           excerpt(ctx.md, ctx.start, ctx.end), detail))
    return out


# ---------------------------------------------------------------------------------------------------
# Translations
# ---------------------------------------------------------------------------------------------------

LATIN_WORD = r"(?:[a-zà-öø-ÿœæ0-9]+(?:['’\-][a-zà-öø-ÿœæ0-9]+)*|<unk>|<eos>|<bos>|<pad>|['’]s?)"
TOKENISED = re.compile(r"^" + LATIN_WORD + r"(?: (?:" + LATIN_WORD + r"|,|;|:))+ [.!?]$")
QUOTED = re.compile(r"`([^`\n]+)`|\"([^\"\n]+)\"|“([^”\n]+)”|「([^」\n]+)」|‘([^’\n]+)’")
CUE = re.compile(r"(?:译成|译为|译作|翻译成|翻译为|翻成|→|=>)了?\s*(?:\*\*)?\s*$")


def normalise_sentence(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("’", "'")).strip()


LITERAL_LIST = re.compile(r"""\[\s*(?:'[^'\n]*'|"[^"\n]*")(?:\s*,\s*(?:'[^'\n]*'|"[^"\n]*"))+\s*,?\s*\]""")


STRING_ITEM = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")


def code_sentences(source: str) -> str:
    """The code, plus each list of string literals joined with spaces (``['they', 'are', '.']`` is the
    sentence ``they are .``)."""
    joined = []
    for m in LITERAL_LIST.finditer(source):
        words = [a or b for a, b in STRING_ITEM.findall(m.group(0))]
        joined.append(" ".join(words))
    return source + "\n" + "\n".join(joined)


def in_diagram(sentence: str, svg_texts: list[str]) -> bool:
    """Every word of the sentence is written in one of the diagrams."""
    for text in svg_texts:
        words = set(re.findall(r"[^\s，。；：、“”\"()（）]+", text.replace("’", "'")))
        if all(w in words for w in sentence.split()):
            return True
    return False


def translation_findings(chapter: Chapter, notebook_dir: Path, root: Path = ROOT,
                         chapters: list[Chapter] | None = None) -> list[Finding]:
    book_code = normalise_sentence("\n".join(code_sentences(c.source) for ch in (chapters or [chapter])
                                              for c in ch.code()))
    code = normalise_sentence("\n".join(code_sentences(c.source) for c in chapter.code())) + " " + book_code
    compared = normalise_sentence("\n".join(o.text for c in chapter.code() for o in c.outputs if not o.ignored))
    ignored = normalise_sentence("\n".join(o.text for c in chapter.code() for o in c.outputs if o.ignored))
    prompts = normalise_sentence("\n".join(c.source[a:b] for c in chapter.markdown()
                                            for a, b in exercise_prompt_spans(c.source)))
    out = []
    for cell in chapter.markdown():
        md = cell.source
        visible = masked(md, keep=("text", "code", "math", "display"))
        svgs = [svg_text(p) for p in referenced_svgs(md, notebook_dir)]
        for m in QUOTED.finditer(visible):
            span = next(g for g in m.groups() if g is not None)
            sentence = normalise_sentence(span)
            cjk_cue = (re.search("[" + CJK + "]{3,}", sentence) and CUE.search(visible[max(0, m.start() - 8):m.start()]))
            if not (TOKENISED.match(sentence) or cjk_cue) or "…" in sentence or "..." in sentence:
                continue
            if sentence in compared or sentence in code:
                continue
            if sentence in prompts:
                continue  # a sentence the exercises themselves pose
            if in_diagram(sentence, svgs):
                continue  # the figure this cell shows writes it
            if sentence in ignored:
                detail = ("appears only in the output of a cell tagged nbval-ignore-output (it differs between "
                          "runs): refer to the output above instead of quoting it")
            else:
                detail = ("quoted as a sentence of the data or a translation, but not in this chapter's code or "
                          "compared outputs: print it from a cell, or refer to the output instead of typing it")
            out.append(Finding("translations", rel(chapter.path, root), cell.index, cell.id, sentence,
                               excerpt(md, m.start(), m.end()), detail))
    return out


# ---------------------------------------------------------------------------------------------------
# Cross-references to sections, exercises and chapters
# ---------------------------------------------------------------------------------------------------

def book_index(chapters: list[Chapter]):
    """Sections (``7.3``), chapter labels (``7``, ``A.1``) and the number of 练习 items per chapter."""
    sections, exercises = set(), {}
    labels = {c.label for c in chapters}
    for ch in chapters:
        for cell in ch.markdown():
            for m in re.finditer(r"^#{2,3}\s+((?:[A-Z]|\d+)(?:\.\d+)+)\s", cell.source, re.M):
                sections.add(m.group(1))
            items = exercise_items(cell.source)
            if items:
                exercises[ch.label] = max(exercises.get(ch.label, 0), max(n for n, *_ in items))
    return labels, sections, exercises


REF = re.compile(r"(?P<ex>练习\s*(?P<exnum>(?:[A-Z]|\d+)(?:\.\d+)+))"
                 r"|(?P<sec>(?<![\d.A-Za-z])(?P<secnum>(?:[A-Z]|\d+)(?:\.\d+)+)\s*(?:\*\*)?\s*(?:节|小节))"
                 r"|(?P<ch>第\s*(?P<chnum>\d+)\s*章)"
                 r"|(?P<app>附录\s*(?P<appnum>[A-Z](?:\.\d+)?))")


def section_ref_findings(chapter: Chapter, chapters: list[Chapter], root: Path = ROOT) -> list[Finding]:
    labels, sections, exercises = book_index(chapters)
    appendix_letters = {l.split(".")[0] for l in labels if l[:1].isalpha()}
    biblio = bibliography_cells(chapter)
    out = []
    for cell in chapter.markdown():
        text = masked(cell.source, keep=("text",))
        for m in REF.finditer(text):
            if cell.index in biblio and _in_bibliography_section(cell.source, m.start()):
                continue  # "1.4.3 节" of a cited standard is that document's section, not ours
            problem = None
            if m.group("ex"):
                num = m.group("exnum")
                ch, _, k = num.rpartition(".")
                if ch not in labels:
                    problem = f"练习 {num}: there is no chapter {ch}"
                elif int(k) > exercises.get(ch, 0):
                    problem = f"练习 {num}: chapter {ch} has {exercises.get(ch, 0)} exercises"
            elif m.group("sec"):
                num = m.group("secnum")
                if num not in sections:
                    problem = f"{num} 节: no heading `## {num} …` in the book"
            elif m.group("ch"):
                num = str(int(m.group("chnum")))
                if num not in labels:
                    problem = f"第 {num} 章: no chapter {num} (titles `# {num}. …`)"
            elif m.group("app"):
                num = m.group("appnum")
                if num not in labels and num not in appendix_letters:
                    problem = f"附录 {num}: no appendix {num} (titles `# 附录 {num} …`)"
            if problem:
                out.append(Finding("section-refs", rel(chapter.path, root), cell.index, cell.id, m.group(0),
                                   excerpt(cell.source, m.start(), m.end()),
                                   problem + "; point the reference at the section's current number"))
    return out


# ---------------------------------------------------------------------------------------------------
# Bench figures
# ---------------------------------------------------------------------------------------------------

LOG_NAME = re.compile(r"(?P<name>[A-Za-z][\w-]*?)-(?P<date>\d{4}-\d{2}-\d{2})\.(?P<ext>log|md|txt)\b")
BENCH_MENTION = re.compile(r"bench/|\bbench\.[a-z_]+|\bcompare\.py\b|\btrain_small(?:\.py)?\b|\bdecode\.py\b|"
                           r"\bmake bench\b|\bmake stability\b|\bablation\b")
DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


def bench_logs(results_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """Each benchmark's logs ``<name>-<YYYY-MM-DD>.<ext>``, oldest first."""
    logs: dict[str, list[tuple[str, Path]]] = {}
    for path in sorted(Path(results_dir).glob("*")):
        m = LOG_NAME.fullmatch(path.name)
        if m and path.is_file():
            logs.setdefault(m.group("name"), []).append((m.group("date"), path))
    for entries in logs.values():
        entries.sort()
    return logs


def blocks(md: str) -> list[tuple[int, int]]:
    """Paragraphs, headings, list items and tables: runs of lines separated by blank lines, a new block at
    every heading and list item (fenced code stays in one piece)."""
    out, start, pos, in_fence = [], None, 0, False
    for line in md.splitlines(keepends=True):
        fence = bool(re.match(r"^\s*(```|~~~)", line))
        starts_block = not in_fence and bool(re.match(r"^\s*(?:#{1,6}\s|[-*+]\s|\d+\.\s)", line))
        if fence:
            in_fence = not in_fence
        if (not line.strip() and not in_fence) or starts_block:
            if start is not None:
                out.append((start, pos))
                start = None
        if line.strip() and start is None:
            start = pos
        pos += len(line)
    if start is not None:
        out.append((start, pos))
    return out


def _figure_numbers(text: str, all_numbers: bool) -> list[Number]:
    """The numbers of a markdown block that are figures: not section numbers, versions, licences or
    citations (the prose rules), not thresholds (``≥ 12``), not in a table's header or first column."""
    text = LOG_NAME.sub(lambda m: " " * len(m.group(0)), text)
    text = DATE.sub(lambda m: " " * len(m.group(0)), text)
    visible = masked(text, keep=("text", "code", "math", "display"))
    nums = []
    lines = list(re.finditer(r"[^\n]*", visible))
    table_rows = [m for m in lines if m.group(0).lstrip().startswith("|")]
    header = table_rows[0] if table_rows else None
    for line_match in lines:
        line = line_match.group(0)
        table_row = line.lstrip().startswith("|")
        if table_row and (line_match is header or re.fullmatch(r"\s*\|[\s|:\-]*", line)):
            continue
        first_cell_end = line.find("|", line.find("|") + 1) if table_row else -1
        for n in parse_numbers(line):
            if not (all_numbers and table_row) and not n.checkable:
                continue
            if table_row and n.start < first_cell_end:
                continue  # the row's label
            if re.search(r"(?:≥|≤|>=|<=|<|>)\s*$", line[:n.start]):
                continue  # a target or threshold, not a measurement
            start, end = line_match.start() + n.start, line_match.start() + n.end
            ctx = NumberContext(n, text, start, end, Segment("text", 0, len(text), text),
                                text[slice(*sentence_bounds(text, start))], None, None, False, False, [])
            if any(rule(ctx) for rule in (rule_section_number, rule_software_version, rule_licence,
                                          rule_literature, rule_calculation)):
                continue
            nums.append(Number(n.text, n.value, n.percent, n.checkable, start, end))
    return nums


def _check_tied(text: str, start: int, end: int, logs_named, logs, where, cell, cell_id, root, label) -> list[Finding]:
    out = []
    block = text[start:end]
    for name, date in logs_named:
        entries = logs.get(name)
        if not entries:
            out.append(Finding("bench", where, cell, cell_id, f"{name}-{date}", excerpt(text, start, start),
                               f"{label} names a log that is not in bench/results/"))
            continue
        paths = dict(entries)
        newest_date, newest = entries[-1]
        if date != newest_date:
            out.append(Finding("bench", where, cell, cell_id, f"{name}-{date}", excerpt(block, 0, 0, 60),
                               f"{label} quotes {name}-{date} but the newest log of this benchmark is "
                               f"{newest.name}: quote the newest run"))
        log_path = paths.get(date, newest)
        sources = Sources(output_texts=[log_path.read_text(encoding="utf-8", errors="replace")])
        for d in DATE.findall(block):
            if d != date:
                out.append(Finding("bench", where, cell, cell_id, d, excerpt(block, block.find(d), block.find(d)),
                                   f"date differs from the log {log_path.name} that the {label} quotes"))
        for n in _figure_numbers(block, all_numbers=True):
            if sources.where(n) is None:
                out.append(Finding("bench", where, cell, cell_id, n.text, excerpt(block, n.start, n.end),
                                   f"not in {rel(log_path, root)}, which this {label} quotes: copy figures from "
                                   "the log (or print them from it), do not derive or retype them"))
    return out


def bench_config(root: Path) -> Sources:
    """The numbers the benchmark scripts themselves set (``bench/*.py``): configuration, not results."""
    return Sources(code_texts=[split_code(p.read_text(encoding="utf-8"))[0]
                               for p in sorted((Path(root) / "bench").glob("*.py"))])


def bench_markdown_findings(md: str, where: str, logs, cell: int | None = None, cell_id: str | None = None,
                            root: Path = ROOT, config: Sources | None = None) -> list[Finding]:
    out = []
    spans = blocks(md)
    for k, (a, b) in enumerate(spans):
        block = md[a:b]
        named = [(m.group("name"), m.group("date")) for m in LOG_NAME.finditer(block)]
        if not named and k > 0 and re.search(r"[：:]\s*$", md[spans[k - 1][0]:spans[k - 1][1]]):
            pa, pb = spans[k - 1]  # the paragraph that introduces this table or list names the log
            named = [(m.group("name"), m.group("date")) for m in LOG_NAME.finditer(md[pa:pb])]
        if named:
            out += _check_tied(md, a, b, named, logs, where, cell, cell_id, root, "paragraph")
            continue
        previous = md[spans[k - 1][0]:spans[k - 1][1]] if k > 0 else ""
        introduced = BENCH_MENTION.search(previous) and re.search(r"[：:]\s*$", previous)
        if not (BENCH_MENTION.search(block) or introduced):
            continue
        figures = [n for n in _figure_numbers(block, all_numbers=bool(introduced))
                   if config is None or config.where(n) != "code"]  # a setting of the script is no result
        if figures:
            out.append(Finding("bench", where, cell, cell_id, ", ".join(n.text for n in figures[:6]),
                               excerpt(block, 0, 0, 80),
                               "bench figures not tied to a log: name the log in bench/results/ that they come "
                               "from (in this paragraph or the one before), or print them from it in a cell"))
    return out


def bench_findings(root: Path, chapters: list[Chapter], docs=("README.md", "bench/README.md")) -> list[Finding]:
    logs = bench_logs(Path(root) / "bench" / "results")
    config = bench_config(root)
    out = []
    for doc in docs:
        path = Path(root) / doc
        if path.exists():
            out += bench_markdown_findings(path.read_text(encoding="utf-8"), doc, logs, root=root, config=config)
    for ch in chapters:
        where = rel(ch.path, root)
        for cell in ch.markdown():
            out += bench_markdown_findings(cell.source, where, logs, cell.index, cell.id, root=root, config=config)
        for cell in ch.code():
            text = "\n".join(o.text for o in cell.outputs)
            named = [(m.group("name"), m.group("date")) for m in LOG_NAME.finditer(text)]
            if named:
                out += _check_tied(text, 0, len(text), named, logs, where, cell.index, cell.id, root, "output")
    return out


# ---------------------------------------------------------------------------------------------------
# Build machinery in the reader's text
# ---------------------------------------------------------------------------------------------------

def makefile_targets(root: Path) -> list[str]:
    path = Path(root) / "Makefile"
    if not path.exists():
        return []
    return sorted({m.group(1) for m in re.finditer(r"^([A-Za-z0-9][\w.-]*)\s*:(?!=)", path.read_text(), re.M)})


def machinery_patterns(root: Path) -> list[tuple[str, re.Pattern]]:
    """What the reader's text may not contain, each with the reason a reader would stumble on it."""
    targets = "|".join(re.escape(t) for t in makefile_targets(root)) or "book|test"
    return [
        ("nbval (the tool that compares stored outputs)", re.compile(r"nbval", re.I)),
        ("pytest (the test runner)", re.compile(r"\bpytest\b", re.I)),
        ("开发机 (the authors' machine: the reader's run differs)", re.compile("开发机")),
        ("a tests/ path", re.compile(r"(?<![\w./-])tests/")),
        ("a bench/ path", re.compile(r"(?<![\w./-])bench/")),
        ("a bench module", re.compile(r"-m\s+bench\b|\bbench\.(?:compare|decode|train_small|\w+\.py)\b")),
        ("booktools (the build tools)", re.compile(r"\bbooktools\b")),
        ("the CI script", re.compile(r"(?<![\w/])\.ci/")),
        ("a make command", re.compile(r"(?<![\w-])make\s+(?:" + targets + r")(?![\w-])")),
    ]


def page_reader_text_findings(path: Path, root: Path = ROOT) -> list[Finding]:
    """The same check on a markdown page of the book that is not a notebook (the glossary)."""
    if not Path(path).exists():
        return []
    text = masked(Path(path).read_text(encoding="utf-8"), keep=("text", "code", "fence", "math", "display"))
    out = []
    for reason, pattern in machinery_patterns(root):
        for m in pattern.finditer(text):
            out.append(Finding("reader-text", rel(path, root), None, None, m.group(0), excerpt(text, m.start(), m.end()),
                               f"{reason} in a page of the book: the reader's text carries no build machinery"))
    return out


def reader_text_findings(chapter: Chapter, root: Path = ROOT) -> list[Finding]:
    patterns = machinery_patterns(root)
    out = []
    where = rel(chapter.path, root)
    for cell in chapter.cells:
        if BADGE_TAG in cell.tags:
            continue
        texts = []
        if cell.kind == "markdown":
            texts.append(("markdown", masked(cell.source, keep=("text", "code", "fence", "math", "display"))))
        texts += [("output", o.text) for o in cell.outputs]
        for kind, text in texts:
            for reason, pattern in patterns:
                for m in pattern.finditer(text):
                    out.append(Finding("reader-text", where, cell.index, cell.id, m.group(0),
                                       excerpt(text, m.start(), m.end()),
                                       f"{reason} in a {kind}: the reader's text carries no build machinery "
                                       "(a teachers' note in the README may mention it)"))
    return out


# ---------------------------------------------------------------------------------------------------
# Chapter shape: references, exercise labels, answers
# ---------------------------------------------------------------------------------------------------

LABEL = re.compile(r"^\d+\.\s*(?:\*\*[^*]*\*\*\s*)?（(?P<kind>编程|思考)(?:与(?P<kind2>编程|思考))?(?:[，、；;,][^）]*)?）")


def shape_findings(chapter: Chapter, root: Path = ROOT) -> list[Finding]:
    where = rel(chapter.path, root)
    out = []
    content = [c for c in chapter.cells if BADGE_TAG not in c.tags]
    last = content[-1] if content else None
    headings = re.findall(r"^#{1,2}\s+(.*?)\s*$", last.source, re.M) if last and last.kind == "markdown" else []
    if not headings or headings[-1] != "参考文献":
        cell = last.index if last else None
        out.append(Finding("shape", where, cell, last.id if last else None, "## 参考文献",
                           (last.source[:80] if last else ""),
                           "the chapter must end with a markdown cell `## 参考文献` listing the sources it cites"))
    answers_by_label = set()
    all_md = "\n".join(c.source for c in chapter.markdown())
    for block in SOLUTION.findall(all_md):
        answers_by_label |= {int(k) for k in re.findall(r"练习\s*(\d+)(?![.\d])", block)}
    for cell in chapter.markdown():
        md = cell.source
        for number, a, b, text in exercise_items(md):
            m = LABEL.match(text)
            if not m:
                out.append(Finding("shape", where, cell.index, cell.id, f"练习 {number}", text[:60].replace("\n", " "),
                                   "label the exercise （编程） or （思考） right after its number"))
                continue
            kinds = {m.group("kind"), m.group("kind2")}
            if "思考" not in kinds:
                continue
            after = SOLUTION.match(md[b:].lstrip())
            own = after is not None and not re.search(r"练习\s*\d+(?![.\d])", after.group(1))
            if not own and number not in answers_by_label:
                out.append(Finding("shape", where, cell.index, cell.id, f"练习 {number}", text[:60].replace("\n", " "),
                                   "a （思考） exercise needs a reference answer between <!-- BEGIN SOLUTION --> and "
                                   "<!-- END SOLUTION --> (right after the item, or labelled `练习 "
                                   f"{number}：` in the chapter's solution block)"))
    return out


# ---------------------------------------------------------------------------------------------------
# All checks, the report, the command line
# ---------------------------------------------------------------------------------------------------

CHECKS = ["numbers", "translations", "section-refs", "bench", "reader-text", "shape",
          "glossary", "citations", "notation", "quotes", "spacing"]


def all_findings(root: Path = ROOT, notebook_dir: Path | None = None) -> list[Finding]:
    from booktools import glossary

    root = Path(root)
    notebook_dir = Path(notebook_dir) if notebook_dir else root / "notebooks"
    chapters = read_book(notebook_dir)
    findings = []
    for ch in chapters:
        findings += number_findings(ch, notebook_dir, root)
        findings += translation_findings(ch, notebook_dir, root, chapters)
        findings += section_ref_findings(ch, chapters, root)
        findings += reader_text_findings(ch, root)
        findings += shape_findings(ch, root)
    findings += page_reader_text_findings(notebook_dir / "glossary.md", root)
    findings += bench_findings(root, chapters)
    findings += glossary.all_findings(root, notebook_dir, chapters)
    return findings


def _git_head(root: Path) -> str:
    """``main@322c4e2``: the branch and commit of the checked tree."""
    try:
        head = [subprocess.run(["git", "rev-parse", *args, "HEAD"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip() for args in (["--abbrev-ref"], ["--short"])]
        return "@".join(head)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(s: str) -> str:
    """``s`` as an inline code span that survives any backticks inside it."""
    s = s.replace("\n", " ")
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", s)), default=0) + 1)
    return f"{ticks} {s} {ticks}"


def report(findings: list[Finding], root: Path, chapters: list[Chapter]) -> str:
    from booktools import glossary

    lines = ["# Violations found by issue 11's checks", "",
             f"Generated by `python -m booktools.prose --report` on the notebooks of {_git_head(root)}; "
             f"{len(findings)} findings. Cell numbers count from 0 (the Colab badge is cell 0), as nbval does.",
             "Each check is described in `booktools/prose.py` and `booktools/glossary.py`; the allowed number "
             "rules are listed at the end.", ""]
    lines += ["## What each check wants", "",
              "- **numbers**: a decimal, percentage, `1,234`, `1e-6` or 万 figure in markdown must be in the "
              "chapter's code (exactly) or in an output nbval compares (rounded, never more precise). Print "
              "measured figures from a cell (an f-string sentence is fine) and let the prose say what holds "
              "on every run; cite literature in the same sentence; figures from outputs tagged "
              "nbval-ignore-output do not count. The allowed cases are the rules listed at the end.",
              "- **translations**: a tokenised sentence (`il est malade .`) or a quoted Chinese translation "
              "must be in the chapter's code or compared outputs: refer to the printed output instead.",
              "- **section-refs**: `N.M 节`, `练习 N.M`, `第 N 章`, `附录 X` must name what exists now.",
              "- **bench**: name the log (`compare-2026-11-25.log`) in the paragraph/table or the paragraph "
              "that introduces it (or print from it in a cell); quote only figures of the newest log.",
              "- **reader-text**: no nbval, pytest, 开发机, `tests/…`, `bench/…`, booktools, `make …` in "
              "markdown or printed output.",
              "- **shape**: end with `## 参考文献`; label every exercise （编程） or （思考）; answer every "
              "（思考） between `<!-- BEGIN SOLUTION -->` and `<!-- END SOLUTION -->`.",
              "- **glossary / citations / notation / quotes / spacing**: see `notebooks/glossary.md` (terms, "
              "符号表, 文献的写法); Chinese quotes “”; a space between Chinese and Latin/digits/code/math. "
              "Glossary findings on `notebooks/glossary.md` itself are its 首次出现 column: update it after "
              "the renumbering (`python -m booktools.glossary --first` prints the right values).", ""]
    files = [rel(c.path, root) for c in chapters]
    others = sorted({f.where for f in findings} - set(files))
    order = files + others
    checks = [c for c in CHECKS if any(f.check == c for f in findings)] + \
        sorted({f.check for f in findings} - set(CHECKS))
    lines += ["## Counts", "", "| file | " + " | ".join(checks) + " | total |",
              "|---|" + "---:|" * (len(checks) + 1)]
    for where in order:
        row = [sum(1 for f in findings if f.where == where and f.check == c) for c in checks]
        lines.append(f"| {where} | " + " | ".join(str(x) for x in row) + f" | {sum(row)} |")
    totals = [sum(1 for f in findings if f.check == c) for c in checks]
    lines.append("| **total** | " + " | ".join(str(x) for x in totals) + f" | {len(findings)} |")
    lines.append("")
    for where in order:
        mine = [f for f in findings if f.where == where]
        if not mine:
            continue
        lines += [f"## {where}", ""]
        for check in checks:
            these = [f for f in mine if f.check == check]
            if not these:
                continue
            lines += [f"### {check} ({len(these)})", ""]
            for f in sorted(these, key=lambda f: (f.cell if f.cell is not None else -1)):
                cell = f"cell {f.cell}" + (f" (id `{f.cell_id}`)" if f.cell_id else "") if f.cell is not None else "—"
                lines.append(f"- {cell}: {_code(f.text)} — {f.detail.replace('<', '&lt;')}  ")
                lines.append(f"  {_code('…' + f.context + '…')}")
            lines.append("")
    lines += ["## The rules that allow a number the outputs do not show", ""]
    for rule in NUMBER_RULES:
        doc = " ".join((rule.__doc__ or "").split())
        lines.append(f"- **{rule_name(rule)}** — {_md_escape(doc.split(':', 1)[1].strip() if ':' in doc else doc)}")
    lines.append("")
    lines += glossary.report_appendix(root, root / "notebooks", chapters)
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.prose",
                                     description="Check that the book's text agrees with its outputs (issue 11).")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository root (default: this checkout)")
    parser.add_argument("--notebooks", type=Path, default=None, help="the chapters' folder (default: ROOT/notebooks)")
    parser.add_argument("--report", nargs="?", const="VIOLATIONS.md", default=None, metavar="PATH",
                        help="write every finding, per chapter and check, to PATH (default VIOLATIONS.md in the root)")
    parser.add_argument("--check", action="append", choices=CHECKS, help="only these checks (repeatable)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    notebook_dir = (args.notebooks or root / "notebooks").resolve()
    findings = all_findings(root, notebook_dir)
    if args.check:
        findings = [f for f in findings if f.check in args.check]
    if args.report:
        path = Path(args.report)
        path = path if path.is_absolute() else root / path
        path.write_text(report(findings, root, read_book(notebook_dir)), encoding="utf-8")
        print(f"{len(findings)} findings written to {path}")
    else:
        for f in findings:
            print(f)
        print(f"{len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
