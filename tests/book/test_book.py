"""House rules every chapter keeps (checked on the stored notebooks, without running a kernel)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from booktools import extract, figures, stamp

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = extract.notebook_paths(ROOT / "notebooks")
IGNORE_TAGS = {"nbval-ignore-output", "nbval-skip"}


def chapter_ids():
    return [p.stem for p in CHAPTERS]


@pytest.fixture(params=CHAPTERS, ids=chapter_ids())
def nb(request):
    notebook = nbformat.read(request.param, as_version=4)
    nbformat.validate(notebook)
    return notebook


def code_cells(notebook):
    return [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]


def test_the_book_has_chapters():
    assert len(CHAPTERS) >= 2, "chapters 1 and 2 are the foundation of the book"


def test_setup_cell_is_the_first_code_cell_and_canonical(nb):
    index = stamp.setup_cell_index(nb)
    assert index is not None, "no setup cell: run `python -m booktools.stamp`"
    assert index == code_cells(nb)[0][0], "the setup cell must be the first code cell"
    assert nb.cells[index].source == stamp.setup_source(), "setup cell differs: run `python -m booktools.stamp`"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids())
def test_colab_badge_is_the_first_cell_and_opens_this_notebook(path):
    notebook = nbformat.read(path, as_version=4)
    index = stamp.badge_cell_index(notebook)
    assert index == 0, "the first cell is the Colab badge: run `python -m booktools.stamp`"
    assert figures.unembedded_source(notebook.cells[0].source) == stamp.badge_source(path.name), \
        "the Colab badge differs from booktools/config.py: run `python -m booktools.stamp`"


def test_outputs_come_from_one_real_top_to_bottom_run(nb):
    counts = [c.execution_count for _, c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), \
        "execution counts must run 1, 2, 3, ...: rebuild with `python -m booktools.build NOTEBOOK`"


def test_no_error_stderr_or_svg_outputs(nb):
    for i, cell in code_cells(nb):
        tags = set(cell.metadata.get("tags", []))
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {i} stores an error"
            if out.output_type == "stream" and out.name == "stderr":
                assert "nbval-ignore-stderr" in tags, f"cell {i} stores stderr (a warning?): {out.text[:200]}"
            assert "image/svg+xml" not in out.get("data", {}), f"cell {i}: SVG output (nbval compares it); use PNG"


def test_every_cell_tag_is_one_a_tool_reads(nb):
    """A tag nothing reads misleads the next author into thinking it does something."""
    from booktools import nb as nbtools

    unknown = sorted({tag for cell in nb.cells for tag in cell.get("metadata", {}).get("tags", [])}
                     - nbtools.KNOWN_TAGS)
    assert unknown == [], f"tags no tool reads: {unknown} (booktools/nb.py lists the tags and who reads them)"


def test_ignored_outputs_say_why(nb):
    for i, cell in code_cells(nb):
        if IGNORE_TAGS & set(cell.metadata.get("tags", [])):
            assert re.search(r"#.*\S", cell.source), f"cell {i} is tagged to be ignored by nbval but no comment says why"


def test_no_hard_coded_device(nb):
    pattern = re.compile(r"""device\s*=\s*['"](cuda|cpu)|\.cuda\(\)|torch\.device\(\s*['"](cuda|cpu)""")
    for i, cell in code_cells(nb):
        if re.search(r"^def try_(all_)?gpus?\(", cell.source, re.M):
            continue  # the functions that choose the device are where device names belong
        assert not pattern.search(cell.source), f"cell {i} hard-codes a device; use d2l.try_gpu()"


def is_appendix(nb) -> bool:
    content = [c for c in nb.cells if stamp.BADGE_TAG not in c.get("metadata", {}).get("tags", [])]
    return content[0].source.startswith("# 附录")


def test_chapter_shape_title_goals_summary_exercises(nb):
    """A chapter: `# N. 标题`, 本章目标, 小结, a 练习 section with at least three exercises. An appendix
    (`# 附录 A.1 标题`, the book's tools) has the same shape, but its exercises are optional."""
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    content = [c for c in nb.cells if stamp.BADGE_TAG not in c.get("metadata", {}).get("tags", [])]
    appendix = is_appendix(nb)
    title = r"#\s+附录\s+[A-Z](\.\d+)?\s+\S" if appendix else r"#\s+\d+\.\s+\S"
    assert re.match(title, content[0].source), "the first cell after the badge is the title `# N. ...` (`# 附录 A.1 ...`)"
    assert "本章目标" in markdown
    assert re.search(r"^##\s+小结", markdown, re.M), "a 小结 section"
    exercises = re.split(r"^##\s+练习.*$", markdown, flags=re.M)
    if appendix and len(exercises) == 1:
        return
    assert len(exercises) == 2, "one 练习 section"
    assert len(re.findall(r"^\s*\d+\.\s", exercises[1], re.M)) >= 3, "at least three exercises"


def test_markdown_images_are_ours_exist_and_are_embedded(nb):
    from booktools import figures

    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        source = figures.unembedded_source(cell.source)
        for target in re.findall(r"!\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)", source):
            assert not re.match(r"https?://", target), f"remote image {target}: draw our own into images/"
            assert not target.startswith("data:"), "a pasted picture: draw it into images/ and refer to it"
            path = (ROOT / "notebooks" / target).resolve()
            assert path.exists(), f"missing image {target}"
            assert path.parent == ROOT / "images", f"{target}: figures live in images/"
    assert figures.problems(nb) == [], "a copy of this chapter would lose or show stale figures: run `make stamp`"


def test_diagrams_are_valid_svg():
    import xml.etree.ElementTree as ET

    svgs = sorted((ROOT / "images").glob("*.svg"))
    assert svgs, "the book has diagrams of its own"
    for svg in svgs:
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and root.get("viewBox"), f"{svg.name}: an <svg> with a viewBox"


def test_stream_outputs_are_coalesced(nb):
    """Notebooks are stored by `booktools.build`, which merges adjacent prints: rebuilds stay byte-stable."""
    for i, cell in code_cells(nb):
        kinds = [(o.output_type, o.get("name")) for o in cell.outputs]
        for a, b in zip(kinds, kinds[1:]):
            assert not (a[0] == "stream" and a == b), \
                f"cell {i}: split stream outputs — rebuild with `python -m booktools.build NOTEBOOK`"
