"""Chapter 13: transpose_qkv / transpose_output, MultiHeadAttention, PositionalEncoding."""
from __future__ import annotations

import math

import pytest
import torch

import d2l_local as d2l


def make_mha(query_size=7, key_size=5, value_size=3, num_hiddens=12, num_heads=4, bias=False, seed=0):
    torch.manual_seed(seed)
    return d2l.MultiHeadAttention(key_size, query_size, value_size, num_hiddens, num_heads,
                                  dropout=0, bias=bias).eval()


def make_inputs(batch=3, num_queries=4, num_kv=6, query_size=7, key_size=5, value_size=3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, num_queries, query_size, generator=gen),
            torch.randn(batch, num_kv, key_size, generator=gen),
            torch.randn(batch, num_kv, value_size, generator=gen))


def loop_over_heads(mha, queries, keys, values, valid_lens=None):
    """The definition, head by head: slice each head's columns, attend, concatenate, W_o."""
    p = mha.W_q.out_features // mha.num_heads
    Q, K, V = mha.W_q(queries), mha.W_k(keys), mha.W_v(values)
    dot = d2l.DotProductAttention(dropout=0)
    heads = [dot(Q[..., i * p:(i + 1) * p], K[..., i * p:(i + 1) * p], V[..., i * p:(i + 1) * p], valid_lens)
             for i in range(mha.num_heads)]
    return mha.W_o(torch.cat(heads, dim=-1))


# ---------------------------------------------------------------- transpose_qkv / transpose_output

@pytest.mark.parametrize("batch,n,num_hiddens,num_heads", [(2, 4, 6, 3), (1, 1, 8, 8), (3, 5, 12, 1), (4, 7, 16, 4)])
def test_transpose_round_trip_and_layout(batch, n, num_hiddens, num_heads):
    X = torch.randn(batch, n, num_hiddens)
    folded = d2l.transpose_qkv(X, num_heads)
    p = num_hiddens // num_heads
    assert folded.shape == (batch * num_heads, n, p)
    for b in range(batch):
        for i in range(num_heads):  # sample b*h + i is head i of sample b
            assert torch.equal(folded[b * num_heads + i], X[b, :, i * p:(i + 1) * p])
    assert torch.equal(d2l.transpose_output(folded, num_heads), X)
    Z = torch.randn(batch * num_heads, n, p)
    assert torch.equal(d2l.transpose_qkv(d2l.transpose_output(Z, num_heads), num_heads), Z)


def test_transpose_errors():
    with pytest.raises(ValueError, match="num_heads=4"):
        d2l.transpose_qkv(torch.zeros(2, 3, 6), 4)
    with pytest.raises(ValueError, match="num_heads=4"):
        d2l.transpose_output(torch.zeros(6, 3, 2), 4)


# ---------------------------------------------------------------- MultiHeadAttention

@pytest.mark.parametrize("valid_lens", [None, torch.tensor([2, 6, 4]), torch.tensor([[1, 2, 3, 6], [6, 5, 4, 3], [2, 2, 1, 1]])],
                         ids=["none", "1d", "2d"])
def test_shapes_with_different_sizes(valid_lens):
    mha = make_mha()
    queries, keys, values = make_inputs()
    out = mha(queries, keys, values, valid_lens)
    assert out.shape == (3, 4, 12)
    assert mha.attention_weights.shape == (3 * 4, 4, 6)
    assert mha.attention.attention_weights is mha.attention_weights  # d2l's access path still works


def test_valid_lens_default_and_list():
    mha = make_mha()
    queries, keys, values = make_inputs()
    assert torch.equal(mha(queries, keys, values), mha(queries, keys, values, None))
    assert torch.allclose(mha(queries, keys, values, [2, 6, 4]), mha(queries, keys, values, torch.tensor([2, 6, 4])))


@pytest.mark.parametrize("valid_lens", [None, torch.tensor([1, 6, 3]), torch.tensor([[1, 2, 3, 6], [6, 5, 4, 3], [2, 2, 1, 1]])],
                         ids=["none", "1d", "2d"])
@pytest.mark.parametrize("num_heads", [1, 2, 4, 6])
def test_equals_loop_over_heads(valid_lens, num_heads):
    mha = make_mha(num_heads=num_heads, bias=True)
    queries, keys, values = make_inputs()
    with torch.no_grad():
        assert torch.allclose(mha(queries, keys, values, valid_lens),
                              loop_over_heads(mha, queries, keys, values, valid_lens), atol=1e-6)


@pytest.mark.parametrize("valid_lens", [None, torch.tensor([4, 7]), torch.tensor([[1, 2, 3], [7, 5, 2]])],
                         ids=["none", "1d", "2d"])
def test_one_head_identity_projections_reduce_to_dot_product_attention(valid_lens):
    d = 5
    mha = d2l.MultiHeadAttention(d, d, d, d, num_heads=1, dropout=0).eval()
    with torch.no_grad():
        for layer in (mha.W_q, mha.W_k, mha.W_v, mha.W_o):
            layer.weight.copy_(torch.eye(d))
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, m, d, generator=gen) for m in (3, 7, 7))
    dot = d2l.DotProductAttention(dropout=0).eval()
    with torch.no_grad():
        assert (mha(q, k, v, valid_lens) - dot(q, k, v, valid_lens)).abs().max() < 1e-6


def test_masked_keys_get_zero_weight_in_every_head():
    num_heads = 4
    mha = make_mha(num_heads=num_heads)
    queries, keys, values = make_inputs()
    lens = torch.tensor([2, 6, 1])
    mha(queries, keys, values, lens)
    w = mha.attention_weights.reshape(3, num_heads, 4, 6)
    for b, length in enumerate(lens.tolist()):
        assert (w[b, :, :, length:] == 0).all()
        assert (w[b, :, :, :length] > 0).all()
        assert torch.allclose(w[b].sum(-1), torch.ones(num_heads, 4))


def test_masked_keys_2d_every_head():
    num_heads = 3
    mha = make_mha(num_hiddens=9, num_heads=num_heads)
    queries, keys, values = make_inputs(batch=2)
    lens = torch.tensor([[1, 2, 3, 4], [6, 1, 5, 2]])
    mha(queries, keys, values, lens)
    w = mha.attention_weights.reshape(2, num_heads, 4, 6)
    for b in range(2):
        for t in range(4):
            assert (w[b, :, t, lens[b, t]:] == 0).all()


def test_values_of_masked_keys_do_not_matter():
    mha = make_mha()
    queries, keys, values = make_inputs()
    lens = torch.tensor([2, 3, 1])
    keys2, values2 = keys.clone(), values.clone()
    keys2[0, 2:] = 100.0
    values2[1, 3:] = -50.0
    assert torch.allclose(mha(queries, keys, values, lens), mha(queries, keys2, values2, lens), atol=1e-6)


def test_num_hiddens_not_divisible_is_a_clear_error():
    with pytest.raises(ValueError, match=r"num_hiddens=100.*num_heads=8") as info:
        d2l.MultiHeadAttention(4, 4, 4, num_hiddens=100, num_heads=8, dropout=0)
    assert "96" in str(info.value) and "104" in str(info.value)  # suggests multiples of num_heads
    with pytest.raises(ValueError):
        d2l.MultiHeadAttention(4, 4, 4, num_hiddens=8, num_heads=0, dropout=0)


@pytest.mark.parametrize("sizes, error, match", [
    (dict(num_heads=2.0), TypeError, r"num_heads 应是正整数，现在是 2\.0（float）：请写成 num_heads=2"),
    (dict(num_hiddens=0), ValueError, r"num_hiddens 应是正整数（至少为 1），现在是 0"),
    (dict(num_hiddens=8.0), TypeError, r"请写成 num_hiddens=8"),
    (dict(key_size=0), ValueError, r"key_size 应是正整数"),
    (dict(query_size=None), TypeError, r"query_size 应是正整数，现在是 None"),
])
def test_sizes_that_are_not_positive_integers_are_clear_errors(sizes, error, match):
    args = dict(key_size=4, query_size=4, value_size=4, num_hiddens=8, num_heads=2, dropout=0)
    args.update(sizes)
    with pytest.raises(error, match=match):
        d2l.MultiHeadAttention(**args)


def test_transpose_and_positional_encoding_reject_float_sizes():
    X = torch.zeros(2, 3, 8)
    for fn in (d2l.transpose_qkv, d2l.transpose_output):
        with pytest.raises(TypeError, match=r"请写成 num_heads=2"):
            fn(X, 2.0)
    with pytest.raises(TypeError, match=r"请写成 num_hiddens=32"):
        d2l.PositionalEncoding(32.0, 0.0)
    with pytest.raises(ValueError, match=r"max_len 应是正整数"):
        d2l.PositionalEncoding(32, 0.0, max_len=0)


def test_bad_shapes_are_clear_errors():
    mha = make_mha()
    queries, keys, values = make_inputs()
    with pytest.raises(ValueError, match="valid_lens"):
        mha(queries, keys, values, torch.tensor([1, 2]))           # wrong batch
    with pytest.raises(ValueError, match="valid_lens"):
        mha(queries, keys, values, torch.ones(3, 5, dtype=torch.long))  # wrong num_queries
    with pytest.raises(ValueError, match="queries"):
        mha(torch.randn(3, 4, 6), keys, values)                     # wrong query_size
    with pytest.raises(ValueError):
        mha(queries, keys, values[:, :5])                           # keys/values differ


def test_parameter_count_does_not_depend_on_heads_and_bias_flag():
    counts = {h: sum(p.numel() for p in make_mha(num_heads=h).parameters()) for h in (1, 2, 3, 4, 6, 12)}
    assert len(set(counts.values())) == 1
    assert counts[1] == 12 * (7 + 5 + 3 + 12)
    with_bias = make_mha(bias=True)
    assert sum(p.numel() for p in with_bias.parameters()) == counts[1] + 4 * 12


def test_backward_reaches_every_projection():
    mha = make_mha()
    queries, keys, values = make_inputs()
    mha(queries, keys, values, torch.tensor([2, 6, 4])).sum().backward()
    for layer in (mha.W_q, mha.W_k, mha.W_v, mha.W_o):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------- self-attention and positions

def test_self_attention_is_permutation_equivariant_without_positions_only():
    torch.manual_seed(0)
    d = 16
    attn = d2l.MultiHeadAttention(d, d, d, d, 4, dropout=0).eval()
    X = torch.randn(2, 6, d)
    perm = torch.tensor([4, 0, 5, 2, 1, 3])
    with torch.no_grad():
        assert torch.allclose(attn(X[:, perm], X[:, perm], X[:, perm]), attn(X, X, X)[:, perm], atol=1e-6)
        pe = d2l.PositionalEncoding(d, dropout=0).eval()

        def with_positions(Z):
            H = pe(Z)
            return attn(H, H, H)

        assert (with_positions(X[:, perm]) - with_positions(X)[:, perm]).abs().max() > 1e-2


def test_positional_encoding_hand_computed_entries():
    pe = d2l.PositionalEncoding(4, dropout=0).eval()
    P = pe(torch.zeros(1, 5, 4))[0]
    assert P.shape == (5, 4)
    assert torch.allclose(P[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    expected_1 = [math.sin(1), math.cos(1), math.sin(1 / 100), math.cos(1 / 100)]  # 10000^(2/4) = 100
    expected_3 = [math.sin(3), math.cos(3), math.sin(0.03), math.cos(0.03)]
    assert torch.allclose(P[1], torch.tensor(expected_1), atol=1e-7)
    assert torch.allclose(P[3], torch.tensor(expected_3), atol=1e-7)


def test_positional_encoding_large_positions_are_accurate():
    pe = d2l.PositionalEncoding(32, dropout=0, max_len=5000).eval()
    P = pe(torch.zeros(1, 5000, 32))[0]
    i, j = 4999, 6
    assert abs(P[i, 2 * j].item() - math.sin(i / 10000 ** (2 * j / 32))) < 1e-6
    assert abs(P[i, 2 * j + 1].item() - math.cos(i / 10000 ** (2 * j / 32))) < 1e-6


def test_positional_encoding_adds_to_input_and_keeps_dtype():
    pe = d2l.PositionalEncoding(6, dropout=0).eval()
    X = torch.randn(3, 7, 6)
    assert torch.allclose(pe(X) - X, pe(torch.zeros(1, 7, 6)).expand(3, 7, 6), atol=1e-6)
    assert pe(X.double()).dtype == torch.float64
    assert pe(X.half()).dtype == torch.float16


def test_positional_encoding_dropout_only_in_training():
    pe = d2l.PositionalEncoding(8, dropout=0.5)
    X = torch.ones(4, 10, 8)
    torch.manual_seed(0)
    assert (pe.train()(X) == 0).any()
    assert not (pe.eval()(X) == 0).any()


def test_positional_encoding_odd_num_hiddens_follows_the_formula():
    pe = d2l.PositionalEncoding(5, dropout=0).eval()
    P = pe(torch.zeros(1, 4, 5))[0]
    for i in range(4):
        for col in range(5):
            angle = i / 10000 ** ((col - col % 2) / 5)
            want = math.sin(angle) if col % 2 == 0 else math.cos(angle)
            assert abs(P[i, col].item() - want) < 1e-6


def test_positional_encoding_max_len_error_says_what_to_do():
    pe = d2l.PositionalEncoding(8, dropout=0, max_len=10)
    pe(torch.zeros(2, 10, 8))  # exactly max_len is fine
    with pytest.raises(ValueError, match=r"max_len=10.*max_len=11"):
        pe(torch.zeros(2, 11, 8))
    with pytest.raises(ValueError, match="num_hiddens=8"):
        pe(torch.zeros(2, 5, 7))


def test_positional_encoding_buffer_moves_with_module_and_is_not_saved():
    pe = d2l.PositionalEncoding(8, dropout=0, max_len=20)
    assert "P" not in pe.state_dict()
    assert any(name == "P" for name, _ in pe.named_buffers())
    moved = pe.to(torch.float64)
    assert moved.P.dtype == torch.float64


@pytest.mark.parametrize("delta", [1, 5, 17])
def test_relative_position_is_a_rotation(delta):
    d = 16
    P = d2l.PositionalEncoding(d, dropout=0, max_len=200).P[0].double()
    omega = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    c, s = torch.cos(delta * omega), torch.sin(delta * omega)
    M = torch.zeros(d, d, dtype=torch.float64)
    M[0::2, 0::2], M[0::2, 1::2] = torch.diag(c), torch.diag(s)
    M[1::2, 0::2], M[1::2, 1::2] = torch.diag(-s), torch.diag(c)
    assert (P[:-delta] @ M.T - P[delta:]).abs().max() < 1e-6
    dots = (P[:-delta] * P[delta:]).sum(-1)  # p_i . p_(i+delta) depends on delta only
    assert torch.allclose(dots, torch.full_like(dots, c.sum().item()), atol=1e-5)


def test_positional_encoding_offset_matches_all_at_once():
    pe = d2l.PositionalEncoding(8, dropout=0, max_len=12).eval()
    X = torch.randn(2, 7, 8)
    whole = pe(X)
    steps = torch.cat([pe(X[:, t:t + 1], offset=t) for t in range(7)], dim=1)  # one step at a time
    assert torch.equal(steps, whole)
    assert torch.equal(pe(X[:, :3]), pe(X[:, :3], offset=0))
    with pytest.raises(ValueError, match=r"max_len=12.*max_len=13"):
        pe(X[:, :3], offset=10)
    with pytest.raises(ValueError, match="offset"):
        pe(X, offset=-1)
