# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""12. Bahdanau 注意力: the saved code of notebooks/12_bahdanau_attention.ipynb (generated)."""

import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'AttentionDecoder',
    'Seq2SeqAttentionDecoder',
]


# ---- notebooks/12_bahdanau_attention.ipynb · cell id ch12-006 ----
class AttentionDecoder(d2l.Decoder):
    """带注意力机制的解码器的基类。

    在 ``d2l.Decoder`` 的接口之外，子类还要提供只读属性 ``attention_weights``：最近一次
    ``forward`` 调用的注意力权重（形状由子类说明），调用之前为 None。预测函数每一步读取它，
    用来画注意力热图。
    """

    @property
    def attention_weights(self):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 attention_weights。请在 AttentionDecoder 的子类中用 "
            "@property 定义它，返回最近一次 forward 调用的注意力权重（调用之前返回 None），"
            "并在文档里写明形状，例如 (batch_size, num_steps, num_src_steps)。")


# ---- notebooks/12_bahdanau_attention.ipynb · cell id ch12-010 ----
class Seq2SeqAttentionDecoder(AttentionDecoder):
    """带 Bahdanau 注意力的 RNN 解码器，与 d2l.Seq2SeqEncoder 配对。

    状态是三元组 ``(enc_outputs, hidden_state, enc_valid_lens)``：

    - ``enc_outputs``：编码器顶层在每个位置的输出，批量在前，形状 ``(batch_size, num_src_steps,
      num_hiddens)``，是注意力的键和值，原样传下去；
    - ``hidden_state``：GRU 各层的隐状态，形状 ``(num_layers, batch_size, num_hiddens)``，每次调用后更新；
    - ``enc_valid_lens``：源序列的有效长度，形状 ``(batch_size,)``，填充位置的注意力权重为 0；
      为 None 时不遮蔽。

    ``forward(X, state)``：``X`` 形状 ``(batch_size, num_steps)``；返回 logits
    ``(batch_size, num_steps, vocab_size)`` 和新状态。每一步以顶层隐状态为查询做加性注意力，
    上下文与嵌入拼接后送入 GRU。``attention_weights``：最近一次调用的权重，形状
    ``(batch_size, num_steps, num_src_steps)``（已 detach），有效位置之和为 1。
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.attention = d2l.AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self._attention_weights = None

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        outputs, hidden_state = enc_outputs      # (num_src_steps, batch_size, num_hiddens), (num_layers, ...)
        return outputs.permute(1, 0, 2), hidden_state, enc_valid_lens

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        embs = self.embedding(X.t())             # (num_steps, batch_size, embed_size)
        outputs, weights = [], []
        for emb in embs:                         # emb: (batch_size, embed_size)
            query = hidden_state[-1].unsqueeze(1)                      # (batch_size, 1, num_hiddens)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)  # (batch_size, 1, num_hiddens)
            rnn_input = torch.cat([context.squeeze(1), emb], dim=-1)   # (batch_size, num_hiddens + embed_size)
            output, hidden_state = self.rnn(rnn_input.unsqueeze(0), hidden_state)  # output: (1, batch_size, num_hiddens)
            outputs.append(output)
            weights.append(self.attention.attention_weights)           # (batch_size, 1, num_src_steps)
        self._attention_weights = torch.cat(weights, dim=1).detach()   # (batch_size, num_steps, num_src_steps)
        logits = self.dense(torch.cat(outputs, dim=0)).transpose(0, 1) # (batch_size, num_steps, vocab_size)
        return logits, (enc_outputs, hidden_state, enc_valid_lens)

    @property
    def attention_weights(self):
        """最近一次 forward 的注意力权重 (batch_size, num_steps, num_src_steps)；调用之前为 None。"""
        return self._attention_weights

    def reorder_state(self, state, index):
        """按 index（LongTensor，形状 (k,)）挑出批量中的句子，可以重复、可以调换顺序。"""
        enc_outputs, hidden_state, enc_valid_lens = state
        if enc_valid_lens is not None:
            enc_valid_lens = enc_valid_lens.index_select(0, index)
        return enc_outputs.index_select(0, index), hidden_state.index_select(1, index), enc_valid_lens
