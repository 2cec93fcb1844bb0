"""Helpers shared by the browser tests."""
from __future__ import annotations


class PageLog:
    """What went wrong while a page was open: console errors, uncaught exceptions, failed requests."""

    def __init__(self, page):
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failed_requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", lambda request: self.failed_requests.append(
            f"{request.url} ({request.failure})"))
        page.on("response", self._response)

    def _console(self, message):
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def _response(self, response):
        if response.status >= 400:
            self.failed_requests.append(f"{response.url} (HTTP {response.status})")

    def problems(self) -> list[str]:
        return ([f"console error: {m}" for m in self.console_errors]
                + [f"page error: {m}" for m in self.page_errors]
                + [f"failed request: {m}" for m in self.failed_requests])


# ---------------------------------------------------------------------------------------------
# JupyterLab on 127.0.0.1, for the tests that drive it (test_jupyterlab, the explorer, lone notebooks)

import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KERNEL_NAME = "book-venv"  # not "python3": jupyter_client would pick ipykernel's built-in spec for that name
KERNEL_DISPLAY = "Python 3 (book .venv)"

# With `windowingMode: none` every cell is in the DOM (by default JupyterLab renders only the visible ones).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}

# The open notebook's state, read from JupyterLab's notebook model (a folded cell shows no prompt, so the
# DOM's prompts are not enough): each code cell's execution count (null: not run), whether any is running.
STATE_JS = """() => {
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  const model = widget && widget.content && widget.content.model;
  const counts = [];
  let running = false;
  if (model) {
    for (let i = 0; i < model.cells.length; i++) {
      const cell = model.cells.get(i);
      if (cell.type === "code") counts.push(cell.executionCount);
    }
  }
  running = document.querySelectorAll(".jp-Notebook .jp-InputArea-prompt").length > 0
            && Array.from(document.querySelectorAll(".jp-Notebook .jp-InputArea-prompt"),
                          p => p.textContent.trim()).includes("[*]:");
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
                 && widget.sessionContext.session.kernel;
  const errors = document.querySelectorAll(
      '.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]').length;
  return {counts, running, errors, kernelStatus: kernel ? kernel.status : null};
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(base + path, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def jupyter_data(tmp_path: Path) -> Path:
    """A Jupyter data folder whose only kernel spec is this Python (the repository's .venv), importing the
    book from this checkout (``PYTHONPATH``) and reading no ~/.ipython."""
    data = tmp_path / "jupyter-data"
    kernel_dir = data / "kernels" / KERNEL_NAME
    if not kernel_dir.is_dir():
        kernel_dir.mkdir(parents=True)
        (tmp_path / "ipython").mkdir(exist_ok=True)
        (kernel_dir / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": KERNEL_DISPLAY, "language": "python",
            "env": {"PYTHONPATH": str(ROOT), "IPYTHONDIR": str(tmp_path / "ipython"),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}}))
    return data


@contextlib.contextmanager
def jupyterlab(root: Path, tmp_path: Path):
    """JupyterLab on 127.0.0.1 serving ``root``, with Jupyter folders of its own under ``tmp_path`` (nothing in
    the user's ~/.jupyter is read or written) and the kernel spec of ``jupyter_data``; yields
    ``(base URL, token, log path)`` and shuts the server (and its kernels) down afterwards."""
    folders = {name: tmp_path / f"jupyter-{name}" for name in ("config", "runtime", "settings", "workspaces")}
    for folder in folders.values():
        folder.mkdir()
    for name, values in LAB_SETTINGS.items():
        (folders["settings"] / name).parent.mkdir(parents=True, exist_ok=True)
        (folders["settings"] / name).write_text(json.dumps(values))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(folders["config"]), JUPYTER_DATA_DIR=str(jupyter_data(tmp_path)),
               JUPYTER_RUNTIME_DIR=str(folders["runtime"]), JUPYTERLAB_SETTINGS_DIR=str(folders["settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(folders["workspaces"]), IPYTHONDIR=str(tmp_path / "ipython"),
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root in a throwaway machine
    log_path = tmp_path / "jupyterlab.log"
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
        yield base, token, log_path
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


def wait_for_kernel(page, timeout_ms: int = 90000) -> None:
    """Wait until the open notebook's kernel reports idle (it has started)."""
    page.wait_for_function("() => { const s = (" + STATE_JS + ")(); return s.kernelStatus === 'idle'; }",
                           timeout=timeout_ms)
