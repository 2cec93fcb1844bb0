"""Wrong (and other right) answers to `clip_by_global_norm` and `teacher_forcing_batch` (training).
Keyed by check name; see exercise_support."""
from __future__ import annotations

import math

import torch

from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# clip_by_global_norm(grads, theta)

def _norm(grads):
    return torch.sqrt(sum((g ** 2).sum() for g in grads))


def clip_each_tensor(grads, theta):
    return [g * torch.clamp(theta / g.norm(), max=1.0) for g in grads], _norm(grads)


def clip_always_rescales(grads, theta):
    norm = _norm(grads)
    return [g * theta / norm for g in grads], norm


def clip_in_place(grads, theta):
    norm = _norm(grads)
    scale = torch.clamp(theta / norm, max=1.0)
    for g in grads:
        g.mul_(scale)
    return grads, norm


def clip_sum_of_norms(grads, theta):
    norm = sum(g.norm() for g in grads)
    return [g * torch.clamp(theta / norm, max=1.0) for g in grads], norm


def clip_nan_for_zero_gradients(grads, theta):
    norm = _norm(grads)
    return [g / norm * torch.clamp(norm, max=theta) for g in grads], norm


def clip_returns_norm_after(grads, theta):
    norm = _norm(grads)
    clipped = [g * torch.clamp(theta / norm, max=1.0) for g in grads]
    return clipped, _norm(clipped)


def clip_concatenates_shapes(grads, theta):
    g = torch.cat(grads)  # (2, 3) and (2,) cannot be concatenated without flattening
    norm = g.norm()
    return [x * torch.clamp(theta / norm, max=1.0) for x in grads], norm


def clip_returns_the_same_tensors_when_small(grads, theta):
    norm = _norm(grads)
    if norm <= theta:
        return grads, norm                                   # "nothing to do": the caller's own tensors
    return [g * (theta / norm) for g in grads], norm


def clip_reuses_tensors_in_a_new_list(grads, theta):
    norm = _norm(grads)
    scale = min(1.0, float(theta / norm)) if norm > 0 else 1.0
    return [g if scale == 1.0 else g * scale for g in grads], norm


def clip_by_value(grads, theta):
    return [g.clamp(-theta, theta) for g in grads], _norm(grads)


def clip_with_the_largest_entry(grads, theta):
    norm = max(float(g.abs().max()) for g in grads)
    return [g * min(1.0, theta / norm) if norm > 0 else g.clone() for g in grads], norm


def clip_in_float64(grads, theta):
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    return [g.double() * torch.clamp(theta / norm, max=1.0) for g in grads], norm


def clip_flattened(grads, theta):
    norm = torch.cat([g.flatten() for g in grads]).norm()
    scale = (theta / norm).clamp(max=1.0) if norm > 0 else torch.tensor(1.0)
    return [g * scale for g in grads], norm


def clip_with_python_floats(grads, theta):
    norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
    scale = 1.0 if norm <= theta else theta / norm
    return [g * scale for g in grads], norm


# ------------------------------------------------------------------------------------------------
# teacher_forcing_batch(Y, Y_valid_len, bos)

def _bos(Y, bos):
    return torch.full((Y.shape[0], 1), bos, dtype=Y.dtype)


def tf_no_trim(Y, Y_valid_len, bos):
    return torch.cat([_bos(Y, bos), Y[:, :-1]], dim=1), Y


def tf_trim_to_min(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.min())]
    return torch.cat([_bos(Y, bos), labels[:, :-1]], dim=1), labels


def tf_one_column_too_many(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max()) + 1]
    return torch.cat([_bos(Y, bos), labels[:, :-1]], dim=1), labels


def tf_drops_first_column(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([_bos(Y, bos), labels[:, 1:]], dim=1), labels


def tf_input_from_untrimmed(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([_bos(Y, bos), Y[:, :-1]], dim=1), labels


def tf_swapped(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return labels, torch.cat([_bos(Y, bos), labels[:, :-1]], dim=1)


def tf_shifts_Y_in_place(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())].clone()
    Y[:, 1:] = Y[:, :-1].clone()
    Y[:, 0] = bos
    return Y[:, :labels.shape[1]], labels


def tf_concatenates_an_int(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([bos, labels[:, :-1]], dim=1), labels


def tf_without_the_shift(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return labels.clone(), labels


def tf_bos_at_the_end(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([labels[:, :-1], _bos(Y, bos)], dim=1), labels


def tf_float_bos_column(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([torch.full((Y.shape[0], 1), float(bos)), labels[:, :-1]], dim=1), labels


def tf_trims_one_column_less(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max()) - 1]
    return torch.cat([_bos(Y, bos), labels[:, :-1]], dim=1), labels


def tf_with_new_full(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())].clone()
    dec_input = labels.new_full(labels.shape, bos)
    dec_input[:, 1:] = labels[:, :-1]
    return dec_input, labels


WRONG = {
    "clip_by_global_norm": [
        wrong(clip_each_tensor, "按它自己的范数分别裁剪"),
        wrong(clip_always_rescales, "把小梯度放大了"),
        wrong(clip_in_place, "不要改写传入的梯度"),
        wrong(clip_sum_of_norms, "不是各张量范数之和"),
        wrong(clip_nan_for_zero_gradients, "不能让 0 做除数"),
        wrong(clip_returns_norm_after, "裁剪**之前**的全局范数"),
        wrong(clip_concatenates_shapes, "RuntimeError", "在你的代码 `clip_concatenates_shapes`"),
        wrong(clip_returns_the_same_tensors_when_small, "第 3 个检查", "共用存储"),
        wrong(clip_reuses_tensors_in_a_new_list, "第 3 个检查", "共用存储"),
        wrong(clip_by_value, "第 1 个检查"),
        wrong(clip_with_the_largest_entry, "第 1 个检查"),
        wrong(clip_in_float64, "dtype 应当是 float32，却是 float64"),
    ],
    "teacher_forcing_batch": [
        wrong(tf_no_trim, "标签没有剪"),
        wrong(tf_trim_to_min, "剪到的是最短的有效长度"),
        wrong(tf_one_column_too_many, "差了一列"),
        wrong(tf_drops_first_column, "去掉的应当是标签的**最后**一列"),
        wrong(tf_input_from_untrimmed, "要用剪过的标签来构造"),
        wrong(tf_swapped, "顺序反了"),
        wrong(tf_shifts_Y_in_place, "改写了第 1 个参数（原地修改）"),
        wrong(tf_concatenates_an_int, "TypeError", "在你的代码 `tf_concatenates_an_int`"),
        wrong(tf_without_the_shift, "解码器输入就是标签本身"),
        wrong(tf_bos_at_the_end, "<bos> 要拼在最前面"),
        wrong(tf_float_bos_column, "应当是 int64 类型，却是 float32"),
        wrong(tf_trims_one_column_less, "差了一列"),
    ],
}

RIGHT = {
    "clip_by_global_norm": [right(clip_flattened), right(clip_with_python_floats)],
    "teacher_forcing_batch": [right(tf_with_new_full)],
}
