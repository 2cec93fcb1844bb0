"""Checks for the exercises of chapter 2 (机器翻译语料：预处理、词元化与词表).

* :func:`preprocess_keep_numbers` — 练习 2.1: preprocessing that leaves ``3.5`` and ``1,000`` whole.

The expected answers come from a small reference written here (a character loop), never from the
student's function; typical mistakes are recognised by running them on the failing case.
"""
from __future__ import annotations

import re

from .core import Case, check_function

__all__ = ['preprocess_keep_numbers']


# ---------------------------------------------------------------------------------------------------
# 练习 2.1 不拆开数字的预处理
# ---------------------------------------------------------------------------------------------------

PREPROCESS_TITLE = '练习 2.1 不拆开数字的预处理'
_PUNCT = ',.!?'


def _is_digit(char):
    return '0' <= char <= '9'


def _preprocess_reference(text):
    """Character by character: a space before , . ! ? that follows a non-space, unless the mark is
    a . or , with a digit on both sides (3.5, 1,000)."""
    text = text.replace('\u202f', ' ').replace('\xa0', ' ').lower()
    out = []
    for i, char in enumerate(text):
        if char in _PUNCT and i > 0 and text[i - 1] != ' ':
            inside_number = (char in '.,' and _is_digit(text[i - 1])
                             and i + 1 < len(text) and _is_digit(text[i + 1]))
            if not inside_number:
                out.append(' ')
        out.append(char)
    return ''.join(out)


# Wider than the examples in the text on purpose: ! and ? between digits (always split), a version
# number, full-width punctuation (not among , . ! ?) and digits that are not 0-9 (full-width ３,
# Arabic-Indic ٣: `\d` matches them, the task's "数字 0–9" does not).
_PREPROCESS_INPUTS = (
    'It costs 3.50, not 1,000.',
    "I'm 5.",
    'Room no.5, please! Version 1.2.3.',
    'Pi is 3.14159\u202f! It was 3!2, then 4?1.',
    'Hi, Tom. Wait... Ｈｉ，Ｔｏｍ！',
    'Ça\xa0alors\u202f! 2,5 kg? ３.５ or ٣,٥.',
)


def _preprocess_cases():
    return [Case((text,), _preprocess_reference(text), f'text={text!r}') for text in _PREPROCESS_INPUTS]


def _normalise(text):
    return text.replace('\u202f', ' ').replace('\xa0', ' ').lower()


def _preprocess_mistakes(text):
    yield (re.sub(r'(?<=[^ ])(?=[,.!?])', ' ', _normalise(text)),
           '数字中间的 . 和 , 仍然被分开了（这是原来的 preprocess_nmt）。'
           '当标点是 . 或 , 并且前后都是数字时，不要在它前面插空格。')
    yield (re.sub(r'(?<=[^ ])(?=[,.!?])(?!(?<=\d)[.,]\d)', ' ', _normalise(text)),
           '`\\d` 不只匹配 0-9：全角数字 ３、阿拉伯-印度数字 ٣ 也算 `\\d`。题目说的是数字 0–9，写 `[0-9]`。')
    yield (re.sub(r'(?<=[^ ])(?=[,.!?])(?!(?<=[0-9])[.,!?][0-9])', ' ', _normalise(text)),
           '只有 . 和 , 夹在两个数字之间时才不分开；! 和 ? 在哪里都要分开（"3!2" 变成 "3 !2"）。')
    yield (re.sub(r'(?<=[^ \d])(?=[,.!?])', ' ', _normalise(text)),
           '你只看了标点前面的字符：数字后面的标点一律没有分开，'
           '可句末的 "5." 应当变成 "5 ."。只有前后都是数字（如 3.5）时才不分开。')
    yield (re.sub(r'(?<=[^ ])(?=[,.!?](?!\d))', ' ', _normalise(text)),
           '你只看了标点后面的字符：像 "no.5" 这样前面是字母的 . 仍应分开。'
           '数字里的标点，前后两边都必须是数字（在否定断言里再套一个向后断言 `(?<=[0-9])`）。')
    yield (re.sub(r'(?<=[^ ])(?=[,.!?])(?!(?<=[0-9])[.,][0-9])', ' ', text),
           '别忘了 preprocess_nmt 原有的两步：把 \\u202f 和 \\xa0 换成普通空格，再转成小写。')
    yield (re.sub(r'(?<=[^ ])(?=[,.!?])(?!(?<=[0-9])[.,][0-9])', ' ', text.lower()),
           '还要把两种不换行空格 \\u202f 和 \\xa0 换成普通空格（preprocess_nmt 的第一步）。')


def _diagnose_preprocess(got, case):
    if not isinstance(got, str):
        return '返回处理后的字符串（str），例如用 `re.sub(...)` 的结果。'
    for wrong, hint in _preprocess_mistakes(*case.args):
        if got == wrong:
            return hint
    return None


def _explain_regex_errors(func):
    """The student's function, with a malformed regular expression explained in Chinese.

    Without this, the report would point into the `re` module's own source, not at the pattern."""
    if not callable(func):
        return func  # check_function says what to pass

    def preprocess(text):
        try:
            return func(text)
        except re.error as error:
            advice = ('向后断言 `(?<=...)`、`(?<!...)` 里只能写固定长度的模式，不能用 `+`、`*`。'
                      if 'look-behind' in str(error) else '检查括号是否配对、特殊字符是否需要转义。')
            raise ValueError(f'正则表达式写错了（re.error: {error}）。{advice}') from None
    return preprocess


def preprocess_keep_numbers(func) -> bool:
    """练习 2.1：检查 ``func(text) -> str``。

    与 ``preprocess_nmt`` 相同（不换行空格换成空格、转小写、在前面不是空格的 , . ! ? 前插入空格），
    例外是前后都是数字 0–9 的 . 或 , 保持原样。检查的句子里也有全角和其他文字的数字、数字之间的 ! 和 ?、
    全角标点。打印 ✓/✗/⏳，全部通过时返回 True。"""
    return check_function(
        PREPROCESS_TITLE, _explain_regex_errors(func), _preprocess_cases(),
        hint=('在 preprocess_nmt 的正则表达式 `(?<=[^ ])(?=[,.!?])` 后面再加一个否定的向前断言 `(?!...)`，'
              '排除“前一个字符是数字、标点是 . 或 ,、后一个字符也是数字”的位置'
              '（向前断言里可以再套一个向后断言）。'),
        diagnose=_diagnose_preprocess)
