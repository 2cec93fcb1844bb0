"""Checks for the exercises of chapter 12 (Bahdanau 注意力).

* :func:`last_valid_outputs` — 练习 12.7: the encoder output at each sentence's last valid position;
* :func:`bahdanau_context` — 练习 12.8: one step of additive attention from its parameter matrices.

The expected answers are computed here, independently of the student's code and of ``d2l_local``:
explicit loops over the sentences of a batch, in float64, on small seeded CPU tensors.
"""
from __future__ import annotations

import torch

from .core import Case, check_function, matches

__all__ = ["last_valid_outputs", "bahdanau_context"]


def _same(got, alternative):
    """True when `got` is the answer of a known wrong implementation (within a looser tolerance than the
    check itself: the wrong variants are computed in float64, the student's code runs in float32)."""
    return matches(got, alternative, atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------------------------------------------
# 练习 12.7 取出每个句子最后一个有效位置的编码器输出
# ---------------------------------------------------------------------------------------------------

def _last_valid_reference(enc_outputs, valid_lens):
    return torch.stack([enc_outputs[int(n) - 1, b] for b, n in enumerate(valid_lens)])


def _last_valid_cases():
    gen = torch.Generator().manual_seed(10)
    cases = []
    for num_steps, batch_size, num_hiddens, lens in ((6, 4, 3, [3, 1, 4, 2]), (5, 3, 4, [5, 2, 3]),
                                                     (7, 4, 3, [1, 7, 4, 6])):
        outputs = torch.randn(num_steps, batch_size, num_hiddens, generator=gen)
        valid_lens = torch.tensor(lens)
        cases.append(Case(args=(outputs, valid_lens), expected=_last_valid_reference(outputs, valid_lens),
                          description=f"enc_outputs 形状 {(num_steps, batch_size, num_hiddens)}，"
                                      f"valid_lens={lens}"))
    return cases


def _last_valid_diagnose(got, case):
    outputs, valid_lens = case.args
    num_steps, batch_size, _ = outputs.shape
    batch = torch.arange(batch_size)
    if _same(got, outputs[-1]):
        return ("你取的是最后一个时间步 enc_outputs[-1]：对较短的句子，那是 <pad> 上的输出。"
                "要按每句的有效长度取第 valid_lens[b] - 1 步。")
    if bool((valid_lens < num_steps).all()) and _same(got, outputs[valid_lens, batch]):
        return ("差了一步：有效长度为 n 的句子，最后一个有效位置的下标是 n - 1（从 0 数起），"
                "即 enc_outputs[valid_lens - 1, torch.arange(batch_size)]。")
    if _same(got, outputs[0]):
        return "你取的是第 0 个时间步：要取每句最后一个有效位置，第 valid_lens[b] - 1 步。"
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (batch_size, batch_size, outputs.shape[2]):
        return ("enc_outputs[valid_lens - 1] 为每个长度取出了整个批量（形状 (batch_size, batch_size, num_hiddens)）。"
                "还要用第二个下标选句子，两个下标张量按位置配对：enc_outputs[valid_lens - 1, torch.arange(batch_size)]。")
    if bool((valid_lens <= batch_size).all()) and batch_size <= num_steps \
            and _same(got, outputs[batch, valid_lens - 1]):
        return ("两个下标的顺序反了：enc_outputs 是时间步优先的 (num_steps, batch_size, num_hiddens)，"
                "第一个下标选时间步，第二个选句子。")
    return None


def last_valid_outputs(func) -> bool:
    """练习 12.7：检查 ``last_valid_outputs(enc_outputs, valid_lens)``。

    enc_outputs 是编码器时间步优先的输出 (num_steps, batch_size, num_hiddens)，valid_lens (batch_size,)
    （每个都在 1 … num_steps 之间）-> (batch_size, num_hiddens)：第 b 句在第 valid_lens[b] - 1 步的输出。
    认得出取最后一步（填充）、差一步、取第 0 步、下标顺序反了这几种错误。
    """
    return check_function(
        "练习 12.7 取出每个句子最后一个有效位置的编码器输出", func, _last_valid_cases(),
        hint=("第 b 句的答案是 enc_outputs[valid_lens[b] - 1, b]；一次取出整批可以用两个下标张量配对："
              "enc_outputs[valid_lens - 1, torch.arange(batch_size)]。"),
        diagnose=_last_valid_diagnose)


# ---------------------------------------------------------------------------------------------------
# 练习 12.8 手算 Bahdanau 注意力的上下文
# ---------------------------------------------------------------------------------------------------

def _context_reference(query, enc_outputs, enc_valid_lens, W_q, W_k, w_v):
    """One sentence at a time: e_t = w_v·tanh(W_q s + W_k h_t) over the valid positions only."""
    batch_size, num_src_steps, key_size = enc_outputs.shape
    contexts = torch.zeros(batch_size, key_size, dtype=torch.float64)
    weights = torch.zeros(batch_size, num_src_steps, dtype=torch.float64)
    for b in range(batch_size):
        n = int(enc_valid_lens[b])
        h = enc_outputs[b, :n].double()                                        # (n, key_size)
        scores = torch.tanh(W_q.double() @ query[b].double() + h @ W_k.double().T) @ w_v.double()  # (n,)
        alpha = torch.softmax(scores, dim=0)
        weights[b, :n] = alpha
        contexts[b] = alpha @ h
    return contexts.float(), weights.float()


def _context_variant(query, enc_outputs, enc_valid_lens, W_q, W_k, w_v, *, mask=True, tanh=True,
                     softmax_dim=-1, normalise=True, use_keys=True):
    """The vectorised computation with one typical mistake switched on (use_keys=False: the scores see
    only the query, as in the PyTorch tutorial's AttnDecoderRNN, pytorch/tutorials#1098)."""
    q, h = query.double(), enc_outputs.double()
    keys = h @ W_k.double().T if use_keys else torch.zeros(1, 1, W_k.shape[0], dtype=torch.float64)
    features = ((q @ W_q.double().T)[:, None, :] + keys).expand(-1, h.shape[1], -1)  # (batch, steps, hidden)
    scores = (torch.tanh(features) if tanh else features) @ w_v.double()       # (batch, steps)
    keep = torch.arange(h.shape[1])[None, :] < enc_valid_lens[:, None]
    if mask:
        scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(scores, dim=softmax_dim) if normalise else scores.masked_fill(~keep, 0.0)
    weights = weights.nan_to_num(0.0)
    return (weights[:, :, None] * h).sum(dim=1).float(), weights.float()


def _context_cases():
    gen = torch.Generator().manual_seed(10)
    cases = []
    for batch_size, steps, query_size, key_size, hidden, lens in ((2, 4, 3, 4, 5, [2, 4]),
                                                                    (3, 6, 5, 3, 4, [1, 6, 3])):
        query = torch.randn(batch_size, query_size, generator=gen)
        enc_outputs = torch.randn(batch_size, steps, key_size, generator=gen)
        valid = torch.tensor(lens)
        enc_outputs[torch.arange(steps)[None, :] >= valid[:, None]] += 3.0    # 填充位置上的输出与众不同
        W_q = torch.randn(hidden, query_size, generator=gen)
        W_k = torch.randn(hidden, key_size, generator=gen)
        w_v = torch.randn(hidden, generator=gen)
        args = (query, enc_outputs, valid, W_q, W_k, w_v)
        cases.append(Case(args=args, expected=_context_reference(*args),
                          description=f"query 形状 {(batch_size, query_size)}，enc_outputs 形状 "
                                      f"{(batch_size, steps, key_size)}，enc_valid_lens={lens}，"
                                      f"W_q {tuple(W_q.shape)}，W_k {tuple(W_k.shape)}，w_v {tuple(w_v.shape)}"))
    return cases


def _context_diagnose(got, case):
    if not (isinstance(got, (tuple, list)) and len(got) == 2
            and all(isinstance(t, torch.Tensor) for t in got)):
        return "要返回一个二元组 (context, weights)：context (batch_size, key_size)，weights (batch_size, num_src_steps)。"
    for kwargs, message in (
            (dict(tanh=False), "分数里少了 tanh：e_t = w_vᵀ tanh(W_q s + W_k h_t)。"),
            (dict(softmax_dim=0), "softmax 沿错了轴：每个句子的权重要在它自己的源位置上归一化（dim=-1），不是在批量上。"),
            (dict(normalise=False), "上下文是用没有归一化的分数加权的：先 softmax 得到权重，再对 enc_outputs 加权求和。"),
            (dict(use_keys=False), "分数里没有用到编码器的输出：每个有效位置的分数都一样，权重只是平均分配，"
                                   "注意力什么也没有“注意”。分数是 w_vᵀ tanh(W_q s + W_k h_t)，h_t 是 enc_outputs 的第 t 个位置。")):
        if _same(got, _context_variant(*case.args, **kwargs)):
            return message
    context, weights = got
    query, enc_outputs, valid, *_ = case.args
    steps = enc_outputs.shape[1]
    if tuple(weights.shape) == (len(valid), steps):
        pad = torch.arange(steps)[None, :] >= valid[:, None]
        if bool((weights.detach()[pad].abs() > 1e-6).any()):
            return ("填充位置分到了权重：只有前 enc_valid_lens[b] 个位置是源句的内容。"
                    "打分后用 d2l.masked_softmax（注意它要求三维的分数：scores.unsqueeze(1)）或把填充位置"
                    "的分数换成 -inf 再 softmax。")
        sums = weights.detach().double().sum(dim=-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            return ("每个句子的权重之和应当是 1，你的是 "
                    f"{[round(v, 4) for v in sums.tolist()]}：先掩蔽填充位置、再 softmax，"
                    "不要 softmax 之后才把填充位置置 0（那样有效位置的权重就不再归一）。")
    if _same(context, _context_variant(*case.args)[0]):
        return "context 对了，weights 不对：返回的应当是 softmax 之后的注意力权重（填充位置为 0）。"
    return None


def bahdanau_context(func) -> bool:
    """练习 12.8：检查 ``bahdanau_context(query, enc_outputs, enc_valid_lens, W_q, W_k, w_v)``。

    query (batch_size, query_size) 是解码器上一步的顶层隐状态，enc_outputs (batch_size, num_src_steps,
    key_size) 同时是键和值，enc_valid_lens (batch_size,)，W_q (num_hiddens, query_size)，W_k (num_hiddens, key_size)，w_v (num_hiddens,)
    -> (context (batch_size, key_size), weights (batch_size, num_src_steps))。在两组随机输入上与逐句计算的
    参考答案比较（填充位置上的编码器输出特意与有效位置不同）；认得出没有掩蔽填充、少了 tanh、softmax 轴不对、
    用未归一化的分数加权这几种错误，并检查输入没有被改写。
    """
    return check_function(
        "练习 12.8 手算 Bahdanau 注意力的上下文", func, _context_cases(),
        hint=("分数 e = tanh(query @ W_q.T 插入一维后 + enc_outputs @ W_k.T) @ w_v，形状 (batch_size, num_src_steps)；"
              "掩蔽填充后沿 dim=-1 做 softmax 得到权重；context = (weights.unsqueeze(-1) * enc_outputs).sum(dim=1)。"),
        diagnose=_context_diagnose)
