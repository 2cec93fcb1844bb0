"""Property tests (hypothesis) of the data and masking code: statements that must hold for *every*
input of a kind, checked on random ones (and on the smallest failing one, if any is found).

Each test has a bounded ``max_examples`` so that the file runs in seconds, ``deadline=None`` (a busy
2-core machine must not turn a slow example into a failure) and no example database on disk.
"""
from __future__ import annotations

import collections
import math

import pytest
import sacrebleu
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import d2l_local as d2l

RESERVED = ["<pad>", "<bos>", "<eos>"]


def bounded(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# Tokens as the corpus has them after preprocessing: no whitespace inside, never empty.
token = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=6)
small_token = st.sampled_from(["a", "b", "c", "d", "e", ".", "!", "<unk>", "<pad>", "é", "中"])
sentence = st.lists(token, min_size=1, max_size=8)


# ---------------------------------------------------------------------------------------------
# tokenisation and vocabulary


@bounded(100)
@given(st.lists(st.tuples(sentence, sentence), max_size=12), st.lists(st.integers(0, 12), max_size=3),
       st.none() | st.integers(0, 15))
def test_tokenize_nmt_round_trips_pairs_written_as_lines(pairs, blank_lines_at, num_examples):
    lines = [" ".join(src) + "\t" + " ".join(tgt) for src, tgt in pairs]
    for position in sorted(blank_lines_at, reverse=True):  # blank lines anywhere are skipped
        lines.insert(min(position, len(lines)), "")
    source, target = d2l.tokenize_nmt("\n".join(lines) + "\n", num_examples)
    expected = pairs if num_examples is None else pairs[:num_examples]
    assert source == [list(src) for src, _ in expected]
    assert target == [list(tgt) for _, tgt in expected]


@bounded(100)
@given(st.lists(st.lists(small_token | token, max_size=8), max_size=10), st.integers(0, 3))
def test_vocab_round_trip_and_min_freq(lines, min_freq):
    vocab = d2l.Vocab(lines, min_freq=min_freq, reserved_tokens=RESERVED)
    counts = collections.Counter(t for line in lines for t in line)
    # indices are 0..len-1, each token once; reserved tokens first, then <unk>
    assert vocab.idx_to_token[:4] == RESERVED + ["<unk>"]
    assert len(set(vocab.idx_to_token)) == len(vocab)
    assert all(vocab.token_to_idx[t] == i for i, t in enumerate(vocab.idx_to_token))
    # the round trip: a token comes back unless it is too rare, then it comes back as <unk>
    for line in lines:
        expected = [t if t in RESERVED + ["<unk>"] or counts[t] >= min_freq else "<unk>" for t in line]
        assert vocab.to_tokens(vocab[line]) == expected
        assert vocab.to_tokens(torch.tensor(vocab[line], dtype=torch.long)) == expected
    # frequent tokens come before rarer ones
    ordinary = vocab.idx_to_token[4:]
    assert [counts[t] for t in ordinary] == sorted((counts[t] for t in ordinary), reverse=True)


@bounded(150)
@given(st.text(max_size=40) | st.lists(small_token | st.sampled_from([" ", "\u202f", "\xa0", "?", ","]),
                                       max_size=15).map("".join))
def test_preprocess_nmt_is_idempotent_and_separates_punctuation(text):
    once = d2l.preprocess_nmt(text)
    assert d2l.preprocess_nmt(once) == once
    assert "\u202f" not in once and "\xa0" not in once
    for i, char in enumerate(once):
        if char in ",.!?" and i > 0:
            assert once[i - 1] == " ", f"no space before {char!r} in {once!r}"


@bounded(100)
@given(st.lists(small_token | token, max_size=20), st.integers(0, 25), st.sampled_from(["<pad>", 0, None]))
def test_truncate_pad_length_prefix_and_padding(line, num_steps, pad):
    original = list(line)
    out = d2l.truncate_pad(line, num_steps, pad)
    assert len(out) == num_steps
    kept = min(len(line), num_steps)
    assert out[:kept] == line[:kept]
    assert out[kept:] == [pad] * (num_steps - kept)
    assert line == original  # the input is not modified


@bounded(100)
@given(st.lists(st.lists(small_token | st.sampled_from(["<eos>", "<bos>"]), max_size=9), min_size=0, max_size=8),
       st.integers(1, 10))
def test_build_array_nmt_rows_lengths_and_padding(lines, num_steps):
    vocab = d2l.Vocab(lines, reserved_tokens=RESERVED)
    array, valid_len = d2l.build_array_nmt(lines, vocab, num_steps)
    assert array.shape == (len(lines), num_steps) and array.dtype == valid_len.dtype == torch.long
    pad, eos = vocab["<pad>"], vocab["<eos>"]
    for row, length, line in zip(array.tolist(), valid_len.tolist(), lines):
        ids = vocab[line] + [eos]
        assert row == d2l.truncate_pad(ids, num_steps, pad)
        # the valid length is the sentence's own length (with <eos>), even when the sentence holds a
        # literal '<pad>' or '<eos>': the final <eos> stays inside it unless it was truncated away
        assert length == min(len(ids), num_steps)
        assert row[length:] == [pad] * (num_steps - length)
        if len(ids) <= num_steps:
            assert row[length - 1] == eos


@bounded(60)
@given(st.lists(st.tuples(sentence, sentence), min_size=1, max_size=8), st.booleans(), st.booleans(),
       st.sampled_from(["\n", "\r\n"]))
def test_tokenize_nmt_reads_byte_order_marks_attributions_and_line_endings(pairs, bom, attribution, newline):
    """The corpus as editors and manythings.org write it: a BOM at the start, a third column, CRLF."""
    extra = "\tCC-BY 2.0 (France) Attribution: tatoeba.org #1 (x)" if attribution else ""
    text = newline.join(" ".join(src) + "\t" + " ".join(tgt) + extra for src, tgt in pairs) + newline
    assume(not text.startswith("\ufeff"))  # a sentence that itself starts with U+FEFF is indistinguishable
    raw = ("\ufeff" if bom else "") + text
    decoded = raw.encode("utf-8").decode("utf-8-sig")  # what read_data_nmt does
    source, target = d2l.tokenize_nmt(decoded)
    assert source == [list(src) for src, _ in pairs] and target == [list(tgt) for _, tgt in pairs]


@bounded(60)
@given(st.lists(st.lists(small_token, min_size=1, max_size=5), min_size=1, max_size=5),
       st.one_of(st.integers(), st.floats(allow_nan=False), st.none(), st.just(torch.tensor([1, 2]))))
def test_vocab_lookup_is_by_token_only(lines, key):
    """vocab[...] takes tokens (str, or lists of them); any other key is an error, never a silent <unk>."""
    vocab = d2l.Vocab(lines, reserved_tokens=RESERVED)
    with pytest.raises(TypeError, match="to_tokens"):
        vocab[key]


# ---------------------------------------------------------------------------------------------
# sequence_mask and masked_softmax


@st.composite
def batch_and_lengths(draw, max_extra_dims=2):
    batch, steps = draw(st.integers(1, 5)), draw(st.integers(1, 7))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=max_extra_dims)))
    lengths = draw(st.lists(st.integers(0, steps + 2), min_size=batch, max_size=batch))
    return batch, steps, extra, lengths


@bounded(150)
@given(batch_and_lengths(), st.sampled_from([torch.long, torch.int32, torch.float32]),
       st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 2 ** 16), st.booleans())
def test_sequence_mask_equals_a_reference_loop(shape, length_dtype, value, seed, as_list):
    batch, steps, extra, lengths = shape
    X = torch.randn((batch, steps) + extra, generator=torch.Generator().manual_seed(seed))
    before = X.clone()
    valid_len = lengths if as_list else torch.tensor(lengths, dtype=length_dtype)
    Y = d2l.sequence_mask(X, valid_len, value)
    expected = X.clone()
    for i in range(batch):
        for t in range(steps):
            if t >= lengths[i]:
                expected[i, t] = value
    assert torch.equal(Y, expected)
    assert torch.equal(X, before)  # never modified in place


@st.composite
def scores_and_lengths(draw):
    batch, num_queries, num_keys = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 8))
    two_d = draw(st.booleans())
    count = batch * num_queries if two_d else batch
    lengths = draw(st.lists(st.integers(0, num_keys + 2), min_size=count, max_size=count))
    lens = torch.tensor(lengths).reshape(batch, num_queries) if two_d else torch.tensor(lengths)
    return batch, num_queries, num_keys, lens


@bounded(150)
@given(scores_and_lengths(), st.sampled_from([1e-3, 1.0, 30.0, 1e4]),
       st.sampled_from([torch.float32, torch.float64]), st.integers(0, 2 ** 16))
def test_masked_softmax_sums_to_one_over_valid_positions(shape, scale, dtype, seed):
    batch, num_queries, num_keys, lens = shape
    X = scale * torch.randn(batch, num_queries, num_keys, dtype=dtype,
                            generator=torch.Generator().manual_seed(seed))
    W = d2l.masked_softmax(X, lens)
    assert W.shape == X.shape and W.dtype == dtype and not torch.isnan(W).any()
    per_query = lens[:, None].expand(batch, num_queries) if lens.dim() == 1 else lens
    for b in range(batch):
        for q in range(num_queries):
            n = min(int(per_query[b, q]), num_keys)
            assert torch.all(W[b, q, n:] == 0)  # masked keys get exactly 0
            if n == 0:
                continue  # no valid key: the row is all zeros (documented)
            assert float(W[b, q, :n].sum()) == pytest.approx(1.0, abs=1e-5)
            # and the valid part is the softmax over the valid keys alone
            assert torch.allclose(W[b, q, :n], torch.softmax(X[b, q, :n], dim=-1), atol=1e-6)


@bounded(60)
@given(batch_and_lengths(max_extra_dims=0), st.integers(2, 6), st.integers(0, 2 ** 16))
def test_masked_loss_is_the_mean_over_valid_tokens(shape, vocab_size, seed):
    batch, steps, _, lengths = shape
    gen = torch.Generator().manual_seed(seed)
    pred = torch.randn(batch, steps, vocab_size, generator=gen)
    label = torch.randint(0, vocab_size, (batch, steps), generator=gen)
    loss = d2l.MaskedSoftmaxCELoss()(pred, label, torch.tensor(lengths))
    terms = [torch.nn.functional.cross_entropy(pred[i, t], label[i, t])
             for i in range(batch) for t in range(min(lengths[i], steps))]
    expected = torch.stack(terms).mean() if terms else torch.tensor(0.0)
    assert torch.allclose(loss, expected, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# masked positions contribute nothing (issue 13): whatever sits in the padding (NaN, ±inf, huge
# numbers, labels outside the vocabulary), the loss, the attention output and every gradient are
# those of the same batch with harmless padding; and sequence_mask writes `value` exactly or refuses it

poison = st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e30, -1e30, 0.0])


@bounded(80)
@given(batch_and_lengths(max_extra_dims=0), st.integers(2, 6), poison, st.sampled_from([0.0, 0.1]),
       st.integers(0, 2 ** 16))
def test_loss_and_its_gradient_ignore_whatever_is_in_the_padding(shape, vocab_size, bad, smoothing, seed):
    batch, steps, _, lengths = shape
    gen = torch.Generator().manual_seed(seed)
    pred = torch.randn(batch, steps, vocab_size, generator=gen)
    label = torch.randint(0, vocab_size, (batch, steps), generator=gen)
    lens = torch.tensor(lengths)
    padding = torch.arange(steps)[None, :] >= lens[:, None]
    loss = d2l.MaskedSoftmaxCELoss(label_smoothing=smoothing)
    clean = pred.clone().requires_grad_()
    dirty = pred.masked_fill(padding[..., None], bad).requires_grad_()
    l_clean = loss(clean, label, lens)
    l_dirty = loss(dirty, label.masked_fill(padding, 10 ** 6), lens)
    l_clean.backward()
    l_dirty.backward()
    assert torch.isfinite(l_dirty) and torch.equal(l_dirty, l_clean)
    assert torch.isfinite(dirty.grad).all() and torch.equal(dirty.grad, clean.grad)
    assert (dirty.grad[padding] == 0).all()


@bounded(80)
@given(batch_and_lengths(max_extra_dims=0), st.integers(2, 6), st.integers(0, 2 ** 16), st.data())
def test_ignore_index_tokens_count_in_neither_the_sum_nor_the_denominator(shape, vocab_size, seed, data):
    batch, steps, _, lengths = shape
    gen = torch.Generator().manual_seed(seed)
    pred = torch.randn(batch, steps, vocab_size, generator=gen)
    label = torch.randint(0, vocab_size, (batch, steps), generator=gen)
    skipped = data.draw(st.lists(st.tuples(st.integers(0, batch - 1), st.integers(0, steps - 1)), max_size=6))
    for i, t in skipped:
        label[i, t] = -100
    loss = d2l.MaskedSoftmaxCELoss()(pred, label, torch.tensor(lengths))
    terms = [torch.nn.functional.cross_entropy(pred[i, t], label[i, t])
             for i in range(batch) for t in range(min(lengths[i], steps)) if label[i, t] != -100]
    expected = torch.stack(terms).mean() if terms else torch.tensor(0.0)
    assert torch.allclose(loss, expected, atol=1e-5)


@bounded(80)
@given(scores_and_lengths(), poison, st.sampled_from(["dot", "additive"]), st.integers(0, 2 ** 16))
def test_attention_output_and_gradients_ignore_whatever_is_in_the_padding(shape, bad, kind, seed):
    batch, num_queries, num_keys, lens = shape
    gen = torch.Generator().manual_seed(seed)
    Q, K, V = (torch.randn(batch, n, d, generator=gen) for n, d in ((num_queries, 4), (num_keys, 4), (num_keys, 3)))
    reach = lens if lens.dim() == 1 else lens.amax(dim=1)          # the keys at least one query may see
    padding = (torch.arange(num_keys)[None, :] >= reach[:, None])[..., None]
    torch.manual_seed(seed)
    attention = (d2l.DotProductAttention(0.0) if kind == "dot" else d2l.AdditiveAttention(4, 4, 5, 0.0)).eval()
    clean = [t.clone().requires_grad_() for t in (Q, K, V)]
    dirty = [t.clone().requires_grad_() for t in (Q, K.masked_fill(padding, bad), V.masked_fill(padding, bad))]
    out_clean, out_dirty = attention(*clean, lens), attention(*dirty, lens)
    assert torch.isfinite(out_dirty).all() and torch.equal(out_dirty, out_clean)
    weights = torch.randn(out_clean.shape, generator=gen)
    (out_clean * weights).sum().backward()
    grads_clean = [t.grad for t in clean] + [p.grad.clone() for p in attention.parameters()]
    attention.zero_grad()
    (out_dirty * weights).sum().backward()
    grads_dirty = [t.grad for t in dirty] + [p.grad for p in attention.parameters()]
    for g_clean, g_dirty in zip(grads_clean, grads_dirty):
        assert torch.isfinite(g_dirty).all()
        assert torch.allclose(g_dirty, g_clean, atol=1e-6)


@bounded(100)
@given(scores_and_lengths(), poison, st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16]),
       st.integers(0, 2 ** 16))
def test_masked_softmax_ignores_the_masked_scores_in_every_float_dtype(shape, bad, dtype, seed):
    batch, num_queries, num_keys, lens = shape
    X = torch.randn(batch, num_queries, num_keys, generator=torch.Generator().manual_seed(seed)).to(dtype)
    per_query = lens[:, None].expand(batch, num_queries) if lens.dim() == 1 else lens
    keep = torch.arange(num_keys)[None, None, :] < per_query[:, :, None]
    dirty = torch.where(keep, X, torch.tensor(bad, dtype=torch.float64).to(dtype)).requires_grad_()  # 1e30 -> inf in half
    W_clean, W_dirty = d2l.masked_softmax(X, lens), d2l.masked_softmax(dirty, lens)
    assert W_dirty.dtype == dtype and torch.isfinite(W_dirty).all() and torch.equal(W_dirty, W_clean)
    assert (W_dirty[~keep] == 0).all()
    sums = W_dirty.float().sum(-1)
    nonempty = per_query > 0
    assert (sums[~nonempty] == 0).all()                               # no valid key: all zeros, not NaN
    assert torch.allclose(sums[nonempty], torch.ones_like(sums[nonempty]), atol=1e-2)
    (W_dirty.float() * torch.arange(num_keys)).sum().backward()
    assert torch.isfinite(dirty.grad).all() and (dirty.grad[~keep] == 0).all()


int_dtypes = [torch.int8, torch.uint8, torch.int32, torch.int64, torch.bool]


def fits(value, dtype):
    if dtype.is_floating_point:
        return not math.isfinite(value) or abs(value) <= torch.finfo(dtype).max
    low, high = (0, 1) if dtype == torch.bool else (torch.iinfo(dtype).min, torch.iinfo(dtype).max)
    return math.isfinite(value) and value == math.floor(value) and low <= value <= high


@bounded(150)
@given(batch_and_lengths(max_extra_dims=1),
       st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64] + int_dtypes),
       st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2 ** 40, 2 ** 40) | st.sampled_from([0, 1, -1.5]),
       st.integers(0, 2 ** 16))
def test_sequence_mask_writes_value_exactly_or_refuses_it(shape, dtype, value, seed):
    batch, steps, extra, lengths = shape
    gen = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        X = torch.randn((batch, steps) + extra, generator=gen).to(dtype)
    else:
        X = torch.randint(0, 2, (batch, steps) + extra, generator=gen).to(dtype)
    before = X.clone()
    lens = torch.tensor(lengths)
    if not fits(float(value), dtype):
        with pytest.raises(ValueError, match="请"):
            d2l.sequence_mask(X, lens, value)
        return
    Y = d2l.sequence_mask(X, lens, value)
    keep = (torch.arange(steps)[None, :] < lens[:, None]).reshape((batch, steps) + (1,) * len(extra))
    expected = X.masked_fill(~keep, value)
    assert Y.dtype == dtype and torch.equal(Y.isnan(), expected.isnan())
    assert torch.equal(torch.nan_to_num(Y.double(), nan=0.5), torch.nan_to_num(expected.double(), nan=0.5))
    assert torch.equal(X, before)


# ---------------------------------------------------------------------------------------------
# BLEU


words = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=9).map(" ".join)
nonempty_words = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=9).map(" ".join)


@bounded(150)
@given(words, words, st.integers(1, 4))
def test_bleu_is_in_0_1_and_1_for_identical_sequences(pred, label, k):
    score = d2l.bleu(pred, label, k)
    assert 0.0 <= score <= 1.0
    if pred:
        assert d2l.bleu(pred, pred, k) == pytest.approx(1.0)


@bounded(60)
@given(st.lists(st.tuples(words, st.lists(nonempty_words, min_size=1, max_size=3)), min_size=1, max_size=12),
       st.integers(1, 4))
def test_corpus_bleu_matches_sacrebleu(pairs, max_n):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    assume(any(hyps))  # sacrebleu divides by the hypothesis length
    streams = [[r[j] if j < len(r) else None for r in refs] for j in range(max(len(r) for r in refs))]
    metric = sacrebleu.metrics.BLEU(max_ngram_order=max_n, tokenize="none", smooth_method="none", force=True)
    # The token-list form: with string predictions, a list of one-word strings would be ambiguous (several
    # one-word references, or one tokenised reference?) and corpus_bleu refuses it rather than guess.
    ours = d2l.corpus_bleu([h.split() for h in hyps], [[r.split() for r in rs] for rs in refs], max_n)
    assert 0.0 <= ours <= 1.0
    assert ours == pytest.approx(metric.corpus_score(hyps, streams).score / 100, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# the held-out split


@bounded(60)
@given(st.lists(st.tuples(st.lists(small_token, min_size=1, max_size=3), sentence), max_size=30),
       st.integers(0, 5))
def test_split_nmt_partitions_the_pairs_by_english_sentence(pairs, seed):
    source, target = [list(s) for s, _ in pairs], [list(t) for _, t in pairs]
    splits = d2l.split_nmt(source, target, 0.2, 0.2, seed)
    assert splits == d2l.split_nmt(source, target, 0.2, 0.2, seed)  # deterministic
    seen = {}
    for part, (src, tgt) in splits.items():
        assert len(src) == len(tgt)
        for s in src:
            assert seen.setdefault(" ".join(s), part) == part  # one English sentence, one part
    # every pair lands in exactly one part, in corpus order within it
    merged = sorted(((seen[" ".join(s)], s, t) for s, t in zip(source, target)), key=lambda x: x[0])
    assert sorted(((p, s, t) for p, (src, tgt) in splits.items() for s, t in zip(src, tgt)),
                  key=lambda x: x[0]) == merged
