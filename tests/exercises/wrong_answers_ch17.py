"""Wrong (and other right) answers to `bpe_segment` (chapter 17, BPE). Keyed by check name; see
exercise_support."""
from __future__ import annotations

from d2l_exercises import ch17
from exercise_support import right, wrong


def leftmost_pair_first(word, merges):
    return ch17._leftmost_first(word, merges)


def longest_match(word, merges):
    return ch17._longest_match(word, merges)


def each_merge_only_once(word, merges):
    return ch17._in_order(word, merges, first_only=True)


def right_to_left(word, merges):
    return ch17._in_order(word, merges, right_to_left=True)


def merges_in_reverse_order(word, merges):
    return ch17._in_order(word, list(reversed(merges)))


def returns_a_string(word, merges):
    return "".join(ch17._reference(word, merges))


def drops_the_last_symbol(word, merges):
    return ch17._reference(word, merges)[:-1]


def empty_word_as_one_piece(word, merges):
    return ch17._reference(word, merges) if word else [""]


def one_past_the_end(word, merges):
    return list(word) + [merges[len(merges)][0]]          # IndexError


def by_rank(word, merges):
    """The chapter's way: always the best-ranked pair next (merging all its occurrences)."""
    rank = {tuple(pair): k for k, pair in enumerate(merges)}
    symbols = list(word)
    while True:
        pairs = [(rank[p], i) for i, p in enumerate(zip(symbols, symbols[1:])) if p in rank]
        if not pairs:
            return symbols
        best = min(pairs)[0]
        out, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and rank.get((symbols[i], symbols[i + 1])) == best:
                out.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        symbols = out


WRONG = {
    "bpe_segment": [
        wrong(leftmost_pair_first, "最靠左", "先后"),
        wrong(longest_match, "第 2 个检查", "最靠左"),   # on this case it coincides with leftmost-first
        wrong(each_merge_only_once, "只合并了第一处"),
        wrong(right_to_left, "从右往左"),
        wrong(merges_in_reverse_order, "倒过来"),
        wrong(returns_a_string, "却返回了一个 str"),
        wrong(drops_the_last_symbol, "拼起来应当就是原来的词"),
        wrong(empty_word_as_one_piece, "空列表 []"),
        wrong(one_past_the_end, "IndexError", "在你的代码"),
    ],
}

RIGHT = {
    "bpe_segment": [right(by_rank)],
}
