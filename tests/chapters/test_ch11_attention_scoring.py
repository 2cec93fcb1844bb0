"""Chapter 11: masked_softmax, mask_padding, AdditiveAttention, DotProductAttention."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

import d2l_local as d2l


def keep_mask(valid_lens, num_queries, num_keys):
    """(batch, num_queries, num_keys) bool: True where a key takes part (the reference we test against)."""
    positions = torch.arange(num_keys)
    if valid_lens.dim() == 1:
        return (positions < valid_lens[:, None, None]).expand(-1, num_queries, -1)
    return positions < valid_lens[:, :, None]


def random_scores(seed, shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 3


# ---------------------------------------------------------------- masked_softmax


def test_no_valid_lens_is_plain_softmax():
    X = random_scores(0, (2, 3, 5))
    assert torch.allclose(d2l.masked_softmax(X, None), torch.softmax(X, dim=-1))


def test_1d_valid_lens_masked_positions_are_exactly_zero_and_rows_sum_to_one():
    X = random_scores(1, (3, 4, 6))
    lens = torch.tensor([1, 4, 6])
    W = d2l.masked_softmax(X, lens)
    keep = keep_mask(lens, 4, 6)
    assert W.shape == X.shape
    assert (W[~keep] == 0).all()
    assert (W[keep] > 0).all()
    assert torch.allclose(W.sum(-1), torch.ones(3, 4))
    # the valid part equals a softmax over the valid keys alone
    for b, n in enumerate(lens.tolist()):
        assert torch.allclose(W[b, :, :n], torch.softmax(X[b, :, :n], dim=-1))


def test_2d_valid_lens_each_query_has_its_own_length():
    X = random_scores(2, (2, 3, 5))
    lens = torch.tensor([[1, 2, 5], [3, 4, 1]])
    W = d2l.masked_softmax(X, lens)
    for b in range(2):
        for q in range(3):
            n = lens[b, q].item()
            assert torch.allclose(W[b, q, :n], torch.softmax(X[b, q, :n], dim=-1))
            assert (W[b, q, n:] == 0).all()


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 4), num_queries=st.integers(1, 5), num_keys=st.integers(1, 7),
       two_d=st.booleans(), seed=st.integers(0, 2 ** 16), data=st.data())
def test_property_masked_zero_valid_sum_one(batch, num_queries, num_keys, two_d, seed, data):
    X = random_scores(seed, (batch, num_queries, num_keys))
    shape = (batch, num_queries) if two_d else (batch,)
    flat = data.draw(st.lists(st.integers(1, num_keys + 2), min_size=math.prod(shape), max_size=math.prod(shape)))
    lens = torch.tensor(flat).reshape(shape)
    W = d2l.masked_softmax(X, lens)
    keep = keep_mask(lens, num_queries, num_keys)
    assert not torch.isnan(W).any()
    assert (W[~keep] == 0).all()
    assert torch.allclose(W.sum(-1), torch.ones(batch, num_queries), atol=1e-6)


def test_valid_len_longer_than_num_keys_means_all_valid():
    X = random_scores(3, (2, 2, 4))
    W = d2l.masked_softmax(X, torch.tensor([4, 100]))
    assert torch.allclose(W, torch.softmax(X, dim=-1))


def test_integer_valued_floats_and_lists_are_accepted():
    X = random_scores(4, (2, 2, 4))
    expected = d2l.masked_softmax(X, torch.tensor([1, 3]))
    assert torch.equal(d2l.masked_softmax(X, torch.tensor([1.0, 3.0])), expected)
    assert torch.equal(d2l.masked_softmax(X, [1, 3]), expected)
    assert torch.equal(d2l.masked_softmax(X, torch.tensor([1, 3], dtype=torch.int32)), expected)


def test_input_is_not_modified_and_result_is_a_new_tensor():
    X = random_scores(5, (2, 3, 4))
    before = X.clone()
    W = d2l.masked_softmax(X, torch.tensor([1, 2]))
    assert torch.equal(X, before)
    assert W.data_ptr() != X.data_ptr()
    d2l.masked_softmax(X, torch.tensor([[1, 0, 2], [3, 1, 0]]))
    assert torch.equal(X, before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_all_masked_rows_are_all_zero_not_nan(dtype):
    X = random_scores(6, (3, 2, 4)).to(dtype)
    W = d2l.masked_softmax(X, torch.tensor([0, 2, 4]))
    assert W.dtype == dtype
    assert not torch.isnan(W).any()
    assert (W[0] == 0).all()                           # documented: all-zero weights
    assert (W[1, :, 2:] == 0).all()
    assert torch.allclose(W[1:].sum(-1).float(), torch.ones(2, 2), atol=1e-2)


def test_all_masked_rows_with_2d_valid_lens():
    X = random_scores(7, (1, 3, 4))
    W = d2l.masked_softmax(X, torch.tensor([[2, 0, 4]]))
    assert (W[0, 1] == 0).all()
    assert torch.allclose(W[0, [0, 2]].sum(-1), torch.ones(2))


def test_backward_works_and_gives_no_nan():
    X = random_scores(8, (2, 3, 4)).requires_grad_()
    W = d2l.masked_softmax(X, torch.tensor([0, 2]))
    (W * torch.arange(1.0, 5.0)).sum().backward()
    assert not torch.isnan(X.grad).any()
    assert (X.grad[0] == 0).all()                      # all-masked sample: no gradient
    assert (X.grad[1, :, 2:] == 0).all()               # masked keys: no gradient
    assert (X.grad[1, :, :2] != 0).any()


def test_masked_scores_do_not_matter():
    X = random_scores(9, (2, 2, 5))
    Y = X.clone()
    Y[:, :, 3] = float("inf")                          # garbage in the padding positions
    Y[:, :, 4] = float("nan")
    lens = torch.tensor([3, 3])
    assert torch.equal(d2l.masked_softmax(X, lens), d2l.masked_softmax(Y, lens))


@pytest.mark.parametrize("call, error, match", [
    (lambda X: d2l.masked_softmax(X, torch.tensor([1, 2, 3])), ValueError, r"\(batch_size,\) = \(2,\)"),
    (lambda X: d2l.masked_softmax(X, torch.tensor([[1, 2, 3], [1, 2, 3]])), ValueError, r"num_queries\) = \(2, 2\)"),
    (lambda X: d2l.masked_softmax(X, torch.ones(2, 2, 1)), ValueError, "valid_lens 的形状"),
    (lambda X: d2l.masked_softmax(X, torch.tensor([2, -1])), ValueError, "负数"),
    (lambda X: d2l.masked_softmax(X, torch.tensor([[2, 1], [-1, 0]])), ValueError, "负数"),
    (lambda X: d2l.masked_softmax(X, torch.tensor([2.5, 1.0])), ValueError, "整数值"),
    (lambda X: d2l.masked_softmax(X, torch.tensor([float("nan"), 1.0])), ValueError, "整数值"),
    (lambda X: d2l.masked_softmax(X, torch.tensor([True, False])), TypeError, "mask.sum"),
    (lambda X: d2l.masked_softmax(X.to("meta"), torch.tensor([1, 2])), ValueError, "X.device"),
    (lambda X: d2l.masked_softmax(X[0], torch.tensor([1, 2])), ValueError, "batch_size, num_queries, num_keys"),
    (lambda X: d2l.masked_softmax(X[None], torch.tensor([1, 2])), ValueError, "repeat_interleave"),
    (lambda X: d2l.masked_softmax(torch.ones(2, 2, 3, dtype=torch.long), torch.tensor([1, 2])), TypeError, "浮点"),
])
def test_errors_say_what_to_do(call, error, match):
    X = random_scores(10, (2, 2, 3))
    with pytest.raises(error, match=match):
        call(X)


# ---------------------------------------------------------------- attention modules


@pytest.mark.parametrize("valid_lens", [None, torch.tensor([2, 5, 1]), torch.tensor([[1, 2], [3, 4], [5, 0]])])
def test_additive_attention_shapes(valid_lens):
    torch.manual_seed(0)
    attention = d2l.AdditiveAttention(key_size=3, query_size=7, num_hiddens=6, dropout=0.2).eval()
    queries, keys, values = torch.randn(3, 2, 7), torch.randn(3, 5, 3), torch.randn(3, 5, 4)
    out = attention(queries, keys, values, valid_lens)
    assert out.shape == (3, 2, 4)
    assert attention.attention_weights.shape == (3, 2, 5)
    assert not torch.isnan(out).any()


def test_additive_attention_identical_keys_average_valid_values():
    torch.manual_seed(0)
    attention = d2l.AdditiveAttention(key_size=2, query_size=5, num_hiddens=4, dropout=0).eval()
    values = torch.arange(24.0).reshape(2, 3, 4)
    out = attention(torch.randn(2, 1, 5), torch.ones(2, 3, 2), values, torch.tensor([1, 3]))
    assert torch.allclose(out[0, 0], values[0, 0])
    assert torch.allclose(out[1, 0], values[1].mean(0))


def test_additive_attention_gradients_reach_parameters():
    torch.manual_seed(0)
    attention = d2l.AdditiveAttention(key_size=3, query_size=3, num_hiddens=4, dropout=0)
    out = attention(torch.randn(2, 2, 3), torch.randn(2, 4, 3), torch.randn(2, 4, 2), torch.tensor([2, 4]))
    out.sum().backward()
    for p in attention.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


@pytest.mark.parametrize("valid_lens", [None, torch.tensor([2, 5, 1]), torch.tensor([[1, 2], [3, 4], [5, 2]])])
def test_dot_product_attention_shapes(valid_lens):
    torch.manual_seed(0)
    attention = d2l.DotProductAttention(dropout=0.3).eval()
    out = attention(torch.randn(3, 2, 6), torch.randn(3, 5, 6), torch.randn(3, 5, 4), valid_lens)
    assert out.shape == (3, 2, 4)
    assert attention.attention_weights.shape == (3, 2, 5)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (2, 3, 5, 4, 6), (4, 7, 9, 16, 8), (3, 12, 20, 64, 32)])
@pytest.mark.parametrize("kind", ["none", "1d", "2d"])
def test_dot_product_equals_torch_sdpa(shape, kind):
    batch, n_q, n_k, d, d_v = shape
    gen = torch.Generator().manual_seed(sum(shape))
    Q, K, V = (torch.randn(batch, n, dim, generator=gen) for n, dim in ((n_q, d), (n_k, d), (n_k, d_v)))
    lens = {"none": None,
            "1d": torch.randint(1, n_k + 1, (batch,), generator=gen),
            "2d": torch.randint(1, n_k + 1, (batch, n_q), generator=gen)}[kind]
    mask = None if lens is None else keep_mask(lens, n_q, n_k)
    ours = d2l.DotProductAttention(dropout=0).eval()(Q, K, V, lens)
    fused = F.scaled_dot_product_attention(Q, K, V, attn_mask=mask)
    assert (ours - fused).abs().max().item() <= 1e-6


def test_dot_product_all_masked_row_gives_zero_vector():
    Q, K, V = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 2)
    out = d2l.DotProductAttention(dropout=0).eval()(Q, K, V, torch.tensor([[0, 2, 5], [1, 0, 0]]))
    assert (out[0, 0] == 0).all() and (out[1, 1:] == 0).all()
    assert not torch.isnan(out).any()


def test_dot_product_with_valid_lens_equals_attention_on_truncated_keys():
    torch.manual_seed(1)
    attention = d2l.DotProductAttention(dropout=0).eval()
    Q, K, V = torch.randn(3, 4, 8), torch.randn(3, 6, 8), torch.randn(3, 6, 5)
    lens = torch.tensor([1, 4, 6])
    out = attention(Q, K, V, lens)
    for b, n in enumerate(lens.tolist()):
        alone = attention(Q[b:b + 1], K[b:b + 1, :n], V[b:b + 1, :n])
        assert torch.allclose(out[b:b + 1], alone, atol=1e-6)


def test_additive_with_valid_lens_equals_attention_on_truncated_keys():
    torch.manual_seed(2)
    attention = d2l.AdditiveAttention(key_size=3, query_size=5, num_hiddens=7, dropout=0).eval()
    Q, K, V = torch.randn(2, 3, 5), torch.randn(2, 6, 3), torch.randn(2, 6, 2)
    lens = torch.tensor([2, 5])
    out = attention(Q, K, V, lens)
    for b, n in enumerate(lens.tolist()):
        assert torch.allclose(out[b:b + 1], attention(Q[b:b + 1], K[b:b + 1, :n], V[b:b + 1, :n]), atol=1e-6)


def test_dropout_is_applied_in_training_mode_only():
    torch.manual_seed(0)
    attention = d2l.DotProductAttention(dropout=0.5)
    Q, K, V = torch.randn(4, 8, 4), torch.randn(4, 8, 4), torch.randn(4, 8, 3)
    train_out = attention.train()(Q, K, V)
    eval_out = attention.eval()(Q, K, V)
    assert not torch.allclose(train_out, eval_out)
    assert torch.allclose(attention.attention_weights.sum(-1), torch.ones(4, 8))  # stored before dropout


@pytest.mark.parametrize("args, match", [
    ((torch.randn(2, 3, 4), torch.randn(2, 5, 3), torch.randn(2, 5, 2)), "维数相同"),
    ((torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 4, 2)), "每个键要对应一个值"),
    ((torch.randn(2, 3, 4), torch.randn(3, 5, 4), torch.randn(3, 5, 2)), "batch_size"),
    ((torch.randn(3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 2)), "unsqueeze"),
])
def test_attention_input_errors(args, match):
    with pytest.raises(ValueError, match=match):
        d2l.DotProductAttention(dropout=0)(*args)


# ---------------------------------------------------------------- the checks and the idea

def test_check_masked_softmax_args_returns_broadcastable_lengths():
    X = torch.zeros(2, 3, 4)
    assert d2l.check_masked_softmax_args(X, None) is None
    assert d2l.check_masked_softmax_args(X, torch.tensor([1, 2])).shape == (2, 1, 1)
    assert d2l.check_masked_softmax_args(X, [[1, 2, 3], [0, 4, 9]]).shape == (2, 3, 1)


def test_the_idea_cell_agrees_with_the_saved_function():
    """Chapter 11 shows the idea (masked_fill with -1e6, then softmax) before the saved version."""
    X = random_scores(11, (3, 2, 5))
    lens = torch.tensor([1, 4, 5])
    keep = torch.arange(5) < lens[:, None, None]
    idea = F.softmax(X.masked_fill(~keep, -1e6), dim=-1)
    assert torch.allclose(idea, d2l.masked_softmax(X, lens), atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes_masked_exactly_and_empty_rows_zero(dtype):
    X = random_scores(12, (2, 3, 4)).to(dtype)
    W = d2l.masked_softmax(X, torch.tensor([[0, 2, 9], [4, 1, 3]]))
    assert W.dtype == dtype and torch.isfinite(W).all()
    assert (W[0, 0] == 0).all() and (W[0, 1, 2:] == 0).all() and (W[1, 1, 1:] == 0).all()
    assert torch.allclose(W[0, 1:].sum(-1).float(), torch.ones(2), atol=1e-2)


# ---------------------------------------------------------------- issue 13: padding contributes nothing

def test_mask_padding_zeroes_the_positions_no_query_sees():
    keys, values = torch.ones(2, 5, 3), torch.ones(2, 5, 2)
    k, v = d2l.mask_padding(keys, values, torch.tensor([[1, 3], [0, 0]]))   # per sample: up to 3, and 0
    assert k[0, :3].eq(1).all() and k[0, 3:].eq(0).all() and k[1].eq(0).all()
    assert v[0, :3].eq(1).all() and v[0, 3:].eq(0).all() and v[1].eq(0).all()
    assert keys.eq(1).all() and values.eq(1).all()                         # inputs untouched
    assert d2l.mask_padding(keys, values, None) == (keys, values)


def make_attention(kind):
    torch.manual_seed(0)
    if kind == "additive":
        return d2l.AdditiveAttention(key_size=4, query_size=4, num_hiddens=6, dropout=0).eval()
    return d2l.DotProductAttention(dropout=0).eval()


@pytest.mark.parametrize("kind", ["additive", "dot"])
@pytest.mark.parametrize("poison", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("where", ["keys", "values", "both"])
def test_non_finite_padding_reaches_neither_output_nor_gradient(kind, poison, where):
    attention = make_attention(kind)
    gen = torch.Generator().manual_seed(3)
    Q, K, V = (torch.randn(3, n, d, generator=gen) for n, d in ((2, 4), (6, 4), (6, 4)))
    lens = torch.tensor([2, 6, 4])
    padding = (torch.arange(6)[None, :] >= lens[:, None])[..., None]        # (3, 6, 1)
    K_bad = K.masked_fill(padding, poison) if where in ("keys", "both") else K
    V_bad = V.masked_fill(padding, poison) if where in ("values", "both") else V
    clean = [t.clone().requires_grad_() for t in (Q, K, V)]
    dirty = [t.clone().requires_grad_() for t in (Q, K_bad, V_bad)]
    out_clean, out_dirty = attention(*clean, lens), attention(*dirty, lens)
    assert torch.isfinite(out_dirty).all() and torch.allclose(out_dirty, out_clean, atol=1e-6)
    out_dirty.sum().backward()
    for t in dirty:
        assert torch.isfinite(t.grad).all()
    assert (dirty[1].grad[padding.expand_as(K)] == 0).all() and (dirty[2].grad[padding.expand_as(V)] == 0).all()
    for p in attention.parameters():
        assert torch.isfinite(p.grad).all()


def test_2d_valid_lens_padding_beyond_the_longest_query_is_ignored():
    attention = make_attention("dot")
    gen = torch.Generator().manual_seed(4)
    Q, K, V = torch.randn(2, 3, 4, generator=gen), torch.randn(2, 5, 4, generator=gen), torch.randn(2, 5, 2, generator=gen)
    lens = torch.tensor([[1, 2, 3], [5, 4, 1]])                              # sample 0 never looks past 3
    V_bad = V.clone()
    V_bad[0, 3:] = float("nan")
    assert torch.allclose(attention(Q, K, V_bad, lens), attention(Q, K, V, lens))


def test_valid_lens_errors_still_come_from_masked_softmax():
    attention = make_attention("dot")
    Q, K, V = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 2)
    with pytest.raises(ValueError, match="请为每个样本（或每个样本的每个查询）各给一个长度"):
        attention(Q, K, V, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="不能有负数"):
        attention(Q, K, V, torch.tensor([1, -2]))
    with pytest.raises(ValueError, match=r"valid_lens\.to\(X\.device\)"):
        attention(Q, K, V, torch.tensor([1, 2], device="meta"))
