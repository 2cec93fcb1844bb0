"""Checks for the exercises of chapter 17 (子词).

* :func:`bpe_segment` — 练习 17.7: segment one word by learned BPE merges.

The expected answers are computed here, independently of the student's code and of ``d2l_local``:
the merges are applied one after another, in the order they were learned, each to every
non-overlapping occurrence from left to right (the definition of BPE segmentation).
"""
from __future__ import annotations

from .core import Case, check_function

__all__ = ["bpe_segment"]


# ---------------------------------------------------------------------------------------------------
# 练习 17.7 按合并规则切分一个词
# ---------------------------------------------------------------------------------------------------


def _apply(symbols, a, b, *, first_only=False, right_to_left=False):
    """Merge (a, b) in `symbols`: every non-overlapping occurrence from the left (the rule), or a
    typical mistake (only the first occurrence; scanning from the right)."""
    if right_to_left:
        return [s[::-1] for s in _apply([s[::-1] for s in reversed(symbols)], b[::-1], a[::-1])][::-1]
    out, i, done = [], 0, False
    while i < len(symbols):
        if not done and i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
            done = first_only
        else:
            out.append(symbols[i])
            i += 1
    return out


def _reference(word, merges):
    symbols = list(word)
    for a, b in merges:
        symbols = _apply(symbols, a, b)
    return symbols


def _in_order(word, merges, **mistake):
    symbols = list(word)
    for a, b in merges:
        symbols = _apply(symbols, a, b, **mistake)
    return symbols


def _leftmost_first(word, merges):
    """Merge the leftmost adjacent pair that is a rule, whatever its rank (a typical mistake)."""
    rules = set(map(tuple, merges))
    symbols = list(word)
    while True:
        for i in range(len(symbols) - 1):
            if (symbols[i], symbols[i + 1]) in rules:
                symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
                break
        else:
            return symbols


def _longest_match(word, merges):
    """Greedy longest prefix from the vocabulary (WordPiece's way, not BPE's)."""
    vocab = set(word) | {a + b for a, b in merges}
    pieces, i = [], 0
    while i < len(word):
        j = max(j for j in range(i + 1, len(word) + 1) if word[i:j] in vocab or j == i + 1)
        pieces.append(word[i:j])
        i = j
    return pieces


_TOY = [("e", "s"), ("es", "t"), ("l", "o"), ("lo", "w"), ("e", "w"), ("n", "ew")]


def _cases():
    specs = [
        ("lowest", _TOY, "word='lowest'，merges 是 17.6 节玩具语料学到的前 6 条规则"),
        ("abcd", [("b", "c"), ("a", "b"), ("bc", "d")],
         "word='abcd'，merges=[('b','c'), ('a','b'), ('bc','d')]：排在前面的规则 (b, c) 在词的中间"),
        ("abab", [("a", "b")], "word='abab'，merges=[('a','b')]：同一条规则在词里出现两次"),
        ("aaa", [("a", "a")], "word='aaa'，merges=[('a','a')]：两个相同的符号相邻"),
        ("▁the", [("h", "e"), ("▁", "t"), ("▁t", "he")], "word='▁the'，merges=[('h','e'), ('▁','t'), ('▁t','he')]"),
        ("汤姆和我们", [("汤", "姆"), ("我", "们"), ("和", "我")],
         "word='汤姆和我们'，merges=[('汤','姆'), ('我','们'), ('和','我')]"),
        ("xyz", _TOY, "word='xyz'：没有一条规则用得上"),
        ("", _TOY, "word=''（空串）"),
    ]
    return [Case(args=(word, [tuple(m) for m in merges]), expected=_reference(word, merges), description=text)
            for word, merges, text in specs]


def _compare(got, expected):
    if isinstance(got, str):
        return f"应当返回子词的列表（list[str]），却返回了一个 str：{got!r}"
    if not isinstance(got, (list, tuple)) or not all(isinstance(piece, str) for piece in got):
        return f"应当返回子词的列表（list[str]），却返回了 {got!r:.80}"
    if list(got) != expected:
        return f"应当切成 {expected}，却切成了 {list(got)}"
    return None


def _diagnose(got, case):
    word, merges = case.args
    got = list(got)
    if "".join(got) != word:
        return (f"子词拼起来应当就是原来的词 {word!r}，你的拼起来是 {''.join(got)!r}：合并时不要丢掉或重复符号"
                "（例如循环结束后别忘了最后一个符号）。")
    if word == "" and got == [""]:
        return "空串没有字符，应当返回空列表 []，而不是 ['']。"
    checks = [
        (_leftmost_first(word, merges),
         "你总是先合并词里最靠左的、有规则可用的一对；BPE 要按规则学到的先后来：先把第 1 条规则用遍整个词，"
         "再用第 2 条……排在前面的规则优先，不管它在词里的哪个位置。"),
        (_longest_match(word, merges),
         "你按“从左起取词表里最长的片段”来切（这是 WordPiece 的做法）；BPE 要从单个字符开始，按学到的先后应用合并规则。"),
        (_in_order(word, merges, first_only=True),
         "每条规则只合并了第一处出现：同一对符号在词里出现几次，就要合并几次（从左到右，不重叠）。"),
        (_in_order(word, merges, right_to_left=True),
         "两个相同的符号相邻时（a a a）要从左往右合并，得到 aa a；你从右往左合并，得到了 a aa。"),
        (_in_order(word, list(reversed(merges))),
         "你把规则倒过来用了：merges 按学到的先后排列，第 1 条最先学到，也最先用。"),
    ]
    for wrong, message in checks:
        if got == wrong and wrong != case.expected:
            return message
    return None


def bpe_segment(func) -> bool:
    """练习 17.7：检查 ``bpe_segment(word, merges)``。

    从单个字符开始，按 merges 的先后逐条应用，每条在整个词里从左到右合并每一处不重叠的出现；返回 list[str]。
    八组输入与独立的参考实现比较，其中有规则的先后与位置不一致、同一规则出现两次、相同符号相邻、空串等情形；
    认得出“先合并最靠左的一对”、“取最长的词表片段”、“每条规则只合并一次”、“从右往左合并”、“规则倒着用”
    以及返回 str、丢掉符号这几种错误。
    """
    return check_function(
        "练习 17.7 按合并规则切分一个词", func, _cases(),
        hint=("symbols = list(word)；对 merges 里的每一条 (a, b)（按先后）：从左到右扫一遍 symbols，遇到相邻的 a、b "
              "就换成 a + b 并跳过两个位置，否则原样保留；最后返回 symbols。"),
        diagnose=_diagnose, compare_fn=_compare)
