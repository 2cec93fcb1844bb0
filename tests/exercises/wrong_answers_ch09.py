"""Wrong (and other right) answers to `clipped_matches` and `greedy_decode` (the batched loop of the
prediction chapter: decoder(dec_X, state) with dec_X (batch_size, 1)). Keyed by check name; see
exercise_support."""
from __future__ import annotations

import collections

import numpy as np
import torch

import d2l_local as d2l
from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# clipped_matches(pred, references, n)

def _limits(references, n):
    limit = collections.Counter()
    for ref in references:
        limit |= d2l.ngram_counts(ref.split(), n)
    return limit


def _right_matches(pred, references, n):
    limit = _limits(references, n)
    return sum(min(c, limit[g]) for g, c in d2l.ngram_counts(pred.split(), n).items())


def matches_unclipped(pred, references, n):
    tokens = pred.split()
    ref_grams = set()
    for ref in references:
        ref_grams |= set(d2l.ngram_counts(ref.split(), n))
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return sum(g in ref_grams for g in grams), max(0, len(tokens) - n + 1)


def matches_sum_over_references(pred, references, n):
    tokens = pred.split()
    limit = collections.Counter()
    for ref in references:
        limit += d2l.ngram_counts(ref.split(), n)
    counts = d2l.ngram_counts(tokens, n)
    return sum(min(c, limit[g]) for g, c in counts.items()), max(0, len(tokens) - n + 1)


def matches_distinct_ngrams(pred, references, n):
    limit = _limits(references, n)
    return sum(1 for g in d2l.ngram_counts(pred.split(), n) if limit[g]), max(0, len(pred.split()) - n + 1)


def matches_total_off_by_one(pred, references, n):
    return _right_matches(pred, references, n), max(0, len(pred.split()) - n)


def matches_negative_total(pred, references, n):
    return _right_matches(pred, references, n), len(pred.split()) - n + 1


def matches_splits_the_list(pred, references, n):
    return d2l.ngram_counts(references.split(), n), 0


def matches_characters(pred, references, n):
    limit = collections.Counter()
    for ref in references:
        limit |= d2l.ngram_counts(list(ref), n)
    counts = d2l.ngram_counts(list(pred), n)
    return sum(min(c, limit[g]) for g, c in counts.items()), max(0, len(pred) - n + 1)


def matches_returns_the_precision(pred, references, n):
    total = max(0, len(pred.split()) - n + 1)
    return _right_matches(pred, references, n) / total if total else 0.0


def matches_total_of_the_reference(pred, references, n):
    return _right_matches(pred, references, n), max(0, len(references[0].split()) - n + 1)


def matches_total_is_distinct_count(pred, references, n):
    return _right_matches(pred, references, n), len(d2l.ngram_counts(pred.split(), n))


def matches_as_numpy(pred, references, n):
    return np.int64(_right_matches(pred, references, n)), np.int64(max(0, len(pred.split()) - n + 1))


def matches_with_counter_and(pred, references, n):
    counts = d2l.ngram_counts(pred.split(), n)
    best = collections.Counter()
    for ref in references:
        best |= counts & d2l.ngram_counts(ref.split(), n)       # per reference: min(count, ref count)
    return sum(best.values()), max(0, len(pred.split()) - n + 1)


# ------------------------------------------------------------------------------------------------
# greedy_decode(decoder, state, batch_size, bos, eos, num_steps)

def _cut(columns, batch_size, eos, keep_eos=False, stop=True):
    out = []
    for i in range(batch_size):
        tokens = [column[i] for column in columns]
        if stop and eos in tokens:
            tokens = tokens[:tokens.index(eos) + (1 if keep_eos else 0)]
        out.append(tokens)
    return out


def _greedy(decoder, state, batch_size, bos, eos, num_steps, *, steps=None, keep_eos=False, stop=True,
            feed_bos=False, carry_state=True):
    dec_X, first_state, columns = torch.full((batch_size, 1), bos, dtype=torch.long), state, []
    with torch.no_grad():
        for _ in range(num_steps if steps is None else steps):
            Y, new_state = decoder(torch.full((batch_size, 1), bos) if feed_bos else dec_X, state)
            state = new_state if carry_state else first_state
            dec_X = Y.argmax(dim=2)
            columns.append(dec_X[:, 0].tolist())
    return _cut(columns, batch_size, eos, keep_eos, stop)


def greedy_in_training_mode(decoder, state, batch_size, bos, eos, num_steps):
    return _greedy(decoder, state, batch_size, bos, eos, num_steps)


def greedy_leaves_eval_mode_on(decoder, state, batch_size, bos, eos, num_steps):
    decoder.eval()
    return _greedy(decoder, state, batch_size, bos, eos, num_steps)


def greedy_restores_training_mode(decoder, state, batch_size, bos, eos, num_steps):
    decoder.eval()
    tokens = _greedy(decoder, state, batch_size, bos, eos, num_steps)
    decoder.train()                                          # "back to training": not what the caller had
    return tokens


def greedy_restores_the_top_level_flag(decoder, state, batch_size, bos, eos, num_steps):
    was_training = decoder.training
    decoder.eval()
    tokens = _greedy(decoder, state, batch_size, bos, eos, num_steps)
    decoder.train(was_training)                              # one flag for every submodule
    return tokens


def greedy_keeps_eos(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, keep_eos=True)


def greedy_never_stops(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, stop=False)


def greedy_feeds_bos(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, feed_bos=True)


def greedy_one_step_short(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, steps=num_steps - 1)


def greedy_forgets_the_new_state(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):
        return _greedy(decoder, state, batch_size, bos, eos, num_steps, carry_state=False)


def greedy_drops_the_step_dimension(decoder, state, batch_size, bos, eos, num_steps):
    dec_X = torch.full((batch_size,), bos)
    Y, state = decoder(dec_X, state)
    return [[int(t)] for t in Y.argmax(dim=-1)]


def greedy_records_gradients(decoder, state, batch_size, bos, eos, num_steps):
    with d2l.eval_mode(decoder):                             # no torch.no_grad()
        dec_X, columns = torch.full((batch_size, 1), bos, dtype=torch.long), []
        for _ in range(num_steps):
            Y, state = decoder(dec_X, state)
            dec_X = Y.argmax(dim=2)
            columns.append(dec_X[:, 0].tolist())
    return _cut(columns, batch_size, eos)


def greedy_until_every_sentence_ends(decoder, state, batch_size, bos, eos, num_steps):
    """Ignores num_steps: a sentence that never produces <eos> keeps the loop going forever."""
    columns = []
    with d2l.eval_mode(decoder), torch.no_grad():
        dec_X = torch.full((batch_size, 1), bos, dtype=torch.long)
        finished = torch.zeros(batch_size, dtype=torch.bool)
        while not bool(finished.all()):
            Y, state = decoder(dec_X, state)
            dec_X = Y.argmax(dim=2)
            columns.append(dec_X[:, 0].tolist())
            finished |= dec_X[:, 0] == eos
    return _cut(columns, batch_size, eos)


def greedy_stops_when_the_first_sentence_ends(decoder, state, batch_size, bos, eos, num_steps):
    columns = []
    with d2l.eval_mode(decoder), torch.no_grad():
        dec_X = torch.full((batch_size, 1), bos, dtype=torch.long)
        for _ in range(num_steps):
            Y, state = decoder(dec_X, state)
            dec_X = Y.argmax(dim=2)
            columns.append(dec_X[:, 0].tolist())
            if dec_X[0, 0].item() == eos:
                break
    return _cut(columns, batch_size, eos)


def greedy_shrinks_the_batch(decoder, state, batch_size, bos, eos, num_steps):
    """Decodes only the sentences that have not ended yet (rows of dec_X and state picked together)."""
    tokens = [[] for _ in range(batch_size)]
    alive = torch.arange(batch_size)
    with d2l.eval_mode(decoder), torch.no_grad():
        dec_X = torch.full((batch_size, 1), bos, dtype=torch.long)
        for _ in range(num_steps):
            Y, state = decoder(dec_X, state)
            dec_X = Y.argmax(dim=2)
            keep = dec_X[:, 0] != eos
            for row, token in zip(alive.tolist(), dec_X[:, 0].tolist()):
                if token != eos:
                    tokens[row].append(token)
            alive, dec_X, state = alive[keep], dec_X[keep], state[keep]
            if len(alive) == 0:
                break
    return tokens


def greedy_numpy_tokens(decoder, state, batch_size, bos, eos, num_steps):
    columns = []
    with d2l.eval_mode(decoder), torch.no_grad():
        dec_X = torch.full((batch_size, 1), bos, dtype=torch.long)
        for _ in range(num_steps):
            Y, state = decoder(dec_X, state)
            dec_X = Y.argmax(dim=2)
            columns.append(list(dec_X[:, 0].numpy()))            # numpy.int64 tokens
    return _cut(columns, batch_size, eos)


WRONG = {
    "clipped_matches": [
        wrong(matches_unclipped, "没有截断"),
        wrong(matches_sum_over_references, "不是各参考译文中的次数之和"),
        wrong(matches_distinct_ngrams, "重复出现的 n 元组只算了一次"),
        wrong(matches_total_off_by_one, "不是 L - n"),
        wrong(matches_negative_total, "不能是负数"),
        wrong(matches_splits_the_list, "AttributeError: 'list' object has no attribute 'split'",
              "在你的代码 `matches_splits_the_list`"),
        wrong(matches_characters, "第 1 个检查"),
        wrong(matches_returns_the_precision, "应当返回两个值"),
        wrong(matches_total_of_the_reference, "第 2 个检查"),
        wrong(matches_total_is_distinct_count, "不是不同 n 元组的个数"),
    ],
    "greedy_decode": [
        wrong(greedy_in_training_mode, "dropout 仍在起作用"),
        wrong(greedy_leaves_eval_mode_on, "只调用 decoder.eval()"),
        wrong(greedy_restores_training_mode, "第 2 个检查", "模式没有恢复成调用者原来的样子"),
        wrong(greedy_restores_the_top_level_flag, "第 3 个检查", "逐个恢复"),
        wrong(greedy_keeps_eos, "不应包含 <eos>"),
        wrong(greedy_never_stops, "之后还在继续生成"),
        wrong(greedy_feeds_bos, "每一步的输入都是 <bos>"),
        wrong(greedy_one_step_short, "循环的步数差了一"),
        wrong(greedy_forgets_the_new_state, "每次调用解码器都传入了最初的 state"),
        wrong(greedy_drops_the_step_dimension, "ValueError: dec_X 的形状应为 (batch_size, 1)",
              "在你的代码 `greedy_drops_the_step_dimension`"),
        wrong(greedy_records_gradients, "解码时还在记录梯度", "torch.no_grad()"),
        wrong(greedy_until_every_sentence_ends, "秒内没有返回", "是不是循环没有终止条件"),
        wrong(greedy_stops_when_the_first_sentence_ends, "第 1 个检查"),
    ],
}

RIGHT = {
    "clipped_matches": [right(matches_as_numpy), right(matches_with_counter_and)],
    "greedy_decode": [right(greedy_shrinks_the_batch), right(greedy_numpy_tokens)],
}
