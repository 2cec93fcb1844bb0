"""Wrong (and other right) answers to `multihead_attention`. Keyed by check name; see exercise_support."""
from __future__ import annotations

import math

import torch

import d2l_local as d2l
from exercise_support import right, wrong


def _by_hand(queries, keys, values, valid_lens, params, num_heads, *, scale_by="p", repeat="interleave",
             permute=True, use_W_o=True, fill=None):
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
    if fill is None:
        weights = d2l.masked_softmax(scores, valid_lens)
    else:                                                     # d2l's original masked_softmax
        lens = torch.full(scores.shape[:2], scores.shape[-1]) if valid_lens is None else \
            (valid_lens[:, None].expand(scores.shape[:2]) if valid_lens.dim() == 1 else valid_lens)
        keep = torch.arange(scores.shape[-1])[None, None, :] < lens[:, :, None]
        weights = torch.softmax(scores.masked_fill(~keep, fill), dim=-1)
    out = weights @ V                                         # (batch*h, n_q, p)
    if permute:
        out = out.reshape(batch, num_heads, -1, p).permute(0, 2, 1, 3)
    out = out.reshape(batch, -1, num_hiddens)
    return out @ W_o if use_W_o else out


def scaled_by_num_hiddens(*args):
    return _by_hand(*args, scale_by="num_hiddens")


def repeat_instead_of_repeat_interleave(*args):
    return _by_hand(*args, repeat="repeat")


def fold_without_permute(*args):
    return _by_hand(*args, permute=False)


def forgets_W_o(*args):
    return _by_hand(*args, use_W_o=False)


def masks_with_minus_a_million(*args):
    return _by_hand(*args, fill=-1e6)


def interleaved_head_columns(queries, keys, values, valid_lens, params, num_heads):
    W_q, W_k, W_v, W_o = params
    batch, num_hiddens = queries.shape[0], W_q.shape[1]
    p = num_hiddens // num_heads

    def fold(X):                                                             # head i gets columns i, i+h, ...
        return X.reshape(batch, X.shape[1], p, num_heads).permute(0, 3, 1, 2).reshape(batch * num_heads, -1, p)

    lens = None if valid_lens is None else valid_lens.repeat_interleave(num_heads, dim=0)
    out = d2l.DotProductAttention(0)(fold(queries @ W_q), fold(keys @ W_k), fold(values @ W_v), lens)
    out = out.reshape(batch, num_heads, -1, p).permute(0, 2, 3, 1).reshape(batch, -1, num_hiddens)
    return out @ W_o


def transposed_weights(queries, keys, values, valid_lens, params, num_heads):
    return _by_hand(queries, keys, values, valid_lens, tuple(W.T for W in params), num_heads)


def lengths_not_copied_per_head(queries, keys, values, valid_lens, params, num_heads):
    W_q, W_k, W_v, W_o = params
    Q, K, V = (d2l.transpose_qkv(X @ W, num_heads) for X, W in ((queries, W_q), (keys, W_k), (values, W_v)))
    output = d2l.DotProductAttention(dropout=0)(Q, K, V, valid_lens)
    return d2l.transpose_output(output, num_heads) @ W_o


def one_head_only(queries, keys, values, valid_lens, params, num_heads):
    return _by_hand(queries, keys, values, valid_lens, params, 1)


def not_scaled(queries, keys, values, valid_lens, params, num_heads):
    W_q = params[0]
    p = W_q.shape[1] // num_heads
    return _by_hand(queries * math.sqrt(p), keys, values, valid_lens, params, num_heads)


def by_hand_version(*args):
    return _by_hand(*args)


def with_the_book_modules(queries, keys, values, valid_lens, params, num_heads):
    W_q, W_k, W_v, W_o = params
    Q, K, V = (d2l.transpose_qkv(X @ W, num_heads) for X, W in ((queries, W_q), (keys, W_k), (values, W_v)))
    lens = None if valid_lens is None else torch.repeat_interleave(valid_lens, num_heads, dim=0)
    return d2l.transpose_output(d2l.DotProductAttention(dropout=0)(Q, K, V, lens), num_heads) @ W_o


WRONG = {
    "multihead_attention": [
        wrong(scaled_by_num_hiddens, "除以了 √num_hiddens", "应当除以 √p"),
        wrong(repeat_instead_of_repeat_interleave, "repeat_interleave", "第 1 个检查"),
        wrong(fold_without_permute, "少了 permute"),
        wrong(forgets_W_o, "还要乘 W_o"),
        wrong(interleaved_head_columns, "头的列分错了"),
        wrong(transposed_weights, "RuntimeError", "在你的代码", "提示："),
        wrong(masks_with_minus_a_million, "第 2 个检查", "有效长度为 0 的查询"),
        wrong(lengths_not_copied_per_head, "ValueError", "valid_lens 的形状应为"),
        wrong(one_head_only, "第 1 个检查"),
        wrong(not_scaled, "没有缩放"),
    ],
}

RIGHT = {
    "multihead_attention": [right(by_hand_version), right(with_the_book_modules)],
}
