"""Checks for the exercises of chapter 3 (小批量、有效长度与留出集).

* :func:`batch_padding_ratio` — 练习 3.1: the padding ratio when every batch is padded to its own
  longest sentence (the measure that length bucketing improves).

The expected answers come from a small reference written here (padded batches built token by
token), never from the student's function; typical mistakes are recognised by running them on the
failing case.
"""
from __future__ import annotations

from .core import Case, check_function

__all__ = ['batch_padding_ratio']


# ---------------------------------------------------------------------------------------------------
# 练习 3.1 按批填充的填充比例
# ---------------------------------------------------------------------------------------------------

PADDING_TITLE = '练习 3.1 按批填充的填充比例'


def _padding_reference(lengths, batch_size):
    """Build the padded batches token by token and count the <pad> entries."""
    rows = []
    for start in range(0, len(lengths), batch_size):
        batch = [['w'] * n + ['<eos>'] for n in lengths[start:start + batch_size]]
        width = max(len(row) for row in batch)
        rows.extend(row + ['<pad>'] * (width - len(row)) for row in batch)
    tokens = [token for row in rows for token in row]
    return tokens.count('<pad>') / len(tokens)


_PADDING_INPUTS = (
    ([3, 7, 2, 5, 4, 6, 1], 3),
    ([1, 1, 2, 3, 3, 4, 6, 9], 4),   # sorted by length: what bucketing produces
    ([2, 8, 5], 16),                 # fewer sentences than batch_size: a single batch
    ([4, 4, 4, 4], 2),               # no padding at all
)


def _padding_cases():
    return [Case((list(lengths), batch_size), _padding_reference(lengths, batch_size),
                 f'lengths={lengths}，batch_size={batch_size}') for lengths, batch_size in _PADDING_INPUTS]


def _padding_mistakes(lengths, batch_size):
    batches = [lengths[s:s + batch_size] for s in range(0, len(lengths), batch_size)]

    def pooled(batches, extra=1, width=None):
        pads = positions = 0
        for batch in batches:
            sizes = [n + extra for n in batch]
            w = width if width is not None else max(sizes)
            positions += w * len(sizes)
            pads += sum(w - n for n in sizes)
        return pads / positions if positions else 0.0

    right = pooled(batches)
    yield pooled(batches, extra=0), ('每个句子末尾还有一个 <eos>：第 i 句占 n_i + 1 个位置（有效长度 ℓ_i = n_i + 1），'
                                     '每批的宽度也是本批最大的 n_i + 1。')
    yield pooled(batches, width=max(lengths) + 1), ('你把所有批量都填充到了全体最长的句子。'
                                                   '这里每个批量只填充到本批最长的句子（再加 <eos>）。')
    per_batch = [pooled([batch]) for batch in batches]
    yield sum(per_batch) / len(per_batch), ('不要对各批的填充比例求平均：各批的位置数不同。'
                                            'ρ = 全部填充位置数 / 全部位置数。')
    full = [batch for batch in batches if len(batch) == batch_size]
    if len(full) != len(batches):
        yield pooled(full), '最后一个不满 batch_size 的批量也要算进去。'
    yield 1 - right, '你算的是有效位置所占的比例 1 - ρ；题目要的是填充位置所占的比例 ρ。'


def _diagnose_padding(got, case):
    try:
        value = float(got)
    except Exception:  # None, a list, a tensor of several numbers ...
        return '返回一个数（float），例如 `pads / positions`。'
    for wrong, hint in _padding_mistakes(*case.args):
        if abs(value - wrong) <= 1e-6 and abs(wrong - case.expected) > 1e-6:
            return hint
    return None


def batch_padding_ratio(func) -> bool:
    """练习 3.1：检查 ``func(lengths, batch_size) -> float``。

    lengths 是各句的词元数 n_i（不含 <eos>），按组批的顺序排列；按顺序每 batch_size 句一批（最后一批可以不满），
    每批填充到本批最长的句子加 <eos>。答案是 ρ = 填充位置数 / 全部位置数。打印 ✓/✗/⏳，全部通过时返回 True。"""
    return check_function(
        PADDING_TITLE, func, _padding_cases(),
        hint=('按顺序每 batch_size 个句子组成一批（最后一批可以不满）；第 i 句占 n_i + 1 个位置（含 <eos>），'
              '一批的宽度是本批最大的 n_i + 1。把所有批量的填充位置数和总位置数分别加起来再相除。'),
        diagnose=_diagnose_padding)
