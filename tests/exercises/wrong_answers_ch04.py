"""Wrong (and other right) answers to `packed_encode` and `reverse_valid` (the encoder chapter).
Keyed by check name; see exercise_support."""
from __future__ import annotations

import torch
from torch import nn

from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# packed_encode(encoder, X, valid_lens)

def _packed(total_length=True, sorted_ok=True, direct=False, batch_major=False, lengths_minus_one=False,
            top_layer_only=False):
    def packed_encode(encoder, X, valid_lens):
        if direct:
            return encoder(X)
        embs = encoder.embedding(X.t())
        lengths = (valid_lens - 1 if lengths_minus_one else valid_lens).tolist()
        packed = nn.utils.rnn.pack_padded_sequence(embs, lengths, enforce_sorted=not sorted_ok)
        out, state = encoder.rnn(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=X.shape[1] if total_length else None)
        return (output.transpose(0, 1) if batch_major else output), (state[-1:] if top_layer_only else state)
    return packed_encode


def packs_batch_major_as_time_major(encoder, X, valid_lens):
    embs = encoder.embedding(X)                              # (batch_size, num_steps, embed_size)
    packed = nn.utils.rnn.pack_padded_sequence(embs, valid_lens.tolist(), enforce_sorted=False)
    out, state = encoder.rnn(packed)
    output, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=X.shape[1])
    return output, state


def state_from_the_last_output(encoder, X, valid_lens):
    embs = encoder.embedding(X.t())
    packed = nn.utils.rnn.pack_padded_sequence(embs, valid_lens.tolist(), enforce_sorted=False)
    out, _ = encoder.rnn(packed)
    output, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=X.shape[1])
    return output, output[-1:].expand(encoder.rnn.num_layers, -1, -1)


def batch_first_version(encoder, X, valid_lens):
    embs = encoder.embedding(X)                              # batch first, said so when packing
    packed = nn.utils.rnn.pack_padded_sequence(embs, valid_lens.cpu(), batch_first=True, enforce_sorted=False)
    out, state = encoder.rnn(packed)
    output, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=X.shape[1])
    return output.transpose(0, 1).contiguous(), state


def sorts_and_unsorts_by_hand(encoder, X, valid_lens):
    order = torch.argsort(valid_lens, descending=True)
    embs = encoder.embedding(X[order].t())
    packed = nn.utils.rnn.pack_padded_sequence(embs, valid_lens[order].tolist())
    out, state = encoder.rnn(packed)
    output, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=X.shape[1])
    back = torch.argsort(order)
    return output[:, back], state[:, back]


# ------------------------------------------------------------------------------------------------
# reverse_valid(X, valid_lens)

def flip_all(X, valid_lens):
    return X.flip(1)


def one_short(X, valid_lens):
    Y = X.clone()
    for i, n in enumerate(valid_lens.tolist()):
        Y[i, :n - 1] = X[i, :n - 1].flip(0)
    return Y


def one_too_many(X, valid_lens):
    Y = X.clone()
    for i, n in enumerate(valid_lens.tolist()):
        Y[i, :n + 1] = X[i, :n + 1].flip(0)
    return Y


def in_place(X, valid_lens):
    for i, n in enumerate(valid_lens.tolist()):
        X[i, :n] = X[i, :n].flip(0).clone()
    return X


def forgot_new_axis(X, valid_lens):
    steps = torch.arange(X.shape[1])[None, :]
    return X.gather(1, torch.where(steps < valid_lens, valid_lens - 1 - steps, steps))


def flips_the_longest_prefix(X, valid_lens):
    longest = int(valid_lens.max())
    return torch.cat([X[:, :longest].flip(1), X[:, longest:]], dim=1)


def returns_floats(X, valid_lens):
    Y = X.clone().float()
    for i, n in enumerate(valid_lens.tolist()):
        Y[i, :n] = Y[i, :n].flip(0)
    return Y


def copies_without_reversing(X, valid_lens):
    return X.clone()


def loop_over_rows(X, valid_lens):
    rows = [torch.cat([row[:n].flip(0), row[n:]]) for row, n in zip(X, valid_lens.tolist())]
    return torch.stack(rows)


def list_comprehension(X, valid_lens):
    return torch.tensor([row[:n][::-1] + row[n:] for row, n in zip(X.tolist(), valid_lens.tolist())])



def two_small_tensors(encoder, X, valid_lens):
    return torch.zeros(2), torch.zeros(2)


WRONG = {
    "packed_encode": [
        wrong(two_small_tensors, "第 1 个检查"),
        wrong(_packed(direct=True), "state 与直接调用 encoder(X) 相同", label="reads_the_padding"),
        wrong(_packed(total_length=False), "total_length=X.shape[1]", label="no_total_length"),
        wrong(_packed(batch_major=True), "output 应当是时间步优先的", label="batch_major_output"),
        wrong(_packed(sorted_ok=False), "RuntimeError", "enforce_sorted", "pack_padded_sequence", "提示：",
              label="lengths_not_sorted"),
        wrong(packs_batch_major_as_time_major, "RuntimeError", "在你的代码"),
        wrong(_packed(lengths_minus_one=True), "第 1 个检查", label="lengths_minus_one"),
        wrong(_packed(top_layer_only=True), "形状", label="top_layer_only"),
        wrong(state_from_the_last_output, "第 1 个检查"),
    ],
    "reverse_valid": [
        wrong(flip_all, "<pad> 跑到了句首"),
        wrong(one_short, "少翻了一个位置"),
        wrong(one_too_many, "多翻了一个位置"),
        wrong(in_place, "原地修改"),
        wrong(forgot_new_axis, "RuntimeError", "must match the size", "torch.where("),
        wrong(flips_the_longest_prefix, "第 1 个检查"),
        wrong(returns_floats, "应当是 int64 类型，却是 float32"),
        wrong(copies_without_reversing, "什么都没有翻转"),
    ],
}

RIGHT = {
    "packed_encode": [right(batch_first_version), right(sorts_and_unsorts_by_hand)],
    "reverse_valid": [right(loop_over_rows), right(list_comprehension)],
}
