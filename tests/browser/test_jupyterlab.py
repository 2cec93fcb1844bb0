"""A reader's first step, for real: open a chapter in JupyterLab (served on 127.0.0.1) in headless
Chromium, choose Run > Run All Cells, and check that every cell ran and none shows an error.

The chapter is copied (outputs cleared, so every output on screen comes from this run) into a temporary
folder with the book's images beside it. The server gets its own Jupyter config/data/runtime/settings
folders, and a kernel spec that points at this Python (the repository's .venv, where d2l_local is
installed). Nothing in the user's ~/.jupyter is read or written.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from browser_support import KERNEL_DISPLAY, KERNEL_NAME, STATE_JS, PageLog, jupyterlab

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# A quick chapter; BOOK_LAB_NOTEBOOK=path/to/x.ipynb runs another one (its images/ must sit beside its folder).
CHAPTER = Path(os.environ.get("BOOK_LAB_NOTEBOOK", ROOT / "notebooks" / "01_encoder_decoder.ipynb")).resolve()
RUN_TIMEOUT_S = 300

ERRORS_JS = """() => ({
  stderr: Array.from(document.querySelectorAll(
      '.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'), e => e.textContent),
  outputs: document.querySelectorAll(".jp-Notebook .jp-OutputArea-output").length,
  kernelName: (document.querySelector(".jp-Toolbar-kernelName") || {}).textContent || "",
})"""


@pytest.fixture()
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 with the chapter (outputs cleared) in <tmp>/root/notebooks; yields its URL parts."""
    if importlib.util.find_spec("jupyterlab") is None:
        pytest.fail("jupyterlab is not installed: `pip install -e '.[browser]'`", pytrace=False)
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(CHAPTER.parent.parent / "images", root / "images")
    nb = nbformat.read(CHAPTER, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY, "language": "python"}
    nbformat.write(nb, root / "notebooks" / CHAPTER.name)
    with jupyterlab(root, tmp_path) as (base, token, log_path):
        yield {"base": base, "token": token, "notebook": f"notebooks/{CHAPTER.name}", "cells": nb.cells,
               "log": log_path}


def test_run_all_cells_in_jupyterlab(lab, browser_context, blocked_requests, screenshots):
    page = browser_context.new_page()
    page.set_default_timeout(60000)
    log = PageLog(page)
    before = len(blocked_requests)
    page.goto(f"{lab['base']}/lab/tree/{lab['notebook']}?token={lab['token']}", wait_until="load")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    # The kernel has started when it reports idle (the notebook names the kernel spec, so no dialog).
    page.wait_for_function("() => { const s = (" + STATE_JS + ")(); return s.kernelStatus === 'idle'; }",
                           timeout=90000)

    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()

    code_cells = sum(1 for cell in lab["cells"] if cell.cell_type == "code")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:  # until every cell ran, or the run stopped at an error (the rest keep their empty prompts)
        state = page.evaluate(STATE_JS)
        counts = state["counts"]
        counted = [c for c in counts if c is not None]
        idle = state["kernelStatus"] == "idle" and not state["running"]
        if idle and counted and (len(counted) == code_cells or state["errors"]):
            break
        if time.monotonic() > deadline:
            page.screenshot(path=str(screenshots / f"jupyterlab-{CHAPTER.stem}-timeout.png"))
            pytest.fail(f"not every cell ran within {RUN_TIMEOUT_S} s: execution counts {counts}, "
                        f"kernel {state['kernelStatus']}")
        time.sleep(0.5)
    result = page.evaluate(ERRORS_JS)
    page.screenshot(path=str(screenshots / f"jupyterlab-{CHAPTER.stem}.png"))
    page.close()

    assert result["stderr"] == [], "cells show errors or warnings:\n" + "\n---\n".join(result["stderr"])[:3000]
    assert counts == list(range(1, code_cells + 1)), "Run All runs each cell once, in order"
    assert result["outputs"] > 0
    assert result["kernelName"].strip() == KERNEL_DISPLAY
    assert blocked_requests[before:] == [], "JupyterLab tried to reach the internet"
    assert log.page_errors == []
