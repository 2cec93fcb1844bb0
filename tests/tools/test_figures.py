"""booktools.figures: diagrams embedded as attachments generated from images/, and the stale check."""
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


def test_references_become_attachments_holding_the_file(images):
    nb = notebook("图 1：\n\n![流程](../images/flow.svg)\n\n再看一次 ![流程](../images/flow.svg \"标题\")",
                  "[![在 Colab 中打开](../images/badge.svg)](https://colab.research.google.com/x)", "没有图")
    assert figures.problems(nb, images)  # not embedded yet
    assert figures.embed(nb, images) is True
    first, badge, plain = nb.cells
    assert first.source == "图 1：\n\n![流程](attachment:flow.svg)\n\n再看一次 ![流程](attachment:flow.svg \"标题\")"
    assert base64.b64decode(first.attachments["flow.svg"]["image/svg+xml"]).decode() == SVG
    assert badge.source.startswith("[![在 Colab 中打开](attachment:badge.svg)]")
    assert "attachments" not in plain
    assert figures.problems(nb, images) == []
    assert figures.embed(nb, images) is False  # idempotent
    nbformat.validate(nb)


def test_editing_the_svg_makes_the_embedded_copy_stale_until_stamped_again(images):
    nb = notebook("![流程](../images/flow.svg)")
    figures.embed(nb, images)
    (images / "flow.svg").write_text(SVG.replace("10\"/>", "5\"/>"), encoding="utf-8")
    assert any("stale" in p for p in figures.problems(nb, images))
    assert figures.embed(nb, images) is True
    assert figures.problems(nb, images) == []


def test_a_figure_images_lacks_is_an_error_naming_the_cell(images):
    nb = notebook("正文", "![缺](../images/missing.svg)")
    with pytest.raises(FileNotFoundError, match="cell 1: refers to missing.svg"):
        figures.embed(nb, images)
    assert any("missing.svg" in p for p in figures.problems(nb, images))


def test_removed_figures_are_dropped_and_pasted_pictures_kept(images):
    nb = notebook("![流程](../images/flow.svg)")
    figures.embed(nb, images)
    nb.cells[0].attachments["photo.png"] = {"image/png": base64.b64encode(b"\x89PNG").decode()}
    nb.cells[0].source = "![照片](attachment:photo.png)"
    figures.embed(nb, images)
    assert list(nb.cells[0].attachments) == ["photo.png"]
