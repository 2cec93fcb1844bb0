"""booktools.figures: diagrams written into the markdown as data URIs generated from images/, the
stale check, and the way back to the path form."""
from __future__ import annotations

import base64

import nbformat
import pytest

from booktools import figures

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>'


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "flow.svg").write_text(SVG, encoding="utf-8")
    (folder / "badge.svg").write_text(SVG.replace("rect", "circle"), encoding="utf-8")
    return folder


def notebook(*markdown):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in markdown]
    return nb


def uri(text):
    return "data:image/svg+xml;base64," + base64.b64encode(text.encode()).decode()


def test_references_become_data_uris_holding_the_file_and_naming_it(images):
    original = ("图 1：\n\n![流程](../images/flow.svg)\n\n再看一次 ![流程](../images/flow.svg \"标题\")",
                "[![在 Colab 中打开](../images/badge.svg)](https://colab.research.google.com/x)", "没有图")
    nb = notebook(*original)
    assert figures.problems(nb, images)  # not embedded yet
    assert figures.embed(nb, images) is True
    first, badge, plain = nb.cells
    assert first.source == (f"图 1：\n\n![流程]({uri(SVG)})<!-- figure: flow.svg -->\n\n"
                            f"再看一次 ![流程]({uri(SVG)} \"标题\")<!-- figure: flow.svg -->")
    assert badge.source == (f"[![在 Colab 中打开]({uri(SVG.replace('rect', 'circle'))})<!-- figure: badge.svg -->]"
                            "(https://colab.research.google.com/x)")
    assert plain.source == "没有图" and "attachments" not in first
    assert figures.problems(nb, images) == []
    assert figures.embed(nb, images) is False  # idempotent
    assert [figures.unembedded_source(c.source) for c in nb.cells] == list(original)
    assert figures.referenced(first.source) == ["flow.svg"]
    nbformat.validate(nb)


def test_editing_the_svg_makes_the_embedded_copy_stale_until_stamped_again(images):
    nb = notebook("![流程](../images/flow.svg)")
    figures.embed(nb, images)
    (images / "flow.svg").write_text(SVG.replace("10\"/>", "5\"/>"), encoding="utf-8")
    assert any("stale" in p for p in figures.problems(nb, images))
    assert figures.embed(nb, images) is True
    assert figures.problems(nb, images) == []
    assert base64.b64encode((images / "flow.svg").read_bytes()).decode() in nb.cells[0].source


def test_alt_texts_with_brackets_are_figures_too(images):
    nb = notebook("![state[-1] 即上下文 c，有效长度 [3, 2]](../images/flow.svg)")
    assert figures.referenced(nb.cells[0].source) == ["flow.svg"]
    figures.embed(nb, images)
    assert nb.cells[0].source == f"![state[-1] 即上下文 c，有效长度 [3, 2]]({uri(SVG)})<!-- figure: flow.svg -->"


def test_a_figure_images_lacks_is_an_error_naming_the_cell(images):
    nb = notebook("正文", "![缺](../images/missing.svg)")
    with pytest.raises(FileNotFoundError, match="cell 1: refers to missing.svg"):
        figures.embed(nb, images)
    assert any("missing.svg" in p for p in figures.problems(nb, images))
    stamped = notebook(f"![旧]({uri(SVG)})<!-- figure: gone.svg -->")  # its source was deleted since
    assert any("gone.svg" in p for p in figures.problems(stamped, images))


def test_pasted_pictures_are_kept_and_attachments_of_our_figures_converted(images):
    pasted = f"![照片](data:image/png;base64,{base64.b64encode(b'PNG').decode()})"
    nb = notebook(pasted, "![流程](attachment:flow.svg) ![照片](attachment:photo.png)")
    nb.cells[1]["attachments"] = {"flow.svg": {"image/svg+xml": base64.b64encode(SVG.encode()).decode()},
                                  "photo.png": {"image/png": base64.b64encode(b"PNG").decode()}}
    assert any("Colab does not show" in p for p in figures.problems(nb, images))
    figures.embed(nb, images)
    assert nb.cells[0].source == pasted, "a picture a reader pasted is not ours to touch"
    assert nb.cells[1].source == f"![流程]({uri(SVG)})<!-- figure: flow.svg --> ![照片](attachment:photo.png)"
    assert list(nb.cells[1].attachments) == ["photo.png"]
    assert figures.problems(nb, images) == []
