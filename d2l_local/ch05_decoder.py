# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""5. 解码器: the saved code of notebooks/05_decoder.ipynb (generated)."""

import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'Seq2SeqDecoder',
]


# ---- notebooks/05_decoder.ipynb · cell id ch05-15 ----
class Seq2SeqDecoder(d2l.Decoder):
    """序列到序列学习的 RNN 解码器：上下文放在状态里，逐步调用与一次调用结果相同。

    状态是元组 ``(hidden, context)``：

    - ``hidden``：GRU 各层的隐状态，形状 ``(num_layers, batch_size, num_hiddens)``，每次调用后更新；
    - ``context``：编码器顶层的最终隐状态 c，形状 ``(batch_size, num_hiddens)``，原样传下去。

    ``forward(X, state)``：``X`` 形状 ``(batch_size, num_steps)``；返回 ``(output, state)``，
    ``output`` 是形状为 ``(batch_size, num_steps, vocab_size)`` 的 logits。
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_all_outputs, *args):
        _, enc_state = enc_all_outputs          # enc_state: (num_layers, batch_size, num_hiddens)
        return enc_state, enc_state[-1]         # (hidden, context)

    def forward(self, X, state):
        hidden, context = state
        embs = self.embedding(X.t())                                     # (num_steps, batch_size, embed_size)
        context_steps = context.unsqueeze(0).expand(embs.shape[0], -1, -1)  # (num_steps, batch_size, num_hiddens)
        output, hidden = self.rnn(torch.cat([embs, context_steps], dim=-1), hidden)
        logits = self.dense(output).transpose(0, 1)                      # (batch_size, num_steps, vocab_size)
        return logits, (hidden, context)

    def reorder_state(self, state, index):
        """按 index（LongTensor，形状 (k,)）挑出批量中的句子，可以重复、可以调换顺序。"""
        hidden, context = state
        return hidden.index_select(1, index), context.index_select(0, index)
