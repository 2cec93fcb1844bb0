"""The checked exercises of chapters 11–14: the notebooks' own solutions pass, typical mistakes fail with
the hint written for them, the student edition's placeholder reports "not done yet", and an exception
in the student's code is reported without a traceback."""
from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import d2l_local as d2l
from d2l_exercises import ch11, ch12, ch13, ch14
from exercise_support import exercise_cells, notebook, run, solution_cells, student_version

CHAPTERS = {
    "11_attention_scoring": ["causal_attention"],
    "12_bahdanau_attention": ["last_valid_outputs", "bahdanau_context"],
    "13_multihead_attention": ["multihead_attention"],
    "14_transformer": ["layer_norm"],
}


def chapter_namespace():
    """What the earlier cells of chapters 11–14 give the exercise cells."""
    return {"torch": torch, "nn": nn, "F": F, "math": math, "d2l": d2l}


def exercise_pairs(name):
    """[(scaffold source, check source)] of a chapter, in reading order."""
    cells = exercise_cells(name)
    scaffolds = [c for c in cells if "### BEGIN SOLUTION" in c]
    checks = [c for c in cells if "### BEGIN SOLUTION" not in c]
    assert len(scaffolds) == len(checks) == len(CHAPTERS[name]), (name, len(scaffolds), len(checks))
    return list(zip(scaffolds, checks))


def ex_params():
    return [pytest.param(name, k, id=f"{name}-{func}")
            for name, funcs in CHAPTERS.items() for k, func in enumerate(funcs)]


# ------------------------------------------------------------------------------ the notebooks

@pytest.mark.parametrize("name, k", ex_params())
def test_notebook_solution_passes(name, k):
    scaffold, check = exercise_pairs(name)[k]
    assert scaffold in solution_cells(name)
    namespace, printed = run(scaffold + "\n" + check, chapter_namespace())
    assert namespace["ok"] is True
    assert printed.startswith("✓ 练习 "), printed
    assert "检查全部通过" in printed


@pytest.mark.parametrize("name, k", ex_params())
def test_student_placeholder_reports_not_done(name, k):
    scaffold, check = exercise_pairs(name)[k]
    student = student_version(scaffold)
    assert "### BEGIN SOLUTION" not in student and "NotImplementedError" in student
    namespace, printed = run(student + "\n" + check, chapter_namespace())   # must not raise
    assert namespace["ok"] is False
    assert printed.startswith("⏳ 练习 "), printed
    assert "还没有完成" in printed and "Traceback" not in printed


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_exercise_list_marks_the_checked_ones_and_cells_come_last(name):
    nb = notebook(name)
    listing = [c.source for c in nb.cells if c.cell_type == "markdown" and re.search(r"^##\s+练习", c.source, re.M)]
    assert len(listing) == 1 and "自动检查，见下方" in listing[0]
    index = next(i for i, c in enumerate(nb.cells) if c.source == listing[0])
    after = nb.cells[index + 1:]
    if after and after[-1].cell_type == "markdown" and after[-1].source.startswith("## 参考文献"):
        after = after[:-1]  # the references close the chapter, after the exercises
    assert after, "the exercise cells follow the 练习 list"
    for cell in after:
        tags = cell.metadata.get("tags", [])
        assert cell.cell_type == "markdown" or "exercise" in tags or "solution" in tags
    headings = [c.source.splitlines()[0] for c in after if c.cell_type == "markdown"]
    number = int(name[:2])
    assert all(re.match(rf"### 练习 {number}\.\d+（自动检查）：", h) for h in headings), headings


# ------------------------------------------------------------------------------ helpers

def verdict(check, func, capsys):
    ok = check(func)
    out = capsys.readouterr().out
    return ok, out


def assert_fails_with(check, func, capsys, *fragments):
    ok, out = verdict(check, func, capsys)
    assert ok is False
    assert out.startswith("✗ 练习 "), out
    for fragment in fragments:
        assert fragment in out, (fragment, out)
    assert "Traceback" not in out
    return out


def assert_error_reported(check, func, capsys, error_type, message):
    out = assert_fails_with(check, func, capsys, f"{error_type}: {message}", "在你的代码")
    assert "提示：" in out
    return out


# ------------------------------------------------------------------------------ 练习 11.5

def _causal(queries, keys, values, lens_from=1, scale=None, dim=-1):
    batch_size, n, d = queries.shape
    lens = torch.arange(lens_from, n + lens_from).repeat(batch_size, 1)
    scores = torch.bmm(queries, keys.transpose(1, 2)) / (math.sqrt(d) if scale is None else scale)
    if dim == -1:
        return torch.bmm(d2l.masked_softmax(scores, lens), values)
    keep = torch.arange(n)[None, None, :] < lens[:, :, None]
    return torch.bmm(scores.masked_fill(~keep, float("-inf")).softmax(dim=dim).nan_to_num(0.0), values)


def test_ch09_reference_agrees_with_pytorch_fused_causal_attention():
    for case in ch11._causal_cases():
        Q, K, V = case.args
        assert torch.allclose(case.expected, F.scaled_dot_product_attention(Q, K, V, is_causal=True), atol=1e-6)


def test_ch09_off_by_one_valid_lens(capsys):
    assert_fails_with(ch11.causal_attention, lambda q, k, v: _causal(q, k, v, lens_from=0), capsys,
                      "有效长度差了一", "i + 1")


def test_ch09_off_by_one_with_minus_infinity_gives_nan_and_the_same_hint(capsys):
    def nan_version(queries, keys, values):
        n = queries.shape[1]
        keep = torch.arange(n)[None, :] < torch.arange(n)[:, None]        # strict: query i sees 0 … i-1
        scores = (queries @ keys.transpose(1, 2) / math.sqrt(queries.shape[-1])).masked_fill(~keep, float("-inf"))
        return scores.softmax(dim=-1) @ values
    assert_fails_with(ch11.causal_attention, nan_version, capsys, "NaN", "有效长度差了一")


def test_ch09_no_mask(capsys):
    def no_mask(queries, keys, values):
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(queries.shape[-1])
        return torch.bmm(d2l.masked_softmax(scores, None), values)
    assert_fails_with(ch11.causal_attention, no_mask, capsys, "看到了它后面的键")


def test_ch09_scaling_mistakes(capsys):
    assert_fails_with(ch11.causal_attention, lambda q, k, v: _causal(q, k, v, scale=1.0), capsys, "没有缩放")
    assert_fails_with(ch11.causal_attention, lambda q, k, v: _causal(q, k, v, scale=q.shape[-1]), capsys,
                      "除以了 d")


def test_ch09_softmax_over_queries_and_reversed_mask(capsys):
    assert_fails_with(ch11.causal_attention, lambda q, k, v: _causal(q, k, v, dim=1), capsys, "softmax 沿错了轴")

    def backwards(queries, keys, values):                                   # query i sees i … n-1
        return _causal(queries.flip(1), keys.flip(1), values.flip(1)).flip(1)
    assert_fails_with(ch11.causal_attention, backwards, capsys, "掩蔽的方向反了")


def test_ch09_writing_into_the_input(capsys):
    def in_place(queries, keys, values):
        queries /= math.sqrt(queries.shape[-1])                              # right answer, spoils the caller's tensor
        lens = torch.arange(1, queries.shape[1] + 1).repeat(queries.shape[0], 1)
        return torch.bmm(d2l.masked_softmax(torch.bmm(queries, keys.transpose(1, 2)), lens), values)
    assert_fails_with(ch11.causal_attention, in_place, capsys, "原地修改", "第 1 个参数")


def test_ch09_exception(capsys):
    def forgot_transpose(queries, keys, values):
        return torch.bmm(torch.bmm(queries, keys), values)                   # keys not transposed
    with pytest.raises(RuntimeError) as error:
        forgot_transpose(*ch11._causal_cases()[0].args)
    assert_error_reported(ch11.causal_attention, forgot_transpose, capsys, "RuntimeError", str(error.value))


# ------------------------------------------------------------------------------ 练习 12.7

def test_ch10_last_valid_reference_is_what_a_loop_over_sentences_gives():
    for case in ch12._last_valid_cases():
        outputs, lens = case.args
        for b in range(outputs.shape[1]):
            assert torch.equal(case.expected[b], outputs[lens[b] - 1, b])
        assert not torch.equal(case.expected, outputs[-1])


def test_ch10_last_time_step(capsys):
    assert_fails_with(ch12.last_valid_outputs, lambda outputs, lens: outputs[-1], capsys, "enc_outputs[-1]", "<pad>")


def test_ch10_off_by_one_step(capsys):
    assert_fails_with(ch12.last_valid_outputs, lambda outputs, lens: outputs[lens, torch.arange(outputs.shape[1])],
                      capsys, "差了一步", "n - 1")


def test_ch10_indices_swapped_or_not_paired(capsys):
    assert_fails_with(ch12.last_valid_outputs, lambda outputs, lens: outputs[torch.arange(outputs.shape[1]), lens - 1],
                      capsys, "两个下标的顺序反了")
    assert_fails_with(ch12.last_valid_outputs, lambda outputs, lens: outputs[lens - 1], capsys,
                      "(batch_size, batch_size, num_hiddens)", "torch.arange(batch_size)")


def test_ch10_last_valid_exception(capsys):
    def gather_without_index_shape(outputs, lens):
        return outputs.gather(0, lens - 1)                                       # index must be 3-D as well
    with pytest.raises(RuntimeError) as error:
        gather_without_index_shape(*ch12._last_valid_cases()[0].args)
    out = assert_error_reported(ch12.last_valid_outputs, gather_without_index_shape, capsys, "RuntimeError",
                                str(error.value))
    assert "第 1 个检查" in out and "valid_lens - 1" in out


# ------------------------------------------------------------------------------ 练习 12.8

def test_ch10_context_reference_agrees_with_additive_attention():
    for case in ch12._context_cases():
        query, enc_outputs, lens, W_q, W_k, w_v = case.args
        attention = d2l.AdditiveAttention(W_k.shape[1], W_q.shape[1], W_q.shape[0], dropout=0).eval()
        with torch.no_grad():
            attention.W_q.weight.copy_(W_q)
            attention.W_k.weight.copy_(W_k)
            attention.w_v.weight.copy_(w_v[None])
            context = attention(query.unsqueeze(1), enc_outputs, enc_outputs, lens).squeeze(1)
        assert torch.allclose(case.expected[0], context, atol=1e-5)
        assert torch.allclose(case.expected[1], attention.attention_weights.squeeze(1), atol=1e-6)


def _context(query, enc_outputs, lens, W_q, W_k, w_v, *, mask=True, tanh=True, renormalise=True, dim=-1):
    features = (query @ W_q.T).unsqueeze(1) + enc_outputs @ W_k.T
    scores = (torch.tanh(features) if tanh else features) @ w_v                   # (batch, steps)
    pad = torch.arange(enc_outputs.shape[1])[None, :] >= lens[:, None]
    if mask and renormalise:
        weights = scores.masked_fill(pad, -1e6).softmax(dim=dim)
    elif mask:
        weights = scores.softmax(dim=-1).masked_fill(pad, 0.0)                   # masked after softmax
    else:
        weights = scores.softmax(dim=-1)
    return (weights.unsqueeze(-1) * enc_outputs).sum(dim=1), weights


def test_ch10_context_own_vectorised_version_passes(capsys):
    ok, out = verdict(ch12.bahdanau_context, _context, capsys)
    assert ok and out.startswith("✓")


def test_ch10_context_padding_gets_weight(capsys):
    assert_fails_with(ch12.bahdanau_context, lambda *a: _context(*a, mask=False), capsys,
                      "填充位置分到了权重", "d2l.masked_softmax")


def test_ch10_context_mistakes_in_the_formula(capsys):
    assert_fails_with(ch12.bahdanau_context, lambda *a: _context(*a, tanh=False), capsys, "少了 tanh")
    assert_fails_with(ch12.bahdanau_context, lambda *a: _context(*a, renormalise=False), capsys,
                      "权重之和应当是 1")
    assert_fails_with(ch12.bahdanau_context, lambda *a: _context(*a, dim=0), capsys, "softmax 沿错了轴")


def test_ch10_context_returns_only_the_context(capsys):
    assert_fails_with(ch12.bahdanau_context, lambda *a: _context(*a)[0], capsys, "二元组 (context, weights)")


def test_ch10_context_exception(capsys):
    def no_transpose(query, enc_outputs, lens, W_q, W_k, w_v):
        return _context(query, enc_outputs, lens, W_q.T, W_k, w_v)                 # query @ W_q: wrong shapes
    with pytest.raises(RuntimeError) as error:
        no_transpose(*ch12._context_cases()[0].args)
    assert_error_reported(ch12.bahdanau_context, no_transpose, capsys, "RuntimeError", str(error.value))


# ------------------------------------------------------------------------------ 练习 13.7

def test_ch11_reference_agrees_with_the_chapters_multihead_attention():
    for case in ch13._cases():
        queries, keys, values, lens, params, num_heads = case.args
        mha = d2l.MultiHeadAttention(keys.shape[-1], queries.shape[-1], values.shape[-1], params[0].shape[1],
                                     num_heads, dropout=0).eval()
        with torch.no_grad():
            for layer, W in zip((mha.W_q, mha.W_k, mha.W_v, mha.W_o), params):
                layer.weight.copy_(W.T)
            assert torch.allclose(case.expected, mha(queries, keys, values, lens), atol=1e-5)


def _by_hand(queries, keys, values, valid_lens, params, num_heads, *, scale_by="p", repeat="interleave",
             permute=True, use_W_o=True):
    """A student's own fold, written out with reshape/permute; one mistake at a time."""
    W_q, W_k, W_v, W_o = params
    batch = queries.shape[0]
    num_hiddens = W_q.shape[1]
    p = num_hiddens // num_heads

    def fold(X):
        if not permute:
            return X.reshape(batch * num_heads, X.shape[1], p)
        return X.reshape(batch, X.shape[1], num_heads, p).permute(0, 2, 1, 3).reshape(batch * num_heads, -1, p)

    Q, K, V = fold(queries @ W_q), fold(keys @ W_k), fold(values @ W_v)
    scores = Q @ K.transpose(1, 2) / math.sqrt(p if scale_by == "p" else num_hiddens)
    if valid_lens is not None:
        if repeat == "interleave":
            valid_lens = valid_lens.repeat_interleave(num_heads, dim=0)
        else:
            valid_lens = valid_lens.repeat(num_heads) if valid_lens.dim() == 1 else valid_lens.repeat(num_heads, 1)
    out = d2l.masked_softmax(scores, valid_lens) @ V                              # (batch*h, n_q, p)
    if permute:
        out = out.reshape(batch, num_heads, -1, p).permute(0, 2, 1, 3)
    out = out.reshape(batch, -1, num_hiddens)
    return out @ W_o if use_W_o else out


def test_ch11_own_reshape_version_passes(capsys):
    ok, out = verdict(ch13.multihead_attention, _by_hand, capsys)
    assert ok and out.startswith("✓")


def test_ch11_scaled_by_num_hiddens(capsys):
    assert_fails_with(ch13.multihead_attention, lambda *a: _by_hand(*a, scale_by="num_hiddens"), capsys,
                      "除以了 √num_hiddens", "应当除以 √p")


def test_ch11_repeat_instead_of_repeat_interleave(capsys):
    out = assert_fails_with(ch13.multihead_attention, lambda *a: _by_hand(*a, repeat="repeat"), capsys,
                            "repeat_interleave")
    assert "第 1 个检查" in out                                                  # lengths [2, 4] differ


def test_ch11_fold_without_permute_and_forgotten_W_o(capsys):
    assert_fails_with(ch13.multihead_attention, lambda *a: _by_hand(*a, permute=False), capsys, "少了 permute")
    assert_fails_with(ch13.multihead_attention, lambda *a: _by_hand(*a, use_W_o=False), capsys, "还要乘 W_o")


def test_ch11_interleaved_head_columns(capsys):
    def interleaved(queries, keys, values, valid_lens, params, num_heads):
        W_q, W_k, W_v, W_o = params
        batch, num_hiddens = queries.shape[0], W_q.shape[1]
        p = num_hiddens // num_heads

        def fold(X):                                                             # head i gets columns i, i+h, ...
            return X.reshape(batch, X.shape[1], p, num_heads).permute(0, 3, 1, 2).reshape(batch * num_heads, -1, p)

        lens = None if valid_lens is None else valid_lens.repeat_interleave(num_heads, dim=0)
        out = d2l.DotProductAttention(0)(fold(queries @ W_q), fold(keys @ W_k), fold(values @ W_v), lens)
        out = out.reshape(batch, num_heads, -1, p).permute(0, 2, 3, 1).reshape(batch, -1, num_hiddens)
        return out @ W_o
    assert_fails_with(ch13.multihead_attention, interleaved, capsys, "头的列分错了")


def test_ch11_exception(capsys):
    def transposed_weights(queries, keys, values, valid_lens, params, num_heads):
        return _by_hand(queries, keys, values, valid_lens, tuple(W.T for W in params), num_heads)
    with pytest.raises(RuntimeError) as error:
        transposed_weights(*ch13._cases()[0].args)
    assert_error_reported(ch13.multihead_attention, transposed_weights, capsys, "RuntimeError", str(error.value))


# ------------------------------------------------------------------------------ 练习 14.7

def test_ch12_reference_agrees_with_torch_layer_norm():
    for case in ch14._cases():
        X, gamma, beta = case.args
        eps = case.kwargs.get("eps", 1e-5)
        assert torch.allclose(case.expected, F.layer_norm(X, X.shape[-1:], gamma, beta, eps), atol=1e-5)


def test_ch12_unbiased_variance(capsys):
    def unbiased(X, gamma, beta, eps=1e-5):
        return (X - X.mean(-1, keepdim=True)) / torch.sqrt(X.var(-1, keepdim=True) + eps) * gamma + beta
    assert_fails_with(ch14.layer_norm, unbiased, capsys, "无偏估计", "unbiased=False")


def test_ch12_eps_outside_the_square_root(capsys):
    def eps_outside(X, gamma, beta, eps=1e-5):
        std = X.var(-1, unbiased=False, keepdim=True).sqrt()
        return (X - X.mean(-1, keepdim=True)) / (std + eps) * gamma + beta
    out = assert_fails_with(ch14.layer_norm, eps_outside, capsys, "eps 放错了地方")
    assert "第 2 个检查" in out                                                  # the near-constant position


def test_ch12_batch_norm_direction(capsys):
    def batch_stats(X, gamma, beta, eps=1e-5):
        mean = X.mean(dim=(0, 1), keepdim=True)
        var = X.var(dim=(0, 1), unbiased=False, keepdim=True)
        return (X - mean) / torch.sqrt(var + eps) * gamma + beta
    assert_fails_with(ch14.layer_norm, batch_stats, capsys, "批量规范化")


def test_ch12_affine_mistakes_and_ignored_eps(capsys):
    def no_affine(X, gamma, beta, eps=1e-5):
        return (X - X.mean(-1, keepdim=True)) / torch.sqrt(X.var(-1, unbiased=False, keepdim=True) + eps)

    def fixed_eps(X, gamma, beta, eps=1e-5):
        return (X - X.mean(-1, keepdim=True)) / torch.sqrt(X.var(-1, unbiased=False, keepdim=True) + 1e-5) * gamma + beta
    assert_fails_with(ch14.layer_norm, no_affine, capsys, "少了仿射变换")
    out = assert_fails_with(ch14.layer_norm, fixed_eps, capsys, "没有用传进来的 eps")
    assert "第 3 个检查" in out


def test_ch12_writing_into_X(capsys):
    def in_place(X, gamma, beta, eps=1e-5):
        X -= X.mean(-1, keepdim=True)
        return X / torch.sqrt((X ** 2).mean(-1, keepdim=True) + eps) * gamma + beta
    assert_fails_with(ch14.layer_norm, in_place, capsys, "原地修改")


def test_ch12_exception_on_two_dimensional_input(capsys):
    def third_axis(X, gamma, beta, eps=1e-5):                                     # dim=2 instead of dim=-1
        mean, var = X.mean(dim=2, keepdim=True), X.var(dim=2, unbiased=False, keepdim=True)
        return (X - mean) / torch.sqrt(var + eps) * gamma + beta
    with pytest.raises(IndexError) as error:
        third_axis(*ch14._cases()[2].args)
    out = assert_error_reported(ch14.layer_norm, third_axis, capsys, "IndexError", str(error.value))
    assert "第 3 个检查" in out
