"""Checks for the exercises of chapter 13 (多头注意力、自注意力与位置编码).

* :func:`multihead_attention` — 练习 13.7: multi-head attention written out with the shape conventions.

The expected answers are computed here, independently of the student's code and of ``d2l_local``:
multi-head attention straight from its definition (one head at a time, one sentence at a time),
in float64, on small seeded CPU tensors.
"""
from __future__ import annotations

import math

import torch

from .core import Case, check_function, matches

__all__ = ["multihead_attention"]


# ---------------------------------------------------------------------------------------------------
# 练习 13.7 按尺寸约定手写多头注意力
# ---------------------------------------------------------------------------------------------------

def _same(got, alternative):
    """True when `got` is the answer of a known wrong implementation (within a looser tolerance than the
    check itself: the wrong variants are computed in float64, the student's code runs in float32)."""
    return isinstance(got, torch.Tensor) and matches(got, alternative, atol=1e-4, rtol=1e-3)


def _per_query_lens(valid_lens, batch_size, num_queries, num_keys):
    """(batch, num_queries) long tensor: how many keys each query may see."""
    if valid_lens is None:
        return torch.full((batch_size, num_queries), num_keys)
    if valid_lens.dim() == 1:
        return valid_lens[:, None].expand(batch_size, num_queries)
    return valid_lens


def _reference(queries, keys, values, valid_lens, params, num_heads):
    """By the definition: head i uses columns i*p … (i+1)*p - 1 of each projection."""
    W_q, W_k, W_v, W_o = (W.double() for W in params)
    Q, K, V = queries.double() @ W_q, keys.double() @ W_k, values.double() @ W_v
    batch_size, num_queries, num_hiddens = Q.shape
    p = num_hiddens // num_heads
    lens = _per_query_lens(valid_lens, batch_size, num_queries, K.shape[1])
    out = torch.zeros(batch_size, num_queries, num_hiddens, dtype=torch.float64)
    for b in range(batch_size):
        for i in range(num_heads):
            cols = slice(i * p, (i + 1) * p)
            for t in range(num_queries):
                n = int(lens[b, t])
                scores = K[b, :n, cols] @ Q[b, t, cols] / math.sqrt(p)            # (n,)
                out[b, t, cols] = torch.softmax(scores, dim=0) @ V[b, :n, cols]
    return (out @ W_o).float()


def _variant(queries, keys, values, valid_lens, params, num_heads, *, scale=None, repeat=False,
             fold='right', mask=True, use_W_o=True, fill=float("-inf")):
    """Vectorised multi-head attention with one typical mistake switched on.

    scale: divide the scores by this instead of sqrt(p); repeat: copy valid_lens with .repeat instead of
    repeat_interleave; fold: 'right' (reshape, permute, reshape), 'no_permute' (reshape straight to
    (batch*h, n, p)) or 'interleaved' (head i gets columns i, i+h, i+2h, ...); fill: the score
    given to masked keys (-1e6, d2l's original choice, spreads a query with no valid key evenly over
    all keys instead of giving it weight 0)."""
    W_q, W_k, W_v, W_o = (W.double() for W in params)
    Q, K, V = queries.double() @ W_q, keys.double() @ W_k, values.double() @ W_v
    batch_size, num_queries, num_hiddens = Q.shape
    h, p = num_heads, num_hiddens // num_heads

    def fold_heads(X):
        n = X.shape[1]
        if fold == 'no_permute':
            return X.reshape(batch_size * h, n, p)
        if fold == 'interleaved':
            return X.reshape(batch_size, n, p, h).permute(0, 3, 1, 2).reshape(batch_size * h, n, p)
        return X.reshape(batch_size, n, h, p).permute(0, 2, 1, 3).reshape(batch_size * h, n, p)

    def unfold_heads(X):
        n = X.shape[1]
        if fold == 'no_permute':
            return X.reshape(batch_size, n, num_hiddens)
        if fold == 'interleaved':
            return X.reshape(batch_size, h, n, p).permute(0, 2, 3, 1).reshape(batch_size, n, num_hiddens)
        return X.reshape(batch_size, h, n, p).permute(0, 2, 1, 3).reshape(batch_size, n, num_hiddens)

    Qf, Kf, Vf = fold_heads(Q), fold_heads(K), fold_heads(V)
    scores = Qf @ Kf.transpose(1, 2) / (math.sqrt(p) if scale is None else scale)
    if mask and valid_lens is not None:
        lens = _per_query_lens(valid_lens, batch_size, num_queries, K.shape[1])
        lens = lens.repeat(h, 1) if repeat else lens.repeat_interleave(h, dim=0)   # (batch*h, n_q)
        keep = torch.arange(K.shape[1])[None, None, :] < lens[:, :, None]
        scores = scores.masked_fill(~keep, fill)
    out = unfold_heads(torch.softmax(scores, dim=-1).nan_to_num(0.0) @ Vf)
    return (out @ W_o if use_W_o else out).float()


def _cases():
    gen = torch.Generator().manual_seed(11)
    specs = [  # batch, n_q, n_kv, query_size, key_size, value_size, num_hiddens, num_heads, valid_lens
        (2, 3, 4, 5, 6, 7, 8, 2, torch.tensor([2, 4])),
        (2, 3, 5, 4, 4, 4, 8, 4, torch.tensor([[1, 0, 3], [5, 1, 4]])),   # a query with no valid key
        (3, 2, 3, 6, 5, 4, 6, 3, None),
    ]
    cases = []
    for batch, n_q, n_kv, q_size, k_size, v_size, num_hiddens, num_heads, lens in specs:
        queries = torch.randn(batch, n_q, q_size, generator=gen)
        keys = torch.randn(batch, n_kv, k_size, generator=gen)
        values = torch.randn(batch, n_kv, v_size, generator=gen)
        params = tuple(torch.randn(rows, num_hiddens, generator=gen) / math.sqrt(rows)
                       for rows in (q_size, k_size, v_size, num_hiddens))
        args = (queries, keys, values, lens, params, num_heads)
        lens_text = 'None' if lens is None else str(lens.tolist())
        cases.append(Case(args=args, expected=_reference(*args),
                          description=f"queries {(batch, n_q, q_size)}，keys {(batch, n_kv, k_size)}，values "
                                      f"{(batch, n_kv, v_size)}，num_hiddens={num_hiddens}，num_heads={num_heads}，"
                                      f"valid_lens={lens_text}"))
    return cases


def _diagnose(got, case):
    queries, keys, values, valid_lens, params, num_heads = case.args
    num_hiddens = params[0].shape[1]
    p = num_hiddens // num_heads
    checks = [
        (dict(scale=math.sqrt(num_hiddens)),
         f"分数除以了 √num_hiddens：每个头的点积只有 p = num_hiddens / num_heads = {p} 维，应当除以 √p。"),
        (dict(scale=1.0), "分数没有缩放：每个头的分数是 q·k / √p，p = num_hiddens / num_heads。"),
        (dict(repeat=True),
         "有效长度的复制顺序不对：折叠后第 b·h 到 b·h + h - 1 个“样本”都来自第 b 个句子，要用 "
         "torch.repeat_interleave(valid_lens, num_heads, dim=0)，而不是 valid_lens.repeat(...)。"),
        (dict(fold='no_permute'),
         "把头折进批量维时少了 permute：直接 reshape 成 (batch*h, n, p) 会把同一个位置的 num_hiddens 个数"
         "切开分给不同的“样本”。要先 reshape 成 (batch, n, h, p)，permute(0, 2, 1, 3)，再 reshape（d2l.transpose_qkv），"
         "算完用 d2l.transpose_output 变回来。"),
        (dict(fold='interleaved'),
         "头的列分错了：第 i 个头是投影结果的第 i·p 到 (i+1)·p - 1 列（连续的一段），"
         "应当 reshape 成 (batch, n, num_heads, p)，而不是 (batch, n, p, num_heads)。"),
        (dict(use_W_o=False), "各头拼接之后还要乘 W_o：return 拼接结果 @ W_o。"),
        (dict(mask=False), "结果与不掩蔽的注意力相同：valid_lens 没有起作用（折叠后每个“样本”都要有自己的有效长度）。"),
        (dict(fill=-1e6),
         "有效长度为 0 的查询一个键也不该看：按 d2l.masked_softmax 的约定，它的权重全为 0，输出是零向量。"
         "把被掩蔽的分数换成 -1e6 再 softmax，会让这样的查询把权重平均分给所有的键（d2l 原来的 masked_softmax "
         "就是这样）。用 d2l.masked_softmax 或 d2l.DotProductAttention。"),
    ]
    for kwargs, message in checks:
        if kwargs.get('repeat') and (valid_lens is None or num_heads == 1):
            continue
        if _same(got, _variant(*case.args, **kwargs)):
            return message
    return None


def multihead_attention(func) -> bool:
    """练习 13.7：检查 ``multihead_attention(queries, keys, values, valid_lens, params, num_heads)``。

    params = (W_q, W_k, W_v, W_o)，投影是 ``queries @ W_q``（W_q 形状 (query_size, num_hiddens)，W_o 形状
    (num_hiddens, num_hiddens)）；valid_lens 是 None、(batch,) 或 (batch, num_queries)，规则同
    d2l.masked_softmax（有效长度为 0 的查询输出零向量）；返回 (batch, num_queries, num_hiddens)。三组输入
    （一维、二维有效长度和不掩蔽；二维的那组里有一个有效长度为 0 的查询；1 到 4 个头）与逐头、逐句计算的
    参考答案比较；认得出除以 √num_hiddens、没有缩放、用 repeat 复制有效长度、折叠时少了 permute、
    头的列分错、忘了 W_o、没有掩蔽、用 -1e6 掩蔽（有效长度为 0 时）这几种错误，并检查输入没有被改写。
    """
    return check_function(
        "练习 13.7 按尺寸约定手写多头注意力", func, _cases(),
        hint=("投影 Q = queries @ W_q（K、V 同理）；d2l.transpose_qkv 把头折进批量维；有效长度用 "
              "torch.repeat_interleave(valid_lens, num_heads, dim=0) 复制；d2l.DotProductAttention(dropout=0) "
              "在每个头的 p 维里做缩放点积注意力；d2l.transpose_output 拼回各头，最后乘 W_o。"),
        diagnose=_diagnose)
