"""The attention explorer's markup without a browser: deterministic, well-formed, escaped, and clear
errors for bad input. (Its behaviour in Chromium: tests/browser/test_attention_explorer_browser.py.)"""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

# Where the explorer comes from: the one line to change when it moves into d2l_local ("d2l_local").
MODULE = "d2l_local.ch21_appendix_display_tools"  # appendix A.3, where the explorer is saved
ax = importlib.import_module(MODULE)

ROOT = Path(__file__).resolve().parents[2]
SRC = ["i", "am", "cold", ".", "<eos>"]
TGT = ["j'ai", "froid", ".", "<eos>"]


def sample_weights(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(2 * torch.randn(*shape, generator=generator), dim=-1)


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Parses markup and records structure errors, elements (tag, attrs, text) and the scripts."""

    def __init__(self, markup):
        super().__init__(convert_charrefs=True)
        self.errors, self.stack, self.elements, self.scripts = [], [], [], []
        self.feed(markup)
        self.close()
        if self.stack:
            self.errors.append(f"never closed: {[e['tag'] for e in self.stack]}")

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "classes": dict(attrs).get("class", "").split()}
        self.elements.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.errors.append(f"self-closing <{tag}/> is not HTML")

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1]["tag"] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1]['tag'] if self.stack else 'anything'}")
            return
        element = self.stack.pop()
        if tag == "script":
            self.scripts.append(element)

    def handle_data(self, data):
        for element in self.stack:
            element["text"] += data

    def with_class(self, name):
        return [e for e in self.elements if name in e["classes"]]


def markup(*args, **kwargs):
    return ax.AttentionExplorer(*args, **kwargs)._repr_html_()


def test_markup_is_the_same_on_every_call_and_for_every_input_type():
    weights = sample_weights(2, 3, 4, 5)
    first = markup(weights, SRC, TGT, title="例子")
    assert markup(weights, SRC, TGT, title="例子") == first
    assert markup(weights.numpy(), tuple(SRC), TGT, title="例子") == first
    assert markup(weights.tolist(), SRC, TGT, title="例子") == first
    assert markup(weights.clone().requires_grad_(), SRC, TGT, title="例子") == first
    # A different weight, title or token changes the markup and its content key.
    changed = weights.clone()
    changed[1, 2, 3] = torch.tensor([0.5, 0.5, 0.0, 0.0, 0.0])
    key = lambda m: Page(m).with_class("d2l-attn")[0]["attrs"]["data-key"]
    for other in (markup(changed, SRC, TGT, title="例子"), markup(weights, SRC, TGT, title="例子2"),
                  markup(weights, SRC, TGT[:-1] + ["<pad>"], title="例子")):
        assert other != first and key(other) != key(first)


SNIPPET = """
import hashlib, importlib, torch
ax = importlib.import_module({module!r})
w = torch.softmax(2 * torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0)), dim=-1)
m = ax.AttentionExplorer(w, {src!r}, {tgt!r}, title="例子")._repr_html_()
print(hashlib.sha256(m.encode()).hexdigest())
"""


def test_markup_is_the_same_in_other_processes():
    """No random ids, no timestamps, nothing that depends on Python's per-process hash seed."""
    expected = hashlib.sha256(markup(sample_weights(2, 3, 4, 5), SRC, TGT, title="例子").encode()).hexdigest()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        code = SNIPPET.format(module=MODULE, src=SRC, tgt=TGT)
        result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                                check=True)
        assert result.stdout.strip() == expected


def test_markup_is_well_formed_and_self_contained():
    weights = sample_weights(2, 3, 4, 5)
    text = markup(weights, SRC, TGT, layer_names=["L1", "L2"], head_names=["a", "b", "c"], title="例子")
    page = Page(text)
    assert page.errors == []
    roots = page.with_class("d2l-attn")
    assert len(roots) == 1 and roots[0] is page.elements[0], "one root element holds everything"
    assert not any("id" in e["attrs"] for e in page.elements), "no ids: two explorers on a page must not clash"
    # Nothing is loaded from anywhere: no src/href attributes, no @import or url() in the style.
    assert not any(name in e["attrs"] for e in page.elements for name in ("src", "href"))
    style = next(e for e in page.elements if e["tag"] == "style")["text"]
    assert "@import" not in style and "url(" not in style
    data, code = page.scripts
    assert data["attrs"] == {"type": "application/json", "class": "d2l-attn-data"}
    assert json.loads(data["text"]) == (torch.round(weights.double(), decimals=3) + 0.0).tolist()
    assert code["attrs"] == {} and code["text"].strip() == ax._ATTN_EXPLORER_JS.strip()
    assert "require(" not in code["text"] and "http" not in code["text"]
    menus = [e for e in page.elements if e["tag"] == "select"]
    assert [m["classes"] for m in menus] == [["d2l-attn-layer"], ["d2l-attn-head"]]
    options = [e["text"] for e in page.elements if e["tag"] == "option"]
    assert options == ["L1", "L2", "a", "b", "c"]
    go = [e["attrs"].get("data-go") for e in page.elements if e["tag"] == "button" and "data-go" in e["attrs"]]
    assert go == ["first", "prev", "next", "last"]
    assert all(e["attrs"].get("type") == "button" for e in page.elements if e["tag"] == "button")


def test_two_dimensional_weights_are_one_layer_and_one_head():
    weights = sample_weights(4, 5)
    page = Page(markup(weights, SRC, TGT, decoding=False))
    assert page.errors == []
    assert not [e for e in page.elements if e["tag"] == "select"], "one layer, one head: no menus"
    assert not page.with_class("d2l-attn-steps"), "decoding=False: no step buttons"
    assert json.loads(page.scripts[0]["text"]) == [[(torch.round(weights.double(), decimals=3) + 0.0).tolist()]]
    same = Page(markup(weights[None, None], SRC, TGT, decoding=False))
    assert same.scripts[0]["text"] == page.scripts[0]["text"]


NASTY = ["<eos>", "</script><script>alert(1)</script>", "<img src=x onerror=alert(1)>", 'say "hi"', "a & b",
         "<!--", "  spaced  "]


def test_tokens_names_and_title_are_shown_as_text():
    weights = sample_weights(2, 1, len(NASTY), len(NASTY))
    text = markup(weights, NASTY, NASTY, layer_names=["</script>", "<b>"], title="</script><i>标题</i>")
    page = Page(text)
    assert page.errors == []
    assert text.lower().count("</script") == 2, "only the two script elements end with </script>"
    assert [e["tag"] for e in page.elements].count("script") == 2
    assert not [e for e in page.elements if e["tag"] in ("img", "i", "b")]
    assert [e["text"] for e in page.elements if e["tag"] == "button" and "data-go" not in e["attrs"]] == NASTY
    assert [e["text"] for e in page.with_class("d2l-attn-text")] == NASTY
    assert [e["text"] for e in page.elements if e["tag"] == "option"] == ["</script>", "<b>"]
    assert page.with_class("d2l-attn-title")[0]["text"] == "</script><i>标题</i>"
    assert page.with_class("d2l-attn")[0]["attrs"]["aria-label"] == "注意力浏览器：</script><i>标题</i>"


def test_weights_are_rounded_to_three_decimals_without_negative_zero():
    weights = torch.tensor([[0.12349, 0.87651], [-0.0, 1.0]])
    data = json.loads(Page(markup(weights, ["a", "b"], ["x", "y"])).scripts[0]["text"])
    assert data == [[[[0.123, 0.877], [0.0, 1.0]]]]
    assert "-0" not in Page(markup(weights, ["a", "b"], ["x", "y"])).scripts[0]["text"]
    # Half precision and values a hair above 1 (float32 softmax) are accepted.
    halves = torch.tensor([[0.25, 0.75], [0.0, 1.0]], dtype=torch.float16)
    assert ax.AttentionExplorer(halves, ["a", "b"], ["x", "y"]).weights == [[[[0.25, 0.75], [0.0, 1.0]]]]
    ax.AttentionExplorer(torch.tensor([[1.0000002, 0.0]]), ["a", "b"], ["x"])


def test_repr_is_a_deterministic_summary():
    explorer = ax.AttentionExplorer(sample_weights(2, 3, 4, 5), SRC, TGT)
    assert repr(explorer) == ("注意力浏览器：2 层 × 3 个头，4 个目标词元 × 5 个源词元"
                              "（在 Jupyter、Colab 或本书网页版中可以点选）")


def test_default_names_and_step_counter():
    page = Page(markup(sample_weights(2, 3, 4, 5), SRC, TGT))
    assert [e["text"] for e in page.elements if e["tag"] == "option"] == ["第 1 层", "第 2 层", "头 1", "头 2", "头 3"]
    assert page.with_class("d2l-attn-stepinfo")[0]["text"] == "解码第 1 / 4 步"


def test_show_attention_displays_the_explorer_once(monkeypatch):
    from IPython.core.formatters import DisplayFormatter
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    assert ax.show_attention(sample_weights(4, 5), SRC, TGT, title="t") is None  # no second copy as Out[]
    assert len(shown) == 1 and isinstance(shown[0], ax.AttentionExplorer)
    data, _ = DisplayFormatter().format(shown[0])
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/html"] == markup(sample_weights(4, 5), SRC, TGT, title="t")
    assert "0x" not in data["text/plain"]


BAD_INPUTS = [
    (dict(weights=sample_weights(3, 4, 5)), ValueError, ["(3, 4, 5)", "三维", "unsqueeze(0)", "weights[0]"]),
    (dict(weights=sample_weights(5)), ValueError, ["(5,)", "(目标长度, 源长度)"]),
    (dict(weights=sample_weights(1, 1, 1, 4, 5)), ValueError, ["(1, 1, 1, 4, 5)", "weights[0]"]),
    (dict(weights=sample_weights(5, 5)), ValueError, ["倒数第二维（目标长度）是 5", "tgt_tokens 有 4 个词元", "<eos>"]),
    (dict(weights=sample_weights(4, 6)), ValueError, ["最后一维（源长度）是 6", "src_tokens 有 5 个词元", "<pad>"]),
    (dict(weights=torch.full((4, 5), math.nan)), ValueError, ["NaN", "第 0 个目标词元、第 0 个源词元", "掩蔽"]),
    (dict(weights=torch.eye(4, 5).index_put_((torch.tensor(2), torch.tensor(3)), torch.tensor(math.inf))),
     ValueError, ["无穷大", "第 2 个目标词元、第 3 个源词元"]),
    (dict(weights=torch.eye(4, 5) - 0.1), ValueError, ["负数", "-0.1", "softmax"]),
    (dict(weights=torch.eye(4, 5) * 3), ValueError, ["大于 1", "3", "评分", "softmax"]),
    (dict(weights=torch.zeros(1, 0, 4, 5)), ValueError, ["(1, 0, 4, 5)", "至少要有 1"]),
    (dict(weights=[[0.5, 0.5], [1.0]]), TypeError, ["嵌套列表", "torch.stack"]),
    (dict(weights=[torch.ones(5) / 5] * 4), TypeError, ["torch.stack"]),
    (dict(src_tokens="i am cold . <eos>"), TypeError, ["src_tokens", "sentence.split()"]),
    (dict(tgt_tokens=[3, 7, 9, 2]), TypeError, ["tgt_tokens 的第 0 个元素是 int", "vocab.to_tokens"]),
    (dict(src_tokens=[]), ValueError, ["src_tokens 是空的"]),
    (dict(src_tokens=None), TypeError, ["src_tokens", "NoneType"]),
    (dict(layer_names=["a", "b"]), ValueError, ["layer_names 有 2 个名字", "1 个层"]),
    (dict(head_names=[]), ValueError, ["head_names 有 0 个名字", "1 个头"]),
    (dict(weights=sample_weights(2, 1, 4, 5), layer_names="ab"), TypeError, ["layer_names", "名字的列表"]),
]


@pytest.mark.parametrize("changes, error, fragments", BAD_INPUTS, ids=[str(i) for i in range(len(BAD_INPUTS))])
def test_bad_input_gets_a_clear_error_and_changes_nothing(changes, error, fragments):
    arguments = dict(weights=sample_weights(4, 5), src_tokens=list(SRC), tgt_tokens=list(TGT))
    arguments.update(changes)
    before = {k: (v.clone() if isinstance(v, torch.Tensor) else (list(v) if isinstance(v, list) else v))
              for k, v in arguments.items()}
    weights = arguments.pop("weights")
    with pytest.raises(error) as raised:
        ax.show_attention(weights, arguments.pop("src_tokens"), arguments.pop("tgt_tokens"), **arguments)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), "library errors are in Chinese"
    if isinstance(weights, torch.Tensor):  # the caller's tensor is untouched
        assert torch.equal(weights.nan_to_num(-7.0), before["weights"].nan_to_num(-7.0))


def test_numpy_and_float32_weights_give_the_same_numbers():
    weights = sample_weights(2, 2, 4, 5)
    from_numpy = ax.AttentionExplorer(np.asarray(weights), SRC, TGT).weights
    assert from_numpy == ax.AttentionExplorer(weights, SRC, TGT).weights
    assert np.allclose(np.array(from_numpy), weights.numpy(), atol=5e-4 + 1e-9)
