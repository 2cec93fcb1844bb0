"""Checks for the exercises of chapter 7 (训练).

* :func:`clip_by_global_norm` — 练习 7.6: gradient clipping by the global norm, as a pure function;
* :func:`teacher_forcing_batch` — 练习 7.7: the trimmed labels and the decoder input of one batch.

Both exercises are pure functions on small tensors (no model is trained), so each check runs in
milliseconds on a CPU. Expected answers come from reference code in this module (explicit loops on
seeded CPU tensors), never from the student's function.
"""
from __future__ import annotations

import math

import torch

from .core import Case, check_function, compare_pair
from .core import matches as _matches, pair as _pair

__all__ = ['clip_by_global_norm', 'teacher_forcing_batch']


# ---------------------------------------------------------------------------------------------------
# 练习 7.6 按全局范数裁剪梯度
# ---------------------------------------------------------------------------------------------------

def _reference_clip(grads, theta):
    """||g|| over every element of every tensor, then g * min(1, theta/||g||); plain Python sums."""
    norm = math.sqrt(sum(float(v) ** 2 for g in grads for v in g.flatten()))
    scale = 1.0 if norm <= theta else theta / norm
    return [(g.double() * scale).float() for g in grads], norm


def _run_clip(func):
    """Call func(grads, theta) and remember whether it wrote into the tensors it was given."""
    def run(grads, theta):
        grads = list(grads)
        before = [g.clone() for g in grads]
        result = func(grads, theta)
        unchanged = all(torch.equal(a, b) for a, b in zip(grads, before))
        return {'result': result, 'unchanged': unchanged}
    return run


def _compare_clip(got, expected):
    problem = compare_pair(got['result'], (expected['clipped'], expected['norm']), ('clipped', 'norm'))
    if problem:
        return problem
    if not got['unchanged']:
        return '返回值对了，但传入的 grads 被改写了（原地修改）'
    return None


def _diagnose_clip(got, case):
    grads, theta = case.args
    result = got['result']
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        return '最后写 return clipped, norm：一个新张量的列表，和裁剪前的全局范数。'
    clipped, norm = result
    if not got['unchanged']:
        return ('不要改写传入的梯度（g.mul_()、g *= scale 都是原地操作）：用 g * scale 得到新张量。'
                '第 7 章的 grad_clipping 原地修改 .grad 是有意的，这个练习要的是纯函数。')
    if isinstance(clipped, (list, tuple)) and any(
            isinstance(c, torch.Tensor) and c.is_floating_point() and bool(torch.isnan(c).any()) for c in clipped):
        return ('结果里有 NaN：梯度全为 0 时 ||g|| = 0，不能让 0 做除数后再乘 0。用 '
                'torch.clamp(theta / norm, max=1.0)（theta/0 = inf，截到 1），或者先判断。')
    expected_clipped, expected_norm = _reference_clip(grads, theta)
    if _matches(clipped, expected_clipped):
        clipped_norm = math.sqrt(sum(float((c.double() ** 2).sum()) for c in expected_clipped))
        if _matches(norm, clipped_norm):
            return '返回的 norm 应当是裁剪**之前**的全局范数，你返回的是裁剪之后的。'
        return None
    per_tensor = [g * min(1.0, theta / max(float(g.norm()), 1e-12)) for g in grads]
    if _matches(clipped, per_tensor):
        return ('你把每个张量按它自己的范数分别裁剪了。要把所有张量的梯度看成一个长向量：'
                '||g|| = sqrt(所有张量所有元素的平方和)，所有张量乘同一个因子 min(1, theta/||g||)，这样方向才不变。')
    if expected_norm > 0 and _matches(clipped, [g * (theta / expected_norm) for g in grads]):
        return ('||g|| 不超过 theta 的梯度应当原封不动；你把所有梯度都缩放到了长度 theta'
                '（把小梯度放大了）。缩放因子是 min(1, theta/||g||)。')
    sum_of_norms = sum(float(g.norm()) for g in grads)
    if sum_of_norms > 0 and _matches(clipped, [g * min(1.0, theta / sum_of_norms) for g in grads]):
        return ('全局范数不是各张量范数之和，而是 sqrt(各张量范数的平方和)：'
                'torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))。')
    return None


def _clip_cases():
    gen = torch.Generator().manual_seed(6)
    big = [torch.full((2, 3), 2.0), torch.full((2,), 1.0)]
    scale = 5 / math.sqrt(26.0)  # 全局范数恰好为 5
    big = [g * scale for g in big]
    random_grads = [torch.randn(4, 3, generator=gen), torch.randn(3, generator=gen),
                    3 * torch.randn(2, 2, generator=gen)]
    small = [g / 10 for g in big]  # 全局范数 0.5
    zeros = [torch.zeros(2, 2), torch.zeros(3)]
    cases = []
    for grads, theta, description in (
            (big, 1.0, '两个张量 (2, 3) 和 (2,)，全局范数 5，theta=1'),
            (random_grads, 2.0, '三个随机张量 (4, 3)、(3,)、(2, 2)，theta=2'),
            (small, 1.0, '两个张量，全局范数 0.5，theta=1（不用裁剪）'),
            (zeros, 1.0, '梯度全为 0，theta=1')):
        clipped, norm = _reference_clip(grads, theta)
        cases.append(Case((grads, theta), {'clipped': clipped, 'norm': norm}, description))
    return cases


def clip_by_global_norm(func) -> bool:
    """练习 7.6：检查 func(grads, theta) -> (clipped, norm)。

    grads 是张量的列表（形状各不相同）。norm 是把它们看成一个长向量时的长度 ||g||（裁剪之前）；
    clipped 是新张量的列表 [g * min(1, theta/||g||) for g in grads]；grads 本身不得被改动；
    梯度全为 0 时不得出现 NaN。"""
    return check_function(
        '练习 7.6 按全局范数裁剪梯度', _run_clip(func), _clip_cases(),
        hint='||g|| = sqrt(所有张量所有元素的平方和)；scale = min(1, theta/||g||)；'
             'return [g * scale for g in grads], ||g||。',
        diagnose=_diagnose_clip, compare_fn=_compare_clip)


# ---------------------------------------------------------------------------------------------------
# 练习 7.7 强制教学的一个小批量
# ---------------------------------------------------------------------------------------------------

def _reference_teacher_forcing(Y, Y_valid_len, bos):
    length = max(int(v) for v in Y_valid_len)
    labels = [[int(v) for v in row[:length]] for row in Y]
    dec_input = [[bos] + row[:-1] for row in labels]
    return torch.tensor(dec_input, dtype=torch.long), torch.tensor(labels, dtype=torch.long)


def _compare_teacher_forcing(got, expected):
    return compare_pair(got, expected, ('dec_input', 'labels'))


def _diagnose_teacher_forcing(got, case):
    Y, Y_valid_len, bos = case.args
    dec_input, labels, problem = _pair(got, ('dec_input', 'labels'))
    if problem:
        return '最后写 return dec_input, labels：先是解码器的输入，再是剪过的标签。'
    expected_dec, expected_labels = _reference_teacher_forcing(Y, Y_valid_len, bos)
    length, num_steps = expected_labels.shape[1], Y.shape[1]
    if _matches(dec_input, expected_labels) and _matches(labels, expected_dec):
        return '两个返回值的顺序反了：先返回 dec_input（以 <bos> 开头），再返回 labels。'
    if not isinstance(labels, torch.Tensor) or not isinstance(dec_input, torch.Tensor):
        return 'dec_input 和 labels 都应当是张量。'
    if labels.dim() == 2 and labels.shape[1] != length:
        if labels.shape[1] == num_steps:
            return (f'标签没有剪：这一批最长的有效长度是 {length}，后面 {num_steps - length} 列全是 <pad>，'
                    '要剪掉：Y[:, :int(Y_valid_len.max())]。')
        if labels.shape[1] == min(int(v) for v in Y_valid_len):
            return '剪到的是最短的有效长度，较长的句子被截掉了：应剪到这一批**最大**的有效长度。'
        if abs(labels.shape[1] - length) == 1:
            return (f'差了一列：有效长度（包括 <eos>）就是要保留的列数，应剪到 Y_valid_len.max() = {length} 列，'
                    '不要再加一或减一。')
        return f'labels 应有 {length} 列（这一批最大的有效长度）。'
    if _matches(labels, expected_labels) and dec_input.dim() == 2 and dec_input.shape != labels.shape:
        return ('解码器输入要用剪过的标签来构造，形状与 labels 相同：'
                'torch.cat([<bos> 列, labels[:, :-1]], dim=1)。')
    if _matches(labels, expected_labels) and dec_input.shape == labels.shape:
        bos_col = torch.full((labels.shape[0], 1), bos, dtype=torch.long)
        if _matches(dec_input, labels):
            return '解码器输入就是标签本身：第 t 步要读的是上一个词元，在最前面拼上 <bos>，再去掉最后一列。'
        if _matches(dec_input, torch.cat([bos_col, labels[:, 1:]], dim=1)):
            return ('去掉的应当是标签的**最后**一列，不是第一列：'
                    '第 t 步读 y_{t-1}，最后一个词元之后没有要预测的东西。')
        if _matches(dec_input, torch.cat([labels[:, 1:], bos_col], dim=1)) or \
                _matches(dec_input, torch.cat([labels[:, :-1], bos_col], dim=1)):
            return '<bos> 要拼在最前面（第 0 列），不是最后面。'
    return None


def _teacher_forcing_cases():
    cases = []
    for rows, valid, bos, description in (
            ([[5, 6, 7, 2, 0, 0], [8, 2, 0, 0, 0, 0]], [4, 2], 1, 'Y 形状 (2, 6)，Y_valid_len=[4, 2]，bos=1'),
            ([[4, 5, 6, 7, 2], [2, 0, 0, 0, 0], [9, 3, 2, 0, 0]], [5, 1, 3], 1,
             'Y 形状 (3, 5)，Y_valid_len=[5, 1, 3]（最长的没有填充），bos=1'),
            ([[6, 2, 0, 0]], [2], 3, 'Y 形状 (1, 4)，Y_valid_len=[2]，bos=3')):
        Y, Y_valid_len = torch.tensor(rows), torch.tensor(valid)
        cases.append(Case((Y, Y_valid_len, bos), _reference_teacher_forcing(Y, Y_valid_len, bos), description))
    return cases


def teacher_forcing_batch(func) -> bool:
    """练习 7.7：检查 func(Y, Y_valid_len, bos) -> (dec_input, labels)。

    Y (batch_size, num_steps) 是补齐过的标签，Y_valid_len (batch_size,)。labels 是剪到这一批最大有效
    长度 L 的 Y[:, :L]；dec_input 形状相同：第 0 列是 bos，其后是 labels 去掉最后一列。Y 不得被改动。"""
    return check_function(
        '练习 7.7 强制教学的一个小批量', func, _teacher_forcing_cases(),
        hint='L = int(Y_valid_len.max())；labels = Y[:, :L]；'
             'dec_input = torch.cat([torch.full((batch_size, 1), bos), labels[:, :-1]], dim=1)。',
        diagnose=_diagnose_teacher_forcing, compare_fn=_compare_teacher_forcing,
        new_tensors=False)  # labels = Y[:, :L] is a view of Y, as in train_seq2seq: the task allows it
