# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""13. 多头注意力、自注意力与位置编码: the saved code of notebooks/13_multihead_attention.ipynb (generated)."""

import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'transpose_qkv',
    'transpose_output',
    'MultiHeadAttention',
    'check_multihead_sizes',
    'PositionalEncoding',
]


# ---- notebooks/13_multihead_attention.ipynb · cell id ch13-008 ----
def transpose_qkv(X, num_heads):
    """把多个头折进批量维：(batch, n, num_hiddens) -> (batch*num_heads, n, num_hiddens/num_heads)。

    第 b*num_heads + i 个输出是第 b 个样本第 i 个头的那 p = num_hiddens/num_heads 列。
    """
    d2l.check_positive_sizes(num_heads=num_heads)
    if X.dim() != 3 or X.shape[-1] % num_heads != 0:
        raise ValueError(f"X 的形状应为 (batch, n, num_hiddens)，且 num_hiddens 能被 num_heads={num_heads} "
                         f"整除；现在是 {tuple(X.shape)}。")
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)  # (batch, n, num_heads, p)
    X = X.permute(0, 2, 1, 3)                             # (batch, num_heads, n, p)
    return X.reshape(-1, X.shape[2], X.shape[3])          # (batch*num_heads, n, p)

def transpose_output(X, num_heads):
    """transpose_qkv 的逆：(batch*num_heads, n, p) -> (batch, n, num_heads*p)，各头按顺序拼在最后一维。"""
    d2l.check_positive_sizes(num_heads=num_heads)
    if X.dim() != 3 or X.shape[0] % num_heads != 0:
        raise ValueError(f"X 的形状应为 (batch*num_heads, n, p)，第 0 维是 num_heads={num_heads} 的倍数；"
                         f"现在是 {tuple(X.shape)}。")
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])  # (batch, num_heads, n, p)
    X = X.permute(0, 2, 1, 3)                             # (batch, n, num_heads, p)
    return X.reshape(X.shape[0], X.shape[1], -1)          # (batch, n, num_heads*p)


# ---- notebooks/13_multihead_attention.ipynb · cell id ch13-014 ----
class MultiHeadAttention(nn.Module):
    """多头注意力：num_heads 个缩放点积注意力并行计算，输出拼接后经 W_o 混合。

    - queries (batch, num_queries, query_size)，keys (batch, num_kv, key_size)，
      values (batch, num_kv, value_size)；
    - valid_lens：None、(batch,) 或 (batch, num_queries)，对每个头都适用；
    - 返回 (batch, num_queries, num_hiddens)；
    - attention_weights：最近一次调用的权重，(batch*num_heads, num_queries, num_kv)。
    每个头的维数 p = num_hiddens / num_heads，所以 num_hiddens 必须是 num_heads 的倍数。
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout,
                 bias=False, **kwargs):
        super().__init__(**kwargs)
        check_multihead_sizes(key_size, query_size, value_size, num_hiddens, num_heads)
        self.num_heads = num_heads
        self.attention = d2l.DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    @property
    def attention_weights(self):
        """最近一次调用的注意力权重，形状 (batch*num_heads, num_queries, num_keys)；调用之前为 None。"""
        return getattr(self.attention, 'attention_weights', None)

    def _check_inputs(self, queries, keys, values):
        d2l.check_attention_inputs(queries, keys, values)   # 三维、batch 相同、键值个数相同
        for name, X, layer in (("queries", queries, self.W_q), ("keys", keys, self.W_k),
                               ("values", values, self.W_v)):
            if X.shape[-1] != layer.in_features:
                raise ValueError(f"{name} 的最后一维应是构造时给的 {layer.in_features}，"
                                 f"现在的形状是 {tuple(X.shape)}。")

    def _repeat_valid_lens(self, valid_lens, queries):
        if not torch.is_tensor(valid_lens):
            valid_lens = torch.as_tensor(valid_lens, device=queries.device)
        batch_size, num_queries = queries.shape[0], queries.shape[1]
        if not (valid_lens.dim() in (1, 2) and valid_lens.shape[0] == batch_size
                and (valid_lens.dim() == 1 or valid_lens.shape[1] == num_queries)):
            raise ValueError(f"valid_lens 的形状应为 (batch,) = ({batch_size},) 或 "
                             f"(batch, num_queries) = ({batch_size}, {num_queries})；"
                             f"现在是 {tuple(valid_lens.shape)}。")
        # 第 b 个样本的 num_heads 个头排在一起，共用第 b 个样本的有效长度
        return torch.repeat_interleave(valid_lens, self.num_heads, dim=0)

    def forward(self, queries, keys, values, valid_lens=None):
        self._check_inputs(queries, keys, values)
        if valid_lens is not None:
            valid_lens = self._repeat_valid_lens(valid_lens, queries)  # (batch*num_heads, ...)
        queries = transpose_qkv(self.W_q(queries), self.num_heads)    # (batch*num_heads, num_queries, p)
        keys = transpose_qkv(self.W_k(keys), self.num_heads)          # (batch*num_heads, num_kv, p)
        values = transpose_qkv(self.W_v(values), self.num_heads)      # (batch*num_heads, num_kv, p)
        output = self.attention(queries, keys, values, valid_lens)    # (batch*num_heads, num_queries, p)
        return self.W_o(transpose_output(output, self.num_heads))     # (batch, num_queries, num_hiddens)


# ---- notebooks/13_multihead_attention.ipynb · cell id ch13-014b ----
def check_multihead_sizes(key_size, query_size, value_size, num_hiddens, num_heads):
    """MultiHeadAttention 的尺寸：都是正整数，且 num_hiddens 是 num_heads 的倍数。"""
    d2l.check_positive_sizes(key_size=key_size, query_size=query_size, value_size=value_size,
                             num_hiddens=num_hiddens, num_heads=num_heads)
    if num_hiddens % num_heads != 0:
        below = num_hiddens // num_heads * num_heads
        fits = [m for m in (below, below + num_heads) if m > 0]
        divisors = [d for d in range(1, num_hiddens + 1) if num_hiddens % d == 0]
        raise ValueError(
            f"num_hiddens={num_hiddens} 不能被 num_heads={num_heads} 整除：每个头分到 "
            f"num_hiddens / num_heads 维，必须是整数。请把 num_hiddens 改成 num_heads 的倍数"
            f"（如 {' 或 '.join(map(str, fits))}），或换一个能整除 num_hiddens 的头数"
            f"（{num_hiddens} 的约数：{divisors}）。")


# ---- notebooks/13_multihead_attention.ipynb · cell id ch13-040 ----
class PositionalEncoding(nn.Module):
    """正弦位置编码：forward(X) 返回 dropout(X + P[:num_steps])。

    p[i, 2j] = sin(i / 10000^(2j/d))，p[i, 2j+1] = cos(i / 10000^(2j/d))，d = num_hiddens。
    - X：(batch, num_steps, num_hiddens)；用到的位置不能超过 max_len - 1（否则报错，请调大 max_len）；
    - offset：X 第一个时间步的位置编号，默认 0。逐步解码时传入已经处理过的词元数，
      这样第 t 步加的是 p_t 而不是 p_0；
    - num_hiddens 为奇数时照公式计算：最后一列是没有搭档的正弦（推荐用偶数）。
    """

    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        d2l.check_positive_sizes(num_hiddens=num_hiddens, max_len=max_len)
        self.num_hiddens, self.max_len = num_hiddens, max_len
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len, dtype=torch.float64)[:, None]           # (max_len, 1)
        omega = torch.pow(10000.0, -torch.arange(0, num_hiddens, 2, dtype=torch.float64) / num_hiddens)
        angle = position * omega                                                  # (max_len, ceil(d/2))
        P = torch.zeros(1, max_len, num_hiddens, dtype=torch.float64)
        P[0, :, 0::2] = torch.sin(angle)                                          # ceil(d/2) 个偶数列
        P[0, :, 1::2] = torch.cos(angle[:, :num_hiddens // 2])                    # floor(d/2) 个奇数列
        self.register_buffer('P', P.float(), persistent=False)                    # 随 .to(device) 移动

    def forward(self, X, offset=0):
        if X.dim() != 3 or X.shape[-1] != self.num_hiddens:
            raise ValueError(f"X 的形状应为 (batch, num_steps, num_hiddens={self.num_hiddens})，"
                             f"现在是 {tuple(X.shape)}。")
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset 应是非负整数（X 第一个时间步的位置编号），现在是 {offset!r}。")
        end = offset + X.shape[1]
        if end > self.max_len:
            raise ValueError(f"要用到位置 {offset} 到 {end - 1}，超过了 max_len={self.max_len} 能编码的范围"
                             f"（0 到 {self.max_len - 1}）：请在构造时调大 max_len，"
                             f"例如 PositionalEncoding(..., max_len={end})。")
        return self.dropout(X + self.P[:, offset:end, :].to(X.dtype))
