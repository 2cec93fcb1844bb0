# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""6. 掩蔽与损失: the saved code of notebooks/06_masking_and_loss.ipynb (generated)."""

import math
import torch
from torch import nn
from torch.nn import functional as F
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'sequence_mask',
    'check_valid_len',
    'check_sequence_mask_args',
    'MaskedSoftmaxCELoss',
]


# ---- notebooks/06_masking_and_loss.ipynb · cell id ch06-16 ----
def sequence_mask(X, valid_len, value=0):
    """返回 X 的新副本，其中第 i 行第 t >= valid_len[i] 个时间步的元素都换成 value。

    - X：形状 (batch_size, num_steps, ...)，至少二维；X 本身从不被修改。
    - valid_len：形状 (batch_size,) 的有效长度，与 X 在同一设备上。可以是整数，
      也可以是取整数值的浮点数（如 3.0）；带小数的、负的会被拒绝。大于 num_steps
      表示整行有效，0 表示整行被掩蔽。
    - value：填入被掩蔽位置的值（算损失时用 0，注意力里用很小的数）；必须放得进 X 的数据类型。

    结果可以求导：梯度只流向没被掩蔽的位置。
    """
    valid_len = check_sequence_mask_args(X, valid_len, value)      # 输入不对时说明该怎么改
    keep = torch.arange(X.shape[1], device=X.device)[None, :] < valid_len[:, None]  # (batch_size, num_steps)
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))          # 广播到 X 的其余维度
    return X.masked_fill(~keep, value)                              # 新张量，X 不变


# ---- notebooks/06_masking_and_loss.ipynb · cell id ch06-16b ----
def check_valid_len(valid_len, device, name='valid_len', data='X'):
    """检查有效长度（不检查形状），返回 device 上的张量；不合要求时抛出说明该怎么改的错误。

    device 是数据（要掩蔽的张量）所在的设备。接受整数型和取整数值的浮点型（如 3.0）；拒绝布尔型、
    复数、负数、带小数的值和 NaN。name、data 是错误信息里用的参数名和数据名。meta 设备上的张量
    没有数值，只检查设备和类型。
    """
    if not torch.is_tensor(valid_len):
        valid_len = torch.as_tensor(valid_len, device=device)
    if valid_len.device != torch.device(device):
        raise ValueError(f"{name} 在 {valid_len.device} 上，{data} 在 {device} 上：请把 {name} 移到 {data} 所在的设备"
                         f"（move {name} to {data}.device），例如 {name}.to({data}.device)。")
    if valid_len.dtype == torch.bool or valid_len.is_complex():
        raise TypeError(f"{name} 应是整数型的有效长度，现在是 {valid_len.dtype}。"
                        "如果手里是布尔掩码，请用 mask.sum(dim=-1) 得到长度。")
    if not valid_len.is_meta:  # meta 张量没有数值，只能检查形状
        if bool((valid_len < 0).any()):
            raise ValueError(f"{name} 不能有负数（它数的是有效位置的个数）：{valid_len.tolist()}。"
                             "请检查有效长度是怎样算出来的。")
        if valid_len.is_floating_point() and bool((valid_len != valid_len.floor()).any()):
            raise ValueError(f"{name} 必须取整数值（3.0 可以，2.5 和 nan 不行）：{valid_len.tolist()}。"
                             f"请检查有效长度是怎样算出来的，或先取整：{name}.round().long()。")
    return valid_len

def check_sequence_mask_args(X, valid_len, value):
    """sequence_mask 的输入检查；返回检查过的 valid_len（X 所在设备上的张量）。"""
    if not torch.is_tensor(X) or X.dim() < 2:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f"X 的形状应为 (batch_size, num_steps, ...)，至少二维；现在是 {shape}。"
                         "一个序列也请写成批量：X.unsqueeze(0)。")
    valid_len = check_valid_len(valid_len, X.device)
    batch_size = X.shape[0]
    if valid_len.dim() != 1:
        raise ValueError(f"valid_len 的形状应为 (batch_size,) = ({batch_size},)，每个序列一个长度；"
                         f"现在是 {tuple(valid_len.shape)}。二维的长度请先展平：valid_len.reshape(-1)，"
                         "并把 X 相应地展平成 (-1, num_steps)。")
    if valid_len.shape[0] != batch_size:
        raise ValueError(f"valid_len 有 {valid_len.shape[0]} 个长度，X 却有 {batch_size} 个序列："
                         "请为 X 的每个序列（第 0 维）各给一个长度。")
    if X.is_complex():
        return valid_len
    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"value 应是一个数，现在是 {value!r}。") from None
    if X.is_floating_point():
        largest = torch.finfo(X.dtype).max
        if math.isfinite(number) and abs(number) > largest:
            raise ValueError(f"value={value} 超出了 {X.dtype} 能表示的范围（绝对值最大是 {largest:g}）。"
                             "注意力分数请用该类型最小的有限数 torch.finfo(X.dtype).min（第 11 章的 "
                             "masked_softmax 就是这样做的），或者 float('-inf')；算损失时用 0。")
    else:
        if not (math.isfinite(number) and number == math.floor(number)):
            raise ValueError(f"X 是整数型（{X.dtype}），value={value} 不是整数，masked_fill 会悄悄截断它。"
                             "请换一个整数值，或先把 X 转成浮点型：X.float()。")
        low, high = (0, 1) if X.dtype == torch.bool else (torch.iinfo(X.dtype).min, torch.iinfo(X.dtype).max)
        if not low <= number <= high:
            raise ValueError(f"value={value} 超出了 {X.dtype} 的范围（{low} 到 {high}），masked_fill 会报错。"
                             "请换一个放得下的值，或先把 X 转成更宽的类型，例如 X.long() 或 X.float()。")
    return valid_len


# ---- notebooks/06_masking_and_loss.ipynb · cell id ch06-33 ----
class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """带掩蔽的 softmax 交叉熵：只对有效词元求平均。

    loss(pred, label, valid_len)：
    - pred：logits，形状 (batch_size, num_steps, vocab_size)；
    - label：词元索引，形状 (batch_size, num_steps)；
    - valid_len：有效长度，形状 (batch_size,)，规则同 sequence_mask；
    - 返回：标量，计入的词元（有效长度以内、标签不等于 ignore_index）的损失之和 / 计入的词元数，
      不随 num_steps（填充多少）变化。没有计入的词元时返回 0（梯度全为 0），不返回 NaN。
      填充位置不参加计算：那里的 logits 即使是 inf 或 NaN，也不影响损失和梯度。
    构造参数 weight、label_smoothing、ignore_index 作用于每个词元；reduction 不起作用。
    """

    def forward(self, pred, label, valid_len):
        counted = self.counted_positions(pred, label, valid_len)        # (batch_size, num_steps)
        token_loss = F.cross_entropy(pred[counted], label[counted], weight=self.weight, reduction='none',
                                     label_smoothing=self.label_smoothing)   # (计入的词元数,)
        return token_loss.sum() / counted.sum().clamp(min=1)

    def counted_positions(self, pred, label, valid_len):
        """检查输入，返回计入损失的位置（布尔张量，形状同 label）：有效长度以内、标签不等于 ignore_index。"""
        if pred.dim() != 3:
            raise ValueError(f"pred 应是形状为 (batch_size, num_steps, vocab_size) 的 logits，"
                             f"现在是 {tuple(pred.shape)}。")
        if label.shape != pred.shape[:2]:
            hint = ("pred 是不是已经换成了 (batch_size, vocab_size, num_steps)？请直接传未换维的 logits。"
                    if label.shape == (pred.shape[0], pred.shape[2]) else
                    "请检查 label 是否与 pred 的前两维对应。")
            raise ValueError(f"label 的形状应为 (batch_size, num_steps) = {tuple(pred.shape[:2])}，"
                             f"现在是 {tuple(label.shape)}。{hint}")
        if label.is_floating_point() or label.dtype == torch.bool or label.is_complex():
            raise TypeError(f"label 应是词元索引（整数型，如 torch.long），现在是 {label.dtype}。")
        valid_len = check_valid_len(valid_len, label.device, data='label')
        if valid_len.shape != label.shape[:1]:
            raise ValueError(f"valid_len 的形状应为 (batch_size,) = ({label.shape[0]},)，每个目标序列一个有效长度；"
                             f"现在是 {tuple(valid_len.shape)}。请检查它是不是与 label 来自同一个小批量。")
        valid = sequence_mask(torch.ones_like(label, dtype=torch.bool), valid_len)  # 有效长度以内为 True
        counted = valid & (label != self.ignore_index)
        vocab_size = pred.shape[-1]
        outside = counted & ((label < 0) | (label >= vocab_size))
        if bool(outside.any()):
            bad = label[outside].unique()[:5].tolist()
            raise ValueError(f"有效位置上的标签必须是 0 到 {vocab_size - 1} 之间的词元索引，"
                             f"却有 {bad}：请检查标签是不是用另一个（更大的）词表编码的，"
                             "或者 pred 的最后一维是不是目标词表的大小。")
        return counted
