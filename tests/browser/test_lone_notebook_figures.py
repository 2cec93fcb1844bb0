"""A chapter copied on its own keeps its figures (issue: diagrams vanished from Colab copies in Drive).

Each chapter is copied ALONE into an empty folder (no images/ beside it, as after "save a copy in
Drive" or a download), opened in JupyterLab in headless Chromium, and every image in its rendered
markdown must have loaded (the diagrams travel inside the notebook as data URIs, see
booktools/figures.py). No request may leave 127.0.0.1.
"""
from __future__ import annotations

import shutil

import nbformat
import pytest

from browser_support import PageLog, jupyterlab
from booktools import nb as nbtools

pytestmark = pytest.mark.browser

IMAGES_JS = """() => Array.from(document.querySelectorAll(".jp-Notebook .jp-MarkdownOutput img"), img => ({
  src: img.getAttribute("src") || "", alt: img.getAttribute("alt") || "",
  loaded: img.complete && img.naturalWidth > 0}))"""


def chapters_with_figures():
    found = []
    for path in nbtools.chapter_paths():
        notebook = nbformat.read(path, as_version=4)
        count = sum(cell.source.count("![") for cell in notebook.cells if cell.cell_type == "markdown")
        if count:
            found.append((path, count))
    return found


def test_every_chapter_copied_alone_shows_all_its_figures(tmp_path, browser_context, blocked_requests, screenshots):
    chapters = chapters_with_figures()
    assert chapters, "the book has figures"
    root = tmp_path / "lone"
    root.mkdir()
    for path, _ in chapters:
        folder = root / path.stem  # one empty folder per chapter: nothing beside the notebook
        folder.mkdir()
        shutil.copy2(path, folder / path.name)
    problems = []
    with jupyterlab(root, tmp_path) as (base, token, _):
        before = len(blocked_requests)
        page_errors = []
        for path, expected in chapters:
            page = browser_context.new_page()  # a fresh page (and a reset workspace) per chapter
            page.set_default_timeout(60000)
            log = PageLog(page)
            page.goto(f"{base}/lab/tree/{path.stem}/{path.name}?reset&token={token}", wait_until="load")
            page.locator(".jp-NotebookPanel .jp-MarkdownCell").first.wait_for(state="attached")
            try:
                page.wait_for_function(f"() => ({IMAGES_JS})().filter(i => i.loaded).length >= {expected}",
                                       timeout=20000)
            except Exception:  # reported below with the list of images that did not load
                pass
            images = page.evaluate(IMAGES_JS)
            missing = [i for i in images if not i["loaded"]]
            if missing or len(images) < expected:
                page.screenshot(path=str(screenshots / f"lone-{path.stem}.png"))
                problems.append(f"{path.name}: {len(images)} of {expected} images rendered, not loaded: "
                                f"{[(i['alt'], i['src'][:40]) for i in missing]}")
            page_errors += log.page_errors
            page.close()
    assert problems == [], "\n".join(problems)
    assert blocked_requests[before:] == [], "a page tried to reach the internet"
    assert page_errors == []
