"""Checks for the exercises of chapter 1 (编码器–解码器架构).

* :func:`masked_mean_context` — 练习 1.3: the toy encoder's context, averaged over the valid positions only;
* :func:`greedy_decode` — 练习 1.6: the greedy generation loop written against the ``Decoder`` interface.

Expected answers come from small references written here (plain loops over fixed, seeded CPU
tensors), never from the student's function. Typical mistakes are recognised by running the same
mistake on the failing case and comparing (see the ``_diagnose_*`` functions).
"""
from __future__ import annotations

import torch
from torch import nn

from .core import Case, check_function, compare

__all__ = ['masked_mean_context', 'greedy_decode', 'ScriptedDecoder']


# ---------------------------------------------------------------------------------------------------
# 练习 1.3 只对有效位置求平均的上下文
# ---------------------------------------------------------------------------------------------------

MASKED_MEAN_TITLE = '练习 1.3 只对有效位置求平均的上下文'


def _masked_mean_reference(embs, valid_lens):
    """Row by row: the mean of the first valid_lens[i] vectors of sequence i."""
    return torch.stack([embs[i, :int(n)].mean(dim=0) for i, n in enumerate(valid_lens.tolist())])


def _masked_mean_cases():
    gen = torch.Generator().manual_seed(101)
    cases = []
    # batch_size == embed_size in the first case on purpose: dividing by valid_lens without [:, None]
    # then broadcasts along the wrong axis instead of raising, and the check can say so.
    for shape, lens in (((3, 5, 3), [3, 5, 1]), ((2, 6, 4), [6, 2]), ((1, 4, 2), [4])):
        embs = torch.randn(*shape, generator=gen)
        valid_lens = torch.tensor(lens)
        cases.append(Case((embs, valid_lens), _masked_mean_reference(embs, valid_lens),
                          f'embs 形状 {shape}，valid_lens={lens}'))
    return cases


def _masked_mean_mistakes(embs, valid_lens):
    """(what the typical wrong version computes, the hint that explains it), most telling first."""
    steps = embs.shape[1]
    mask = (torch.arange(steps)[None, :] < valid_lens[:, None]).unsqueeze(-1)
    valid_sum = (embs * mask).sum(dim=1)

    def first(shift, divide_by_count):
        """Sum over the first valid_lens + shift positions, divided by that count or by valid_lens."""
        rows = []
        for i, n in enumerate(valid_lens.tolist()):
            count = min(max(n + shift, 0), steps)
            rows.append(embs[i, :count].sum(dim=0) / (max(count, 1) if divide_by_count else n))
        return torch.stack(rows)

    yield embs.mean(dim=1), ('你对全部 num_steps 个位置求了平均，末尾 <pad> 的嵌入也被算了进去。'
                             '只保留每个序列的前 valid_lens 个位置（掩码 `torch.arange(num_steps)[None, :] '
                             '< valid_lens[:, None]`），再求平均。')
    yield valid_sum / steps, ('分子只加了有效位置，这是对的；分母却是 num_steps。'
                              '每个序列应当除以它自己的 valid_lens。')
    yield valid_sum, '你只求了和，忘了除以 valid_lens。'
    if valid_sum.shape[0] == valid_sum.shape[1]:
        yield valid_sum / valid_lens.to(embs.dtype), (
            '除以 valid_lens 时它被当成了形状 (embed_size,) 沿最后一维广播，每一列除以了别的句子的长度。'
            '写成 `valid_lens[:, None]`（形状 (batch_size, 1)），让每一行除以自己的长度。')
    for divide_by_count in (False, True):
        yield first(+1, divide_by_count), ('差一：你多算了一个位置。有效位置是 0, 1, ..., valid_lens-1，'
                                           '掩码要用严格小于 `<`，不是 `<=`。')
        yield first(-1, divide_by_count), ('差一：你少算了一个位置（最后一个有效词元 <eos> 也是句子的一部分）。'
                                           '有效位置是 0, 1, ..., valid_lens-1。')


def _diagnose_masked_mean(got, case):
    embs, valid_lens = case.args
    for wrong, hint in _masked_mean_mistakes(embs, valid_lens):
        if isinstance(got, torch.Tensor) and compare(got, wrong) is None:
            return hint
    if isinstance(got, torch.Tensor) and got.shape != case.expected.shape:
        return (f'结果应当是每个序列一个 embed_size 维向量，形状 (batch_size, embed_size) = '
                f'{tuple(case.expected.shape)}：在时间维（dim=1）上求平均。')
    return None


def masked_mean_context(func) -> bool:
    """练习 1.3：检查 ``func(embs, valid_lens)``，它返回 (batch_size, embed_size) 的新张量。

    embs (batch_size, num_steps, embed_size) 是浮点张量，valid_lens (batch_size,) 是 int64，每个在
    1 到 num_steps 之间。答案是每个序列前 valid_lens 个向量的平均；embs 不得被改动。
    打印 ✓/✗/⏳，全部通过时返回 True。"""
    return check_function(
        MASKED_MEAN_TITLE, func, _masked_mean_cases(),
        hint=('对第 i 个序列，只把前 valid_lens[i] 个位置的嵌入加起来，再除以 valid_lens[i]；'
              '结果形状 (batch_size, embed_size)。'),
        diagnose=_diagnose_masked_mean)


# ---------------------------------------------------------------------------------------------------
# 练习 1.6 贪心逐词生成
# ---------------------------------------------------------------------------------------------------

GREEDY_TITLE = '练习 1.6 贪心逐词生成'
PAD, BOS, EOS = 0, 1, 2
VOCAB_SIZE = 8
# For each route (an "already encoded" source sentence), the tokens a decoder that gets the right
# input and the right state produces, one per call. A route may end with <eos> or run past max_steps.
_ROUTES = {
    0: [4, 6, 3, EOS],
    1: [5, 5, 3, 7, 4, 6, 3, 5, 7],   # repeats a token (5 5): the next word depends on the state too
    2: [EOS],
    3: [6, 3, 4, 4, 5, EOS],
}


class ScriptedDecoder(nn.Module):
    """答案事先写好的解码器（没有权重），接口与 ``d2l.Decoder`` 相同。

    state 是 LongTensor ``[[路线, 步数]]``（形状 (1, 2)），每次调用返回一个步数加一的新 state。
    forward(X, state)：X 必须是形状 (1, 1) 的 LongTensor（一个句子的一个词元）。当 X 是这条路线上一步的词元
    （第 0 步是 <bos>）时，logits（形状 (1, 1, VOCAB_SIZE)）偏向路线的下一个词元；任何别的输入都得到另一个普通词
    （不是路线上的词，也不是 <eos>），所以喂错词元或传错状态的循环会立刻偏离路线，不可能碰巧得到答案。
    """

    def init_state(self, enc_all_outputs, *args):
        return enc_all_outputs

    def forward(self, X, state):
        if not isinstance(X, torch.Tensor) or X.dtype != torch.long or tuple(X.shape) != (1, 1):
            shown = (f'形状 {tuple(X.shape)}、dtype {X.dtype} 的 tensor' if isinstance(X, torch.Tensor)
                     else type(X).__name__)
            raise ValueError(f'解码器每次只接受一个词元：形状 (1, 1) 的 LongTensor，收到的是 {shown}。'
                             '例如 `torch.tensor([[bos_id]])`，或上一步 `Y_hat.argmax(dim=-1)` 的结果。')
        if not isinstance(state, torch.Tensor) or tuple(state.shape) != (1, 2):
            raise ValueError('state 应当是 init_state 给出的、或上一次调用解码器返回的状态，'
                             f'收到的是 {type(state).__name__}。')
        route, step = (int(v) for v in state[0])
        path = _ROUTES[route]
        expected_input = BOS if step == 0 else (path[step - 1] if step - 1 < len(path) else None)
        if int(X) == expected_input and step < len(path):
            token = path[step]
        else:  # off the script: an ordinary word other than the scripted one, never <eos>
            scripted = path[step] if step < len(path) else None
            words = [w for w in range(3, VOCAB_SIZE) if w != scripted]
            token = words[(int(X) + 2 * step + route) % len(words)]
        logits = torch.full((1, 1, VOCAB_SIZE), -2.0)
        logits[0, 0, token] = 3.0
        return logits, torch.tensor([[route, step + 1]])


def _greedy_reference(decoder, state, bos_id, eos_id, max_steps):
    """The loop of section 1.6, written without the interface's conveniences."""
    tokens, current = [], bos_id
    for _ in range(max_steps):
        logits, state = decoder(torch.tensor([[current]]), state)
        current = int(torch.argmax(logits.reshape(-1)))
        if current == eos_id:
            break
        tokens.append(current)
    return tokens


def _greedy_cases():
    decoder = ScriptedDecoder()
    cases = []
    for route, max_steps, words in ((0, 10, '第 4 步生成 <eos>'), (1, 6, '一直不生成 <eos>'),
                                    (2, 5, '第 1 步就生成 <eos>'), (3, 8, '第 6 步生成 <eos>')):
        state = torch.tensor([[route, 0]])
        expected = _greedy_reference(decoder, state, BOS, EOS, max_steps)
        cases.append(Case((decoder, state, BOS, EOS, max_steps), expected,
                          f'源句 {route}（{words}），max_steps={max_steps}'))
    return cases


def _greedy_mistakes(decoder, state, bos_id, eos_id, max_steps):
    def loop(feed_prediction=True, pass_state=True, keep_eos=False, steps=max_steps, keep_bos=False):
        tokens, current, s = ([bos_id] if keep_bos else []), bos_id, state
        for _ in range(steps):
            logits, new_state = decoder(torch.tensor([[current]]), s)
            s = new_state if pass_state else s
            predicted = int(torch.argmax(logits.reshape(-1)))
            current = predicted if feed_prediction else bos_id
            if predicted == eos_id:
                if keep_eos:
                    tokens.append(predicted)
                break
            tokens.append(predicted)
        return tokens

    yield loop(pass_state=False), ('每次调用解码器都传入了最初的 state。解码器返回的新状态要传给下一次调用：'
                                   '`Y_hat, state = decoder(dec_X, state)`，否则它不知道前面已经生成了什么。')
    yield loop(feed_prediction=False), ('每一步都喂了 <bos>。下一步的输入应当是这一步预测出的词元：'
                                        '`dec_X = Y_hat.argmax(dim=-1)`。')
    yield loop(keep_eos=True), '<eos> 只表示“到此结束”，不要把它放进返回的列表。'
    yield loop(keep_bos=True), '<bos> 是第一步的输入，不是生成出来的词元，不要放进返回的列表。'
    yield loop(steps=max_steps + 1), '差一：最多调用解码器 max_steps 次，也就是最多生成 max_steps 个词元。'
    yield loop(steps=max_steps - 1), '差一：少生成了一个词元；最多可以调用解码器 max_steps 次。'


def _diagnose_greedy(got, case):
    if got is None:
        return '函数什么也没有返回：最后要 `return tokens`（一个由 int 组成的 list）。'
    if isinstance(got, torch.Tensor):
        return '返回一个由 int 组成的 list（例如 `[4, 6, 3]`），不是 tensor：每一步用 `.item()` 取出词元。'
    if isinstance(got, (list, tuple)) and any(not isinstance(t, int) or isinstance(t, bool) for t in got):
        return '列表里的每个词元都应当是 int：用 `.item()` 把 (1, 1) 的 tensor 变成 int。'
    for wrong, hint in _greedy_mistakes(*case.args):
        if list(got) == wrong and wrong != case.expected:
            return hint
    return None


def _compare_token_lists(got, expected):
    if isinstance(got, tuple):
        got = list(got)
    return compare(got, expected, where='生成的词元')


def greedy_decode(func) -> bool:
    """练习 1.6：检查 ``func(decoder, state, bos_id, eos_id, max_steps) -> list[int]``。

    decoder 符合 ``d2l.Decoder`` 接口（``decoder(X, state) -> (logits, state)``，X 形状 (1, 1)），state 是它的
    初始状态。答案是生成的词元索引的列表（不含 <bos> 和 <eos>），至多 max_steps 个。检查用的是
    :class:`ScriptedDecoder`。打印 ✓/✗/⏳，全部通过时返回 True。"""
    return check_function(
        GREEDY_TITLE, func, _greedy_cases(),
        hint=('从 `dec_X = torch.tensor([[bos_id]])` 出发，循环至多 max_steps 次：'
              '`Y_hat, state = decoder(dec_X, state)`，`dec_X = Y_hat.argmax(dim=-1)`，'
              '遇到 eos_id 就停，其余词元用 `.item()` 取出放进列表。'),
        diagnose=_diagnose_greedy, compare_fn=_compare_token_lists)
