"""Checks for the exercises of chapter 4 (编码器).

* :func:`packed_encode` — 练习 4.2: run ``d2l.Seq2SeqEncoder``'s layers on a packed batch, so that the
  final state of every layer is the state after the last *valid* token;
* :func:`reverse_valid` — 练习 4.5: reverse only the valid part of every source sequence.

Expected answers come from references written here: the packed encoder is compared with encoding
every sentence alone, without padding (what packing must be equivalent to); the reversal with a
plain Python loop. Typical mistakes are recognised by running them on the failing case.
"""
from __future__ import annotations

import torch
from torch import nn

from .core import Case, check_function, compare

__all__ = ['packed_encode', 'reverse_valid']


# ---------------------------------------------------------------------------------------------------
# 练习 4.2 用 packing 跳过填充的编码器
# ---------------------------------------------------------------------------------------------------

PACKED_TITLE = '练习 4.2 用 packing 跳过填充的编码器'
VOCAB_SIZE, EMBED_SIZE, NUM_HIDDENS, NUM_LAYERS = 10, 4, 6, 2


def _small_encoder():
    import d2l_local as d2l  # the book's encoder (chapter 4); imported here so `core` stays light

    with torch.random.fork_rng(devices=[]):  # leave the notebook's random state alone
        torch.manual_seed(3)
        return d2l.Seq2SeqEncoder(VOCAB_SIZE, EMBED_SIZE, NUM_HIDDENS, NUM_LAYERS).eval()


@torch.no_grad()
def _packed_reference(encoder, X, valid_lens):
    """Encode sentence i alone, only its first valid_lens[i] tokens; zeros at the padded steps."""
    num_steps, batch_size = X.shape[1], X.shape[0]
    output = torch.zeros(num_steps, batch_size, NUM_HIDDENS)
    states = []
    for i, n in enumerate(valid_lens.tolist()):
        out_i, state_i = encoder(X[i:i + 1, :n])          # (n, 1, H), (L, 1, H)
        output[:n, i] = out_i[:, 0]
        states.append(state_i)
    return output, torch.cat(states, dim=1)


def _batch(lens, num_steps, gen):
    X = torch.zeros(len(lens), num_steps, dtype=torch.long)   # <pad> = 0
    for i, n in enumerate(lens):
        X[i, :n - 1] = torch.randint(4, VOCAB_SIZE, (n - 1,), generator=gen)
        X[i, n - 1] = 2                                       # <eos>
    return X


def _packed_cases():
    encoder = _small_encoder()
    gen = torch.Generator().manual_seed(30)
    cases = []
    # lengths deliberately unsorted, and shorter than num_steps, so that enforce_sorted and
    # total_length matter; batch_size != num_steps, so that a wrong transpose cannot hide.
    for lens, num_steps in (([2, 5, 3], 7), ([4, 4], 4), ([1, 6, 6, 2], 6)):
        X = _batch(lens, num_steps, gen)
        valid_lens = torch.tensor(lens)
        cases.append(Case((encoder, X, valid_lens), _packed_reference(encoder, X, valid_lens),
                          f'X 形状 {tuple(X.shape)}，valid_lens={lens}'))
    return cases


def _diagnose_packed(got, case):
    encoder, X, valid_lens = case.args
    if not (isinstance(got, (tuple, list)) and len(got) == 2
            and all(isinstance(t, torch.Tensor) for t in got)):
        return '返回 `(output, state)` 两个张量，和 Seq2SeqEncoder 一样。'
    output, state = got
    num_steps, batch_size = X.shape[1], X.shape[0]
    longest = int(valid_lens.max())
    if tuple(output.shape) == (batch_size, num_steps, NUM_HIDDENS):
        return 'output 应当是时间步优先的 (num_steps, batch_size, num_hiddens)，和 Seq2SeqEncoder 一样。'
    if output.dim() == 3 and output.shape[0] == longest != num_steps:
        return ('pad_packed_sequence 只还原到本批最长的有效长度；'
                '要还原成 num_steps 步，传入 `total_length=X.shape[1]`。')
    with torch.no_grad():
        plain_output, plain_state = encoder(X)
        if compare(state, plain_state) is None:
            return ('state 与直接调用 encoder(X) 相同：<pad> 仍被读了进去。'
                    '要把嵌入用 pack_padded_sequence 打包后再交给 encoder.rnn。')
        wrong_layout = encoder.embedding(X)  # (batch_size, num_steps, E) packed as if time-major
        if max(valid_lens.tolist()) <= batch_size:
            packed = nn.utils.rnn.pack_padded_sequence(wrong_layout, valid_lens.tolist(), enforce_sorted=False)
            _, state_wrong = encoder.rnn(packed)
            if compare(state, state_wrong) is None:
                return ('嵌入是批量优先的 (batch_size, num_steps, embed_size)，却被当成时间步优先打包了：'
                        '用 `encoder.embedding(X.t())`，或者打包时写 `batch_first=True`。')
    if compare(state, case.expected[1]) is None:
        return ('state 对了，output 不对：用 `nn.utils.rnn.pad_packed_sequence(packed_output, '
                'total_length=X.shape[1])` 把打包的输出还原成矩形（填充位置为 0）。')
    return None


def packed_encode(func) -> bool:
    """练习 4.2：检查 ``func(encoder, X, valid_lens) -> (output, state)``。

    encoder 是 ``d2l.Seq2SeqEncoder``（用它的 ``embedding`` 和 ``rnn``）；X (batch_size, num_steps) 是词元索引，
    每句前 valid_lens 个词元之后填充 0（长度不一定有序）。答案：output (num_steps, batch_size, num_hiddens)，
    填充位置为 0；state (num_layers, batch_size, num_hiddens)，每一层都是读完这句最后一个有效词元时的隐状态，
    与把每句单独、不加填充地编码的结果相同。打印 ✓/✗/⏳，全部通过时返回 True。"""
    return check_function(
        PACKED_TITLE, func, _packed_cases(),
        hint=('嵌入 `encoder.embedding(X.t())`（时间步优先），'
              '`nn.utils.rnn.pack_padded_sequence(embs, valid_lens.tolist(), enforce_sorted=False)` 打包，'
              '交给 `encoder.rnn`，再用 `pad_packed_sequence(..., total_length=X.shape[1])` 还原 output。'),
        diagnose=_diagnose_packed)


# ---------------------------------------------------------------------------------------------------
# 练习 4.5 只翻转每句的有效部分
# ---------------------------------------------------------------------------------------------------

REVERSE_TITLE = '练习 4.5 只翻转每句的有效部分'


def _reverse_reference(X, valid_lens):
    rows = []
    for row, n in zip(X.tolist(), valid_lens.tolist()):
        rows.append(row[:n][::-1] + row[n:])
    return torch.tensor(rows, dtype=X.dtype)


def _reverse_cases():
    inputs = (
        ([[5, 6, 7, 2, 0, 0], [4, 8, 9, 6, 5, 2], [2, 0, 0, 0, 0, 0]], [4, 6, 1]),
        ([[7, 2, 0], [9, 8, 2]], [2, 3]),
        ([[4, 5, 6, 7, 8, 2, 0, 0]], [6]),
    )
    cases = []
    for rows, lens in inputs:
        X, valid_lens = torch.tensor(rows), torch.tensor(lens)
        cases.append(Case((X, valid_lens), _reverse_reference(X, valid_lens),
                          f'X={rows}，valid_lens={lens}'))
    return cases


def _reverse_mistakes(X, valid_lens):
    def partial(shift):
        rows = []
        for row, n in zip(X.tolist(), valid_lens.tolist()):
            k = max(0, min(len(row), n + shift))
            rows.append(row[:k][::-1] + row[k:])
        return torch.tensor(rows, dtype=X.dtype)

    yield X.flip(1), ('X.flip(1) 把整行都翻转了，<pad> 跑到了句首，编码器要先读一串填充。'
                      '只翻转每行的前 valid_lens[i] 个位置，填充留在末尾。')
    yield partial(-1), ('差一：少翻了一个位置。有效部分是前 valid_lens[i] 个位置（包括 <eos>），'
                        '即下标 0 到 valid_lens[i]-1。')
    yield partial(+1), '差一：多翻了一个位置，把一个 <pad> 翻进了句子。有效部分是下标 0 到 valid_lens[i]-1。'
    yield X, '结果和输入一样：什么都没有翻转。'


def _diagnose_reverse(got, case):
    if not isinstance(got, torch.Tensor):
        return '返回一个新的 LongTensor，形状与 X 相同。'
    for wrong, hint in _reverse_mistakes(*case.args):
        if compare(got, wrong) is None:
            return hint
    return None


def reverse_valid(func) -> bool:
    """练习 4.5：检查 ``func(X, valid_lens)``，它返回与 X 同形状 (batch_size, num_steps) 的新 LongTensor。

    第 i 行的前 valid_lens[i] 个元素顺序颠倒，其余（填充）不变；X 本身不得被改动。
    打印 ✓/✗/⏳，全部通过时返回 True。"""
    return check_function(
        REVERSE_TITLE, func, _reverse_cases(),
        hint=('先 `Y = X.clone()`，再对每一行 i 令 `Y[i, :n] = X[i, :n].flip(0)`（n = valid_lens[i]）；'
              '也可以用索引一次完成：位置 t < n 时取 n-1-t，否则取 t，再用 `X.gather(1, index)`。'),
        diagnose=_diagnose_reverse)
