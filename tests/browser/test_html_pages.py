"""The HTML edition (`python -m booktools.html` -> _build/html) in headless Chromium, page by page.

Each chapter page is opened once (module-level cache) and then checked for: a clean load (no console
or page errors, no failed or off-machine requests), rendered math, loaded figures, the Colab link
and the table of contents. A screenshot of the top of each page and of its first formula goes to
_build/screenshots/.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

import nbformat
import pytest

from booktools import config, extract, student

from browser_support import PageLog

pytestmark = pytest.mark.browser

CHAPTERS = extract.notebook_paths(extract.NOTEBOOK_DIR)
IDS = [p.stem for p in CHAPTERS]

# Waits until every image has loaded or failed and MathJax (loaded with `defer`) has typeset the page.
SETTLE_JS = """async () => {
  await Promise.all(Array.from(document.images, img => img.complete ? null : new Promise(resolve => {
    img.addEventListener("load", resolve); img.addEventListener("error", resolve); })));
  if (document.querySelector(".math")) {
    const start = Date.now();
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      if (Date.now() - start > 30000) return "MathJax was never loaded";
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    await MathJax.startup.promise;
  }
  return "ok";
}"""

# What the checks need, read from the live DOM.
REPORT_JS = """() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, mjx-container, script, style").forEach(e => e.remove());
  const math = Array.from(article.querySelectorAll(".math"));
  return {
    prose: prose.textContent,
    math: math.length,
    mathRendered: math.filter(e => e.querySelector("mjx-container")).length,
    mathErrors: Array.from(article.querySelectorAll("mjx-merror"), e => e.textContent),
    images: Array.from(document.images, img => ({src: img.currentSrc || img.src, complete: img.complete,
                                                 width: img.naturalWidth, height: img.naturalHeight})),
    colab: Array.from(document.querySelectorAll('a[href*="colab.research.google.com"]'), a => a.href),
    sidebar: Array.from(document.querySelectorAll("nav.bd-docs-nav a.reference"),
                        a => ({href: a.href, text: a.textContent.trim()})),
    articleLinks: Array.from(article.querySelectorAll("a.reference.internal"),
                             a => ({href: a.href, text: a.textContent.trim()})),
  };
}"""

RAW_MATH = re.compile(r"\$[^$\n]{1,200}\$|\\\(|\\\[|\\(?:frac|sqrt|mathbf|mathrm|sum|exp|alpha|top|begin|left|right)\b")


def student_edition(path):
    return student.student_notebook(nbformat.read(path, as_version=4), path)[0]


def _without_code(markdown: str) -> str:
    markdown = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", markdown)


def expected_svgs(nb) -> set[str]:
    """Stems of the diagrams the chapter's markdown shows (`![...](../images/x.svg)`)."""
    return {m for cell in nb.cells if cell.cell_type == "markdown"
            for m in re.findall(r"\]\(\.\./images/([\w.-]+)\.svg\)", cell.source)}


def png_outputs(nb) -> int:
    return sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
               if "image/png" in out.get("data", {}))


def has_math(nb) -> bool:
    return any("$" in _without_code(cell.source) for cell in nb.cells if cell.cell_type == "markdown")


def chapter_url(base: str, path) -> str:
    return urljoin(base, f"notebooks/{path.stem}.html")


class Visit:
    def __init__(self, log, report, blocked):
        self.log, self.report, self.blocked = log, report, blocked


@pytest.fixture(scope="module")
def visits(browser_context, html_site, blocked_requests, screenshots):
    """Open a page once per module, settle it, screenshot it, and keep what the checks need."""
    cache = {}

    def visit(relative: str, shot: str) -> Visit:
        if relative not in cache:
            page = browser_context.new_page()
            log = PageLog(page)
            before = len(blocked_requests)
            page.goto(urljoin(html_site, relative), wait_until="load")
            settled = page.evaluate(SETTLE_JS)
            page.wait_for_load_state("networkidle")
            report = page.evaluate(REPORT_JS)
            if settled != "ok":
                log.page_errors.append(settled)
            page.screenshot(path=str(screenshots / f"{shot}.png"))
            # Then the first displayed formula and the first figure, to look at how they render.
            for selector, suffix in (("article div.math", "math"), ('article img[src*="_images/"]:not([src*="colab"])', "figure")):
                target = page.locator(selector).first
                if target.count():
                    target.scroll_into_view_if_needed()
                    page.screenshot(path=str(screenshots / f"{shot}-{suffix}.png"))
            cache[relative] = Visit(log, report, blocked_requests[before:])
            page.close()
        return cache[relative]

    return visit


def _links(entries, base):
    return {urljoin(base, e["href"]).split("#")[0]: e["text"] for e in entries}


def test_index_opens_the_landing_page(browser_context, html_site):
    page = browser_context.new_page()
    page.goto(urljoin(html_site, "index.html"))
    page.wait_for_url("**/intro.html", timeout=15000)  # Jupyter Book's index.html redirects to the root page
    page.close()


def test_landing_page(visits, html_site):
    visit = visits("intro.html", "intro")
    assert visit.log.problems() == [] and visit.blocked == []
    prose = visit.report["prose"]
    for attribution in ("CC-BY 2.0", "tatoeba.org", "manythings.org/anki"):
        assert attribution in prose, f"the landing page must credit the fra-eng data ({attribution})"
    listed = _links(visit.report["articleLinks"], html_site)
    missing = [p.stem for p in CHAPTERS if chapter_url(html_site, p) not in listed]
    assert missing == [], f"the landing page's chapter list lacks {missing}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_loads_without_errors(visits, path):
    visit = visits(f"notebooks/{path.stem}.html", path.stem)
    assert visit.blocked == [], f"requests that left the machine (the page must work offline): {visit.blocked}"
    assert visit.log.problems() == []


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_math_is_rendered(visits, path):
    report = visits(f"notebooks/{path.stem}.html", path.stem).report
    if has_math(student_edition(path)):
        assert report["math"] > 0, "the notebook has $...$ math but the page has no math elements"
    assert report["mathRendered"] == report["math"], "some formulas were not typeset by MathJax"
    assert report["mathErrors"] == [], "MathJax could not parse some formulas"
    raw = sorted(set(RAW_MATH.findall(report["prose"])))
    assert raw == [], f"raw LaTeX left in the visible text: {raw[:10]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_figures_load(visits, path):
    report = visits(f"notebooks/{path.stem}.html", path.stem).report
    broken = [img["src"] for img in report["images"] if not img["complete"] or img["width"] == 0]
    assert broken == [], f"images that did not load: {broken}"
    loaded = [img["src"].rsplit("/", 1)[-1] for img in report["images"]]
    nb = student_edition(path)
    for stem in expected_svgs(nb):
        assert any(re.fullmatch(rf"{re.escape(stem)}\d*\.svg", name) for name in loaded), \
            f"diagram images/{stem}.svg is not on the page"
    plots = [img for img in report["images"] if "/_images/" in img["src"] and img["src"].endswith(".png")]
    assert len(plots) == png_outputs(nb), "every PNG output stored in the notebook should be shown"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_colab_link(visits, path):
    report = visits(f"notebooks/{path.stem}.html", path.stem).report
    expected = config.colab_url(path.name)
    assert expected == (f"https://colab.research.google.com/github/{config.github_repo()}"
                        f"/blob/main/notebooks/{path.name}")
    assert report["colab"], "no Colab link on the page"
    assert set(report["colab"]) == {expected}


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_sidebar_lists_every_chapter(visits, html_site, path):
    report = visits(f"notebooks/{path.stem}.html", path.stem).report
    page = chapter_url(html_site, path)
    sidebar = _links(report["sidebar"], page)
    for chapter in CHAPTERS:
        url = chapter_url(html_site, chapter)
        assert url in sidebar, f"the sidebar lacks {chapter.stem}"
        assert sidebar[url] == extract_title(chapter)


def extract_title(path) -> str:
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    raise AssertionError(f"{path.name} has no title")


@pytest.mark.parametrize("term, chapter", [("masked_softmax", "11_attention_scoring"),
                                           ("三角函数", "13_multihead_attention")])  # a Chinese word: needs jieba
def test_search_finds(browser_context, html_site, blocked_requests, screenshots, term, chapter):
    page = browser_context.new_page()
    log = PageLog(page)
    before = len(blocked_requests)
    page.goto(urljoin(html_site, f"search.html?q={term}"), wait_until="load")
    hit = page.locator(f'#search-results a[href*="{chapter}"]').first
    hit.wait_for(timeout=30000)
    results = page.locator("#search-results ul.search > li").count()
    page.screenshot(path=str(screenshots / f"search-{term}.png"))
    page.close()
    assert results >= 1
    assert log.problems() == [] and blocked_requests[before:] == []
