# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""附录 A.3 显示的工具: the saved code of notebooks/21_appendix_display_tools.ipynb (generated)."""

import hashlib
import html
import importlib.resources
import json
import matplotlib
import torch
from matplotlib import font_manager
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'CHINESE_FONT_FILE',
    'use_chinese_font',
    'CHINESE_FONT_NAME',
    'AttentionExplorer',
    'show_attention',
]


# ---- notebooks/21_appendix_display_tools.ipynb · cell id ch21-04 ----
CHINESE_FONT_FILE = 'NotoSansCJKsc-Regular-subset.otf'


def use_chinese_font():
    """让 matplotlib 能画中文：登记本书附带的中文字体，并把它放进 font.family 的回退列表。

    西文字符仍用 DejaVu Sans，缺的字形（汉字、中文标点）回退到这个字体。返回字体族的名字。
    可以重复调用；import d2l_local 时已自动调用一次。"""
    resource = importlib.resources.files('d2l_local').joinpath('data', 'fonts', CHINESE_FONT_FILE)
    with importlib.resources.as_file(resource) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f'找不到本书附带的中文字体 {path}：代码包 d2l_local 的安装不完整。'
                '请重新安装（本地：在仓库根目录运行 `pip install -e .`；Colab：重新运行第一个单元格）。')
        font_manager.fontManager.addfont(str(path))
        name = font_manager.FontProperties(fname=str(path)).get_name()
    families = [f for f in matplotlib.rcParams['font.family'] if f not in ('sans-serif', name)]
    matplotlib.rcParams['font.family'] = (families or ['DejaVu Sans']) + [name]
    return name


CHINESE_FONT_NAME = use_chinese_font()  # import d2l_local 时执行


# ---- notebooks/21_appendix_display_tools.ipynb · cell id ch21-24 ----
# Scoped to .d2l-attn; white background and dark text of its own, so it stays readable in dark themes.
_ATTN_EXPLORER_CSS = """
.d2l-attn{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;font-size:14px;
  line-height:1.4;color:#111;background:#fff;border:1px solid #999;border-radius:6px;padding:8px 12px;
  margin:4px 0;width:fit-content;max-width:100%;overflow-x:auto;box-sizing:border-box}
.d2l-attn-title{font-weight:600;margin:0 0 6px}
.d2l-attn-nojs{margin:0 0 6px;color:#444}
.d2l-attn[data-ready] .d2l-attn-nojs{display:none}
.d2l-attn-controls{display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px;margin:0 0 8px}
.d2l-attn-controls label{display:inline-flex;align-items:center;gap:4px}
.d2l-attn button,.d2l-attn select{font:inherit;color:#111;background:#f2f2f2;border:1px solid #767676;
  border-radius:4px;padding:1px 8px;margin:0;cursor:pointer}
.d2l-attn button:disabled{color:#595959;background:#fafafa;cursor:default}
.d2l-attn button:focus-visible,.d2l-attn select:focus-visible{outline:3px solid #b3400a;outline-offset:2px}
.d2l-attn-row{display:flex;align-items:flex-start;gap:8px;margin:6px 0}
.d2l-attn-label{flex:none;width:2.5em;padding-top:2px;font-weight:600}
.d2l-attn-toks{display:flex;flex-wrap:wrap;gap:4px}
.d2l-attn-toks button,.d2l-attn-tok{white-space:pre;min-width:2.5em}
.d2l-attn-tgt button[aria-pressed=true]{border:2px solid #b3400a;background:#fff1e6;font-weight:700}
.d2l-attn-tgt button:hover{border-color:#b3400a}
.d2l-attn-tgt button.d2l-attn-future{visibility:hidden}
.d2l-attn-tok{display:inline-flex;flex-direction:column;align-items:center;padding:1px 6px;
  border:1px solid #767676;border-radius:4px}
.d2l-attn-w{font-size:12px;font-variant-numeric:tabular-nums;min-height:1.2em}
.d2l-attn-status{margin:6px 0 0;min-height:1.4em}
"""

# The behaviour. Python writes the markup; this script colours the source tokens for the shown
# target token and reacts to the reader. Data: weights[layer][head][target][source].
_ATTN_EXPLORER_JS = r"""
(function () {
  // The explorer is the element around this script. A host that runs output scripts elsewhere
  // (the classic Notebook moves them into <head>) gets every explorer not set up yet.
  var me = document.currentScript, host = me && me.parentElement;
  var roots = host && host.classList.contains("d2l-attn") ? [host]
      : document.querySelectorAll(".d2l-attn:not([data-ready])");

  // Weight 0 is white, 0.5 mid blue, 1 dark blue; the text is black or white, whichever contrasts more
  // with the background (the better of the two always reaches 4.5:1, the WCAG AA level for text).
  var STOPS = [[255, 255, 255], [107, 174, 214], [8, 48, 107]];
  function colours(w) {
    var k = w < 0.5 ? 0 : 1, f = 2 * w - k;
    var rgb = STOPS[k].map(function (c, i) { return Math.round(c + (STOPS[k + 1][i] - c) * f); });
    var lin = rgb.map(function (c) { c /= 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); });
    var lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    return ["rgb(" + rgb.join(", ") + ")", (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000" : "#fff"];
  }

  function setUp(root) {
    if (root.hasAttribute("data-ready")) return;
    root.setAttribute("data-ready", "");  // also hides the "needs JavaScript" note
    var weights = JSON.parse(root.querySelector(".d2l-attn-data").textContent);
    var part = function (name) { return root.querySelector(".d2l-attn-" + name); };
    var layer = part("layer"), head = part("head"), steps = part("steps"), status = part("status");
    var targets = root.querySelectorAll(".d2l-attn-tgt button");
    var sources = root.querySelectorAll(".d2l-attn-src .d2l-attn-tok");
    // step: how many target tokens are decoded; selected: the clicked one; hovered: -1 or the one under the mouse.
    var state = {step: steps ? 1 : targets.length, selected: 0, hovered: -1};

    function render() {
      var t = state.hovered >= 0 ? state.hovered : state.selected;
      var row = weights[layer ? layer.selectedIndex : 0][head ? head.selectedIndex : 0][t];
      var best = row.indexOf(Math.max.apply(null, row));
      Array.prototype.forEach.call(targets, function (button, i) {
        button.classList.toggle("d2l-attn-future", i >= state.step);  // not decoded yet: hidden
        button.setAttribute("aria-pressed", String(i === state.selected));
      });
      Array.prototype.forEach.call(sources, function (token, j) {
        var c = colours(row[j]);
        token.style.backgroundColor = c[0];
        token.style.color = c[1];
        token.setAttribute("data-weight", String(row[j]));
        token.title = "权重 " + row[j].toFixed(3);
        token.querySelector(".d2l-attn-w").textContent = row[j].toFixed(2);
      });
      status.textContent = "目标词元“" + targets[t].textContent + "”（第 " + (t + 1) + " 个）的注意力权重最大的源词元是“"
          + sources[best].querySelector(".d2l-attn-text").textContent + "”（" + row[best].toFixed(3) + "）。";
      if (steps) {
        part("stepinfo").textContent = "解码第 " + state.step + " / " + targets.length + " 步";
        steps.querySelectorAll("[data-go]").forEach(function (b) {  // no step before the first or after the last
          var back = /first|prev/.test(b.getAttribute("data-go"));
          b.disabled = back ? state.step === 1 : state.step === targets.length;
        });
      }
    }

    Array.prototype.forEach.call(targets, function (button, i) {
      var select = function () { state.selected = i; state.hovered = -1; render(); };
      button.addEventListener("click", select);
      button.addEventListener("focus", select);  // Tab or the arrow keys select, too
      button.addEventListener("mouseenter", function () { state.hovered = i; render(); });
      button.addEventListener("mouseleave", function () { state.hovered = -1; render(); });
      button.addEventListener("keydown", function (event) {  // <- and -> move between the decoded tokens
        var to = i + (event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0);
        if (to !== i && to >= 0 && to < state.step) { event.preventDefault(); targets[to].focus(); }
      });
    });
    [layer, head].forEach(function (menu) { if (menu) menu.addEventListener("change", render); });
    if (steps) steps.addEventListener("click", function (event) {
      var go = event.target.closest("button[data-go]");
      if (!go) return;
      var n = targets.length;
      var to = {first: 1, prev: state.step - 1, next: state.step + 1, last: n}[go.getAttribute("data-go")];
      state.step = Math.min(Math.max(to, 1), n);
      state.selected = state.step - 1;  // the token decoded at this step
      state.hovered = -1;
      render();
    });
    // Keys pressed inside the explorer are its own: JupyterLab must not treat them as notebook shortcuts.
    root.addEventListener("keydown", function (event) {
      if (/^(Arrow|Enter$| $|Home$|End$|Page)/.test(event.key)) event.stopPropagation();
    });
    render();
  }

  Array.prototype.forEach.call(roots, setUp);
})();
"""


# ---- notebooks/21_appendix_display_tools.ipynb · cell id ch21-26 ----
class AttentionExplorer:
    """注意力权重的交互式浏览器（在 Jupyter、Colab 和本书网页版中显示为一个可以点选的小网页）。

    weights: 形状为 (目标长度, 源长度) 或 (层数, 头数, 目标长度, 源长度) 的张量、NumPy 数组或嵌套列表，
    每个元素在 0 到 1 之间（softmax 的输出）。src_tokens、tgt_tokens: 源、目标词元（字符串）的列表。
    decoding=True 时目标词元是逐步解码出来的，显示“上一步/下一步”按钮。
    输出里存着全部 层数×头数×目标长度×源长度 个权重（每个约 6 个字节），所以一次只看一两个句子。
    """

    DECIMALS = 3  # the weights are stored rounded, so the markup is the same on every machine

    def __init__(self, weights, src_tokens, tgt_tokens, *, layer_names=None, head_names=None, title=None,
                 decoding=True):
        self.src_tokens = _check_tokens(src_tokens, "src_tokens")
        self.tgt_tokens = _check_tokens(tgt_tokens, "tgt_tokens")
        w = _as_4d_weights(weights)  # (num_layers, num_heads, num_target, num_source)
        num_layers, num_heads, num_target, num_source = w.shape
        for size, tokens, name, axis in ((num_target, self.tgt_tokens, "tgt_tokens", "倒数第二维（目标长度）"),
                                         (num_source, self.src_tokens, "src_tokens", "最后一维（源长度）")):
            if size != len(tokens):
                raise ValueError(f"weights 的{axis}是 {size}，但 {name} 有 {len(tokens)} 个词元，二者必须相等"
                                 "（是不是漏了 <eos>，或者没有去掉填充的 <pad>？）")
        self.layer_names = _check_names(layer_names, num_layers, "layer_names", "层", "第 {} 层")
        self.head_names = _check_names(head_names, num_heads, "head_names", "头", "头 {}")
        self.title = None if title is None else str(title)
        self.decoding = bool(decoding)
        # -0.0 + 0.0 is 0.0: no "-0.0" in the markup.
        self.weights = (torch.round(w, decimals=self.DECIMALS) + 0.0).tolist()

    def __repr__(self):  # the text/plain part of the output: deterministic (no memory address)
        layers, heads = len(self.layer_names), len(self.head_names)
        return (f"注意力浏览器：{layers} 层 × {heads} 个头，{len(self.tgt_tokens)} 个目标词元 × "
                f"{len(self.src_tokens)} 个源词元（在 Jupyter、Colab 或本书网页版中可以点选）")

    def _repr_html_(self):
        esc = html.escape  # escapes & < > " ' : a token such as <eos> or </script> is shown as text
        data = json.dumps(self.weights, separators=(",", ":"))  # numbers only: nothing to escape
        content = json.dumps([self.weights, self.src_tokens, self.tgt_tokens, self.layer_names,
                              self.head_names, self.title, self.decoding], ensure_ascii=True)
        key = hashlib.sha256(content.encode("ascii")).hexdigest()[:12]
        label = "注意力浏览器" + (f"：{self.title}" if self.title else "")
        out = [f'<div class="d2l-attn" data-key="{key}" role="group" aria-label="{esc(label)}">',
               f"<style>{_ATTN_EXPLORER_CSS}</style>"]
        if self.title:
            out.append(f'<div class="d2l-attn-title">{esc(self.title)}</div>')
        out.append('<div class="d2l-attn-nojs">（这是一个交互式的注意力浏览器，要运行 JavaScript 才能点选：'
                   "在 Jupyter 或 Colab 中运行这个单元格，或者在本书的网页版中查看。）</div>")
        controls = []
        for names, kind, text in ((self.layer_names, "layer", "层"), (self.head_names, "head", "头")):
            if len(names) > 1:
                options = "".join(f"<option>{esc(name)}</option>" for name in names)
                controls.append(f'<label>{text} <select class="d2l-attn-{kind}">{options}</select></label>')
        if self.decoding:
            controls.append(
                '<span class="d2l-attn-steps" role="group" aria-label="逐步解码">'
                '<button type="button" data-go="first">« 第一步</button> '
                '<button type="button" data-go="prev">‹ 上一步</button> '
                f'<span class="d2l-attn-stepinfo">解码第 1 / {len(self.tgt_tokens)} 步</span> '
                '<button type="button" data-go="next">下一步 ›</button> '
                '<button type="button" data-go="last">全部 »</button></span>')
        if controls:
            out.append(f'<div class="d2l-attn-controls">{"".join(controls)}</div>')
        targets = "".join(f'<button type="button" aria-pressed="false">{esc(token)}</button>'
                          for token in self.tgt_tokens)
        sources = "".join(f'<span class="d2l-attn-tok"><span class="d2l-attn-text">{esc(token)}</span>'
                          '<span class="d2l-attn-w"></span></span>' for token in self.src_tokens)
        out += [f'<div class="d2l-attn-row"><span class="d2l-attn-label">目标</span>'
                f'<span class="d2l-attn-toks d2l-attn-tgt" role="group" aria-label="目标词元">{targets}</span></div>',
                f'<div class="d2l-attn-row"><span class="d2l-attn-label">源</span>'
                f'<span class="d2l-attn-toks d2l-attn-src" role="group" aria-label="源词元及其权重">{sources}</span></div>',
                '<div class="d2l-attn-status" aria-live="polite"></div>',
                f'<script type="application/json" class="d2l-attn-data">{data}</script>',
                f"<script>{_ATTN_EXPLORER_JS}</script>",
                "</div>"]
        return "\n".join(out)


# ---- notebooks/21_appendix_display_tools.ipynb · cell id ch21-28 ----
def _check_tokens(tokens, name):
    """The tokens as a list of strings; a clear error for a string, indices or an empty list."""
    if isinstance(tokens, str):
        raise TypeError(f"{name} 应该是词元的列表（例如 ['i', 'am', 'cold', '<eos>']），而不是一个字符串；"
                        "可以先用 sentence.split() 切分")
    try:
        tokens = list(tokens)
    except TypeError:
        raise TypeError(f"{name} 应该是词元（字符串）的列表，得到的是 {type(tokens).__name__}") from None
    if not tokens:
        raise ValueError(f"{name} 是空的：至少要有一个词元")
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(f"{name} 的第 {i} 个元素是 {type(token).__name__}（{token!r}），应该是字符串；"
                            "如果手里是词元的索引，请先用词表换成词元，例如 vocab.to_tokens(indices)")
    return [str(token) for token in tokens]


def _as_4d_weights(weights):
    """``weights`` as a float64 CPU tensor of shape (num_layers, num_heads, num_target, num_source), checked."""
    if isinstance(weights, torch.Tensor):
        w = weights.detach().to("cpu", torch.float64)
    else:
        try:
            w = torch.as_tensor(weights, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError("weights 应该是张量、NumPy 数组或每行一样长的嵌套列表；如果是每一步一个张量的列表，"
                            f"请先用 torch.stack 拼起来（原来的错误：{error}）") from None
    if w.dim() == 2:
        w = w[None, None]
    elif w.dim() == 3:
        raise ValueError(f"weights 的形状是 {tuple(w.shape)}（三维），应该是 (目标长度, 源长度) 或 "
                         "(层数, 头数, 目标长度, 源长度)：一层多头的权重请写成 weights.unsqueeze(0)，"
                         "带批量维的请先取出一个样本，例如 weights[0]")
    elif w.dim() != 4:
        raise ValueError(f"weights 的形状是 {tuple(w.shape)}，应该是 (目标长度, 源长度) 或 "
                         "(层数, 头数, 目标长度, 源长度)；如果有批量维，请先取出一个样本，例如 weights[0]")
    if w.numel() == 0:
        raise ValueError(f"weights 的形状是 {tuple(w.shape)}：每一维都至少要有 1")
    bad = ~torch.isfinite(w)
    if bad.any():
        where = _position(bad.nonzero()[0])
        raise ValueError(f"weights 含有 NaN 或无穷大（第一个在 {where}）：请检查计算注意力权重的代码，"
                         "例如一整行都被掩蔽时 softmax 会得到 NaN")
    for broken, what in ((w < 0, "负数"), (w > 1 + 1e-6, "大于 1 的数")):
        if broken.any():
            first = broken.nonzero()[0]
            raise ValueError(f"weights 含有{what}（第一个是 {w[tuple(first)].item():.4g}，在 {_position(first)}）："
                             "注意力权重是 softmax 的输出，应在 0 到 1 之间；如果传入的是评分，请先做 softmax")
    return w


def _position(index):
    layer, head, target, source = index.tolist()
    return f"第 {layer} 层、第 {head} 个头、第 {target} 个目标词元、第 {source} 个源词元（从 0 数起）"


def _check_names(names, count, argument, what, default):
    if names is None:
        return [default.format(i + 1) for i in range(count)]
    if isinstance(names, str):
        raise TypeError(f"{argument} 应该是名字的列表（每个{what}一个），而不是一个字符串")
    names = [str(name) for name in names]
    if len(names) != count:
        raise ValueError(f"{argument} 有 {len(names)} 个名字，但 weights 有 {count} 个{what}")
    return names


# ---- notebooks/21_appendix_display_tools.ipynb · cell id ch21-29 ----
def show_attention(weights, src_tokens, tgt_tokens, *, layer_names=None, head_names=None, title=None,
                   decoding=True):
    """在笔记本的输出里显示注意力浏览器（参数见 AttentionExplorer）；不返回任何值。"""
    explorer = AttentionExplorer(weights, src_tokens, tgt_tokens, layer_names=layer_names,
                                 head_names=head_names, title=title, decoding=decoding)
    try:
        from IPython.display import display
    except ImportError:  # plain Python without IPython: there is nothing to show a web page in
        print(explorer)
        return
    display(explorer)
