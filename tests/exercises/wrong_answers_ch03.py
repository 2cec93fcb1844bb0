"""Wrong (and other right) answers to `batch_padding_ratio` (minibatches: the padding of batches
padded to their own longest sentence). Keyed by check name; see exercise_support."""
from __future__ import annotations

import fractions

import numpy as np

from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# batch_padding_ratio(lengths, batch_size)

def _ratio(extra=1, global_width=False, average=False, drop_last=False, valid_share=False, percent=False,
           sort=False, full_batches=False):
    def batch_padding_ratio(lengths, batch_size):
        lengths = sorted(lengths) if sort else lengths
        batches = [lengths[s:s + batch_size] for s in range(0, len(lengths), batch_size)]
        if drop_last:
            batches = [b for b in batches if len(b) == batch_size]
        widest = max(lengths) + extra
        ratios, pads, positions = [], 0, 0
        for batch in batches:
            width = widest if global_width else max(batch) + extra
            rows = batch_size if full_batches else len(batch)
            batch_pads = width * rows - sum(n + extra for n in batch)
            ratios.append(batch_pads / (width * rows))
            pads, positions = pads + batch_pads, positions + width * rows
        rho = sum(ratios) / len(ratios) if average else pads / positions
        rho = 1 - rho if valid_share else rho
        return 100 * rho if percent else rho
    return batch_padding_ratio


def one_batch_too_many(lengths, batch_size):
    pads = positions = 0
    for start in range(0, len(lengths) + 1, batch_size):   # an empty last batch when it divides evenly
        valid = [n + 1 for n in lengths[start:start + batch_size]]
        positions += max(valid) * len(valid)
        pads += max(valid) * len(valid) - sum(valid)
    return pads / positions


def floor_division(lengths, batch_size):
    pads = positions = 0
    for start in range(0, len(lengths), batch_size):
        valid = [n + 1 for n in lengths[start:start + batch_size]]
        positions += max(valid) * len(valid)
        pads += max(valid) * len(valid) - sum(valid)
    return pads // positions


def numpy_version(lengths, batch_size):
    pads = positions = np.int64(0)
    for start in range(0, len(lengths), batch_size):
        valid = np.array(lengths[start:start + batch_size]) + 1
        positions += valid.max() * len(valid)
        pads += (valid.max() - valid).sum()
    return pads / positions                                   # numpy.float64


def exact_fraction(lengths, batch_size):
    pads = positions = 0
    for start in range(0, len(lengths), batch_size):
        valid = [n + 1 for n in lengths[start:start + batch_size]]
        positions += max(valid) * len(valid)
        pads += max(valid) * len(valid) - sum(valid)
    return fractions.Fraction(pads, positions)


def ratio_per_batch_list(lengths, batch_size):
    return [0.5, 0.5]


WRONG = {
    "batch_padding_ratio": [
        wrong(ratio_per_batch_list, "应当是 int 或 float"),
        wrong(_ratio(extra=0), "每个句子末尾还有一个 <eos>", label="forgets_eos"),
        wrong(_ratio(global_width=True), "填充到了全体最长的句子", label="global_width"),
        wrong(_ratio(average=True), "不要对各批的填充比例求平均", label="average_of_ratios"),
        wrong(_ratio(drop_last=True), "最后一个不满 batch_size 的批量也要算进去", label="drops_last_batch"),
        wrong(_ratio(valid_share=True), "有效位置所占的比例 1 - ρ", label="valid_share"),
        wrong(one_batch_too_many, "ValueError", "max()", "positions += max(valid) * len(valid)"),
        wrong(floor_division, "第 1 个检查"),
        wrong(_ratio(percent=True), "第 1 个检查", label="percent"),
        wrong(_ratio(sort=True), "第 1 个检查", label="sorts_first"),
        wrong(_ratio(full_batches=True), "第 1 个检查", label="last_batch_counted_full"),
    ],
}

RIGHT = {
    "batch_padding_ratio": [right(numpy_version), right(exact_fraction)],
}
