"""Checks for the exercises of chapter 9 (预测与评估).

* :func:`clipped_matches` — 练习 9.6: the clipped n-gram matches of one prediction (BLEU's counts);
* :func:`greedy_decode` — 练习 9.7: batched greedy decoding in evaluation mode, each sentence ending
  at its own <eos>.

The greedy-decoding check runs the student's loop on a *scripted* decoder, :class:`ScriptedDecoder`:
a tiny ``nn.Module`` with the chapter's decoder interface whose next token follows a fixed route
only when it is fed the previous token *and* the state it returned last (the state changes at every
call, so a loop that forgets to carry it goes astray). With its dropout submodule in training mode
it misbehaves on purpose, as dropout would; the cases start from training, evaluation and two mixed
modes, so that a loop that "restores" the wrong mode is caught; it records whether gradients were
being recorded. Expected answers come from the routes with plain Python, never from the student's
function; typical mistakes are recognised by running them on a fresh scripted decoder.
"""
from __future__ import annotations

import collections

import torch
from torch import nn

from .core import Case, check_function, compare, compare_pair
from .core import matches as _matches, pair as _pair

__all__ = ['clipped_matches', 'greedy_decode', 'ScriptedDecoder']


# ---------------------------------------------------------------------------------------------------
# 练习 9.6 截断的 n 元组匹配数
# ---------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------
# 练习 9.7 成批的贪心解码
# ---------------------------------------------------------------------------------------------------

PAD, BOS, EOS = 0, 1, 2
VOCAB_SIZE = 7
# The scripted translation ("route") of each source sentence: the tokens a decoder that is fed the
# right token and the right state gives, one per call. Route 2 does not end within any case's
# num_steps; route 3 is an empty translation; route 4 repeats a token, so the next token depends on
# the state (how far along the route we are), not only on the previous token.
_ROUTES = {
    0: [3, 4, EOS],
    1: [6, EOS],
    2: [3, 3, 5, 3, 3, 5, 3, 3, 5, 3],
    3: [EOS],
    4: [5, 5, 6, 4, EOS],
}
# How the decoder's modules are set before a case: (the decoder itself, its dropout submodule).
_MODES = {
    'train': ((True, True), '解码器原来处于训练模式'),
    'eval': ((False, False), '解码器原来处于评估模式'),
    'mixed': ((True, False), '解码器原来外层处于训练模式、dropout 子模块处于评估模式'),
    'mixed_other': ((False, True), '解码器原来外层处于评估模式、dropout 子模块处于训练模式'),
}


class ScriptedDecoder(nn.Module):
    """照脚本输出的小解码器，用法与本书的解码器相同：``Y, state = decoder(dec_X, state)``。

    dec_X 形状 (batch_size, 1)，是每个句子上一步的词元；Y 形状 (batch_size, 1, vocab_size)。state 是形状
    (batch_size, 2) 的 LongTensor，每行是 [脚本编号, 已经走了几步]；每次调用都返回一个**新的** state（步数加一），
    所以忘了把新状态传下去的循环会走错。只有第一步喂 <bos>、之后喂上一步的词元、并传入上一次返回的 state，
    它才按脚本给出下一个词元；否则给出脚本之外的一个普通词（不是 <eos>）。

    它的 dropout 子模块 ``noise`` 处于训练模式时，它像 dropout 一样“出错”（给出脚本词元的下一个）；
    它还在 ``grad_enabled`` 里记下每次调用时是否在记录梯度。
    """

    def __init__(self):
        super().__init__()
        self.noise = nn.Dropout(0.5)  # a submodule, so that modes are per module as in a real decoder
        self.grad_enabled = []

    def forward(self, X, state):
        if not isinstance(X, torch.Tensor) or X.dim() != 2 or X.shape[1] != 1:
            shown = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
            raise ValueError(f'dec_X 的形状应为 (batch_size, 1)，现在是 {shown}')
        if not isinstance(state, torch.Tensor) or tuple(state.shape) != (X.shape[0], 2):
            raise ValueError('state 应当原样传回解码器：它是上一次调用返回的 state')
        self.grad_enabled.append(torch.is_grad_enabled())
        tokens = []
        for (route, step), previous in zip(state.tolist(), X[:, 0].long().tolist()):
            path = _ROUTES[route]
            expected_input = BOS if step == 0 else (path[step - 1] if step - 1 < len(path) else None)
            scripted = path[step] if step < len(path) else None
            if previous == expected_input and scripted is not None:
                token = scripted
            else:  # off the script: an ordinary word other than the scripted one, never <eos>
                words = [w for w in range(3, VOCAB_SIZE) if w != scripted]
                token = words[(previous + 2 * step + route) % len(words)]
            if self.noise.training:
                token = (token + 1) % VOCAB_SIZE
            tokens.append(token)
        logits = torch.full((len(tokens), VOCAB_SIZE), -5.0)
        logits[torch.arange(len(tokens)), torch.tensor(tokens, dtype=torch.long)] = 5.0
        return logits[:, None, :], torch.stack([state[:, 0], state[:, 1] + 1], dim=1)


def _decoder(modes):
    decoder = ScriptedDecoder()
    decoder.training, decoder.noise.training = _MODES[modes][0]
    return decoder


def _initial_state(rows):
    return torch.stack([rows, torch.zeros_like(rows)], dim=1)


def _reference_greedy(rows, num_steps):
    """The routes, cut at their <eos> and at num_steps (plain Python, no decoder)."""
    out = []
    for row in rows.tolist():
        path = _ROUTES[row][:num_steps]
        out.append(path[:path.index(EOS)] if EOS in path else path)
    return out


def _greedy_loop(rows, num_steps, modes, *, evaluate=True, carry_state=True, feed_bos=False,
                 steps=None, keep_eos=False, stop=True):
    """The book's loop with one typical mistake switched on, run on a fresh scripted decoder."""
    decoder, state = _decoder(modes), _initial_state(rows)
    if evaluate:
        decoder.eval()
    dec_X = torch.full((len(rows), 1), BOS, dtype=torch.long)
    first_state, columns = state, []
    with torch.no_grad():
        for _ in range(num_steps if steps is None else steps):
            Y, new_state = decoder(torch.full((len(rows), 1), BOS) if feed_bos else dec_X, state)
            state = new_state if carry_state else first_state
            dec_X = Y.argmax(dim=2)
            columns.append(dec_X[:, 0].tolist())
    out = []
    for i in range(len(rows)):
        tokens = [column[i] for column in columns]
        if stop and EOS in tokens:
            tokens = tokens[:tokens.index(EOS) + (1 if keep_eos else 0)]
        out.append(tokens)
    return out


def _run_greedy(func):
    def run(rows, num_steps, modes):
        decoder = _decoder(modes)
        before = [m.training for m in decoder.modules()]
        tokens = func(decoder, _initial_state(rows), len(rows), BOS, EOS, num_steps)
        return {'tokens': tokens, 'before': before, 'after': [m.training for m in decoder.modules()],
                'grad': any(decoder.grad_enabled)}
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
    if got['after'] != got['before']:
        return '译文对了，但调用之后解码器的模式与调用之前不同'
    if got['grad']:
        return '译文对了，但解码时还在记录梯度'
    return None


def _diagnose_greedy(got, case):
    rows, num_steps, modes = case.args
    tokens = _as_lists(got['tokens'])
    if not isinstance(tokens, (list, tuple)):
        return '应返回一个列表，每个句子一项：该句生成的词元索引（int 的列表，不含 <eos>）。'
    right = _reference_greedy(rows, num_steps)
    if _matches(tokens, right):
        if got['after'] != got['before']:
            if not any(got['after']):
                return ('用完要把模式恢复成调用者原来的样子：只调用 decoder.eval() 会让之后的训练没有 dropout。'
                        '用本章的 eval_mode(decoder) 上下文管理器，它在离开时逐个恢复子模块的模式。')
            return ('模式没有恢复成调用者原来的样子：调用者的各个子模块可能处于不同的模式，'
                    '离开时调用 decoder.train() 或 decoder.train(原来的 decoder.training) 会把它们统统设成同一种。'
                    '用本章的 eval_mode(decoder)，它记下每个子模块原来的模式，离开时逐个恢复。')
        if got['grad']:
            return ('题目要求用 torch.no_grad()：解码不需要梯度，记录梯度只会白白占用内存。'
                    '写成 with eval_mode(decoder), torch.no_grad(): ...。')
    mistakes = [
        (dict(evaluate=False), '词元都差了一点：解码器还在训练模式，dropout 仍在起作用。解码时要切换到评估模式，'
                               '例如 with eval_mode(decoder), torch.no_grad(): ...'),
        (dict(carry_state=False), '每次调用解码器都传入了最初的 state：解码器返回的新状态要传给下一次调用，'
                                  'Y, state = decoder(dec_X, state)，否则它不知道前面已经生成了什么。'),
        (dict(keep_eos=True), '译文里不应包含 <eos>：生成 <eos> 表示这个句子结束了，<eos> 本身不放进结果。'),
        (dict(stop=False), '有的句子在它的 <eos> 之后还在继续生成：每个句子在生成**自己的** <eos> 时结束，'
                           '之后的词元（批量里其他句子还没结束时解码器照样会给出）要丢掉。'),
        (dict(feed_bos=True), '每一步的输入都是 <bos>：下一步的输入应是这一步预测的词元，dec_X = Y.argmax(dim=2)。'),
    ]
    for steps in (num_steps - 1, num_steps + 1):
        mistakes.append((dict(steps=steps), f'循环的步数差了一：每个句子最多生成 num_steps = {num_steps} 个词元'
                                            '（for _ in range(num_steps)）。'))
    for kwargs, hint in mistakes:
        wrong = _greedy_loop(rows, num_steps, modes, **kwargs)
        if wrong != right and _matches(tokens, wrong):
            return hint
    return None


_GREEDY_CASES = (([0, 1, 2, 3], 4, 'train'), ([2, 0], 2, 'eval'), ([4, 1], 6, 'mixed'),
                 ([0, 2, 3], 5, 'mixed_other'))


def greedy_decode(func) -> bool:
    """练习 9.7：检查 func(decoder, state, batch_size, bos, eos, num_steps) 的成批贪心解码。

    decoder(dec_X, state) -> (Y, state)，dec_X (batch_size, 1)，Y (batch_size, 1, vocab_size)。应返回
    batch_size 个 int 列表：每个句子生成到它自己的 <eos> 为止（不含 <eos>），最多 num_steps 个词元；
    每次调用都把解码器返回的新 state 传下去；解码时 decoder 处于评估模式、不记录梯度，结束后每个子模块
    恢复调用者原来的模式。检查用一个照脚本输出的 ScriptedDecoder，它在四个检查里分别从训练模式、评估模式
    和两种混合模式出发。"""
    cases = []
    for rows, num_steps, modes in _GREEDY_CASES:
        rows = torch.tensor(rows)
        cases.append(Case((rows, num_steps, modes), _reference_greedy(rows, num_steps),
                          f'{len(rows)} 个句子，num_steps={num_steps}，{_MODES[modes][1]}'))
    return check_function(
        '练习 9.7 成批的贪心解码', _run_greedy(func), cases,
        hint='with eval_mode(decoder), torch.no_grad(): 从 (batch_size, 1) 的 <bos> 出发，循环 num_steps 次：'
             'Y, state = decoder(dec_X, state)；dec_X = Y.argmax(dim=2)；记下每步的词元；'
             '最后每个句子截到它的第一个 <eos>。',
        diagnose=_diagnose_greedy, compare_fn=_compare_greedy)
