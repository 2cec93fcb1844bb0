"""Checks for the exercises of chapter 5 (解码器).

* :func:`output_state_decoder` — 练习 5.3: a decoder in the style of d2l 1.0, whose state carries the
  encoder's whole output ``(enc_output, hidden)`` and takes the context from ``enc_output[-1]`` at
  every call; with ``reorder_state``.

The student's class is given the weights of the book's ``d2l.Seq2SeqDecoder`` (same submodules), so
it must compute exactly the same function; the expected answers come from that decoder called once
on the whole sequence (it is tested in the book's own tests), and from indexing the encoder's
outputs directly. The chapter's bug (taking the context from the decoder's own state) is recognised
by running it on the same weights.
"""
from __future__ import annotations

import torch

from .core import FAIL, Case, check_function, compare, report

__all__ = ['output_state_decoder']


# ---------------------------------------------------------------------------------------------------
# 练习 5.3 把编码器的全部输出放进状态的解码器
# ---------------------------------------------------------------------------------------------------

TITLE = '练习 5.3 把编码器的全部输出放进状态的解码器'
VOCAB_SIZE, EMBED_SIZE, NUM_HIDDENS, NUM_LAYERS = 10, 6, 8, 2
BATCH_SIZE, SRC_STEPS, TGT_STEPS = 4, 5, 7   # all different, so that a wrong axis cannot hide
FIRST_CHUNK = 3
INDEX = (2, 0, 0)


class _Setting:
    """The fixed models and inputs every case uses (seeded; the caller's random state is untouched)."""

    def __init__(self):
        import d2l_local as d2l  # the book's encoder and decoder (chapters 4 and 5)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(4)
            self.encoder = d2l.Seq2SeqEncoder(VOCAB_SIZE, EMBED_SIZE, NUM_HIDDENS, NUM_LAYERS).eval()
            self.reference = d2l.Seq2SeqDecoder(VOCAB_SIZE, EMBED_SIZE, NUM_HIDDENS, NUM_LAYERS).eval()
            self.X = torch.randint(4, VOCAB_SIZE, (BATCH_SIZE, SRC_STEPS))
            bos = torch.ones(BATCH_SIZE, 1, dtype=torch.long)
            self.dec_X = torch.cat([bos, torch.randint(4, VOCAB_SIZE, (BATCH_SIZE, TGT_STEPS - 1))], dim=1)
        self.index = torch.tensor(INDEX)
        with torch.no_grad():
            self.enc_outputs = self.encoder(self.X)
            self.logits, _ = self.reference(self.dec_X, self.reference.init_state(self.enc_outputs))
            state = self.reference.init_state(self.enc_outputs)
            for t in range(TGT_STEPS):
                _, state = self.reference(self.dec_X[:, t:t + 1], state)
            self.final_hidden = state[0]

    def drifting_logits(self, carry_hidden=True):
        """Step by step, the context taken from the decoder's own state (the bug of section 4.2);
        carry_hidden=False: the right context, but every step starts again from the encoder's state
        (the new hidden state is dropped, pytorch/examples#88)."""
        ref, steps = self.reference, []
        enc_output, hidden = self.enc_outputs
        with torch.no_grad():
            for t in range(TGT_STEPS):
                embs = ref.embedding(self.dec_X[:, t:t + 1].t())                 # (1, batch, E)
                context = (hidden[-1] if carry_hidden else enc_output[-1]).unsqueeze(0)   # (1, batch, H)
                output, new_hidden = ref.rnn(torch.cat([embs, context], dim=-1), hidden)
                hidden = new_hidden if carry_hidden else hidden
                steps.append(ref.dense(output).transpose(0, 1))
        return torch.cat(steps, dim=1)

    def logits_with_context(self, context):
        """All at once, with a given (batch, H) context instead of c."""
        ref = self.reference
        with torch.no_grad():
            embs = ref.embedding(self.dec_X.t())
            steps = context.unsqueeze(0).expand(embs.shape[0], -1, -1)
            output, _ = ref.rnn(torch.cat([embs, steps], dim=-1), self.enc_outputs[1])
            return ref.dense(output).transpose(0, 1)


def _build(cls, setting):
    with torch.random.fork_rng(devices=[]):  # initialising the layers must not move the caller's random state
        decoder = cls(VOCAB_SIZE, EMBED_SIZE, NUM_HIDDENS, NUM_LAYERS)
    try:
        decoder.load_state_dict(setting.reference.state_dict())
    except (RuntimeError, AttributeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError('无法把 d2l.Seq2SeqDecoder 的参数装进你的解码器（' + first_line + '）。'
                         '__init__ 请保持原样：子模块叫 embedding、rnn、dense，'
                         'GRU 的输入维数是 embed_size + num_hiddens。') from None
    return decoder.eval()


def _runner(cls, setting):
    """The function check_function calls: one case = one way of using the student's class."""

    @torch.no_grad()
    def run(kind):
        decoder = _build(cls, setting)
        enc_outputs, dec_X = setting.enc_outputs, setting.dec_X
        if kind == 'init_state':
            return decoder.init_state(enc_outputs)
        if kind == 'all_at_once':
            logits, _ = decoder(dec_X, decoder.init_state(enc_outputs))
            return logits
        if kind in ('step_by_step', 'state_after'):
            state, steps = decoder.init_state(enc_outputs), []
            for t in range(TGT_STEPS):
                logits, state = decoder(dec_X[:, t:t + 1], state)
                steps.append(logits)
            return torch.cat(steps, dim=1) if kind == 'step_by_step' else state
        if kind == 'reorder_state':
            return decoder.reorder_state(decoder.init_state(enc_outputs), setting.index)
        if kind == 'reorder_continue':
            _, state = decoder(dec_X[:, :FIRST_CHUNK], decoder.init_state(enc_outputs))
            picked = decoder.reorder_state(state, setting.index)
            logits, _ = decoder(dec_X[setting.index, FIRST_CHUNK:], picked)
            return logits
        raise AssertionError(kind)

    return run


def _cases(setting):
    enc_output, enc_state = setting.enc_outputs
    index = setting.index
    sizes = f'{BATCH_SIZE} 个句子，源序列 {SRC_STEPS} 步，解码器输入 {TGT_STEPS} 步'
    return [
        Case(('init_state',), (enc_output, enc_state), f'init_state(编码器的 (output, state))，{sizes}'),
        Case(('all_at_once',), setting.logits, '整段解码器输入一次送入，比较 logits'),
        Case(('step_by_step',), setting.logits, '每次送入 1 个词元、把状态接力传下去，比较 logits'),
        Case(('state_after',), (enc_output, setting.final_hidden), f'逐步调用 {TGT_STEPS} 次之后的状态'),
        Case(('reorder_state',), (enc_output[:, index], enc_state[:, index]),
             f'reorder_state(初始状态, index={list(INDEX)})'),
        Case(('reorder_continue',), setting.logits[index, FIRST_CHUNK:],
             f'整批先解码 {FIRST_CHUNK} 步，reorder_state(index={list(INDEX)}) 后再解码 '
             f'{TGT_STEPS - FIRST_CHUNK} 步'),
    ]


def _diagnose(setting):
    enc_output, enc_state = setting.enc_outputs

    def diagnose(got, case):
        kind = case.args[0]
        pair = isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)
        if kind in ('init_state', 'state_after', 'reorder_state') and not pair:
            return '状态是两个张量组成的元组 `(enc_output, hidden)`。'
        if kind == 'init_state':
            if compare(got[0], enc_state) is None or tuple(got[0].shape) == tuple(enc_state.shape):
                return ('状态的第一项应当是编码器的 output（形状 (num_steps, batch_size, num_hiddens)），'
                        '第二项才是编码器的 state：返回 `(enc_output, enc_state)`。')
        if kind == 'all_at_once' and isinstance(got, torch.Tensor):
            if compare(got, setting.logits_with_context(enc_output[0])) is None:
                return '上下文是编码器**最后**一步的输出 enc_output[-1]，不是第一步 enc_output[0]。'
            if tuple(got.shape) == (TGT_STEPS, BATCH_SIZE, VOCAB_SIZE):
                return 'logits 要转成批量优先的 (batch_size, num_steps, vocab_size)：`.transpose(0, 1)`。'
        if kind == 'step_by_step' and isinstance(got, torch.Tensor):
            if compare(got, setting.drifting_logits()) is None:
                return ('第 1 步对了、之后不对：这正是 5.2 节的上下文漂移。上下文要每次都取状态里的 '
                        'enc_output[-1]，不要用 hidden[-1]；新状态里的 enc_output 要原样放回，'
                        '不要换成解码器自己的 output。')
            if compare(got, setting.drifting_logits(carry_hidden=False)) is None:
                return ('第 1 步对了、之后不对：每一步都又从编码器的状态出发了。forward 要把 GRU 返回的新 hidden '
                        '放进新状态 `(enc_output, hidden)` 里返回，下一次调用才能接着上一步走。')
        if kind == 'state_after' and pair:
            if compare(got[0], enc_output) is not None:
                return '状态里的 enc_output 要原样传下去：forward 返回 `(enc_output, hidden)`，只有 hidden 更新。'
        if kind == 'reorder_state' and pair:
            if tuple(got[0].shape) == (len(INDEX), SRC_STEPS, NUM_HIDDENS) or \
                    tuple(got[0].shape) == (len(INDEX), BATCH_SIZE, NUM_HIDDENS):
                return ('enc_output 是时间步优先的 (num_steps, batch_size, num_hiddens)，批量在第 1 维：'
                        '`enc_output.index_select(1, index)`。')
            if compare(got[0], enc_output) is None:
                return 'enc_output 也要按 index 挑选，不能只挑 hidden。'
            if compare(got[1], enc_state) is None:
                return 'hidden 也要按 index 挑选（批量在第 1 维）：`hidden.index_select(1, index)`。'
        return None

    return diagnose


def output_state_decoder(cls) -> bool:
    """练习 5.3：检查解码器类 ``cls(vocab_size, embed_size, num_hiddens, num_layers)``。

    子模块与 ``d2l.Seq2SeqDecoder`` 相同（embedding、rnn、dense）；状态是 ``(enc_output, hidden)``：
    enc_output (num_steps, batch_size, num_hiddens) 原样传下去，hidden (num_layers, batch_size, num_hiddens)
    每次调用后更新；每次调用都用 ``enc_output[-1]`` 作上下文；``reorder_state(state, index)`` 沿两者的批量维
    （第 1 维）挑选句子。依次检查 init_state、一次算完、逐步调用、逐步调用之后的状态、reorder_state，以及挑选
    之后接着解码。打印 ✓/✗/⏳，全部通过时返回 True。"""
    if not isinstance(cls, type):
        report(TITLE, FAIL, [f'要检查的是解码器的类本身（不加括号），却得到了 {type(cls).__name__}。'])
        return False
    setting = _Setting()
    return check_function(
        TITLE, _runner(cls, setting), _cases(setting),
        hint=('状态是 (enc_output, hidden)：enc_output 形状 (num_steps, batch_size, num_hiddens)，原样传下去；'
              'hidden 形状 (num_layers, batch_size, num_hiddens)，每次调用后更新。每次调用都用 '
              'enc_output[-1] 作上下文，拼在嵌入后面；两者的批量都在第 1 维。'),
        diagnose=_diagnose(setting))
