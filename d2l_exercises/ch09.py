"""Checks for the exercises of chapter 9 (预测与评估).

The greedy-decoding check runs the student's loop on a *scripted* decoder: a tiny ``nn.Module``
with the chapter's decoder interface, ``decoder(dec_X, state) -> (logits, state)``, whose next
token is read from a fixed table. In training mode it misbehaves on purpose (as dropout would), so
a loop that forgets evaluation mode gets different tokens. Expected answers are computed from the
table with plain Python, never from the student's function.
"""
from __future__ import annotations

import collections

import torch
from torch import nn

from d2l_exercises.core import Case, check_function, compare, compare_pair
from d2l_exercises.core import matches as _matches, pair as _pair

__all__ = ['clipped_matches', 'greedy_decode', 'ScriptedDecoder']


# ----------------------------------------------------------------------------------------------
# 练习 9.6：截断的 n 元组匹配数（语料级 BLEU 的分子和分母）
# ----------------------------------------------------------------------------------------------

def _grams(tokens, n):
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _reference_matches(pred, references, n):
    pred_tokens = pred.split()
    limit = {}
    for ref in references:
        counts = {}
        for gram in _grams(ref.split(), n):
            counts[gram] = counts.get(gram, 0) + 1
        for gram, count in counts.items():
            limit[gram] = max(limit.get(gram, 0), count)
    counts = {}
    for gram in _grams(pred_tokens, n):
        counts[gram] = counts.get(gram, 0) + 1
    matches = sum(min(count, limit.get(gram, 0)) for gram, count in counts.items())
    return matches, max(0, len(pred_tokens) - n + 1)


def _compare_matches(got, expected):
    return compare_pair(got, expected, ('matches', 'total'))


def _diagnose_matches(got, case):
    pred, references, n = case.args
    matches, total, problem = _pair(got, ('matches', 'total'))
    if problem:
        return '最后写 return matches, total（两个整数）。'
    right_matches, right_total = _reference_matches(pred, references, n)
    pred_tokens = pred.split()
    pred_grams = _grams(pred_tokens, n)
    ref_grams = [collections.Counter(_grams(r.split(), n)) for r in references]
    if not _matches(total, right_total):
        if _matches(total, len(pred_tokens) - n + 1):
            return '预测比 n 还短时，n 元组的个数是 0，不能是负数：max(0, len(tokens) - n + 1)。'
        if _matches(total, len(pred_tokens) - n):
            return '差一：长度为 L 的序列有 L - n + 1 个 n 元组（不是 L - n）。'
        if _matches(total, len(pred_tokens)):
            return 'total 是预测里 n 元组的个数 max(0, L - n + 1)，不是词元数 L。'
        if _matches(total, len(set(pred_grams))):
            return 'total 要把重复出现的 n 元组也算上：它是 n 元组的总个数，不是不同 n 元组的个数。'
        return None
    if _matches(matches, sum(1 for g in pred_grams if any(c[g] for c in ref_grams))):
        return ('没有截断：`le le le le` 对参考译文 `le chat est là` 会得到满分的 1 元组精度。一个 n 元组在预测里'
                '出现几次，最多只算它在参考译文里出现的次数：min(预测中的次数, 参考中的最多次数)。')
    if _matches(matches, sum(min(count, sum(c[g] for c in ref_grams))
                             for g, count in collections.Counter(pred_grams).items())):
        return ('有多个参考译文时，截断的上限是这个 n 元组在**任一**参考译文中出现的最多次数（取 max），'
                '不是各参考译文中的次数之和。Counter 的 | 运算取的正是逐项最大值。')
    if _matches(matches, sum(1 for g in set(pred_grams) if any(c[g] for c in ref_grams))):
        return '重复出现的 n 元组只算了一次：要按次数数，min(预测中的次数, 参考中的最多次数)。'
    return None


_MATCH_CASES = [
    ('le le le le', ['le chat est là'], 1, '预测 "le le le le"，参考 ["le chat est là"]，n=1'),
    ('a b b c d', ['a b c d e f'], 2, '预测 "a b b c d"，参考 ["a b c d e f"]，n=2'),
    ('le le le', ['le chat', 'le chien'], 1, '预测 "le le le"，两个参考 ["le chat", "le chien"]，n=1'),
    ('je suis chez moi .', ['je suis à la maison .', 'je suis chez moi .'], 3,
     '预测 "je suis chez moi ."，两个参考，n=3'),
    ('je je suis', ['je je ne suis pas'], 1, '预测 "je je suis"，参考 ["je je ne suis pas"]，n=1'),
    ('va', ['va !'], 3, '预测 "va"（只有 1 个词元），参考 ["va !"]，n=3'),
]


def clipped_matches(func) -> bool:
    """练习 9.6：检查 func(pred, references, n) -> (matches, total)。

    pred 是用空格分隔词元的 str，references 是若干参考译文（str 的列表）。total 是预测中 n 元组的个数
    max(0, L - n + 1)；matches = sum_g min(预测中 g 的次数, max_r 参考 r 中 g 的次数)。"""
    cases = [Case((pred, refs, n), _reference_matches(pred, refs, n), description)
             for pred, refs, n, description in _MATCH_CASES]
    return check_function(
        '练习 9.6 截断的 n 元组匹配数', func, cases,
        hint='用 ngram_counts(tokens, n) 数预测和每个参考译文的 n 元组；上限取各参考译文计数的逐项最大值'
             '（Counter 的 |）；matches = sum(min(次数, 上限))，total = max(0, len(tokens) - n + 1)。',
        diagnose=_diagnose_matches, compare_fn=_compare_matches)


# ----------------------------------------------------------------------------------------------
# 练习 9.7：成批的贪心解码（在评估模式下，每句在自己的 <eos> 处结束）
# ----------------------------------------------------------------------------------------------

PAD, BOS, EOS = 0, 1, 2
VOCAB_SIZE = 7


class ScriptedDecoder(nn.Module):
    """A stand-in for the chapter's decoders: decoder(dec_X, state) -> (logits, state).

    dec_X (batch_size, 1) is the previous token of each sentence; state (batch_size,) says which
    script each row follows. The next token is table[state, previous token]. In training mode the
    decoder imitates dropout noise deterministically: it prefers the token after the scripted one."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer('table', table)
        self.noise = nn.Dropout(0.5)  # a submodule, so that modes are per module as in a real decoder

    def forward(self, X, state):
        if X.dim() != 2 or X.shape[1] != 1:
            raise ValueError(f'dec_X 的形状应为 (batch_size, 1)，现在是 {tuple(X.shape)}')
        if not isinstance(state, torch.Tensor) or state.shape != X.shape[:1]:
            raise ValueError('state 应当原样传回解码器：它是上一次调用返回的 state')
        nxt = self.table[state, X[:, 0].long()]
        if self.training:
            nxt = (nxt + 1) % self.table.shape[1]
        logits = torch.full((X.shape[0], self.table.shape[1]), -5.0)
        logits[torch.arange(X.shape[0]), nxt] = 5.0
        return logits[:, None, :], state


def _table():
    """Scripts for four sentences over the tokens 0 <pad>, 1 <bos>, 2 <eos>, 3..6 words."""
    table = torch.full((4, VOCAB_SIZE), 5, dtype=torch.long)
    table[:, EOS] = 6                                   # after <eos> a careless loop goes on with 6
    table[0, BOS], table[0, 3], table[0, 4] = 3, 4, EOS  # 3 4 <eos>
    table[1, BOS], table[1, 6] = 6, EOS                  # 6 <eos>
    table[2, BOS], table[2, 3] = 3, 3                    # 3 3 3 ... never ends
    table[3, BOS] = EOS                                  # <eos> at once: an empty translation
    return table


def _reference_greedy(table, rows, num_steps, training=False):
    """Plain-Python greedy decoding of the scripts (training=True: what the noisy mode would give)."""
    out = []
    for row in rows:
        tokens, prev = [], BOS
        for _ in range(num_steps):
            prev = int(table[row, prev])
            if training:
                prev = (prev + 1) % table.shape[1]
            if prev == EOS:
                break
            tokens.append(prev)
        out.append(tokens)
    return out


def _run_greedy(func):
    def run(rows, num_steps):
        decoder = ScriptedDecoder(_table())
        decoder.train()
        state = rows.clone()
        tokens = func(decoder, state, len(rows), BOS, EOS, num_steps)
        return {'tokens': tokens, 'modes': [m.training for m in decoder.modules()]}
    return run


def _as_lists(tokens):
    if isinstance(tokens, torch.Tensor):
        return tokens.tolist()
    if isinstance(tokens, (list, tuple)):
        return [t.tolist() if isinstance(t, torch.Tensor) else t for t in tokens]
    return tokens


def _compare_greedy(got, expected):
    problem = compare(_as_lists(got['tokens']), expected, where='译文词元')
    if problem:
        return problem
    if not all(got['modes']):
        return '译文对了，但调用之后解码器没有回到训练模式'
    return None


def _diagnose_greedy(got, case):
    rows, num_steps = case.args
    table = _table()
    tokens = _as_lists(got['tokens'])
    if not isinstance(tokens, (list, tuple)):
        return '应返回一个列表，每个句子一项：该句生成的词元索引（int 的列表，不含 <eos>）。'
    if _matches(tokens, _reference_greedy(table, rows, num_steps, training=True)):
        return ('词元都差了一点：解码器还在训练模式，dropout 仍在起作用。解码时要切换到评估模式，'
                '例如 with eval_mode(decoder), torch.no_grad(): ...')
    if _matches(tokens, _reference_greedy(table, rows, num_steps)) and not all(got['modes']):
        return ('用完要把模式恢复成调用者原来的样子：只调用 decoder.eval() 会让之后的训练没有 dropout。'
                '用本章的 eval_mode(decoder) 上下文管理器，它在离开时逐个恢复子模块的模式。')
    right = _reference_greedy(table, rows, num_steps)
    with_eos = [t + [EOS] if len(t) < num_steps else t for t in right]
    if _matches(tokens, with_eos):
        return '译文里不应包含 <eos>：生成 <eos> 表示这个句子结束了，<eos> 本身不放进结果。'
    for steps in (num_steps - 1, num_steps + 1):
        if steps >= 0 and _matches(tokens, _reference_greedy(table, rows, steps)):
            return f'循环的步数差了一：每个句子最多生成 num_steps = {num_steps} 个词元（for _ in range(num_steps)）。'
    if isinstance(tokens, (list, tuple)) and len(tokens) == len(right) and all(
            isinstance(t, (list, tuple)) and list(t[:len(r)]) == r and len(t) > len(r) for t, r in zip(tokens, right)
            if len(r) < num_steps):
        return ('有的句子在它的 <eos> 之后还在继续生成：每个句子在生成**自己的** <eos> 时结束，'
                '之后的词元（批量里其他句子还没结束时解码器照样会给出）要丢掉。')
    first_only = []
    for row in rows:
        first = int(table[row, BOS])
        first_only.append([] if first == EOS else [first] * num_steps)
    if _matches(tokens, first_only):
        return '每一步的输入都是 <bos>：下一步的输入应是这一步预测的词元，dec_X = Y.argmax(dim=2)。'
    return None


def greedy_decode(func) -> bool:
    """练习 9.7：检查 func(decoder, state, batch_size, bos, eos, num_steps) 的成批贪心解码。

    decoder(dec_X, state) -> (Y, state)，dec_X (batch_size, 1)，Y (batch_size, 1, vocab_size)。应返回
    batch_size 个 int 列表：每个句子生成到它自己的 <eos> 为止（不含 <eos>），最多 num_steps 个词元；
    解码时 decoder 处于评估模式，结束后恢复原来的模式。检查用一个照脚本输出的 ScriptedDecoder。"""
    cases = []
    for rows, num_steps in (([0, 1, 2, 3], 4), ([2, 0], 2), ([1], 1), ([0, 2], 5)):
        rows = torch.tensor(rows)
        cases.append(Case((rows, num_steps), _reference_greedy(_table(), rows, num_steps),
                          f'{len(rows)} 个句子，num_steps={num_steps}'))
    return check_function(
        '练习 9.7 成批的贪心解码', _run_greedy(func), cases,
        hint='with eval_mode(decoder), torch.no_grad(): 从 (batch_size, 1) 的 <bos> 出发，循环 num_steps 次：'
             'Y, state = decoder(dec_X, state)；dec_X = Y.argmax(dim=2)；记下每步的词元；'
             '最后每个句子截到它的第一个 <eos>。',
        diagnose=_diagnose_greedy, compare_fn=_compare_greedy)
