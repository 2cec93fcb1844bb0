# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""11. 注意力评分函数: the saved code of notebooks/11_attention_scoring.ipynb (generated)."""

import math
import torch
from torch import nn
from torch.nn import functional as F
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'masked_softmax',
    'check_masked_softmax_args',
    'check_attention_inputs',
    'mask_padding',
    'AdditiveAttention',
    'DotProductAttention',
]


# ---- notebooks/11_attention_scoring.ipynb · cell id ch11-012 ----
def masked_softmax(X, valid_lens):
    """沿最后一个轴做 softmax，每个查询只让前 valid_len 个键参与。返回新张量，X 不变。

    - X：注意力分数，形状 (batch_size, num_queries, num_keys)，浮点型。
    - valid_lens：None（全部有效），形状 (batch_size,)（同一样本的查询共用一个长度），
      或形状 (batch_size, num_queries)（每个查询一个长度）。与 X 在同一设备上；非负，
      取整数值（3.0 可以，2.5 不行）；大于 num_keys 表示全部有效。
    - 返回：与 X 同形状的权重。被掩蔽的位置恰好为 0，有效位置之和为 1。
      valid_len 为 0 的行（没有一个有效的键）返回全 0：注意力的输出是零向量，
      不从填充位置取任何信息，梯度也为 0；这样的行权重之和是 0 而不是 1。
    """
    lens = check_masked_softmax_args(X, valid_lens)   # (batch_size, 1 或 num_queries, 1)；None 表示全部有效
    if lens is None:
        return F.softmax(X, dim=-1)
    keep = torch.arange(X.shape[-1], device=X.device) < lens   # (batch_size, 1 或 num_queries, num_keys)
    weights = F.softmax(X.masked_fill(~keep, torch.finfo(X.dtype).min), dim=-1)
    return weights.masked_fill(~keep, 0.0)                    # 整行被掩蔽时：全 0


# ---- notebooks/11_attention_scoring.ipynb · cell id ch11-012b ----
def check_masked_softmax_args(X, valid_lens):
    """masked_softmax 的输入检查。valid_lens 为 None 时返回 None；否则返回能与 X 广播的有效长度：
    一维 (batch_size,) 变成 (batch_size, 1, 1)，二维 (batch_size, num_queries) 变成 (batch_size, num_queries, 1)。"""
    if not torch.is_tensor(X) or X.dim() != 3:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f"X 的形状应为 (batch_size, num_queries, num_keys)，现在是 {shape}。"
                         "多头注意力请先把头并入批量维：X.reshape(-1, num_queries, num_keys)，"
                         "并把 valid_lens 相应地用 repeat_interleave(num_heads, dim=0) 复制。")
    if not X.is_floating_point():
        raise TypeError(f"X 应是浮点型的分数，现在是 {X.dtype}；请先转换，例如 X.float()。")
    if valid_lens is None:
        return None
    valid_lens = d2l.check_valid_len(valid_lens, X.device, name='valid_lens')
    batch_size, num_queries, _ = X.shape
    if valid_lens.dim() == 1 and valid_lens.shape[0] == batch_size:
        return valid_lens[:, None, None]                  # (batch_size, 1, 1)：所有查询共用
    if valid_lens.dim() == 2 and tuple(valid_lens.shape) == (batch_size, num_queries):
        return valid_lens[:, :, None]                     # (batch_size, num_queries, 1)
    raise ValueError(f"valid_lens 的形状应为 (batch_size,) = ({batch_size},) 或 "
                     f"(batch_size, num_queries) = ({batch_size}, {num_queries})，现在是 "
                     f"{tuple(valid_lens.shape)}。请为每个样本（或每个样本的每个查询）各给一个长度。")


# ---- notebooks/11_attention_scoring.ipynb · cell id ch11-022 ----
def check_attention_inputs(queries, keys, values, same_size=False):
    """检查注意力的输入形状，不对时抛出说明该怎么改的 ValueError。

    queries (batch_size, num_queries, d_q)、keys (batch_size, num_keys, d_k)、
    values (batch_size, num_keys, d_v)；same_size=True 时还要求 d_q == d_k（点积注意力）。
    """
    for name, t in (('queries', queries), ('keys', keys), ('values', values)):
        if not torch.is_tensor(t) or t.dim() != 3:
            shape = tuple(t.shape) if torch.is_tensor(t) else type(t).__name__
            raise ValueError(f"{name} 应是形状为 (batch_size, 个数, 特征维) 的三维张量，现在是 {shape}。"
                             "只有一个查询时也请保留这一维：queries.unsqueeze(1)。")
    if not queries.shape[0] == keys.shape[0] == values.shape[0]:
        raise ValueError(f"queries、keys、values 的 batch_size 不同：{queries.shape[0]}、"
                         f"{keys.shape[0]}、{values.shape[0]}。")
    if keys.shape[1] != values.shape[1]:
        raise ValueError(f"每个键要对应一个值：keys 有 {keys.shape[1]} 个，values 有 {values.shape[1]} 个。")
    if same_size and queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"点积注意力要求查询和键的维数相同，现在分别是 {queries.shape[-1]} 和 "
                         f"{keys.shape[-1]}。维数不同时请用 AdditiveAttention，或先用 nn.Linear 投影到相同维数。")


# ---- notebooks/11_attention_scoring.ipynb · cell id ch11-022b ----
def mask_padding(keys, values, valid_lens):
    """把键和值中没有一个查询看得到的位置（填充）换成 0，返回新的 (keys, values)。

    keys (batch_size, num_keys, d_k)、values (batch_size, num_keys, d_v)；valid_lens 的规则同
    masked_softmax，None 时原样返回。二维的有效长度按每个样本里最长的那个算。
    这样填充位置上即使有 inf 或 NaN，也进不了注意力的输出和梯度。
    """
    if valid_lens is None:
        return keys, values
    valid_lens = d2l.check_valid_len(valid_lens, keys.device, name='valid_lens')
    if valid_lens.dim() == 2 and valid_lens.shape[1] > 0:
        valid_lens = valid_lens.amax(dim=1)                  # (batch_size,)：看得最远的那个查询
    if valid_lens.dim() != 1 or valid_lens.shape[0] != keys.shape[0]:
        return keys, values                                  # 形状不对：由 masked_softmax 说明该怎么改
    keep = torch.arange(keys.shape[1], device=keys.device) < valid_lens[:, None]   # (batch_size, num_keys)
    return keys.masked_fill(~keep[..., None], 0), values.masked_fill(~keep[..., None], 0)


# ---- notebooks/11_attention_scoring.ipynb · cell id ch11-023 ----
class AdditiveAttention(nn.Module):
    """加性注意力（Bahdanau）：a(q, k) = w_v^T tanh(W_q q + W_k k)。

    forward(queries, keys, values, valid_lens=None)：
    - queries (batch_size, num_queries, query_size)，keys (batch_size, num_keys, key_size)，
      values (batch_size, num_keys, value_size)；valid_lens 的规则同 masked_softmax。
    - 返回 (batch_size, num_queries, value_size)。填充位置（没有一个查询看得到的键）上的键和值
      不参加计算：即使是 inf 或 NaN，也不影响输出和梯度。
    self.attention_weights 保存最近一次的权重 (batch_size, num_queries, num_keys)（dropout 之前）。
    """

    def __init__(self, key_size, query_size, num_hiddens, dropout, **kwargs):
        super().__init__(**kwargs)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        check_attention_inputs(queries, keys, values)
        keys, values = mask_padding(keys, values, valid_lens)   # 填充位置换成 0
        queries, keys = self.W_q(queries), self.W_k(keys)       # (B, n_q, num_hiddens), (B, n_k, num_hiddens)
        features = torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))   # (B, n_q, n_k, num_hiddens)
        scores = self.w_v(features).squeeze(-1)               # (B, n_q, n_k)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)    # (B, n_q, value_size)


# ---- notebooks/11_attention_scoring.ipynb · cell id ch11-033 ----
class DotProductAttention(nn.Module):
    """缩放点积注意力：a(q, k) = q^T k / sqrt(d)，要求查询和键的维数 d 相同。

    forward(queries, keys, values, valid_lens=None)：
    - queries (batch_size, num_queries, d)，keys (batch_size, num_keys, d)，
      values (batch_size, num_keys, value_size)；valid_lens 的规则同 masked_softmax。
    - 返回 (batch_size, num_queries, value_size)。填充位置上的键和值不参加计算（同 AdditiveAttention）。
    self.attention_weights 保存最近一次的权重 (batch_size, num_queries, num_keys)（dropout 之前）。
    """

    def __init__(self, dropout, **kwargs):
        super().__init__(**kwargs)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        check_attention_inputs(queries, keys, values, same_size=True)
        keys, values = mask_padding(keys, values, valid_lens)              # 填充位置换成 0
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)   # (B, n_q, n_k)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)    # (B, n_q, value_size)
