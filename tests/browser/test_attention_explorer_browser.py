"""The attention explorer in headless Chromium, where readers meet it: the HTML edition (a page that
Jupyter Book made from a notebook's stored outputs) and JupyterLab (a notebook run in the browser).

One notebook is used for both: a real kernel runs it (nbclient), so its stored outputs are what
`show_attention` puts into a notebook. It shows two explorers: four-dimensional weights (2 layers,
3 heads, with step buttons; tokens such as `<eos>` and `</script>`) and a two-dimensional one without
steps. On each page the same interactions are checked against the weights the test made: the numbers
and colours on the source tokens after clicking, hovering, keys, the layer and head menus and the
step buttons; the two explorers do not affect each other; the text is readable (contrast at least
4.5:1); no console error; no request leaves 127.0.0.1. Screenshots go to _build/screenshots/.

Colab cannot be reached from a test, so its way of showing outputs is simulated: each output in its own
sandboxed frame (scripts allowed, no same-origin rights). So is the classic Notebook's, which runs an
output's scripts outside the output.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import importlib
import json
import re
import threading

import nbformat
import pytest
import torch

from browser_support import KERNEL_DISPLAY, KERNEL_NAME, STATE_JS, PageLog, jupyter_data, jupyterlab

pytestmark = pytest.mark.browser

# Where the explorer comes from: the one line to change when it moves into d2l_local ("d2l_local").
EXPLORER_MODULE = "d2l_local"
IMPORT = f"from {EXPLORER_MODULE} import show_attention"

SRC = ["i", "am", "<unk>", ".", "<eos>"]
TGT = ["j'ai", "</script>", ".", "<eos>"]
LAYERS, HEADS = ["第 1 层", "第 2 层"], ["头 1", "头 2", "头 3"]


def make_weights(*shape, seed):
    """Softmax rows rounded to 3 decimals (what the explorer keeps), every row clearly unlike every other."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.round(torch.softmax(2 * torch.randn(*shape, generator=generator, dtype=torch.float64), dim=-1),
                          decimals=3)
    rows = weights.reshape(-1, shape[-1])
    assert (torch.cdist(rows, rows, p=float("inf")) + torch.eye(len(rows))).min() > 0.02
    return weights.tolist()


WEIGHTS = make_weights(2, 3, len(TGT), len(SRC), seed=1)  # [layer][head][target][source]
SELF = make_weights(len(SRC), len(SRC), seed=2)           # [target][source], one layer and head


def explorer_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 注意力浏览器的测试页\n\n两个注意力浏览器。"),
        nbformat.v4.new_code_cell(f"import json\nimport torch\n{IMPORT}"),
        nbformat.v4.new_code_cell(
            f"weights = torch.tensor(json.loads({json.dumps(json.dumps(WEIGHTS))}))\n"
            f"show_attention(weights, {SRC!r}, {TGT!r}, layer_names={LAYERS!r}, head_names={HEADS!r}, "
            "title='i am <unk> . → j\\'ai </script> . <eos>')"),
        nbformat.v4.new_code_cell(
            f"show_attention(json.loads({json.dumps(json.dumps(SELF))}), {SRC!r}, {SRC!r}, decoding=False)"),
    ]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"explorer-test-{i}"
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY, "language": "python"}
    return nb


def run_notebook(path, tmp_path):
    """Run the notebook in a fresh kernel and store its outputs, as the book's build does."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    specs = KernelSpecManager(kernel_dirs=[str(jupyter_data(tmp_path) / "kernels")])
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    NotebookClient(nb, km=manager, timeout=120, resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    return nb


# ---------------------------------------------------------------------------------------------------
# What a page shows, read from the live DOM, and the interactions both pages are put through.

STATE_OF_EXPLORER = """root => {
  const visible = e => getComputedStyle(e).visibility === "visible" && e.getClientRects().length > 0;
  const targets = Array.from(root.querySelectorAll(".d2l-attn-tgt button"));
  const info = root.querySelector(".d2l-attn-stepinfo");
  return {
    ready: root.hasAttribute("data-ready"),
    noteShown: visible(root.querySelector(".d2l-attn-nojs")),
    targets: targets.map(b => b.textContent),
    visibleTargets: targets.map((b, i) => visible(b) ? i : -1).filter(i => i >= 0),
    pressed: targets.map((b, i) => b.getAttribute("aria-pressed") === "true" ? i : -1).filter(i => i >= 0),
    focused: targets.indexOf(document.activeElement),
    stepInfo: info ? info.textContent : null,
    disabled: Array.from(root.querySelectorAll("[data-go]"), b => b.disabled),
    status: root.querySelector(".d2l-attn-status").textContent,
    sources: Array.from(root.querySelectorAll(".d2l-attn-src .d2l-attn-tok"), e => ({
      text: e.querySelector(".d2l-attn-text").textContent, weight: e.getAttribute("data-weight"),
      label: e.querySelector(".d2l-attn-w").textContent, title: e.title,
      background: getComputedStyle(e).backgroundColor, color: getComputedStyle(e).color})),
  };
}"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(x) for x in re.findall(r"[\d.]+", css)[:3])


def luminance(css: str) -> float:
    channels = [c / 255 for c in _rgb(css)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def assert_shows(state, row, target, tokens=SRC):
    """The source tokens show `row` (the weights of target token `target`), readably."""
    shown = state["sources"]
    assert [s["text"] for s in shown] == tokens
    assert [float(s["weight"]) for s in shown] == row, f"weights of target {target}"
    for s, w in zip(shown, row):
        assert abs(float(s["label"]) - w) <= 0.005 + 1e-9, (s["label"], w)
        assert s["title"] == f"权重 {w:.3f}"
        assert contrast(s["background"], s["color"]) >= 4.5, f"weight {w}: {s['background']} on {s['color']}"
    # Darker for larger weights: the colour says the same as the number.
    by_weight = sorted(zip(row, (luminance(s["background"]) for s in shown)))
    assert all(l1 >= l2 for (w1, l1), (w2, l2) in zip(by_weight, by_weight[1:]) if w2 > w1 + 0.01)
    best = max(range(len(row)), key=lambda j: (row[j], -j))
    assert f"“{tokens[best]}”（{row[best]:.3f}）" in state["status"]


def exercise_four_d(page, root, shot):
    """Every interaction of the 4-D explorer, checked against WEIGHTS; a screenshot along the way."""
    look = lambda: root.evaluate(STATE_OF_EXPLORER)
    button = lambda go: root.locator(f'[data-go="{go}"]')
    targets = root.locator(".d2l-attn-tgt button")
    away = lambda: root.locator(".d2l-attn-status").hover()  # off the target tokens, still in the frame

    state = look()
    assert state["ready"] and not state["noteShown"]
    assert state["targets"] == TGT
    # Decoding starts at step 1: one target token, selected, its weights shown.
    assert state["visibleTargets"] == [0] and state["pressed"] == [0] and state["stepInfo"] == f"解码第 1 / {len(TGT)} 步"
    assert state["disabled"] == [True, True, False, False]
    assert_shows(state, WEIGHTS[0][0][0], 0)

    button("next").click()
    away()
    state = look()
    assert state["visibleTargets"] == [0, 1] and state["pressed"] == [1] and state["stepInfo"] == "解码第 2 / 4 步"
    assert_shows(state, WEIGHTS[0][0][1], 1)

    button("last").click()
    away()
    state = look()
    assert state["visibleTargets"] == [0, 1, 2, 3] and state["pressed"] == [3]
    assert state["disabled"] == [False, False, True, True]
    assert_shows(state, WEIGHTS[0][0][3], 3)

    targets.nth(2).click()
    away()
    state = look()
    assert state["pressed"] == [2]
    assert_shows(state, WEIGHTS[0][0][2], 2)

    targets.nth(0).hover()  # hovering shows another token's weights without selecting it
    state = look()
    assert state["pressed"] == [2]
    assert_shows(state, WEIGHTS[0][0][0], 0)
    away()
    assert_shows(look(), WEIGHTS[0][0][2], 2)

    root.locator("select.d2l-attn-head").select_option(index=2)
    assert_shows(look(), WEIGHTS[0][2][2], 2)
    root.locator("select.d2l-attn-layer").select_option(label=LAYERS[1])
    state = look()
    assert_shows(state, WEIGHTS[1][2][2], 2)
    root.screenshot(path=str(shot))

    # The keyboard: arrow keys move between the decoded target tokens, Enter presses a button.
    targets.nth(2).focus()
    page.keyboard.press("ArrowLeft")
    state = look()
    assert state["focused"] == 1 and state["pressed"] == [1]
    assert_shows(state, WEIGHTS[1][2][1], 1)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # already at the last token: stays there
    state = look()
    assert state["focused"] == 3 and state["pressed"] == [3]
    button("prev").focus()
    page.keyboard.press("Enter")
    state = look()
    assert state["visibleTargets"] == [0, 1, 2] and state["pressed"] == [2] and state["stepInfo"] == "解码第 3 / 4 步"
    assert_shows(state, WEIGHTS[1][2][2], 2)
    root.locator("select.d2l-attn-head").focus()
    page.keyboard.press("ArrowUp")  # a focused menu changes with the arrow keys
    assert_shows(look(), WEIGHTS[1][1][2], 2)

    button("first").click()
    away()
    state = look()
    assert state["visibleTargets"] == [0] and state["pressed"] == [0]
    assert_shows(state, WEIGHTS[1][1][0], 0)


def exercise_two_d(page, root, other):
    """The 2-D explorer without steps; clicking in it leaves the other explorer as it was."""
    look = lambda: root.evaluate(STATE_OF_EXPLORER)
    other_before = other.evaluate(STATE_OF_EXPLORER)
    state = look()
    assert state["ready"] and state["targets"] == SRC and state["stepInfo"] is None
    assert state["visibleTargets"] == list(range(len(SRC))) and state["pressed"] == [0]
    assert root.locator("select").count() == 0 and root.locator("[data-go]").count() == 0
    assert_shows(state, SELF[0], 0)
    root.locator(".d2l-attn-tgt button").nth(3).click()
    root.locator(".d2l-attn-status").hover()
    state = look()
    assert state["pressed"] == [3]
    assert_shows(state, SELF[3], 3)
    after = other.evaluate(STATE_OF_EXPLORER)
    unfocused = lambda state: {k: v for k, v in state.items() if k != "focused"}
    assert unfocused(after) == unfocused(other_before)


# ---------------------------------------------------------------------------------------------------
# (a) The HTML edition.

@contextlib.contextmanager
def serve(folder):
    """`folder` over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """A one-chapter HTML edition (booktools.html, Jupyter Book) of the run notebook."""
    from booktools import html

    tmp = tmp_path_factory.mktemp("explorer-edition")
    (tmp / "src").mkdir()
    path = tmp / "src" / "90_attention_explorer.ipynb"
    nbformat.write(explorer_notebook(), path)
    run_notebook(path, tmp)
    try:
        html.build([path], out=tmp / "html", stage_dir=tmp / "stage")
    except html.HtmlBuildError as error:
        pytest.fail(f"the HTML edition could not be built: {error}", pytrace=False)
    return tmp / "html" / "notebooks" / f"{path.stem}.html"


def test_explorer_in_the_html_edition(edition, browser_context, blocked_requests, screenshots):
    # The stored output went into the page as it is: two explorers, each with its data and script.
    page_html = edition.read_text(encoding="utf-8")
    assert page_html.count('class="d2l-attn"') == 2
    assert "&lt;/script&gt;" in page_html
    with serve(edition.parents[1]) as base:
        page = browser_context.new_page()
        log = PageLog(page)
        before = len(blocked_requests)
        page.goto(f"{base}notebooks/{edition.name}", wait_until="load")
        page.wait_for_load_state("networkidle")
        explorers = page.locator("article .d2l-attn")
        assert explorers.count() == 2
        explorers.first.scroll_into_view_if_needed()
        exercise_four_d(page, explorers.first, screenshots / "explorer-html-edition.png")
        exercise_two_d(page, explorers.nth(1), explorers.first)
        explorers.first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "explorer-html-edition-page.png"))
        page.close()
    assert log.problems() == []
    assert blocked_requests[before:] == [], "the page tried to reach the internet"


# ---------------------------------------------------------------------------------------------------
# (b) JupyterLab.

def test_explorer_in_jupyterlab(tmp_path, browser_context, blocked_requests, screenshots):
    root = tmp_path / "root"
    root.mkdir()
    path = root / "explorer.ipynb"
    nbformat.write(explorer_notebook(), path)
    nb = run_notebook(path, tmp_path)  # with stored outputs, as a reader downloads it
    code_cells = sum(1 for cell in nb.cells if cell.cell_type == "code")
    with jupyterlab(root, tmp_path) as (base, token, _):
        page = browser_context.new_page()
        page.set_default_timeout(60000)
        log = PageLog(page)
        before = len(blocked_requests)
        page.goto(f"{base}/lab/tree/{path.name}?token={token}", wait_until="load")
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
        page.wait_for_function("() => { const s = (" + STATE_JS + ")(); return s.kernelStatus === 'idle'; }",
                               timeout=90000)
        # A notebook opened from disk is not trusted: its stored explorers run no script and say so.
        stored = page.locator(".jp-OutputArea-output .d2l-attn")
        stored.first.wait_for()
        for i in range(stored.count()):
            state = stored.nth(i).evaluate(STATE_OF_EXPLORER)
            assert not state["ready"] and state["noteShown"]
        page.screenshot(path=str(screenshots / "explorer-jupyterlab-untrusted.png"))

        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
        page.wait_for_function(
            """n => {
              const prompts = Array.from(document.querySelectorAll(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt"),
                                         p => p.textContent.trim());
              return prompts.filter(p => /^\\[\\d+\\]:$/.test(p)).length === n
                  && document.querySelectorAll(".jp-OutputArea-output .d2l-attn[data-ready]").length === 2;
            }""",
            arg=code_cells, timeout=120000)
        explorers = page.locator(".jp-OutputArea-output .d2l-attn")
        assert explorers.count() == 2
        stderr = page.locator('.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')
        assert stderr.count() == 0
        explorers.first.scroll_into_view_if_needed()
        exercise_four_d(page, explorers.first, screenshots / "explorer-jupyterlab.png")
        exercise_two_d(page, explorers.nth(1), explorers.first)
        # The keys pressed in the explorer did not reach JupyterLab: no cell was added, cut or run again.
        assert page.evaluate(STATE_JS)["counts"] == list(range(1, code_cells + 1))
        explorers.first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "explorer-jupyterlab-page.png"))
        page.close()
    assert log.page_errors == [] and log.console_errors == []
    assert blocked_requests[before:] == [], "JupyterLab or the explorer tried to reach the internet"


# ---------------------------------------------------------------------------------------------------
# (c) Other hosts, simulated: Colab shows each output in its own sandboxed frame (scripts allowed, no
# same-origin rights, so no storage, no access to the page around it); the classic Notebook runs an
# output's scripts outside the output (jQuery appends them to <head>), where the script cannot find
# its explorer as the element around it and sets up every explorer that is not ready yet.

def outputs_html() -> tuple[str, str]:
    from IPython.core.formatters import DisplayFormatter  # what a kernel's display() stores

    ax = importlib.import_module(EXPLORER_MODULE)

    four = ax.AttentionExplorer(WEIGHTS, SRC, TGT, layer_names=LAYERS, head_names=HEADS, title="四维")
    two = ax.AttentionExplorer(SELF, SRC, SRC, decoding=False)
    return tuple(DisplayFormatter().format(e)[0]["text/html"] for e in (four, two))


OUTSIDE_JS = """([first, second]) => {
  // Like the classic Notebook: insert the markup (innerHTML runs no script), then run each output's
  // code from a script element appended to <head>.
  for (const markup of [first, second]) {
    const output = document.createElement("div");
    output.innerHTML = markup;
    document.body.appendChild(output);
    const code = Array.from(output.querySelectorAll("script")).find(s => !s.type).textContent;
    const script = document.createElement("script");
    script.textContent = code;
    document.head.appendChild(script);
  }
}"""


def test_explorer_in_a_sandboxed_frame_and_with_scripts_run_elsewhere(browser_context, blocked_requests,
                                                                      screenshots, tmp_path):
    import html as html_module

    first, second = outputs_html()
    frames = "".join(f'<iframe sandbox="allow-scripts" style="width:900px;height:260px;border:0" srcdoc="'
                     f'{html_module.escape(markup)}"></iframe>' for markup in (first, second))
    (tmp_path / "colab.html").write_text(f"<!doctype html><meta charset=utf-8><body>{frames}</body>", encoding="utf-8")
    (tmp_path / "classic.html").write_text("<!doctype html><meta charset=utf-8><body></body>", encoding="utf-8")
    with serve(tmp_path) as base:
        page = browser_context.new_page()
        log = PageLog(page)
        before = len(blocked_requests)
        page.goto(f"{base}colab.html", wait_until="load")
        roots = [page.frame_locator("iframe").nth(i).locator(".d2l-attn") for i in (0, 1)]
        exercise_four_d(page, roots[0], screenshots / "explorer-sandboxed-frame.png")
        exercise_two_d(page, roots[1], roots[0])

        page.goto(f"{base}classic.html", wait_until="load")
        page.evaluate(OUTSIDE_JS, [first, second])
        explorers = page.locator(".d2l-attn")
        assert explorers.count() == 2
        exercise_four_d(page, explorers.first, screenshots / "explorer-scripts-elsewhere.png")
        exercise_two_d(page, explorers.nth(1), explorers.first)
        page.close()
    assert log.problems() == []
    assert blocked_requests[before:] == []
