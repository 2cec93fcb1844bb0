"""Wrong (and other right) answers to `preprocess_keep_numbers` (the translation corpus:
preprocessing). Keyed by check name; see exercise_support."""
from __future__ import annotations

import re

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
}

RIGHT = {
    "preprocess_keep_numbers": [right(character_loop), right(ascii_class)],
}
