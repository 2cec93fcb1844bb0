# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""14. Transformer 的结构: the saved code of notebooks/14_transformer.ipynb (generated)."""

import math
import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'PositionWiseFFN',
    'AddNorm',
    'EncoderBlock',
    'check_transformer_sizes',
    'check_transformer_input',
    'TransformerEncoder',
    'DecoderBlock',
    'TransformerDecoder',
]


# ---- notebooks/14_transformer.ipynb · cell id ch14-007 ----
class PositionWiseFFN(nn.Module):
    """逐位置前馈网络：对每个位置做同样的 dense2(ReLU(dense1(x)))。

    输入 (batch_size, num_steps, ffn_num_input)，输出 (batch_size, num_steps, ffn_num_outputs)。
    """

    def __init__(self, ffn_num_input, ffn_num_hiddens, ffn_num_outputs, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = nn.Linear(ffn_num_input, ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.Linear(ffn_num_hiddens, ffn_num_outputs)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


# ---- notebooks/14_transformer.ipynb · cell id ch14-017 ----
class AddNorm(nn.Module):
    """残差连接后接层规范化：forward(X, Y) = LayerNorm(dropout(Y) + X)。

    X 是子层的输入，Y 是子层的输出，形状相同，最后几维等于 normalized_shape。
    """

    def __init__(self, normalized_shape, dropout, **kwargs):
        super().__init__(**kwargs)
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(normalized_shape)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


# ---- notebooks/14_transformer.ipynb · cell id ch14-020 ----
class EncoderBlock(nn.Module):
    """Transformer 编码器块：多头自注意力 + 逐位置前馈网络，各带残差连接和层规范化。

    forward(X, valid_lens)：X (batch_size, num_steps, num_hiddens)，valid_lens (batch_size,) 或 None；
    返回形状相同的张量。
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, dropout, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        check_transformer_sizes(key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input)
        self.attention = d2l.MultiHeadAttention(key_size, query_size, value_size, num_hiddens,
                                                num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(norm_shape, dropout)
        self.ffn = PositionWiseFFN(ffn_num_input, ffn_num_hiddens, num_hiddens)
        self.addnorm2 = AddNorm(norm_shape, dropout)

    def forward(self, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


# ---- notebooks/14_transformer.ipynb · cell id ch14-020b ----
def check_transformer_sizes(key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input):
    """Transformer 块的尺寸参数彼此一致，否则抛出说明怎么改的错误。"""
    d2l.check_positive_sizes(num_hiddens=num_hiddens, key_size=key_size, query_size=query_size,
                             value_size=value_size, ffn_num_input=ffn_num_input)
    for name, value in (('key_size', key_size), ('query_size', query_size), ('value_size', value_size),
                        ('ffn_num_input', ffn_num_input)):
        if value != num_hiddens:
            raise ValueError(f"{name}={value} 应等于 num_hiddens={num_hiddens}：Transformer 块里每个子层的输入都是"
                             f"上一个子层的 num_hiddens 维输出。请传入 {name}={num_hiddens}。")
    try:
        shape = [norm_shape] if isinstance(norm_shape, int) else list(norm_shape)
    except TypeError:
        shape = None
    if shape != [num_hiddens]:
        raise ValueError(f"norm_shape={norm_shape!r} 应是 [num_hiddens] = [{num_hiddens}]：层规范化对每个位置在它"
                         f"自己的 {num_hiddens} 个特征上求统计量。写成 [num_steps, num_hiddens] 会把一句话的所有位置"
                         "一起规范化，逐步预测时就与训练时不同。")


def check_transformer_input(model, X, offset=0, batch_size=None):
    """TransformerEncoder/TransformerDecoder 的输入 X (batch_size, num_steps)：词元索引在词表之内，
    位置 offset … offset + num_steps - 1 不超过位置编码的 max_len；解码器还要求句子数与状态相同。"""
    name = type(model).__name__
    if not torch.is_tensor(X) or X.dim() != 2:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f"{name} 的输入应是形状为 (batch_size, num_steps) 的词元索引，现在是 {shape}。")
    if batch_size is None:
        d2l.check_token_ids(X, model.embedding.num_embeddings)
    else:
        d2l.check_decoder_input(X, model.embedding.num_embeddings, batch_size)
    end, max_len = offset + X.shape[1], model.pos_encoding.max_len
    if end > max_len:
        raise ValueError(f"{name} 要用到位置 {offset} 到 {end - 1}，超过了位置编码的 max_len={max_len}"
                         f"（能编码位置 0 到 {max_len - 1}）：请在构造时传入更大的 max_len，"
                         f"例如 {name}(..., max_len={end})。")


# ---- notebooks/14_transformer.ipynb · cell id ch14-026 ----
class TransformerEncoder(d2l.Encoder):
    """Transformer 编码器：嵌入 × sqrt(num_hiddens) + 位置编码，再经过 num_layers 个 EncoderBlock。

    forward(X, valid_lens=None)：X (batch_size, num_steps) 是词元索引，valid_lens (batch_size,)；
    返回 (batch_size, num_steps, num_hiddens)。填充位置的输出没有意义，解码器用 valid_lens 把它们掩蔽掉。
    max_len：位置编码能编码的最大长度，源序列不能长于它。
    attention_weights：最近一次调用时每一块自注意力的权重（已 detach）组成的列表，
    每项形状 (batch_size * num_heads, num_steps, num_steps)；调用之前为 None。
    嵌入初始化为 N(0, 1/num_hiddens)，乘以 sqrt(num_hiddens) 后与位置编码的尺度相当。
    """

    def __init__(self, vocab_size, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, num_layers, dropout, use_bias=False,
                 max_len=1000, **kwargs):
        super().__init__(**kwargs)
        d2l.check_positive_sizes(vocab_size=vocab_size, num_layers=num_layers)
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        nn.init.normal_(self.embedding.weight, std=num_hiddens ** -0.5)
        self.pos_encoding = d2l.PositionalEncoding(num_hiddens, dropout, max_len)
        self.blks = nn.Sequential()
        for i in range(num_layers):
            self.blks.add_module(f'block{i}', EncoderBlock(
                key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
                ffn_num_hiddens, num_heads, dropout, use_bias))
        self.attention_weights = None

    def forward(self, X, valid_lens=None, *args):
        check_transformer_input(self, X)
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        weights = []
        for blk in self.blks:
            X = blk(X, valid_lens)
            weights.append(blk.attention.attention_weights.detach())
        self.attention_weights = weights
        return X


# ---- notebooks/14_transformer.ipynb · cell id ch14-032 ----
class DecoderBlock(nn.Module):
    """Transformer 解码器的第 i 块：带掩码的多头自注意力、编码器–解码器注意力、逐位置前馈网络。

    forward(X, state)：X (batch_size, num_steps, num_hiddens)；
    state = [enc_outputs, enc_valid_lens, cache]，cache[i] 是本块之前各步的输入
    (batch_size, 已处理的步数, num_hiddens)，还没有时为 None。
    返回 (输出, 新状态)：新状态的 cache[i] 接上了这次的 X；传入的 state 不被修改。
    自注意力的掩码只取决于缓存长度 m：第 j 个新查询看位置 0 … m + j，训练和评估模式相同。
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, dropout, i, **kwargs):
        super().__init__(**kwargs)
        check_transformer_sizes(key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input)
        self.i = i
        self.attention1 = d2l.MultiHeadAttention(key_size, query_size, value_size, num_hiddens,
                                                 num_heads, dropout)
        self.addnorm1 = AddNorm(norm_shape, dropout)
        self.attention2 = d2l.MultiHeadAttention(key_size, query_size, value_size, num_hiddens,
                                                 num_heads, dropout)
        self.addnorm2 = AddNorm(norm_shape, dropout)
        self.ffn = PositionWiseFFN(ffn_num_input, ffn_num_hiddens, num_hiddens)
        self.addnorm3 = AddNorm(norm_shape, dropout)

    def forward(self, X, state):
        enc_outputs, enc_valid_lens, cache = state
        past = cache[self.i]
        num_past = 0 if past is None else past.shape[1]
        key_values = X if past is None else torch.cat([past, X], dim=1)  # (batch_size, m + n, num_hiddens)
        batch_size, num_steps, _ = X.shape
        # 第 j 个新查询（全局位置 m + j）可以看 m + j + 1 个键：(batch_size, num_steps)
        dec_valid_lens = torch.arange(num_past + 1, num_past + num_steps + 1,
                                      device=X.device).repeat(batch_size, 1)
        Y = self.addnorm1(X, self.attention1(X, key_values, key_values, dec_valid_lens))
        Z = self.addnorm2(Y, self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens))
        new_cache = list(cache)
        new_cache[self.i] = key_values
        return self.addnorm3(Z, self.ffn(Z)), [enc_outputs, enc_valid_lens, new_cache]


# ---- notebooks/14_transformer.ipynb · cell id ch14-034 ----
class TransformerDecoder(d2l.AttentionDecoder):
    """Transformer 解码器：嵌入 × sqrt(num_hiddens) + 位置编码，num_layers 个 DecoderBlock，全连接层。

    - init_state(enc_outputs, enc_valid_lens=None) -> [enc_outputs, enc_valid_lens, [None] * num_layers]；
    - forward(X, state)：X (batch_size, num_steps) 是词元索引，可以是整段目标（训练），也可以是
      接着缓存的一段（预测时通常 1 个词元）；位置编码从缓存长度处接着编号。
      返回 (logits (batch_size, num_steps, vocab_size), 新状态)，传入的 state 不被修改；
    - attention_weights：最近一次调用的 (自注意力权重, 编码器–解码器注意力权重)，各是每块一项的
      列表，每项 (batch_size * num_heads, num_steps, 键的个数)，已 detach；调用之前为 None；
    - reorder_state(state, index)：按 index（LongTensor）挑出批量中的句子（可重复、可调换顺序）；
    - max_len：位置编码能编码的最大长度，一句译文（连同 <bos>）最多解码这么多步。
    """

    def __init__(self, vocab_size, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, num_layers, dropout, max_len=1000, **kwargs):
        super().__init__(**kwargs)
        d2l.check_positive_sizes(vocab_size=vocab_size, num_layers=num_layers)
        self.num_hiddens, self.num_layers = num_hiddens, num_layers
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        nn.init.normal_(self.embedding.weight, std=num_hiddens ** -0.5)
        self.pos_encoding = d2l.PositionalEncoding(num_hiddens, dropout, max_len)
        self.blks = nn.Sequential()
        for i in range(num_layers):
            self.blks.add_module(f'block{i}', DecoderBlock(
                key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
                ffn_num_hiddens, num_heads, dropout, i))
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self._attention_weights = None

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        return [enc_outputs, enc_valid_lens, [None] * self.num_layers]

    def forward(self, X, state):
        past = state[2][0]
        offset = 0 if past is None else past.shape[1]      # 已经处理过的位置数
        check_transformer_input(self, X, offset, batch_size=state[0].shape[0])
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens), offset)
        self_weights, cross_weights = [], []
        for blk in self.blks:
            X, state = blk(X, state)
            self_weights.append(blk.attention1.attention_weights.detach())
            cross_weights.append(blk.attention2.attention_weights.detach())
        self._attention_weights = (self_weights, cross_weights)
        return self.dense(X), state

    @property
    def attention_weights(self):
        return self._attention_weights

    def reorder_state(self, state, index):
        enc_outputs, enc_valid_lens, cache = state
        return [enc_outputs.index_select(0, index),
                None if enc_valid_lens is None else enc_valid_lens.index_select(0, index),
                [None if c is None else c.index_select(0, index) for c in cache]]
