"""Wrong answers to `output_state_decoder` (a decoder whose state carries the encoder's outputs), each a
class with one typical mistake. Keyed by check name; see exercise_support."""
from __future__ import annotations

import torch
from torch import nn

import d2l_local as d2l
from exercise_support import wrong


class _Decoder(d2l.Decoder):
    """A configurable OutputStateDecoder with the typical mistakes switched on one at a time."""

    drift = reorder_dim = keep_decoder_output = hidden_context_state = forget_enc_output = False
    batch_major_input = first_step_context = time_major_logits = keep_old_hidden = top_layer_state = False

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_all_outputs, *args):
        enc_output, enc_state = enc_all_outputs
        if self.hidden_context_state:
            return enc_state, enc_state[-1]
        return enc_output, (enc_state[-1:] if self.top_layer_state else enc_state)

    def forward(self, X, state):
        enc_output, hidden = state
        embs = self.embedding(X if self.batch_major_input else X.t())
        context = hidden[-1] if self.drift else enc_output[0 if self.first_step_context else -1]
        output, new_hidden = self.rnn(torch.cat([embs, context.unsqueeze(0).expand(embs.shape[0], -1, -1)], -1),
                                      hidden)
        logits = self.dense(output)
        logits = logits if self.time_major_logits else logits.transpose(0, 1)
        return logits, (output if self.keep_decoder_output else enc_output,
                        hidden if self.keep_old_hidden else new_hidden)

    def reorder_state(self, state, index):
        enc_output, hidden = state
        if self.forget_enc_output:
            return enc_output, hidden.index_select(1, index)
        return enc_output.index_select(0 if self.reorder_dim else 1, index), hidden.index_select(1, index)


def _decoder_with(mistake):
    return type(mistake, (_Decoder,), {mistake: True})


class Renamed(_Decoder):
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers):
        super().__init__(vocab_size, embed_size, num_hiddens, num_layers)
        self.output_layer = self.dense
        del self.dense


class ReturnsNothing(d2l.Decoder):
    def __init__(self, *args):
        super().__init__()
        self.embedding, self.rnn, self.dense = nn.Embedding(10, 6), nn.GRU(14, 8, 2), nn.Linear(8, 10)

    def init_state(self, enc_all_outputs, *args):
        return None

    def forward(self, X, state):
        return None

    def reorder_state(self, state, index):
        return None


WRONG = {
    "output_state_decoder": [
        wrong(_decoder_with("drift"), "5.2 节的上下文漂移"),
        wrong(_decoder_with("keep_decoder_output"), "5.2 节的上下文漂移"),
        wrong(_decoder_with("hidden_context_state"), "状态的第一项应当是编码器的 output"),
        wrong(_decoder_with("reorder_dim"), "批量在第 1 维"),
        wrong(_decoder_with("forget_enc_output"), "enc_output 也要按 index 挑选"),
        wrong(_decoder_with("batch_major_input"), "RuntimeError", "Sizes of tensors must match", "提示：", "第 1 维"),
        wrong(_decoder_with("first_step_context"), "不是第一步 enc_output[0]"),
        wrong(_decoder_with("time_major_logits"), "批量优先的 (batch_size, num_steps, vocab_size)"),
        wrong(_decoder_with("keep_old_hidden"), "第 3 个检查", "每一步都又从编码器的状态出发了"),
        wrong(_decoder_with("top_layer_state"), "第 1 个检查"),
        wrong(Renamed, "embedding、rnn、dense"),
        wrong(_Decoder(10, 6, 8, 2), "类本身", label="an_instance"),
        wrong(ReturnsNothing, "状态是两个张量组成的元组"),
    ],
}
