# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""1. 编码器–解码器架构: the saved code of notebooks/01_encoder_decoder.ipynb (generated)."""

import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'Encoder',
    'Decoder',
    'EncoderDecoder',
]


# ---- notebooks/01_encoder_decoder.ipynb · cell id ch01-08 ----
class Encoder(nn.Module):
    """编码器接口：把一批源序列变成交给解码器的编码结果。

    子类实现 ``forward(X, *args)``：

    - ``X``：源序列的词元索引，形状 ``(batch_size, num_steps)``；
    - ``*args``：额外信息，例如有效长度 ``valid_lens``，形状 ``(batch_size,)``；
    - 返回：编码结果 ``enc_all_outputs``，原样交给 ``Decoder.init_state``。
      它可以是一个张量，也可以是张量组成的元组，由子类和与它配对的解码器约定。
    """

    def forward(self, X, *args):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 forward(X, *args)。请在 Encoder 的子类中实现它："
            "读入形状为 (batch_size, num_steps) 的词元索引 X，"
            "返回交给 Decoder.init_state 的编码结果。")


# ---- notebooks/01_encoder_decoder.ipynb · cell id ch01-10 ----
class Decoder(nn.Module):
    """解码器接口：先由编码结果得到初始状态，再根据输入词元和状态算出输出。

    子类实现两个方法：

    - ``init_state(enc_all_outputs, *args)``：接收编码器的全部输出，以及传给
      ``EncoderDecoder.forward`` 的同一组额外参数（如 ``valid_lens``），返回初始状态；
    - ``forward(X, state)``：``X`` 是输入词元，形状 ``(batch_size, num_steps)``
      （训练时是整段目标前缀，逐词预测时 ``num_steps`` 为 1）；返回 ``(output, state)``，
      ``output`` 通常是形状为 ``(batch_size, num_steps, vocab_size)`` 的 logits，
      ``state`` 是更新后的状态，下一次调用时要把它传回来。
    """

    def init_state(self, enc_all_outputs, *args):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 init_state(enc_all_outputs, *args)。"
            "请在 Decoder 的子类中实现它：把编码器的输出（和有效长度等额外参数）变成解码器的初始状态。")

    def forward(self, X, state):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 forward(X, state)。请在 Decoder 的子类中实现它："
            "读入形状为 (batch_size, num_steps) 的词元索引 X 和状态 state，返回 (output, state)。")


# ---- notebooks/01_encoder_decoder.ipynb · cell id ch01-12 ----
class EncoderDecoder(nn.Module):
    """把一个编码器和一个解码器连成一个可以端到端训练的模型。

    ``forward(enc_X, dec_X, *args)``：

    - ``enc_X``：源序列，形状 ``(batch_size, num_src_steps)``，交给编码器；
    - ``dec_X``：解码器的输入，形状 ``(batch_size, num_tgt_steps)``
      （训练时是以 ``<bos>`` 开头的目标序列）；
    - ``*args``：额外参数（如源序列的有效长度），同时交给编码器和 ``decoder.init_state``；
    - 返回：解码器的 ``(output, state)``，不做任何改动。
    """

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_all_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_all_outputs, *args)
        return self.decoder(dec_X, dec_state)
