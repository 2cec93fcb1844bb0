"""A reader's first step, for real: open a chapter in JupyterLab (served on 127.0.0.1) in headless
Chromium, choose Run > Run All Cells, and check that every cell ran and none shows an error.

The chapter is copied (outputs cleared, so every output on screen comes from this run) into a temporary
folder with the book's images beside it. The server gets its own Jupyter config/data/runtime/settings
folders, and a kernel spec that points at this Python (the repository's .venv, where d2l_local is
installed). Nothing in the user's ~/.jupyter is read or written.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from browser_support import PageLog

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# A quick chapter; BOOK_LAB_NOTEBOOK=path/to/x.ipynb runs another one (its images/ must sit beside its folder).
CHAPTER = Path(os.environ.get("BOOK_LAB_NOTEBOOK", ROOT / "notebooks" / "01_encoder_decoder.ipynb")).resolve()
KERNEL_NAME = "book-venv"  # not "python3": jupyter_client would pick ipykernel's built-in spec for that name
KERNEL_DISPLAY = "Python 3 (book .venv)"
RUN_TIMEOUT_S = 300

# With `windowingMode: none` every cell is in the DOM (by default JupyterLab renders only the visible ones).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}

STATE_JS = """() => {
  const cells = Array.from(document.querySelectorAll(".jp-Notebook .jp-CodeCell"));
  const prompts = cells.map(c => (c.querySelector(".jp-InputArea-prompt") || {}).textContent || "");
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
                 && widget.sessionContext.session.kernel;
  const errors = document.querySelectorAll(
      '.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]').length;
  return {prompts, errors, kernelStatus: kernel ? kernel.status : null};
}"""

ERRORS_JS = """() => ({
  stderr: Array.from(document.querySelectorAll(
      '.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'), e => e.textContent),
  outputs: document.querySelectorAll(".jp-Notebook .jp-OutputArea-output").length,
  kernelName: (document.querySelector(".jp-Toolbar-kernelName") || {}).textContent || "",
})"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(base + path, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


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

    jupyter = {name: tmp_path / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for folder in jupyter.values():
        folder.mkdir()
    kernel_dir = jupyter["data"] / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_DISPLAY, "language": "python"}))
    for name, values in LAB_SETTINGS.items():
        target = jupyter["settings"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))

    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(jupyter["config"]), JUPYTER_DATA_DIR=str(jupyter["data"]),
               JUPYTER_RUNTIME_DIR=str(jupyter["runtime"]), JUPYTERLAB_SETTINGS_DIR=str(jupyter["settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(jupyter["workspaces"]), IPYTHONDIR=str(jupyter["ipython"]),
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp_path / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root in a throwaway machine
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited with status {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if api(base, token, "/api/status")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"base": base, "token": token, "notebook": f"notebooks/{CHAPTER.name}", "cells": nb.cells,
               "log": log_path}
    finally:
        try:  # the clean way: the server stops its kernels and exits
            api(base, token, "/api/shutdown", method="POST")
            server.wait(timeout=30)
        except Exception:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert server.returncode == 0, f"jupyter lab did not shut down cleanly:\n{log_path.read_text()[-3000:]}"


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
        prompts = [p.strip() for p in state["prompts"]]
        counted = [p for p in prompts if re.fullmatch(r"\[\d+\]:", p)]
        idle = state["kernelStatus"] == "idle" and "[*]:" not in prompts
        if idle and counted and (len(counted) == code_cells or state["errors"]):
            break
        if time.monotonic() > deadline:
            page.screenshot(path=str(screenshots / f"jupyterlab-{CHAPTER.stem}-timeout.png"))
            pytest.fail(f"not every cell ran within {RUN_TIMEOUT_S} s: prompts {prompts}, "
                        f"kernel {state['kernelStatus']}")
        time.sleep(0.5)
    result = page.evaluate(ERRORS_JS)
    page.screenshot(path=str(screenshots / f"jupyterlab-{CHAPTER.stem}.png"))
    page.close()

    assert result["stderr"] == [], "cells show errors or warnings:\n" + "\n---\n".join(result["stderr"])[:3000]
    assert len(prompts) == code_cells
    assert [int(p[1:-2]) for p in prompts] == list(range(1, code_cells + 1)), "Run All runs each cell once, in order"
    assert result["outputs"] > 0
    assert result["kernelName"].strip() == KERNEL_DISPLAY
    assert blocked_requests[before:] == [], "JupyterLab tried to reach the internet"
    assert log.page_errors == []
