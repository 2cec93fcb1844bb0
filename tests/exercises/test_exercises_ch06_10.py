"""Checked exercises of chapters 6–10 (d2l_exercises.ch06 … ch10 and the notebooks' exercise cells).

For every check: the teacher's solution in the notebook passes (✓); realistic wrong implementations
fail (✗) with the specific hint written for that mistake; the student edition's placeholder is
reported as not done yet (⏳) without raising; an implementation that raises is reported with its
exception and no traceback. The reference answers of the checks are cross-checked against the
book's own code where the book has it.
"""
from __future__ import annotations

import collections
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import d2l_local as d2l
from booktools import student
from d2l_exercises import ch06, ch07, ch09, ch10
from exercise_support import exercise_cells, notebook, run, solution_cells, student_version

# What the exercise cells may use from the earlier cells of their chapter.
NAMESPACES = {
    '06_masking_and_loss': lambda: {'torch': torch, 'nn': nn, 'F': F, 'sequence_mask': d2l.sequence_mask,
                                    'MaskedSoftmaxCELoss': d2l.MaskedSoftmaxCELoss},
    '07_training': lambda: {'torch': torch, 'nn': nn, 'math': math},
    '09_prediction_and_evaluation': lambda: {'torch': torch, 'F': F, 'math': math, 'collections': collections,
                                             'ngram_counts': d2l.ngram_counts, 'eval_mode': d2l.eval_mode},
    '10_attention_pooling': lambda: {'torch': torch, 'nn': nn},
}

# (notebook, function the student writes, check, title the check prints)
EXERCISES = [
    ('06_masking_and_loss', 'smoothed_masked_ce', ch06.smoothed_masked_ce, '练习 6.2（b）带标签平滑的掩蔽损失'),
    ('06_masking_and_loss', 'masked_softmax', ch06.masked_softmax, '练习 6.3 带掩蔽的 softmax'),
    ('07_training', 'clip_by_global_norm', ch07.clip_by_global_norm, '练习 7.6 按全局范数裁剪梯度'),
    ('07_training', 'teacher_forcing_batch', ch07.teacher_forcing_batch, '练习 7.7 强制教学的一个小批量'),
    ('09_prediction_and_evaluation', 'clipped_matches', ch09.clipped_matches, '练习 9.6 截断的 n 元组匹配数'),
    ('09_prediction_and_evaluation', 'greedy_decode', ch09.greedy_decode, '练习 9.7 成批的贪心解码'),
    ('10_attention_pooling', 'laplace_weights', ch10.laplace_weights, '练习 10.2 拉普拉斯核的注意力权重'),
    ('10_attention_pooling', 'loo_predict', ch10.loo_predict, '练习 10.7 留一法的核回归预测'),
]
IDS = [name for _, name, _, _ in EXERCISES]


def scaffold(chapter, name):
    """The notebook's scaffold cell for `name` (with the teacher's solution in it)."""
    cells = [source for source in solution_cells(chapter) if f'def {name}(' in source]
    assert len(cells) == 1, f'{chapter}: expected one solution cell defining {name}, found {len(cells)}'
    return cells[0]


def load(chapter, name, source=None):
    namespace, printed = run(source if source is not None else scaffold(chapter, name), NAMESPACES[chapter]())
    assert printed == ''
    return namespace[name]


def verdict(check, func, capsys):
    ok = check(func)
    out = capsys.readouterr().out
    assert 'Traceback' not in out
    return ok, out


# ----------------------------------------------------------------------------------------------
# The notebooks: cells, solutions, placeholders
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('chapter,name,check,title', EXERCISES, ids=IDS)
def test_notebook_has_a_scaffold_and_a_check_cell_tagged_exercise(chapter, name, check, title):
    cells = exercise_cells(chapter)
    assert scaffold(chapter, name) in cells
    calls = [c for c in cells if f'ok = checks.{check.__name__}({name})' in c]
    assert len(calls) == 1, f'one check cell calling checks.{check.__name__}({name})'
    assert f'from d2l_exercises import {check.__module__.rsplit(".", 1)[1]} as checks' in calls[0]
    number = title.split()[1][:3]  # '5.2', '6.8', ...
    assert check.__doc__ and f'练习 {number}' in check.__doc__


@pytest.mark.parametrize('chapter,name,check,title', EXERCISES, ids=IDS)
def test_the_notebook_solution_passes(chapter, name, check, title, capsys):
    ok, out = verdict(check, load(chapter, name), capsys)
    assert ok is True
    assert out.startswith(f'✓ {title}\n') and '全部通过' in out and '✗' not in out


@pytest.mark.parametrize('chapter,name,check,title', EXERCISES, ids=IDS)
def test_the_student_placeholder_is_not_done_yet(chapter, name, check, title, capsys):
    source = student_version(scaffold(chapter, name))
    assert student.BEGIN not in source and 'raise NotImplementedError' in source
    ok, out = verdict(check, load(chapter, name, source), capsys)
    assert ok is False
    assert out.startswith(f'⏳ {title}\n') and '还没有完成' in out


@pytest.mark.parametrize('chapter,name,check,title', EXERCISES, ids=IDS)
def test_a_nonsense_return_value_is_a_wrong_answer_not_a_crash(chapter, name, check, title, capsys):
    for value in (None, 'abc', [1, 2, 3]):
        ok, out = verdict(check, lambda *args, value=value: value, capsys)
        assert ok is False and out.startswith(f'✗ {title}\n'), out


@pytest.mark.parametrize('chapter', sorted(NAMESPACES))
def test_student_edition_of_the_chapter(chapter):
    nb, removed = student.student_notebook(notebook(chapter), chapter)
    solutions = [n for c, n, _, _ in EXERCISES if c == chapter]
    assert removed >= len(solutions)
    for cell in nb.cells:
        assert student.BEGIN not in cell.source and '**参考答案**' not in cell.source
        assert 'solution' not in cell.metadata.get('tags', [])
        if 'exercise' in cell.metadata.get('tags', []):
            assert cell.outputs == [] and 'nbval-ignore-output' in cell.metadata['tags']
    # the exercise cells are the last code cells: nothing after them can depend on them
    original = notebook(chapter)
    code = [c for c in original.cells if c.cell_type == 'code']
    first = next(i for i, c in enumerate(code) if 'exercise' in c.metadata.get('tags', []))
    assert all({'exercise', 'solution'} & set(c.metadata.get('tags', [])) for c in code[first:])


# ----------------------------------------------------------------------------------------------
# Realistic mistakes: each fails with its own hint
# ----------------------------------------------------------------------------------------------

def _smoothed_tokens(pred, label, epsilon):
    log_p = F.log_softmax(pred, dim=-1)
    nll = -log_p.gather(-1, label.unsqueeze(-1)).squeeze(-1)
    return (1 - epsilon) * nll - epsilon * log_p.mean(dim=-1), log_p, nll


def ce_over_all_positions(pred, label, valid_len, epsilon):
    return _smoothed_tokens(pred, label, epsilon)[0].mean()


def ce_d2l_style(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    weights = d2l.sequence_mask(torch.ones_like(tokens), valid_len)
    return (tokens * weights).mean(dim=1).mean()


def ce_d2l_vector(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    return (d2l.sequence_mask(tokens, valid_len)).mean(dim=1)


def ce_smoothing_over_other_classes(pred, label, valid_len, epsilon):
    _, log_p, nll = _smoothed_tokens(pred, label, epsilon)
    others = (-log_p.sum(dim=-1) - nll) / (pred.shape[-1] - 1)
    tokens = (1 - epsilon) * nll + epsilon * others
    valid = d2l.sequence_mask(torch.ones_like(tokens), valid_len) > 0
    return tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


def ce_nan_without_tokens(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = d2l.sequence_mask(torch.ones_like(tokens), valid_len) > 0
    return tokens.masked_fill(~valid, 0).sum() / valid.sum()


def ce_per_sequence_mean(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = d2l.sequence_mask(torch.ones_like(tokens), valid_len) > 0
    per_seq = tokens.masked_fill(~valid, 0).sum(dim=1) / valid.sum(dim=1)
    return per_seq[valid.sum(dim=1) > 0].mean() if bool(valid.any()) else torch.tensor(0.0)


def ce_divides_by_valid_len(pred, label, valid_len, epsilon):
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = d2l.sequence_mask(torch.ones_like(tokens), valid_len) > 0
    return tokens.masked_fill(~valid, 0).sum() / valid_len.sum().clamp(min=1)


def ce_shifts_logits_in_place(pred, label, valid_len, epsilon):
    pred -= pred.max(dim=-1, keepdim=True).values  # "for numerical stability", but in place
    tokens = _smoothed_tokens(pred, label, epsilon)[0]
    valid = d2l.sequence_mask(torch.ones_like(tokens), valid_len) > 0
    return tokens.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


def softmax_masks_queries(X, valid_len):
    return torch.softmax(d2l.sequence_mask(X, valid_len, value=-1e6), dim=-1)


def softmax_fills_zero(X, valid_len):
    rows = d2l.sequence_mask(X.reshape(-1, X.shape[-1]), valid_len.repeat_interleave(X.shape[1]))
    return torch.softmax(rows, dim=-1).reshape(X.shape)


def softmax_repeat_not_interleave(X, valid_len):
    rows = d2l.sequence_mask(X.reshape(-1, X.shape[-1]), valid_len.repeat(X.shape[1]), value=-1e6)
    return torch.softmax(rows, dim=-1).reshape(X.shape)


def softmax_then_mask(X, valid_len):
    weights = torch.softmax(X, dim=-1).reshape(-1, X.shape[-1])
    return d2l.sequence_mask(weights, valid_len.repeat_interleave(X.shape[1])).reshape(X.shape)


def softmax_writes_into_X(X, valid_len):
    keep = torch.arange(X.shape[-1])[None, None, :] < valid_len[:, None, None]
    X[~keep.expand(X.shape)] = -1e6
    return torch.softmax(X, dim=-1)


def clip_each_tensor(grads, theta):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * torch.clamp(theta / g.norm(), max=1.0) for g in grads], norm


def clip_always_rescales(grads, theta):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * theta / norm for g in grads], norm


def clip_in_place(grads, theta):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = torch.clamp(theta / norm, max=1.0)
    for g in grads:
        g.mul_(scale)
    return grads, norm


def clip_sum_of_norms(grads, theta):
    norm = sum(g.norm() for g in grads)
    return [g * torch.clamp(theta / norm, max=1.0) for g in grads], norm


def clip_nan_for_zero_gradients(grads, theta):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g / norm * torch.clamp(norm, max=theta) for g in grads], norm


def clip_returns_norm_after(grads, theta):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    clipped = [g * torch.clamp(theta / norm, max=1.0) for g in grads]
    return clipped, torch.sqrt(sum((g ** 2).sum() for g in clipped))


def tf_no_trim(Y, Y_valid_len, bos):
    bos_col = torch.full((Y.shape[0], 1), bos)
    return torch.cat([bos_col, Y[:, :-1]], dim=1), Y


def tf_trim_to_min(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.min())]
    return torch.cat([torch.full((Y.shape[0], 1), bos), labels[:, :-1]], dim=1), labels


def tf_one_column_too_many(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max()) + 1]
    return torch.cat([torch.full((Y.shape[0], 1), bos), labels[:, :-1]], dim=1), labels


def tf_drops_first_column(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([torch.full((Y.shape[0], 1), bos), labels[:, 1:]], dim=1), labels


def tf_input_from_untrimmed(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([torch.full((Y.shape[0], 1), bos), Y[:, :-1]], dim=1), labels


def tf_swapped(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return labels, torch.cat([torch.full((Y.shape[0], 1), bos), labels[:, :-1]], dim=1)


def tf_shifts_Y_in_place(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())].clone()
    Y[:, 1:] = Y[:, :-1].clone()
    Y[:, 0] = bos
    return Y[:, :labels.shape[1]], labels


def matches_unclipped(pred, references, n):
    tokens = pred.split()
    ref_grams = set()
    for ref in references:
        ref_grams |= set(d2l.ngram_counts(ref.split(), n))
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return sum(g in ref_grams for g in grams), max(0, len(tokens) - n + 1)


def matches_sum_over_references(pred, references, n):
    tokens = pred.split()
    limit = collections.Counter()
    for ref in references:
        limit += d2l.ngram_counts(ref.split(), n)
    counts = d2l.ngram_counts(tokens, n)
    return sum(min(c, limit[g]) for g, c in counts.items()), max(0, len(tokens) - n + 1)


def matches_distinct_ngrams(pred, references, n):
    tokens = pred.split()
    limit = collections.Counter()
    for ref in references:
        limit |= d2l.ngram_counts(ref.split(), n)
    return sum(1 for g in d2l.ngram_counts(tokens, n) if limit[g]), max(0, len(tokens) - n + 1)


def _right_matches(pred, references, n):
    limit = collections.Counter()
    for ref in references:
        limit |= d2l.ngram_counts(ref.split(), n)
    return sum(min(c, limit[g]) for g, c in d2l.ngram_counts(pred.split(), n).items())


def matches_total_off_by_one(pred, references, n):
    return _right_matches(pred, references, n), max(0, len(pred.split()) - n)


def matches_negative_total(pred, references, n):
    return _right_matches(pred, references, n), len(pred.split()) - n + 1


def _greedy(decoder, state, batch_size, bos, eos, num_steps, *, steps=None, keep_eos=False, stop=True,
            feed_bos=False):
    dec_X = torch.full((batch_size, 1), bos, dtype=torch.long)
    rows = []
    with torch.no_grad():
        for _ in range(num_steps if steps is None else steps):
            Y, state = decoder(torch.full((batch_size, 1), bos) if feed_bos else dec_X, state)
            dec_X = Y.argmax(dim=2)
            rows.append(dec_X[:, 0].tolist())
    out = []
    for i in range(batch_size):
        tokens = [r[i] for r in rows]
        if stop and eos in tokens:
            tokens = tokens[:tokens.index(eos) + (1 if keep_eos else 0)]
        out.append(tokens)
    return out


def greedy_in_training_mode(decoder, state, batch_size, bos, eos, num_steps):
    return _greedy(decoder, state, batch_size, bos, eos, num_steps)


def greedy_leaves_eval_mode_on(decoder, state, batch_size, bos, eos, num_steps):
    decoder.eval()
    return _greedy(decoder, state, batch_size, bos, eos, num_steps)


def greedy_keeps_eos(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, keep_eos=True)


def greedy_never_stops(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, stop=False)


def greedy_feeds_bos(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, feed_bos=True)


def greedy_one_step_short(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, steps=num_steps - 1)


def laplace_wrong_axis(queries, keys, w):
    return torch.softmax(-(queries[:, None] - keys[None, :]).abs() * w, dim=0)


def laplace_gaussian(queries, keys, w):
    return torch.softmax(-((queries[:, None] - keys[None, :]) * w) ** 2 / 2, dim=1)


def laplace_without_abs(queries, keys, w):
    return torch.softmax(-(queries[:, None] - keys[None, :]) * w, dim=1)


def laplace_wrong_sign(queries, keys, w):
    return torch.softmax((queries[:, None] - keys[None, :]).abs() * w, dim=1)


def laplace_unnormalised(queries, keys, w):
    return torch.exp(-(queries[:, None] - keys[None, :]).abs() * w)


def _gauss_scores(x, w):
    return -((x[:, None] - x[None, :]) * w) ** 2 / 2


def loo_sees_itself(x, y, w):
    return torch.softmax(_gauss_scores(x, w), dim=1) @ y


def loo_self_score_zero(x, y, w):  # "remove" itself by setting its score to 0, which it already is
    return torch.softmax(_gauss_scores(x, w).masked_fill(torch.eye(len(x), dtype=torch.bool), 0), dim=1) @ y


def loo_zeroes_after_softmax(x, y, w):
    weights = torch.softmax(_gauss_scores(x, w), dim=1)
    return weights.masked_fill(torch.eye(len(x), dtype=torch.bool), 0) @ y


def loo_wrong_axis(x, y, w):
    scores = _gauss_scores(x, w).masked_fill(torch.eye(len(x), dtype=torch.bool), float('-inf'))
    return torch.softmax(scores, dim=0) @ y


def loo_without_half(x, y, w):
    scores = (-((x[:, None] - x[None, :]) * w) ** 2).masked_fill(torch.eye(len(x), dtype=torch.bool), float('-inf'))
    return torch.softmax(scores, dim=1) @ y


MISTAKES = [
    (ch06.smoothed_masked_ce, ce_over_all_positions, '你把填充位置也算进了平均'),
    (ch06.smoothed_masked_ce, ce_d2l_style, '这是 d2l 版本的做法'),
    (ch06.smoothed_masked_ce, ce_d2l_vector, '应返回一个数'),
    (ch06.smoothed_masked_ce, ce_smoothing_over_other_classes, '只分给了 V-1 个错误的词元'),
    (ch06.smoothed_masked_ce, ce_nan_without_tokens, '0/0 得到 NaN'),
    (ch06.smoothed_masked_ce, ce_per_sequence_mean, '你先对每个序列求平均'),
    (ch06.smoothed_masked_ce, ce_divides_by_valid_len, '不能直接用 valid_len.sum()'),
    (ch06.smoothed_masked_ce, ce_shifts_logits_in_place, '改写了第 1 个参数（原地修改）'),
    (ch06.masked_softmax, softmax_masks_queries, '你掩蔽的是查询（第 1 维）'),
    (ch06.masked_softmax, softmax_fills_zero, 'sequence_mask 的默认 value'),
    (ch06.masked_softmax, softmax_repeat_not_interleave, 'valid_len.repeat(num_queries)'),
    (ch06.masked_softmax, softmax_then_mask, '在 softmax 之后才把被掩蔽的权重置 0'),
    (ch06.masked_softmax, softmax_writes_into_X, '改写了第 1 个参数（原地修改）'),
    (ch07.clip_by_global_norm, clip_each_tensor, '按它自己的范数分别裁剪'),
    (ch07.clip_by_global_norm, clip_always_rescales, '把小梯度放大了'),
    (ch07.clip_by_global_norm, clip_in_place, '不要改写传入的梯度'),
    (ch07.clip_by_global_norm, clip_sum_of_norms, '不是各张量范数之和'),
    (ch07.clip_by_global_norm, clip_nan_for_zero_gradients, '不能让 0 做除数'),
    (ch07.clip_by_global_norm, clip_returns_norm_after, '裁剪**之前**的全局范数'),
    (ch07.teacher_forcing_batch, tf_no_trim, '标签没有剪'),
    (ch07.teacher_forcing_batch, tf_trim_to_min, '剪到的是最短的有效长度'),
    (ch07.teacher_forcing_batch, tf_one_column_too_many, '差了一列'),
    (ch07.teacher_forcing_batch, tf_drops_first_column, '去掉的应当是标签的**最后**一列'),
    (ch07.teacher_forcing_batch, tf_input_from_untrimmed, '要用剪过的标签来构造'),
    (ch07.teacher_forcing_batch, tf_swapped, '顺序反了'),
    (ch07.teacher_forcing_batch, tf_shifts_Y_in_place, '改写了第 1 个参数（原地修改）'),
    (ch09.clipped_matches, matches_unclipped, '没有截断'),
    (ch09.clipped_matches, matches_sum_over_references, '不是各参考译文中的次数之和'),
    (ch09.clipped_matches, matches_distinct_ngrams, '重复出现的 n 元组只算了一次'),
    (ch09.clipped_matches, matches_total_off_by_one, '不是 L - n'),
    (ch09.clipped_matches, matches_negative_total, '不能是负数'),
    (ch09.greedy_decode, greedy_in_training_mode, 'dropout 仍在起作用'),
    (ch09.greedy_decode, greedy_leaves_eval_mode_on, '恢复成调用者原来的样子'),
    (ch09.greedy_decode, greedy_keeps_eos, '不应包含 <eos>'),
    (ch09.greedy_decode, greedy_never_stops, '之后还在继续生成'),
    (ch09.greedy_decode, greedy_feeds_bos, '每一步的输入都是 <bos>'),
    (ch09.greedy_decode, greedy_one_step_short, '循环的步数差了一'),
    (ch10.laplace_weights, laplace_wrong_axis, 'softmax 沿错了维度'),
    (ch10.laplace_weights, laplace_gaussian, '这是 10.4 节的高斯核'),
    (ch10.laplace_weights, laplace_without_abs, '分数里少了绝对值'),
    (ch10.laplace_weights, laplace_wrong_sign, '分数的符号反了'),
    (ch10.laplace_weights, laplace_unnormalised, '没有归一化'),
    (ch10.loo_predict, loo_sees_itself, '每个点也看见了它自己'),
    (ch10.loo_predict, loo_self_score_zero, '每个点也看见了它自己'),
    (ch10.loo_predict, loo_zeroes_after_softmax, '在 softmax 之后才把自己的权重置 0'),
    (ch10.loo_predict, loo_wrong_axis, 'softmax 沿错了维度'),
    (ch10.loo_predict, loo_without_half, '分数少了 1/2'),
]


@pytest.mark.parametrize('check,wrong,hint', MISTAKES, ids=[w.__name__ for _, w, _ in MISTAKES])
def test_a_typical_mistake_fails_with_its_hint(check, wrong, hint, capsys):
    ok, out = verdict(check, wrong, capsys)
    assert ok is False
    assert out.startswith('✗ 练习 ')
    assert hint in out, out


def test_every_check_has_at_least_two_recognised_mistakes():
    counts = collections.Counter(check for check, _, _ in MISTAKES)
    assert all(counts[check] >= 2 for _, _, check, _ in EXERCISES), counts


# ----------------------------------------------------------------------------------------------
# An exception in the student's code: type, message and line; no traceback
# ----------------------------------------------------------------------------------------------

def softmax_forgets_the_queries(X, valid_len):
    rows = d2l.sequence_mask(X.reshape(-1, X.shape[-1]), valid_len, value=-1e6)  # 2 lengths for 6 rows
    return torch.softmax(rows, dim=-1).reshape(X.shape)


def clip_concatenates_shapes(grads, theta):
    g = torch.cat(grads)  # (2, 3) and (2,) cannot be concatenated without flattening
    norm = g.norm()
    return [x * torch.clamp(theta / norm, max=1.0) for x in grads], norm


def tf_concatenates_an_int(Y, Y_valid_len, bos):
    labels = Y[:, :int(Y_valid_len.max())]
    return torch.cat([bos, labels[:, :-1]], dim=1), labels


def matches_splits_the_list(pred, references, n):
    return d2l.ngram_counts(references.split(), n), 0


def greedy_drops_the_step_dimension(decoder, state, batch_size, bos, eos, num_steps):
    dec_X = torch.full((batch_size,), bos)
    Y, state = decoder(dec_X, state)
    return [[int(t)] for t in Y.argmax(dim=-1)]


def laplace_without_broadcasting(queries, keys, w):
    return torch.softmax(-(queries - keys).abs() * w, dim=-1)


def loo_reshapes_wrongly(x, y, w):
    n = len(x)
    others = ~torch.eye(n, dtype=torch.bool)
    keys = x.expand(n, -1)[others].reshape(n, n)  # n - 1 keys per row, not n
    return keys.sum(dim=1)


def ce_squeezes_the_wrong_axis(pred, label, valid_len, epsilon):
    log_p = F.log_softmax(pred, dim=-1)
    return log_p.gather(-1, label).sum()


# (check, broken implementation, text of the exception, function whose line is shown: the innermost
# frame outside torch and d2l_exercises; for sequence_mask that is the book's function, which in the
# notebook is a cell of the chapter)
RAISING = [
    (ch06.smoothed_masked_ce, ce_squeezes_the_wrong_axis, 'RuntimeError', None),
    (ch06.masked_softmax, softmax_forgets_the_queries, 'ValueError: valid_len 有 2 个长度', None),  # points at the student's line, not into d2l_local
    (ch07.clip_by_global_norm, clip_concatenates_shapes, 'RuntimeError', None),
    (ch07.teacher_forcing_batch, tf_concatenates_an_int, 'TypeError', None),
    (ch09.clipped_matches, matches_splits_the_list, "AttributeError: 'list' object has no attribute 'split'", None),
    (ch09.greedy_decode, greedy_drops_the_step_dimension, 'ValueError: dec_X 的形状应为 (batch_size, 1)', None),
    (ch10.laplace_weights, laplace_without_broadcasting, 'RuntimeError: The size of tensor a', None),
    (ch10.loo_predict, loo_reshapes_wrongly, 'RuntimeError', None),
]


@pytest.mark.parametrize('check,broken,message,where', RAISING, ids=[b.__name__ for _, b, _, _ in RAISING])
def test_an_exception_is_explained_without_a_traceback(check, broken, message, where, capsys):
    ok, out = verdict(check, broken, capsys)
    assert ok is False
    assert out.startswith('✗ 练习 ') and '你的代码出错' in out
    assert message in out
    assert f'（在你的代码 `{where or broken.__name__}` 的第 ' in out  # the line that raised
    assert '提示：' in out


def test_every_check_explains_an_exception():
    assert {check for check, _, _, _ in RAISING} == {check for _, _, check, _ in EXERCISES}


# ----------------------------------------------------------------------------------------------
# The checks' own reference answers agree with the book's code
# ----------------------------------------------------------------------------------------------

def test_reference_smoothed_loss_agrees_with_masked_softmax_ce_loss():
    for case in ch06._smoothed_ce_cases():
        pred, label, valid_len, epsilon = case.args
        book = d2l.MaskedSoftmaxCELoss(label_smoothing=epsilon)(pred, label, valid_len).item()
        assert math.isclose(case.expected, book, rel_tol=1e-5, abs_tol=1e-6)


def test_reference_masked_softmax_agrees_with_the_book():
    for case in ch06._masked_softmax_cases():
        X, valid_len = case.args
        book = d2l.masked_softmax(X, valid_len)
        assert torch.allclose(case.expected, book, atol=1e-6)
        assert torch.allclose(case.expected.sum(dim=-1), torch.ones(X.shape[:2]))


def test_reference_clipping_agrees_with_grad_clipping():
    for case in ch07._clip_cases():
        grads, theta = case.args
        params = nn.ParameterList([nn.Parameter(torch.zeros_like(g)) for g in grads])
        for p, g in zip(params, grads):
            p.grad = g.clone()
        norm = d2l.grad_clipping(params, theta)
        assert math.isclose(float(norm), case.expected['norm'], rel_tol=1e-5, abs_tol=1e-7)
        for p, expected in zip(params, case.expected['clipped']):
            assert torch.allclose(p.grad, expected, atol=1e-6)


def test_reference_matches_agree_with_corpus_bleu():
    # corpus_bleu with max_n = n on one sentence is BP * (matches_1 ... matches_n / totals)^(1/n)
    for pred, refs, n, _ in ch09._MATCH_CASES:
        counts = [ch09._reference_matches(pred, refs, k) for k in range(1, n + 1)]
        if any(m == 0 for m, _ in counts):
            assert d2l.corpus_bleu([pred], [refs], max_n=n) == 0.0
            continue
        c = len(pred.split())
        r = min((abs(len(x.split()) - c), len(x.split())) for x in refs)[1]
        expected = math.exp(min(0.0, 1 - r / c)) * math.exp(sum(math.log(m / t) for m, t in counts) / n)
        assert math.isclose(d2l.corpus_bleu([pred], [refs], max_n=n), expected, rel_tol=1e-12)


def test_scripted_decoder_drives_the_books_greedy_loop():
    """The book's predict_seq2seq loop, run by hand on the scripted decoder, gives the expected tokens."""
    decoder = ch09.ScriptedDecoder(ch09._table()).train()
    rows = torch.tensor([0, 1, 2, 3])
    expected = ch09._reference_greedy(ch09._table(), rows, 4)
    assert expected == [[3, 4], [6], [3, 3, 3, 3], []]
    with d2l.eval_mode(decoder):
        dec_X, state, out = torch.full((4, 1), ch09.BOS), rows, []
        for _ in range(4):
            Y, state = decoder(dec_X, state)
            dec_X = Y.argmax(dim=2)
            out.append(dec_X[:, 0].tolist())
    got = [[step[i] for step in out] for i in range(4)]
    got = [t[:t.index(ch09.EOS)] if ch09.EOS in t else t for t in got]
    assert got == expected and decoder.training


def test_reference_loo_agrees_with_the_chapter_grid_search_formula():
    gen = torch.Generator().manual_seed(0)
    x, _ = torch.sort(torch.rand(7, generator=gen) * 5)
    y = torch.randn(7, generator=gen)
    others = ~torch.eye(7, dtype=torch.bool)
    weights = torch.softmax((-((x[:, None] - x[None, :]) * 2.0) ** 2 / 2).masked_fill(~others, float('-inf')), dim=-1)
    assert torch.allclose(ch10._reference_loo(x, y, 2.0), weights @ y, atol=1e-6)


def test_check_cells_of_the_notebooks_print_only_the_verdict(capsys):
    """Running a chapter's exercise cells in order (scaffold, then check) prints ✓ lines and nothing else."""
    for chapter in NAMESPACES:
        namespace = NAMESPACES[chapter]()
        printed = ''
        for source in exercise_cells(chapter):
            namespace, out = run(source, namespace)
            printed += out
            if 'ok = checks.' in source:
                assert namespace['ok'] is True
        verdicts = [line for line in printed.splitlines() if not line.startswith('   ')]
        assert verdicts and all(line.startswith('✓ 练习 ') for line in verdicts), printed
