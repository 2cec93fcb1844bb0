"""Browser tests: the HTML edition and JupyterLab in a real headless Chromium (Debian's, driven by Playwright).

They need system packages (chromium, fonts-noto-cjk) and the `browser` extras, so they are not part of
`make test`: a plain `pytest tests` skips collecting this folder. Run them with

    python -m booktools.html                       # build _build/html first
    python -m pytest -p no:xdist tests/browser --browser

(`--browser` is an option of this folder, so the folder must be named on the command line.)
Screenshots go to _build/screenshots/. Every request a page makes to a host other than 127.0.0.1 is
blocked and fails the test: the book must work without internet.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML_DIR = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--disable-dev-shm-usage"]
LOCAL_SCHEMES = {"file", "data", "blob", "about", "chrome-error"}


def pytest_addoption(parser):
    parser.addoption("--browser", action="store_true", default=False,
                     help="run the browser tests in tests/browser (needs chromium and the browser extras)")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: needs headless Chromium and the `browser` extras")


def pytest_ignore_collect(collection_path, config):
    """Without --browser the test files of this folder are not even imported (playwright may be missing)."""
    if collection_path.name.startswith("test_") and not config.getoption("browser", default=False):
        return True
    return None


def chromium_path() -> str:
    candidates = [os.environ.get("BOOK_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                  shutil.which("chromium-browser")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no Chromium found: install Debian's (`apt-get install -y chromium fonts-noto-cjk`) "
                "or point BOOK_CHROMIUM at a chromium binary", pytrace=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def html_site():
    """`_build/html` served on 127.0.0.1 (a free port) from a thread; its base URL (ends with /)."""
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail("no HTML edition in _build/html: build it first with `python -m booktools.html`", pytrace=False)
    handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def blocked_requests():
    """Every request the browser tried to send off this machine (each one is aborted)."""
    return []


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory, blocked_requests):
    """A fresh Chromium profile; requests to anything but 127.0.0.1 (or file:/data:) are aborted and recorded."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `pip install -e '.[browser]'` (never `playwright install`: "
                    "the tests use Debian's chromium)", pytrace=False)
    executable = chromium_path()

    def guard(route):
        url = urlsplit(route.request.url)
        if url.scheme in LOCAL_SCHEMES or url.hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked_requests.append(route.request.url)
            route.abort("blockedbyclient")

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.route("**/*", guard)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
