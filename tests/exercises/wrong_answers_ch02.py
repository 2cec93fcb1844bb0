"""Wrong (and other right) answers to `preprocess_keep_numbers` and `batch_padding_ratio` (the
translation corpus: preprocessing, padding). Keyed by check name; see exercise_support."""
from __future__ import annotations

import fractions
import re

import numpy as np

import d2l_local as d2l
from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# preprocess_keep_numbers(text)

def _normalise(text):
    return text.replace("\u202f", " ").replace("\xa0", " ").lower()


def only_looks_before(text):
    return re.sub(r"(?<=[^ \d])(?=[,.!?])", " ", _normalise(text))


def only_looks_after(text):
    return re.sub(r"(?<=[^ ])(?=[,.!?](?!\d))", " ", _normalise(text))


def forgets_normalising(text):
    return re.sub(r"(?<=[^ ])(?=[,.!?])(?!(?<=\d)[.,]\d)", " ", text)


def backslash_d(text):
    """`\\d` also matches ３ and ٣: the task says 0–9."""
    return re.sub(r"(?<=[^ ])(?=[,.!?])(?!(?<=\d)[.,]\d)", " ", _normalise(text))


def keeps_every_mark_between_digits(text):
    return re.sub(r"(?<=[^ ])(?=[,.!?])(?!(?<=[0-9])[,.!?][0-9])", " ", _normalise(text))


def variable_lookbehind(text):
    return re.sub(r"(?<=[^ ])(?=[,.!?])(?<!\d+)", " ", text.lower())


def returns_the_tokens(text):
    return _normalise(text).split()


def only_the_nbsp_it_knew(text):
    text = text.replace("\xa0", " ").lower()                      # forgot \u202f
    return re.sub(r"(?<=[^ ])(?=[,.!?])(?!(?<=[0-9])[.,][0-9])", " ", text)


def full_width_marks_too(text):
    return re.sub(r"(?<=[^ ])(?=[,.!?，。！？])(?!(?<=[0-9])[.,][0-9])", " ", _normalise(text))


def replace_chain(text):
    text = _normalise(text)
    for mark in ",.!?":
        text = text.replace(mark, " " + mark)
    return text


def character_loop(text):
    text, out = _normalise(text), []
    for i, char in enumerate(text):
        between_digits = (char in ".," and 0 < i < len(text) - 1
                          and text[i - 1] in "0123456789" and text[i + 1] in "0123456789")
        if char in ",.!?" and i > 0 and text[i - 1] != " " and not between_digits:
            out.append(" ")
        out.append(char)
    return "".join(out)


def ascii_class(text):
    return re.sub(r"(?<=[^ ])(?=[,.!?])(?!(?<=[0-9])[.,][0-9])", " ", _normalise(text), flags=re.ASCII)


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
    "preprocess_keep_numbers": [
        wrong(d2l.preprocess_nmt, "数字中间的 . 和 , 仍然被分开了", label="preprocess_nmt"),
        wrong(only_looks_before, "你只看了标点前面的字符"),
        wrong(only_looks_after, "你只看了标点后面的字符"),
        wrong(forgets_normalising, "原有的两步"),
        wrong(backslash_d, "`\\d` 不只匹配 0-9", "[0-9]"),
        wrong(keeps_every_mark_between_digits, "! 和 ? 在哪里都要分开"),
        wrong(variable_lookbehind, "正则表达式写错了", "look-behind requires fixed-width pattern", "不能用 `+`、`*`"),
        wrong(returns_the_tokens, "返回处理后的字符串（str）"),
        wrong(only_the_nbsp_it_knew, "第 4 个检查"),
        wrong(full_width_marks_too, "第 5 个检查"),
        wrong(replace_chain, "数字中间的 . 和 , 仍然被分开了"),
        wrong(42, "应当是一个函数", label="not_a_function"),
    ],
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
    "preprocess_keep_numbers": [right(character_loop), right(ascii_class)],
    "batch_padding_ratio": [right(numpy_version), right(exact_fraction)],
}
