# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""4. 编码器: the saved code of notebooks/04_encoder.ipynb (generated)."""

import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'Seq2SeqEncoder',
]


# ---- notebooks/04_encoder.ipynb · cell id ch04-11 ----
class Seq2SeqEncoder(d2l.Encoder):
    """序列到序列学习的 RNN 编码器：嵌入层 + 多层 GRU，内部按时间步优先排列。

    ``forward(X, *args)``：``X`` 是词元索引，形状 ``(batch_size, num_steps)``；``*args``
    （如有效长度）不使用。返回 ``(output, state)``：

    - ``output``：最顶层 GRU 在每个时间步的隐状态，形状 ``(num_steps, batch_size, num_hiddens)``；
    - ``state``：每一层 GRU 在最后一个时间步的隐状态，形状 ``(num_layers, batch_size, num_hiddens)``。
      ``state[-1]`` 与 ``output[-1]`` 相等，就是上下文 c。
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

    def forward(self, X, *args):
        embs = self.embedding(X.t())    # (num_steps, batch_size, embed_size)
        output, state = self.rnn(embs)  # 初始隐状态默认为全 0
        return output, state
