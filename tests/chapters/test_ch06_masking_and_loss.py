"""Chapter 6: sequence_mask and MaskedSoftmaxCELoss (the mean over valid tokens)."""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

import d2l_local as d2l

LN10 = math.log(10)


def random_batch(seed=0, batch_size=3, num_steps=7, vocab_size=9, lens=(2, 7, 4)):
    gen = torch.Generator().manual_seed(seed)
    pred = torch.randn(batch_size, num_steps, vocab_size, generator=gen)
    label = torch.randint(0, vocab_size, (batch_size, num_steps), generator=gen)
    return pred, label, torch.tensor(lens)


# ---------------------------------------------------------------- sequence_mask

def test_returns_a_new_tensor_and_leaves_the_input_alone():
    X = torch.arange(1., 13.).reshape(3, 4)
    before = X.clone()
    Y = d2l.sequence_mask(X, torch.tensor([1, 3, 0]))
    assert Y is not X and Y.data_ptr() != X.data_ptr()
    assert torch.equal(X, before)
    assert torch.equal(Y, torch.tensor([[1., 0, 0, 0], [5, 6, 7, 0], [0, 0, 0, 0]]))


def test_2d_keeps_dtype_and_valid_positions():
    X = torch.arange(1, 13).reshape(3, 4)
    Y = d2l.sequence_mask(X, torch.tensor([4, 2, 1]))
    assert Y.dtype == X.dtype and Y.shape == X.shape
    assert Y.tolist() == [[1, 2, 3, 4], [5, 6, 0, 0], [9, 0, 0, 0]]


def test_3d_masks_whole_time_steps_and_respects_value():
    X = torch.randn(2, 3, 5)
    Y = d2l.sequence_mask(X, torch.tensor([1, 2]), value=-7.5)
    assert Y.shape == (2, 3, 5)
    assert torch.equal(Y[0, :1], X[0, :1]) and torch.equal(Y[1, :2], X[1, :2])
    assert (Y[0, 1:] == -7.5).all() and (Y[1, 2:] == -7.5).all()


def test_4d_input():
    X = torch.ones(2, 4, 3, 2)
    Y = d2l.sequence_mask(X, torch.tensor([3, 0]), value=-1)
    assert Y.shape == X.shape
    assert (Y[0, :3] == 1).all() and (Y[0, 3:] == -1).all() and (Y[1] == -1).all()


def test_zero_and_longer_than_num_steps():
    X = torch.ones(3, 4)
    Y = d2l.sequence_mask(X, torch.tensor([0, 4, 100]))
    assert Y.tolist() == [[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]]  # > num_steps: all valid


def test_integer_valued_floats_and_lists_are_accepted():
    X = torch.arange(1, 13).reshape(3, 4)
    expected = d2l.sequence_mask(X, torch.tensor([1, 3, 0]))
    assert torch.equal(d2l.sequence_mask(X, torch.tensor([1.0, 3.0, 0.0])), expected)
    assert torch.equal(d2l.sequence_mask(X, [1, 3, 0]), expected)
    assert torch.equal(d2l.sequence_mask(X, torch.tensor([1, 3, 0], dtype=torch.int32)), expected)


def test_gradient_flows_through_unmasked_positions_only():
    w = torch.randn(2, 4, 3, requires_grad=True)
    h = torch.tanh(w)  # tanh saves its output: an in-place write would break backward
    d2l.sequence_mask(h, torch.tensor([2, 3])).sum().backward()
    keep = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.bool)
    assert (w.grad[keep] != 0).all()
    assert (w.grad[~keep] == 0).all()


def test_leaf_tensor_requiring_grad_is_fine():
    w = torch.randn(2, 4, requires_grad=True)
    d2l.sequence_mask(w, torch.tensor([1, 4])).sum().backward()
    assert w.grad.tolist() == [[1, 0, 0, 0], [1, 1, 1, 1]]


def test_negative_valid_len_is_refused_with_advice():
    with pytest.raises(ValueError, match="不能有负数.*请检查"):
        d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, -1]))


@pytest.mark.parametrize("valid_len", [torch.tensor([[1, 2]]), torch.tensor(2), torch.ones(2, 1)])
def test_wrong_shape_is_refused_with_advice(valid_len):
    with pytest.raises(ValueError, match=r"\(batch_size,\) = \(2,\).*每个序列一个长度"):
        d2l.sequence_mask(torch.ones(2, 3), valid_len)


def test_wrong_batch_size_is_refused_with_advice():
    with pytest.raises(ValueError, match="3 个长度.*2 个序列.*各给一个长度"):
        d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, 2, 3]))


@pytest.mark.parametrize("bad", [[1.0, 2.5], [1.0, float("nan")]])
def test_fractional_or_nan_float_is_refused_with_advice(bad):
    with pytest.raises(ValueError, match=r"整数值.*valid_len.round\(\).long\(\)"):
        d2l.sequence_mask(torch.ones(2, 3), torch.tensor(bad))


def test_bool_valid_len_is_refused_with_advice():
    with pytest.raises(TypeError, match=r"mask.sum\(dim=-1\)"):
        d2l.sequence_mask(torch.ones(2, 3), torch.tensor([True, False]))


def test_x_must_be_at_least_2d():
    with pytest.raises(ValueError, match=r"至少二维.*X.unsqueeze\(0\)"):
        d2l.sequence_mask(torch.ones(3), torch.tensor([1]))


def test_valid_len_on_another_device_meta():
    X = torch.ones(2, 3, device="meta")
    with pytest.raises(ValueError, match="move valid_len to X.device"):
        d2l.sequence_mask(X, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="move valid_len to X.device"):
        d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, 2], device="meta"))


def test_meta_tensors_on_the_same_device_give_shapes():
    X = torch.ones(2, 3, 4, device="meta")
    Y = d2l.sequence_mask(X, torch.tensor([1, 2], device="meta"))
    assert Y.shape == (2, 3, 4) and Y.is_meta


# --- value must fit X's dtype (masked_fill raises on overflow and truncates silently on integers)

@pytest.mark.parametrize("dtype, value", [(torch.float16, -1e6), (torch.float16, 7e4), (torch.bfloat16, 1e39),
                                          (torch.float32, -1e39)])
def test_value_outside_a_float_dtype_is_refused_with_advice(dtype, value):
    X = torch.ones(2, 3, dtype=dtype)
    with pytest.raises(ValueError, match=r"超出了 torch\.\w+ 能表示的范围.*torch\.finfo\(X\.dtype\)\.min"):
        d2l.sequence_mask(X, torch.tensor([1, 2]), value=value)


@pytest.mark.parametrize("dtype, value", [(torch.float16, float("-inf")), (torch.float16, -65504.0),
                                          (torch.float16, float("nan")), (torch.bfloat16, -1e6),
                                          (torch.float64, -1e300), (torch.int32, -1e6), (torch.uint8, 255),
                                          (torch.bool, True), (torch.bool, 0), (torch.int64, 3.0)])
def test_values_that_fit_are_written_exactly_as_masked_fill_would(dtype, value):
    X = torch.ones(2, 3, dtype=dtype)
    keep = torch.tensor([[True, False, False], [True, True, False]])
    Y = d2l.sequence_mask(X, torch.tensor([1, 2]), value=value)
    expected = X.masked_fill(~keep, value)
    assert Y.dtype == dtype
    assert torch.equal(torch.nan_to_num(Y.double(), nan=7.0), torch.nan_to_num(expected.double(), nan=7.0))


@pytest.mark.parametrize("dtype, value, match", [
    (torch.int64, -1.5, "不是整数.*悄悄截断"), (torch.int32, 0.5, "不是整数"), (torch.int64, float("nan"), "不是整数"),
    (torch.uint8, -1, "超出了 torch.uint8 的范围"), (torch.int8, 300, "超出了 torch.int8 的范围"),
    (torch.bool, 2, "超出了 torch.bool 的范围"),
])
def test_value_that_an_integer_x_cannot_hold_is_refused_with_advice(dtype, value, match):
    X = torch.ones(2, 3, dtype=dtype)
    with pytest.raises(ValueError, match=match + r".*X\.(float|long)\(\)"):
        d2l.sequence_mask(X, torch.tensor([1, 2]), value=value)


def test_value_that_is_not_a_number_is_refused():
    with pytest.raises(TypeError, match="value 应是一个数"):
        d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, 2]), value="pad")
    with pytest.raises(TypeError, match="value 应是一个数"):
        d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, 2]), value=torch.tensor([1.0, 2.0]))


def test_complex_x_is_masked():
    X = torch.ones(2, 3, dtype=torch.complex64)
    assert d2l.sequence_mask(X, torch.tensor([1, 3])).tolist() == [[1, 0, 0], [1, 1, 1]]


def test_check_valid_len_is_shared_and_names_the_argument():
    lens = d2l.check_valid_len([1, 2], torch.device("cpu"), name="valid_lens")
    assert torch.is_tensor(lens) and lens.tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"valid_lens\.round\(\)\.long\(\)"):
        d2l.check_valid_len(torch.tensor([0.5]), torch.device("cpu"), name="valid_lens")
    with pytest.raises(ValueError, match="move valid_lens to X.device"):
        d2l.check_valid_len(torch.tensor([1]), torch.device("meta"), name="valid_lens")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_valid_len_on_another_device_cuda():
    X = torch.ones(2, 3, device=torch.device("cuda"))
    with pytest.raises(ValueError, match="move valid_len to X.device"):
        d2l.sequence_mask(X, torch.tensor([1, 2]))
    assert d2l.sequence_mask(X, torch.tensor([1, 2], device=X.device)).sum().item() == 3


# ---------------------------------------------------------- MaskedSoftmaxCELoss

def hand_loss(pred, label, valid_len):
    log_p = F.log_softmax(pred, dim=-1)
    total, count = 0.0, 0
    for i in range(pred.shape[0]):
        for t in range(min(int(valid_len[i]), pred.shape[1])):
            total -= log_p[i, t, label[i, t]].item()
            count += 1
    return total / count if count else 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_hand_computation(seed):
    pred, label, lens = random_batch(seed)
    l = d2l.MaskedSoftmaxCELoss()(pred, label, lens)
    assert l.dim() == 0
    assert l.item() == pytest.approx(hand_loss(pred, label, lens), rel=1e-5)


def test_equals_cross_entropy_over_valid_tokens_only():
    pred, label, lens = random_batch(3, lens=(5, 0, 3))
    keep = torch.arange(pred.shape[1])[None, :] < lens[:, None]
    expected = F.cross_entropy(pred[keep], label[keep])
    assert d2l.MaskedSoftmaxCELoss()(pred, label, lens).item() == pytest.approx(expected.item(), rel=1e-6)


def test_independent_of_num_steps():
    pred, label, lens = random_batch(4, num_steps=6, lens=(2, 6, 4))
    loss = d2l.MaskedSoftmaxCELoss()
    base = loss(pred, label, lens)
    for extra in (1, 4, 14):
        gen = torch.Generator().manual_seed(extra)
        pred_more = torch.cat([pred, 100 * torch.randn(3, extra, pred.shape[2], generator=gen)], dim=1)
        label_more = torch.cat([label, torch.randint(0, pred.shape[2], (3, extra), generator=gen)], dim=1)
        assert loss(pred_more, label_more, lens).item() == pytest.approx(base.item(), rel=1e-6)


def test_valid_len_longer_than_num_steps_counts_every_step():
    pred, label, _ = random_batch(5, num_steps=4)
    loss = d2l.MaskedSoftmaxCELoss()
    assert loss(pred, label, torch.tensor([9, 4, 4])).item() == \
        pytest.approx(loss(pred, label, torch.tensor([4, 4, 4])).item(), rel=1e-6)


def test_d2l_example_gives_ln10():
    pred = torch.ones(3, 4, 10)
    label = torch.zeros(3, 4, dtype=torch.long)
    l = d2l.MaskedSoftmaxCELoss()(pred, label, torch.tensor([4, 2, 0]))
    assert l.shape == ()
    assert round(l.item(), 4) == 2.3026 == round(LN10, 4)


def test_zero_valid_tokens_is_zero_without_nan_and_backward_works():
    pred, label, _ = random_batch(6)
    pred.requires_grad_()
    l = d2l.MaskedSoftmaxCELoss()(pred, label, torch.zeros(3, dtype=torch.long))
    assert l.item() == 0.0 and not torch.isnan(l)
    l.backward()
    assert pred.grad is not None and (pred.grad == 0).all()


def test_gradient_is_zero_at_padded_positions():
    pred, label, lens = random_batch(7, lens=(2, 7, 0))
    pred.requires_grad_()
    d2l.MaskedSoftmaxCELoss()(pred, label, lens).backward()
    keep = torch.arange(pred.shape[1])[None, :] < lens[:, None]
    assert (pred.grad[~keep] == 0).all()
    assert (pred.grad[keep].abs().sum(-1) > 0).all()


def test_reduction_attribute_is_not_mutated():
    loss = d2l.MaskedSoftmaxCELoss()
    pred, label, lens = random_batch(8)
    loss(pred, label, lens)
    assert loss.reduction == "mean"


def test_label_smoothing_is_applied_per_token():
    pred, label, lens = random_batch(9)
    eps = 0.1
    log_p = F.log_softmax(pred, dim=-1)
    target = torch.full_like(log_p, eps / pred.shape[-1])
    target.scatter_add_(-1, label[..., None], torch.full_like(label[..., None], 1 - eps, dtype=log_p.dtype))
    token = -(target * log_p).sum(-1)
    keep = torch.arange(pred.shape[1])[None, :] < lens[:, None]
    expected = token[keep].mean()
    got = d2l.MaskedSoftmaxCELoss(label_smoothing=eps)(pred, label, lens)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_bad_shapes_say_what_to_do():
    pred, label, lens = random_batch(10)
    loss = d2l.MaskedSoftmaxCELoss()
    with pytest.raises(ValueError, match="换成了 \\(batch_size, vocab_size, num_steps\\)"):
        loss(pred.permute(0, 2, 1), label, lens)
    with pytest.raises(ValueError, match="\\(batch_size, num_steps, vocab_size\\)"):
        loss(pred[0], label, lens)
    with pytest.raises(TypeError, match="torch.long"):
        loss(pred, label.float(), lens)
    with pytest.raises(ValueError, match=r"move valid_len to label\.device.*valid_len\.to\(label\.device\)"):
        loss(pred, label, lens.to("meta"))
    with pytest.raises(ValueError, match=r"\(batch_size,\) = \(3,\).*同一个小批量"):
        loss(pred, label, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="不能有负数.*请检查"):
        loss(pred, label, torch.tensor([1, -2, 3]))


# --- issue 13: what sits in the padding must not reach the loss or its gradient

@pytest.mark.parametrize("poison", [float("nan"), float("inf"), float("-inf"), 1e30])
def test_non_finite_logits_at_padded_positions_reach_neither_loss_nor_gradient(poison):
    pred, label, lens = random_batch(11, lens=(2, 7, 0))
    keep = torch.arange(pred.shape[1])[None, :] < lens[:, None]
    clean = pred.clone().requires_grad_()
    dirty = pred.masked_fill(~keep[..., None], poison).requires_grad_()
    loss = d2l.MaskedSoftmaxCELoss()
    l_clean, l_dirty = loss(clean, label, lens), loss(dirty, label, lens)
    l_clean.backward()
    l_dirty.backward()
    assert torch.isfinite(l_dirty) and torch.equal(l_dirty, l_clean)
    assert torch.isfinite(dirty.grad).all()
    assert torch.equal(dirty.grad, clean.grad) and (dirty.grad[~keep] == 0).all()


def test_labels_at_padded_positions_may_be_anything():
    pred, label, lens = random_batch(12, lens=(3, 1, 5))
    keep = torch.arange(pred.shape[1])[None, :] < lens[:, None]
    odd = label.masked_fill(~keep, 10 ** 6).masked_fill(~keep & (torch.arange(7) % 2 == 0), -5)
    loss = d2l.MaskedSoftmaxCELoss()
    assert torch.equal(loss(pred, odd, lens), loss(pred, label, lens))


def test_ignore_index_inside_the_valid_length_is_not_counted():
    pred, label, lens = random_batch(13, lens=(4, 7, 3))
    skip = torch.zeros_like(label, dtype=torch.bool)
    skip[0, 1] = skip[1, 6] = skip[2, 0] = True               # inside the valid lengths
    for ignore_index in (-100, 0, 8):
        labelled = label.masked_fill(skip, ignore_index)
        keep = (torch.arange(7)[None, :] < lens[:, None]) & (labelled != ignore_index)
        expected = F.cross_entropy(pred[keep], labelled[keep])  # the mean over the counted tokens
        got = d2l.MaskedSoftmaxCELoss(ignore_index=ignore_index)(pred, labelled, lens)
        assert got.item() == pytest.approx(expected.item(), rel=1e-6), ignore_index


def test_only_ignored_tokens_give_zero_not_nan():
    pred, label, lens = random_batch(14, lens=(2, 1, 0))
    pred.requires_grad_()
    l = d2l.MaskedSoftmaxCELoss()(pred, torch.full_like(label, -100), lens)
    l.backward()
    assert l.item() == 0.0 and (pred.grad == 0).all()


def test_weight_scales_each_token_and_the_mean_is_over_tokens():
    pred, label, lens = random_batch(15)
    weight = torch.linspace(0.5, 2.0, pred.shape[-1])
    keep = torch.arange(pred.shape[1])[None, :] < lens[:, None]
    expected = F.cross_entropy(pred[keep], label[keep], weight=weight, reduction="sum") / keep.sum()
    got = d2l.MaskedSoftmaxCELoss(weight=weight)(pred, label, lens)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("bad", [9, 100, -1])
def test_label_outside_the_vocabulary_is_refused_with_advice(bad):
    pred, label, lens = random_batch(16)                     # vocab_size 9
    label = label.clone()
    label[1, 3] = bad                                        # inside valid length 7
    with pytest.raises(ValueError, match=rf"0 到 8 之间的词元索引.*\[{bad}\].*另一个"):
        d2l.MaskedSoftmaxCELoss()(pred, label, lens)


def test_boolean_labels_are_refused():
    pred, label, lens = random_batch(17)
    with pytest.raises(TypeError, match="torch.long"):
        d2l.MaskedSoftmaxCELoss()(pred, label > 3, lens)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
def test_other_float_dtypes(dtype):
    pred, label, lens = random_batch(18)
    got = d2l.MaskedSoftmaxCELoss()(pred.to(dtype), label, lens)
    assert got.dtype == dtype
    assert got.item() == pytest.approx(hand_loss(pred, label, lens), rel=2e-2)
