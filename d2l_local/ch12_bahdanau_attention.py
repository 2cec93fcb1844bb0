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
    'check_positive_sizes',
    'check_token_ids',
    'check_decoder_input',
    'check_rnn_encoder_outputs',
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
      为 None 时不掩蔽。

    ``forward(X, state)``：``X`` 形状 ``(batch_size, num_steps)``；返回 logits
    ``(batch_size, num_steps, vocab_size)`` 和新状态。每一步以顶层隐状态为查询做加性注意力，
    上下文与嵌入拼接后送入 GRU。``attention_weights``：最近一次调用的权重，形状
    ``(batch_size, num_steps, num_src_steps)``（已 detach），有效位置之和为 1。
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        check_positive_sizes(vocab_size=vocab_size, embed_size=embed_size, num_hiddens=num_hiddens,
                             num_layers=num_layers)
        self.attention = d2l.AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self._attention_weights = None

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        check_rnn_encoder_outputs(enc_outputs, self.rnn.hidden_size, self.rnn.num_layers)
        outputs, hidden_state = enc_outputs      # (num_src_steps, batch_size, num_hiddens), (num_layers, ...)
        return outputs.permute(1, 0, 2), hidden_state, enc_valid_lens

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        check_decoder_input(X, self.embedding.num_embeddings, enc_outputs.shape[0])
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


# ---- notebooks/12_bahdanau_attention.ipynb · cell id ch12-010b ----
def check_positive_sizes(**sizes):
    """每个尺寸参数都应是正整数（int 或 NumPy 的整数，不能是 bool 或浮点数），否则抛出说明怎么改的错误。

    例如 check_positive_sizes(num_hiddens=num_hiddens, num_layers=num_layers)。"""
    for name, value in sizes.items():
        if isinstance(value, bool) or not hasattr(value, '__index__'):
            hint = (f"：请写成 {name}={int(value)}" if isinstance(value, float) and value.is_integer()
                    else "")
            raise TypeError(f"{name} 应是正整数，现在是 {value!r}（{type(value).__name__}）{hint}。")
        if value < 1:
            raise ValueError(f"{name} 应是正整数（至少为 1），现在是 {value!r}。")


def check_token_ids(X, vocab_size):
    """X 是整数型的词元索引，每个都在 0 … vocab_size - 1 之内，否则抛出说明怎么办的错误。"""
    if not torch.is_tensor(X) or X.is_floating_point() or X.is_complex() or X.dtype == torch.bool:
        what = X.dtype if torch.is_tensor(X) else type(X).__name__
        raise TypeError(f"解码器和编码器的输入应是整数型的词元索引张量，现在是 {what}：请先用词表把词元换成索引，"
                        "例如 torch.tensor(vocab[tokens])。")
    if X.numel() == 0 or X.is_meta:
        return
    low, high = torch.stack(torch.aminmax(X)).tolist()   # 一次同步取回最小值和最大值
    if low < 0 or high >= vocab_size:
        bad = high if high >= vocab_size else low
        raise ValueError(f"输入里有词元索引 {bad}，不在 0 到 {vocab_size - 1} 之间（这个模型的词表有 {vocab_size} "
                         "个词元）：请用构造模型时的那个词表把词元换成索引（load_data_* 返回的词表），"
                         "或者按更大的词表重新构造模型。")


def check_decoder_input(X, vocab_size, batch_size):
    """解码器的输入 X (batch_size, num_steps)：词元索引在词表之内，句子数与状态里的相同。"""
    check_token_ids(X, vocab_size)
    if X.dim() != 2:
        raise ValueError(f"解码器的输入应是形状为 (batch_size, num_steps) 的词元索引，现在是 {tuple(X.shape)}。")
    if X.shape[0] != batch_size:
        raise ValueError(f"输入有 {X.shape[0]} 个句子，状态里有 {batch_size} 个：在解码途中挑选或重排句子时，"
                         "请用 reorder_state(state, index) 同步挑选状态。")


def check_rnn_encoder_outputs(enc_outputs, num_hiddens, num_layers):
    """init_state 收到的应是 d2l.Seq2SeqEncoder 返回的 (output, state)，维数和层数与解码器相同。"""
    if not (isinstance(enc_outputs, (tuple, list)) and len(enc_outputs) == 2
            and all(torch.is_tensor(t) and t.dim() == 3 for t in enc_outputs)):
        raise TypeError("init_state 的第一个参数应是 d2l.Seq2SeqEncoder 返回的 (output, state)："
                        "output (num_steps, batch_size, num_hiddens)，state (num_layers, batch_size, num_hiddens)；"
                        f"现在是 {type(enc_outputs).__name__}。TransformerEncoder 的输出请配 TransformerDecoder。")
    outputs, hidden_state = enc_outputs
    if outputs.shape[-1] != num_hiddens or hidden_state.shape[-1] != num_hiddens:
        raise ValueError(f"编码器的 num_hiddens 是 {outputs.shape[-1]}，解码器的是 {num_hiddens}：注意力的键和值就是"
                         "编码器的输出，解码器的隐状态也从编码器的最终状态开始，请让两者的 num_hiddens 相同。")
    if hidden_state.shape[0] != num_layers:
        raise ValueError(f"编码器有 {hidden_state.shape[0]} 层，解码器有 {num_layers} 层：解码器的初始隐状态就是"
                         "编码器各层的最终状态，请让两者的 num_layers 相同。")
