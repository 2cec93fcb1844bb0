"""Wrong (and other right) answers to the checks `masked_mean_context` and `greedy_decode` (the
one-sentence loop of the encoder–decoder chapter), written as students write them. Keyed by check
name; see exercise_support for how the harness uses them."""
from __future__ import annotations

import numpy as np
import torch

from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# masked_mean_context(embs, valid_lens)

def _mask(embs, valid_lens, compare=torch.lt):
    return compare(torch.arange(embs.shape[1])[None, :], valid_lens[:, None])


def mean_over_all(embs, valid_lens):
    return embs.mean(dim=1)


def divide_by_num_steps(embs, valid_lens):
    return (embs * _mask(embs, valid_lens).unsqueeze(-1)).sum(dim=1) / embs.shape[1]


def less_or_equal(embs, valid_lens):
    return (embs * _mask(embs, valid_lens, torch.le).unsqueeze(-1)).sum(dim=1) / valid_lens[:, None]


def no_new_axis(embs, valid_lens):
    return (embs * _mask(embs, valid_lens).unsqueeze(-1)).sum(dim=1) / valid_lens


def zero_in_place(embs, valid_lens):
    embs[~_mask(embs, valid_lens)] = 0
    return embs.sum(dim=1) / valid_lens[:, None]


def wrong_dim(embs, valid_lens):
    return embs.mean(dim=3)


def only_the_sum(embs, valid_lens):
    return (embs * _mask(embs, valid_lens).unsqueeze(-1)).sum(dim=1)


def divides_by_a_double(embs, valid_lens):
    total = (embs * _mask(embs, valid_lens).unsqueeze(-1)).sum(dim=1)
    return total / valid_lens[:, None].double()          # float64 sneaks in


def loop_one_short(embs, valid_lens):
    return torch.stack([embs[i, :int(n) - 1].sum(dim=0) / n for i, n in enumerate(valid_lens)])


def multiplies_in_place(embs, valid_lens):
    embs.mul_(_mask(embs, valid_lens).unsqueeze(-1))
    return embs.sum(dim=1) / valid_lens[:, None]


def mean_over_the_batch(embs, valid_lens):
    return (embs * _mask(embs, valid_lens).unsqueeze(-1)).sum(dim=0) / valid_lens[:, None]


def loop_version(embs, valid_lens):
    return torch.stack([embs[i, :int(n)].mean(dim=0) for i, n in enumerate(valid_lens)])


def masked_fill_version(embs, valid_lens):
    kept = embs.masked_fill(~_mask(embs, valid_lens).unsqueeze(-1), 0)
    return kept.sum(dim=1) / valid_lens.float()[:, None]


# ------------------------------------------------------------------------------------------------
# greedy_decode(decoder, state, bos_id, eos_id, max_steps)

def _greedy(feed_prediction=True, pass_state=True, keep_eos=False, extra_steps=0, as_tensor=False,
            keep_bos=False):
    def greedy_decode(decoder, state, bos_id, eos_id, max_steps):
        dec_X, first_state, tokens = torch.tensor([[bos_id]]), state, [bos_id] if keep_bos else []
        for _ in range(max_steps + extra_steps):
            Y_hat, new_state = decoder(dec_X, state)
            state = new_state if pass_state else first_state
            prediction = Y_hat.argmax(dim=-1)
            dec_X = prediction if feed_prediction else torch.tensor([[bos_id]])
            if prediction.item() == eos_id:
                if keep_eos:
                    tokens.append(prediction.item())
                break
            tokens.append(prediction.item())
        return torch.tensor(tokens) if as_tensor else tokens
    return greedy_decode


def int_instead_of_tensor(decoder, state, bos_id, eos_id, max_steps):
    logits, state = decoder(bos_id, state)
    return [logits.argmax().item()]


def until_eos_only(decoder, state, bos_id, eos_id, max_steps):
    """Ignores max_steps: a sentence that never produces <eos> never stops."""
    dec_X, tokens = torch.tensor([[bos_id]]), []
    while True:
        Y_hat, state = decoder(dec_X, state)
        dec_X = Y_hat.argmax(dim=-1)
        if dec_X.item() == eos_id:
            return tokens
        tokens.append(dec_X.item())


def forgets_to_count_steps(decoder, state, bos_id, eos_id, max_steps):
    """A step counter that is never incremented: fine while <eos> comes, endless when it does not."""
    dec_X, tokens, step = torch.tensor([[bos_id]]), [], 0
    while step < max_steps:
        Y_hat, state = decoder(dec_X, state)
        dec_X = Y_hat.argmax(dim=-1)
        if dec_X.item() == eos_id:
            break
        tokens.append(dec_X.item())
    return tokens


def argmax_over_the_wrong_axis(decoder, state, bos_id, eos_id, max_steps):
    dec_X, tokens = torch.tensor([[bos_id]]), []
    for _ in range(max_steps):
        Y_hat, state = decoder(dec_X, state)
        dec_X = Y_hat.argmax(dim=1)                          # (1, vocab_size), not (1, 1)
        if dec_X[0, 0].item() == eos_id:
            break
        tokens.append(dec_X[0, 0].item())
    return tokens


def numpy_tokens(decoder, state, bos_id, eos_id, max_steps):
    dec_X, tokens = torch.tensor([[bos_id]]), []
    for _ in range(max_steps):
        Y_hat, state = decoder(dec_X, state)
        token = np.int64(Y_hat.reshape(-1).numpy().argmax())
        if token == eos_id:
            break
        tokens.append(token)
        dec_X = torch.tensor([[int(token)]])
    return tokens



def returns_a_string(embs, valid_lens):
    return "0.5"


WRONG = {
    "masked_mean_context": [
        wrong(returns_a_string, "应当是一个 tensor"),
        wrong(mean_over_all, "<pad> 的嵌入也被算了进去"),
        wrong(divide_by_num_steps, "分母却是 num_steps"),
        wrong(less_or_equal, "多算了一个位置"),
        wrong(no_new_axis, "valid_lens[:, None]"),
        wrong(zero_in_place, "原地修改"),
        wrong(wrong_dim, "IndexError", "Dimension out of range", "embs.mean(dim=3)", "提示："),
        wrong(only_the_sum, "只求了和"),
        wrong(divides_by_a_double, "dtype 应当是 float32，却是 float64"),
        wrong(loop_one_short, "少算了一个位置"),
        wrong(multiplies_in_place, "原地修改"),
        wrong(mean_over_the_batch, "形状"),
    ],
    "greedy_decode": [
        wrong(_greedy(pass_state=False), "每次调用解码器都传入了最初的 state", label="forgets_the_state"),
        wrong(_greedy(feed_prediction=False), "每一步都喂了 <bos>", label="feeds_bos"),
        wrong(_greedy(keep_eos=True), "<eos> 只表示“到此结束”", label="keeps_eos"),
        wrong(_greedy(keep_bos=True), "<bos> 是第一步的输入", label="keeps_bos"),
        wrong(_greedy(extra_steps=1), "最多调用解码器 max_steps 次", label="one_step_too_many"),
        wrong(_greedy(extra_steps=-1), "少生成了一个词元", label="one_step_short"),
        wrong(_greedy(as_tensor=True), "不是 tensor", label="returns_a_tensor"),
        wrong(int_instead_of_tensor, "ValueError", "形状 (1, 1) 的 LongTensor", "decoder(bos_id, state)"),
        wrong(until_eos_only, "秒内没有返回", "是不是循环没有终止条件"),
        wrong(forgets_to_count_steps, "第 2 个检查", "秒内没有返回"),
        wrong(argmax_over_the_wrong_axis, "ValueError", "形状 (1, 1) 的 LongTensor"),
    ],
}

RIGHT = {
    "masked_mean_context": [right(loop_version), right(masked_fill_version)],
    "greedy_decode": [right(numpy_tokens), right(_greedy(), label="tuple_free_loop")],
}
