# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""6. 遮蔽与损失: the saved code of notebooks/06_masking_and_loss.ipynb (generated)."""

import torch
from torch import nn
from torch.nn import functional as F
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'sequence_mask',
    'MaskedSoftmaxCELoss',
]


# ---- notebooks/06_masking_and_loss.ipynb · cell id ch06-16 ----
def sequence_mask(X, valid_len, value=0):
    """返回 X 的新副本，其中第 i 行第 t >= valid_len[i] 个时间步的元素都换成 value。

    - X：形状 (batch_size, num_steps, ...)，至少二维；X 本身从不被修改。
    - valid_len：形状 (batch_size,) 的有效长度，与 X 在同一设备上。可以是整数，
      也可以是取整数值的浮点数（如 3.0）；带小数的、负的会被拒绝。大于 num_steps
      表示整行有效，0 表示整行被遮蔽。
    - value：填入被遮蔽位置的值（算损失时用 0，注意力里用 -1e6 这样很小的数）。

    结果可以求导：梯度只流向没被遮蔽的位置。
    """
    if not torch.is_tensor(X) or X.dim() < 2:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f"X 的形状应为 (batch_size, num_steps, ...)，至少二维；现在是 {shape}。"
                         "一个序列也请写成批量：X.unsqueeze(0)。")
    if not torch.is_tensor(valid_len):
        valid_len = torch.as_tensor(valid_len, device=X.device)
    if valid_len.device != X.device:
        raise ValueError(f"valid_len 在 {valid_len.device} 上，X 在 {X.device} 上："
                         "请把 valid_len 移到 X 所在的设备（move valid_len to X.device），"
                         "例如 valid_len.to(X.device)。")
    if valid_len.dtype == torch.bool or valid_len.is_complex():
        raise TypeError(f"valid_len 应是整数型的有效长度，现在是 {valid_len.dtype}。"
                        "如果手里是 (batch_size, num_steps) 的掩码，请用 mask.sum(dim=1) 得到长度。")
    batch_size = X.shape[0]
    if valid_len.dim() != 1:
        raise ValueError(f"valid_len 的形状应为 (batch_size,) = ({batch_size},)，每个序列一个长度；"
                         f"现在是 {tuple(valid_len.shape)}。二维的长度请先展平：valid_len.reshape(-1)，"
                         "并把 X 相应地展平成 (-1, num_steps)。")
    if valid_len.shape[0] != batch_size:
        raise ValueError(f"valid_len 有 {valid_len.shape[0]} 个长度，X 却有 {batch_size} 个序列："
                         "请为 X 的每个序列（第 0 维）各给一个长度。")
    if not valid_len.is_meta:  # meta 张量没有数值，只能检查形状
        if bool((valid_len < 0).any()):
            raise ValueError(f"valid_len 不能有负数（它数的是有效词元的个数）：{valid_len.tolist()}。"
                             "请检查有效长度是怎样算出来的。")
        if valid_len.is_floating_point() and bool((valid_len != valid_len.floor()).any()):
            raise ValueError(f"valid_len 必须是整数值（3.0 可以，2.5 和 nan 不行）：{valid_len.tolist()}。"
                             "请检查有效长度是怎样算出来的，或先取整：valid_len.round().long()。")
    steps = torch.arange(X.shape[1], device=X.device)
    keep = steps[None, :] < valid_len[:, None]              # (batch_size, num_steps)
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))  # 广播到 X 的其余维度
    return X.masked_fill(~keep, value)                      # 新张量，X 不变


# ---- notebooks/06_masking_and_loss.ipynb · cell id ch06-33 ----
class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """带遮蔽的 softmax 交叉熵：只对有效词元求平均。

    loss(pred, label, valid_len)：
    - pred：logits，形状 (batch_size, num_steps, vocab_size)；
    - label：词元索引，形状 (batch_size, num_steps)；
    - valid_len：有效长度，形状 (batch_size,)，规则同 sequence_mask；
    - 返回：标量，所有有效词元的损失之和 / 有效词元总数，不随 num_steps（填充多少）变化。
      没有有效词元时返回 0（梯度全为 0），不返回 NaN。
    构造参数 weight、label_smoothing、ignore_index 作用于每个词元；reduction 不起作用。
    """

    def forward(self, pred, label, valid_len):
        if pred.dim() != 3:
            raise ValueError(f"pred 应是形状为 (batch_size, num_steps, vocab_size) 的 logits，"
                             f"现在是 {tuple(pred.shape)}。")
        if label.shape != pred.shape[:2]:
            hint = ("pred 是不是已经换成了 (batch_size, vocab_size, num_steps)？请直接传未换维的 logits。"
                    if label.shape == (pred.shape[0], pred.shape[2]) else
                    "请检查 label 是否与 pred 的前两维对应。")
            raise ValueError(f"label 的形状应为 (batch_size, num_steps) = {tuple(pred.shape[:2])}，"
                             f"现在是 {tuple(label.shape)}。{hint}")
        if label.is_floating_point():
            raise TypeError(f"label 应是词元索引（整数型，如 torch.long），现在是 {label.dtype}。")
        # 展平成 (batch_size * num_steps, vocab_size)，每行一个词元：比换维后计算更快，结果相同
        batch_size, num_steps, vocab_size = pred.shape
        token_loss = F.cross_entropy(pred.reshape(-1, vocab_size), label.reshape(-1), weight=self.weight,
                                     ignore_index=self.ignore_index, reduction='none',
                                     label_smoothing=self.label_smoothing)
        token_loss = token_loss.reshape(batch_size, num_steps)             # (batch_size, num_steps)
        valid = sequence_mask(torch.ones_like(token_loss), valid_len) > 0  # 有效位置为 True
        return token_loss.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)
