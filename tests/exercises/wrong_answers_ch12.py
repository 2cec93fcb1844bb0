"""Wrong (and other right) answers to `last_valid_outputs` and `bahdanau_context` (Bahdanau attention).
Keyed by check name; see exercise_support."""
from __future__ import annotations

import torch

import d2l_local as d2l
from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# last_valid_outputs(enc_outputs, valid_lens)

def _batch(outputs):
    return torch.arange(outputs.shape[1])


def last_time_step(outputs, lens):
    return outputs[-1]


def off_by_one_step(outputs, lens):
    return outputs[lens, _batch(outputs)]


def indices_swapped(outputs, lens):
    return outputs[_batch(outputs), lens - 1]


def indices_not_paired(outputs, lens):
    return outputs[lens - 1]


def gather_without_index_shape(outputs, lens):
    return outputs.gather(0, lens - 1)                                   # index must be 3-D as well


def first_time_step(outputs, lens):
    return outputs[0]


def longest_length_for_all(outputs, lens):
    return outputs[int(lens.max()) - 1]


def mean_of_the_valid_outputs(outputs, lens):
    keep = (torch.arange(outputs.shape[0])[:, None] < lens[None, :]).unsqueeze(-1)
    return (outputs * keep).sum(dim=0) / lens[:, None]


def gather_version(outputs, lens):
    index = (lens - 1).view(1, -1, 1).expand(1, -1, outputs.shape[2])
    return outputs.gather(0, index).squeeze(0)


def batch_first_then_index(outputs, lens):
    return outputs.transpose(0, 1)[_batch(outputs), lens - 1]


# ------------------------------------------------------------------------------------------------
# bahdanau_context(query, enc_outputs, enc_valid_lens, W_q, W_k, w_v)

def _context(query, enc_outputs, lens, W_q, W_k, w_v, *, mask=True, tanh=True, renormalise=True, dim=-1,
             use_keys=True):
    keys = enc_outputs @ W_k.T if use_keys else torch.zeros(1, 1, W_k.shape[0])
    features = (query @ W_q.T).unsqueeze(1) + keys
    features = features.expand(-1, enc_outputs.shape[1], -1)
    scores = (torch.tanh(features) if tanh else features) @ w_v                   # (batch, steps)
    pad = torch.arange(enc_outputs.shape[1])[None, :] >= lens[:, None]
    if mask and renormalise:
        weights = scores.masked_fill(pad, -1e6).softmax(dim=dim)
    elif mask:
        weights = scores.softmax(dim=-1).masked_fill(pad, 0.0)                   # masked after softmax
    else:
        weights = scores.softmax(dim=-1)
    return (weights.unsqueeze(-1) * enc_outputs).sum(dim=1), weights


def padding_gets_weight(*args):
    return _context(*args, mask=False)


def without_tanh(*args):
    return _context(*args, tanh=False)


def masked_after_softmax(*args):
    return _context(*args, renormalise=False)


def softmax_over_the_batch(*args):
    return _context(*args, dim=0)


def returns_only_the_context(*args):
    return _context(*args)[0]


def no_transpose(query, enc_outputs, lens, W_q, W_k, w_v):
    return _context(query, enc_outputs, lens, W_q.T, W_k, w_v)                 # query @ W_q: wrong shapes


def ignores_the_encoder_outputs(*args):
    """The scores see only the query (the PyTorch tutorial's AttnDecoderRNN): uniform weights."""
    return _context(*args, use_keys=False)


def unnormalised_scores_as_weights(query, enc_outputs, lens, W_q, W_k, w_v):
    scores = torch.tanh((query @ W_q.T).unsqueeze(1) + enc_outputs @ W_k.T) @ w_v
    pad = torch.arange(enc_outputs.shape[1])[None, :] >= lens[:, None]
    weights = scores.masked_fill(pad, 0.0)
    return (weights.unsqueeze(-1) * enc_outputs).sum(dim=1), weights


def with_additive_attention_module(query, enc_outputs, lens, W_q, W_k, w_v):
    attention = d2l.AdditiveAttention(W_k.shape[1], W_q.shape[1], W_q.shape[0], dropout=0).eval()
    with torch.no_grad():
        attention.W_q.weight.copy_(W_q)
        attention.W_k.weight.copy_(W_k)
        attention.w_v.weight.copy_(w_v[None])
        context = attention(query.unsqueeze(1), enc_outputs, enc_outputs, lens).squeeze(1)
    return context, attention.attention_weights.squeeze(1)


def vectorised_by_hand(*args):
    return _context(*args)


WRONG = {
    "last_valid_outputs": [
        wrong(last_time_step, "enc_outputs[-1]", "<pad>"),
        wrong(off_by_one_step, "差了一步", "n - 1"),
        wrong(indices_swapped, "两个下标的顺序反了"),
        wrong(indices_not_paired, "(batch_size, batch_size, num_hiddens)", "torch.arange(batch_size)"),
        wrong(gather_without_index_shape, "RuntimeError", "第 1 个检查", "valid_lens - 1"),
        wrong(first_time_step, "你取的是第 0 个时间步"),
        wrong(longest_length_for_all, "第 1 个检查"),
        wrong(mean_of_the_valid_outputs, "第 1 个检查"),
    ],
    "bahdanau_context": [
        wrong(padding_gets_weight, "填充位置分到了权重", "d2l.masked_softmax"),
        wrong(without_tanh, "少了 tanh"),
        wrong(masked_after_softmax, "权重之和应当是 1"),
        wrong(softmax_over_the_batch, "softmax 沿错了轴"),
        wrong(returns_only_the_context, "二元组 (context, weights)"),
        wrong(no_transpose, "RuntimeError", "在你的代码", "提示："),
        wrong(ignores_the_encoder_outputs, "没有用到编码器的输出"),
        wrong(unnormalised_scores_as_weights, "没有归一化的分数加权"),
    ],
}

RIGHT = {
    "last_valid_outputs": [right(gather_version), right(batch_first_then_index)],
    "bahdanau_context": [right(with_additive_attention_module), right(vectorised_by_hand)],
}
