"""Checks for the exercises of chapter 6 (掩蔽与损失).

* :func:`smoothed_masked_ce` — 练习 6.2（b）: the masked loss with label smoothing;
* :func:`masked_softmax` — 练习 6.3: softmax over the keys with a valid length per example.

Expected answers come from small reference implementations in this module written with explicit
Python loops over the valid positions, on seeded CPU tensors; they never call the student's code.
The typical mistakes of the chapter (averaging over padding, dividing by ``num_steps``, masking the
wrong axis, filling with 0 instead of a very negative score, ``repeat`` instead of
``repeat_interleave``, writing into the input) are recognised from the wrong result and named in
the hint.
"""
from __future__ import annotations

import math

import torch

from .core import Case, check_function
from .core import matches as _matches

__all__ = ['smoothed_masked_ce', 'masked_softmax']


# ---------------------------------------------------------------------------------------------------
# 练习 6.2（b）带标签平滑的掩蔽损失
# ---------------------------------------------------------------------------------------------------

def _reference_smoothed_ce(pred, label, valid_len, epsilon):
    """Loop over the valid tokens: (1-eps)(-log p_y) + eps * mean_k(-log p_k), averaged."""
    batch_size, num_steps, vocab_size = pred.shape
    total, count = 0.0, 0
    for i in range(batch_size):
        for t in range(min(int(valid_len[i]), num_steps)):
            logits = [float(v) for v in pred[i, t]]
            top = max(logits)
            log_z = top + math.log(sum(math.exp(v - top) for v in logits))
            log_p = [v - log_z for v in logits]
            nll = -log_p[int(label[i, t])]
            uniform = -sum(log_p) / vocab_size
            total += (1 - epsilon) * nll + epsilon * uniform
            count += 1
    return total / count if count else 0.0


def _token_losses(pred, label, epsilon, smoothing):
    """(batch_size, num_steps) token losses, smoothed the right way or in a typical wrong way."""
    log_p = torch.log_softmax(pred.double(), dim=-1)
    nll = -log_p.gather(-1, label[..., None]).squeeze(-1)
    uniform = -log_p.mean(dim=-1)
    if smoothing == 'standard':
        return (1 - epsilon) * nll + epsilon * uniform
    if smoothing == 'others':  # epsilon spread over the V-1 wrong classes only
        vocab_size = pred.shape[-1]
        return (1 - epsilon) * nll + epsilon * (-log_p.sum(dim=-1) - nll) / (vocab_size - 1)
    if smoothing == 'unscaled':  # forgot the factor 1-epsilon
        return nll + epsilon * uniform
    raise ValueError(smoothing)


def _smoothed_ce_mistakes(pred, label, valid_len, epsilon):
    """(value, hint) for the typical wrong answers of exercise 5.2(b)."""
    batch_size, num_steps, _ = pred.shape
    mask = (torch.arange(num_steps)[None, :] < valid_len[:, None]).double()
    tokens = _token_losses(pred, label, epsilon, 'standard')
    lengths = mask.sum(dim=1)
    per_sequence = [(tokens[i] * mask[i]).sum() / lengths[i] for i in range(batch_size) if lengths[i] > 0]
    mistakes = [
        (tokens.mean(), '你把填充位置也算进了平均（分母是 batch_size * num_steps）。先用 sequence_mask 把'
                        '填充位置的损失换成 0，再除以有效词元的个数。'),
        (((tokens * mask).sum(dim=1) / num_steps).mean(),
         '这是 d2l 版本的做法：每个序列的有效损失之和除以 num_steps。分母应是整批有效词元的总数。'),
        (_token_losses(pred, label, epsilon, 'others').mul(mask).sum() / mask.sum().clamp(min=1),
         '你把 epsilon 只分给了 V-1 个错误的词元。本书（和 PyTorch 的 label_smoothing）的约定是把 epsilon '
         '平均分给整个词表，包括正确的词元：目标分布是 (1-epsilon)·one_hot + epsilon/V。'),
        (_token_losses(pred, label, epsilon, 'unscaled').mul(mask).sum() / mask.sum().clamp(min=1),
         '正确词元那一项少了因子 (1 - epsilon)：每个词元的损失是 (1-epsilon)·(-log p_y) + '
         'epsilon·mean_k(-log p_k)。'),
        ((tokens * mask).sum() / valid_len.double().sum(),
         '有效长度大于 num_steps 时整行有效，但这一行只有 num_steps 个词元：分母要数掩码里的 1'
         '（mask.sum()），不能直接用 valid_len.sum()。'),
    ]
    if per_sequence:
        mistakes.insert(2, (torch.stack(per_sequence).mean(),
                            '你先对每个序列求平均，再对序列求平均（长句和短句的权重一样）。本章的损失是'
                            '所有有效词元的损失之和除以有效词元的总数（练习 4 讨论了两者的区别）。'))
    return mistakes


def _diagnose_smoothed_ce(got, case):
    if isinstance(got, torch.Tensor) and got.numel() > 1:
        return (f'应返回一个数（整批有效词元上的平均损失），你返回了形状为 {tuple(got.shape)} 的张量。'
                '是不是少了最后的求和与相除？')
    value = got.item() if isinstance(got, torch.Tensor) and got.numel() == 1 else got
    if isinstance(value, float) and math.isnan(value):
        return ('没有有效词元时分母是 0，0/0 得到 NaN，NaN 进入反向传播会毁掉所有参数。'
                '让分母至少为 1：mask.sum().clamp(min=1)。')
    for wrong, hint in _smoothed_ce_mistakes(*case.args):
        if _matches(got, float(wrong)):
            return hint
    return None


def _smoothed_ce_cases():
    gen = torch.Generator().manual_seed(5)
    cases = []
    for shape, valid, epsilon in (((2, 5, 7), [3, 5], 0.1), ((2, 5, 6), [7, 2], 0.2),
                                  ((2, 4, 5), [0, 0], 0.1), ((3, 4, 6), [4, 1, 2], 0.0)):
        pred = torch.randn(shape, generator=gen)
        label = torch.randint(0, shape[2], shape[:2], generator=gen)
        valid_len = torch.tensor(valid)
        cases.append(Case((pred, label, valid_len, epsilon),
                          _reference_smoothed_ce(pred, label, valid_len, epsilon),
                          f'pred 形状 {shape}（随机 logits），valid_len={valid}，epsilon={epsilon}'))
    return cases


def smoothed_masked_ce(func) -> bool:
    """练习 6.2（b）：检查 func(pred, label, valid_len, epsilon) 算出的带标签平滑的掩蔽损失。

    pred (batch_size, num_steps, vocab_size)，label (batch_size, num_steps)，valid_len (batch_size,)。
    应返回一个数：每个有效词元的 (1-epsilon)·(-log p_y) + epsilon·mean_k(-log p_k) 之和，除以
    有效词元的个数（有效长度大于 num_steps 按 num_steps 计），没有有效词元时为 0。"""
    return check_function(
        '练习 6.2（b）带标签平滑的掩蔽损失', func, _smoothed_ce_cases(),
        hint='先用 F.log_softmax(pred, dim=-1) 得到 log p，每个词元的损失是 (1-epsilon)·(-log p_y) + '
             'epsilon·mean_k(-log p_k)；再用 sequence_mask 去掉填充位置，除以有效词元数（至少为 1）。',
        diagnose=_diagnose_smoothed_ce)


# ---------------------------------------------------------------------------------------------------
# 练习 6.3 带掩蔽的 softmax
# ---------------------------------------------------------------------------------------------------

def _reference_masked_softmax(X, valid_len):
    """Loop reference: softmax over the first valid_len[i] keys of every row, 0 elsewhere."""
    batch_size, num_queries, num_keys = X.shape
    out = torch.zeros(X.shape, dtype=torch.float64)
    for i in range(batch_size):
        keep = min(int(valid_len[i]), num_keys)
        for q in range(num_queries):
            scores = [float(v) for v in X[i, q, :keep]]
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            for k, e in enumerate(exps):
                out[i, q, k] = e / sum(exps)
    return out.float()


def _key_mask(X, lengths):
    """(batch_size, num_queries, num_keys) bool mask for per-row key lengths of shape (batch_size*num_queries,)."""
    num_keys = X.shape[-1]
    return (torch.arange(num_keys)[None, :] < lengths[:, None]).reshape(X.shape)


def _masked_softmax_mistakes(X, valid_len):
    batch_size, num_queries, num_keys = X.shape
    right = _key_mask(X, valid_len.repeat_interleave(num_queries))
    query_mask = (torch.arange(num_queries)[None, :] < valid_len[:, None])[:, :, None].expand(X.shape)
    return [
        (torch.softmax(X, dim=-1),
         '结果和不加掩蔽的 softmax 一样：超出有效长度的键没有被掩蔽。先把这些位置的分数换成 -1e6，再做 softmax。'),
        (torch.softmax(X.masked_fill(~right, 0), dim=-1),
         '被掩蔽位置的分数换成了 0（sequence_mask 的默认 value），可 exp(0) = 1，它们仍然分到了权重。'
         '用 value=-1e6 这样很小的数。'),
        (torch.softmax(X.masked_fill(~query_mask, -1e6), dim=-1),
         '你掩蔽的是查询（第 1 维），不是键（最后一维）：sequence_mask 掩蔽的是它输入的第 1 维。先把 X '
         'reshape 成 (-1, num_keys)，有效长度相应地用 valid_len.repeat_interleave(num_queries)。'),
        (torch.softmax(X.masked_fill(~_key_mask(X, valid_len.repeat(num_queries)), -1e6), dim=-1),
         '有效长度和行没有对上：valid_len.repeat(num_queries) 得到的是 [L0, L1, L0, L1, ...]，而 X '
         'reshape 之后同一个样本的各个查询是相邻的行，要用 valid_len.repeat_interleave(num_queries)'
         '（[L0, L0, ..., L1, L1, ...]）。'),
        (torch.softmax(X, dim=-1) * right,
         '你在 softmax 之后才把被掩蔽的权重置 0，每行的和不再是 1。要在 softmax 之前掩蔽分数。'),
        (torch.softmax(X.masked_fill(~right, -1e6), dim=1),
         'softmax 应当沿最后一维（键，dim=-1）做：每个查询分给各个键的权重之和为 1。'),
    ]


def _diagnose_masked_softmax(got, case):
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(case.args[0].shape):
        return '返回的权重应当与 X 形状相同：(batch_size, num_queries, num_keys)。'
    for wrong, hint in _masked_softmax_mistakes(*case.args):
        if _matches(got, wrong):
            return hint
    return None


def _masked_softmax_cases():
    gen = torch.Generator().manual_seed(3)
    cases = []
    for shape, valid in (((2, 3, 5), [2, 4]), ((3, 2, 4), [1, 4, 6]), ((1, 2, 3), [1])):
        X = torch.randn(shape, generator=gen)
        valid_len = torch.tensor(valid)
        cases.append(Case((X, valid_len), _reference_masked_softmax(X, valid_len),
                          f'X 形状 {shape}（随机分数），valid_len={valid}'))
    return cases


def masked_softmax(func) -> bool:
    """练习 6.3：检查 func(X, valid_len) 沿最后一维（键）做的带掩蔽的 softmax。

    X (batch_size, num_queries, num_keys)，valid_len (batch_size,)：第 i 个样本只有前 valid_len[i]
    个键有效（大于 num_keys 表示全部有效）。应返回与 X 同形状的权重，被掩蔽的键权重为 0，每行和为 1；
    X 不得被改动。"""
    return check_function(
        '练习 6.3 带掩蔽的 softmax', func, _masked_softmax_cases(),
        hint='把 X 看成 batch_size * num_queries 行、每行 num_keys 个分数；每行的有效长度是它所属样本的 '
             'valid_len（repeat_interleave）；用 sequence_mask(..., value=-1e6) 掩蔽后沿最后一维 softmax。',
        diagnose=_diagnose_masked_softmax)
