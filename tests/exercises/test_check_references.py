"""The checks' own reference answers and test doubles, against the book's code and by hand.

A check compares the student's answer with a reference written in its module (loops, float64); these
tests make sure that reference is right, that the scripted decoders behave as their docstrings say, and
that a check leaves the notebook's random state alone. The modules are found through the notebooks
(by check name), so an exercise that moves to another chapter is still tested here.
"""
from __future__ import annotations

import contextlib
import io
import math
import random

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import d2l_local as d2l
from exercise_support import by_check, call_check, namespace, run


def module_of(check_name):
    """The d2l_exercises module that holds the check `check_name` (the first, if several chapters have one)."""
    found = by_check(check_name)
    if not found:
        pytest.skip(f"no chapter has the check `{check_name}` now")
    return found[0].module


def module_with(check_name, params):
    for checked in by_check(check_name):
        if checked.params == params:
            return checked.module
    pytest.skip(f"no chapter has the check `{check_name}{params}` now")


def teacher_answer(check_name):
    checked = by_check(check_name)[0]
    ns, _ = run(checked.scaffold, namespace(checked))
    return checked, ns[checked.answer]


# ------------------------------------------------------------------------------------------------ masking


def test_masked_mean_reference_is_the_valid_mean():
    m = module_of("masked_mean_context")
    embs = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)
    got = m._masked_mean_reference(embs, torch.tensor([1, 3]))
    assert torch.equal(got, torch.stack([embs[0, 0], embs[1, :3].mean(dim=0)]))


def test_reference_smoothed_loss_agrees_with_masked_softmax_ce_loss():
    m = module_of("smoothed_masked_ce")
    for case in m._smoothed_ce_cases():
        pred, label, valid_len, epsilon = case.args
        book = d2l.MaskedSoftmaxCELoss(label_smoothing=epsilon)(pred, label, valid_len).item()
        assert math.isclose(case.expected, book, rel_tol=1e-5, abs_tol=1e-6)


def test_reference_masked_softmax_agrees_with_the_book():
    m = module_of("masked_softmax")
    for case in m._masked_softmax_cases():
        X, valid_len = case.args
        assert torch.allclose(case.expected, d2l.masked_softmax(X, valid_len), atol=1e-6)
        assert torch.allclose(case.expected.sum(dim=-1), torch.ones(X.shape[:2]))


# ------------------------------------------------------------------------------------------------ data


def test_preprocess_reference_examples():
    m = module_of("preprocess_keep_numbers")
    assert m._preprocess_reference("I'm 5.") == "i'm 5 ."
    assert m._preprocess_reference("It costs 3.50, not 1,000.") == "it costs 3.50 , not 1,000 ."
    assert m._preprocess_reference("Room no.5") == "room no .5"
    assert m._preprocess_reference("Ça\xa0alors\u202f!") == "ça alors !"
    assert m._preprocess_reference("3!2 ３.５ ٣,٥ 1.2.3") == "3 !2 ３ .５ ٣ ,٥ 1.2.3"   # only 0-9 are digits
    assert m._preprocess_reference("Ｈｉ，ｔｏｍ！") == "ｈｉ，ｔｏｍ！"                  # full-width marks stay


def test_padding_ratio_reference_by_hand():
    m = module_of("batch_padding_ratio")
    # batches [3, 7] and [2]: widths 8 and 3, so 2 * 8 + 3 = 19 positions, 4 + 8 + 3 = 15 valid
    assert m._padding_reference([3, 7, 2], 2) == pytest.approx(4 / 19)


# ------------------------------------------------------------------------------------------------ encoder, decoder


def test_packed_encode_check_leaves_the_random_state_alone():
    checked, answer = teacher_answer("packed_encode")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    assert call_check(checked, answer)[0] is True
    assert torch.equal(torch.rand(3), expected)


def test_output_state_decoder_check_leaves_the_random_state_alone():
    checked, answer = teacher_answer("output_state_decoder")
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    assert call_check(checked, answer)[0] is True
    assert torch.equal(torch.rand(2), expected)


def test_one_sentence_scripted_decoder_needs_the_right_input_and_state():
    m = module_with("greedy_decode", ("decoder", "state", "bos_id", "eos_id", "max_steps"))
    decoder = m.ScriptedDecoder()
    state = torch.tensor([[0, 0]])
    logits, state2 = decoder(torch.tensor([[m.BOS]]), state)
    assert logits.shape == (1, 1, m.VOCAB_SIZE) and logits.argmax().item() == m._ROUTES[0][0]
    assert state.tolist() == [[0, 0]] and state2.tolist() == [[0, 1]]   # a new state, the old one untouched
    # feeding <bos> again (instead of the prediction) leaves the route and never reaches <eos>
    assert decoder(torch.tensor([[m.BOS]]), state2)[0].argmax().item() not in (m._ROUTES[0][1], m.EOS)
    with pytest.raises(ValueError, match="形状 \\(1, 1\\)"):
        decoder(torch.tensor([m.BOS]), state)
    with pytest.raises(ValueError, match="state"):
        decoder(torch.tensor([[m.BOS]]), None)


# ------------------------------------------------------------------------------------------------ training


def test_reference_clipping_agrees_with_grad_clipping():
    m = module_of("clip_by_global_norm")
    for case in m._clip_cases():
        grads, theta = case.args
        params = nn.ParameterList([nn.Parameter(torch.zeros_like(g)) for g in grads])
        for p, g in zip(params, grads):
            p.grad = g.clone()
        norm = d2l.grad_clipping(params, theta)
        assert math.isclose(float(norm), case.expected["norm"], rel_tol=1e-5, abs_tol=1e-7)
        for p, expected in zip(params, case.expected["clipped"]):
            assert torch.allclose(p.grad, expected, atol=1e-6)


def test_checkpoint_check_leaves_torchs_and_pythons_random_state_alone():
    """The check trains and "resumes" a small model, seeding both generators: the caller's states come back."""
    checked, answer = teacher_answer("make_checkpoint")
    torch.manual_seed(123)
    random.seed(123)
    expected = (torch.rand(3), random.random())
    torch.manual_seed(123)
    random.seed(123)
    assert call_check(checked, answer)[0] is True
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]


def test_checkpoint_reference_is_deterministic_and_resumable_by_hand():
    """The uninterrupted run is reproducible, and a checkpoint written by hand resumes it bit for bit."""
    m = module_of("make_checkpoint")
    first, second = m._reference(0), m._reference(0)
    assert first["history"] == second["history"] and m._same_tensors(first["weights"], second["weights"])
    assert first["history"] != m._reference(1)["history"]
    _, answer = teacher_answer("make_checkpoint")
    got = m._run(answer)(0)
    assert got["problem"] is None and m._compare(got, first) is None


# ------------------------------------------------------------------------------------------------ prediction


def test_reference_matches_agree_with_corpus_bleu():
    m = module_of("clipped_matches")
    # corpus_bleu with max_n = n on one sentence is BP * (matches_1 ... matches_n / totals)^(1/n)
    for pred, refs, n, _ in m._MATCH_CASES:
        counts = [m._reference_matches(pred, refs, k) for k in range(1, n + 1)]
        if any(c == 0 for c, _ in counts):
            assert d2l.corpus_bleu([pred], [refs], max_n=n) == 0.0
            continue
        c = len(pred.split())
        r = min((abs(len(x.split()) - c), len(x.split())) for x in refs)[1]
        expected = math.exp(min(0.0, 1 - r / c)) * math.exp(sum(math.log(k / t) for k, t in counts) / n)
        assert math.isclose(d2l.corpus_bleu([pred], [refs], max_n=n), expected, rel_tol=1e-12)


BATCHED = ("decoder", "state", "batch_size", "bos", "eos", "num_steps")


def test_batched_scripted_decoder_drives_the_books_greedy_loop_from_every_mode():
    """The book's predict_seq2seq loop, run by hand on the scripted decoder, gives the expected tokens,
    and eval_mode restores every submodule's mode, whatever it was."""
    m = module_with("greedy_decode", BATCHED)
    for rows, num_steps, modes in m._GREEDY_CASES:
        rows = torch.tensor(rows)
        decoder = m._decoder(modes)
        before = [module.training for module in decoder.modules()]
        with d2l.eval_mode(decoder), torch.no_grad():
            dec_X, state, columns = torch.full((len(rows), 1), m.BOS), m._initial_state(rows), []
            for _ in range(num_steps):
                Y, state = decoder(dec_X, state)
                dec_X = Y.argmax(dim=2)
                columns.append(dec_X[:, 0].tolist())
        got = [[column[i] for column in columns] for i in range(len(rows))]
        got = [t[:t.index(m.EOS)] if m.EOS in t else t for t in got]
        assert got == m._reference_greedy(rows, num_steps)
        assert [module.training for module in decoder.modules()] == before
        assert decoder.grad_enabled == [False] * num_steps
    assert m._reference_greedy(torch.tensor([0, 1, 2, 3]), 4) == [[3, 4], [6], [3, 3, 5, 3], []]


def test_batched_scripted_decoder_changes_its_state_and_punishes_training_mode():
    m = module_with("greedy_decode", BATCHED)
    decoder = m._decoder("eval")
    state = m._initial_state(torch.tensor([4, 4]))
    Y, state2 = decoder(torch.full((2, 1), m.BOS), state)
    assert state2[:, 1].tolist() == [1, 1] and state[:, 1].tolist() == [0, 0]
    assert Y.argmax(dim=2)[:, 0].tolist() == [5, 5]
    # route 4 repeats 5: fed 5 with the *old* state, it leaves the route
    assert decoder(torch.full((2, 1), 5), state)[0].argmax(dim=2)[:, 0].tolist() != [5, 5]
    assert decoder(torch.full((2, 1), 5), state2)[0].argmax(dim=2)[:, 0].tolist() == [5, 5]
    decoder.noise.train()
    assert decoder(torch.full((2, 1), m.BOS), state)[0].argmax(dim=2)[:, 0].tolist() == [6, 6]
    with pytest.raises(ValueError, match="原样传回"):
        decoder(torch.full((2, 1), m.BOS), state[:, 0])


# ------------------------------------------------------------------------------------------------ attention


def test_reference_loo_agrees_with_the_chapter_formula():
    m = module_of("loo_predict")
    gen = torch.Generator().manual_seed(0)
    x, _ = torch.sort(torch.rand(7, generator=gen) * 5)
    y = torch.randn(7, generator=gen)
    others = ~torch.eye(7, dtype=torch.bool)
    weights = torch.softmax((-((x[:, None] - x[None, :]) * 2.0) ** 2 / 2).masked_fill(~others, float("-inf")), dim=-1)
    assert torch.allclose(m._reference_loo(x, y, 2.0), weights @ y, atol=1e-6)


def test_causal_reference_agrees_with_pytorch_fused_causal_attention():
    m = module_of("causal_attention")
    for case in m._causal_cases():
        Q, K, V = case.args
        assert torch.allclose(case.expected, F.scaled_dot_product_attention(Q, K, V, is_causal=True), atol=1e-6)


def test_last_valid_reference_is_what_a_loop_over_sentences_gives():
    m = module_of("last_valid_outputs")
    for case in m._last_valid_cases():
        outputs, lens = case.args
        for b in range(outputs.shape[1]):
            assert torch.equal(case.expected[b], outputs[lens[b] - 1, b])
        assert not torch.equal(case.expected, outputs[-1])


def test_context_reference_agrees_with_additive_attention():
    m = module_of("bahdanau_context")
    for case in m._context_cases():
        query, enc_outputs, lens, W_q, W_k, w_v = case.args
        attention = d2l.AdditiveAttention(W_k.shape[1], W_q.shape[1], W_q.shape[0], dropout=0).eval()
        with torch.no_grad():
            attention.W_q.weight.copy_(W_q)
            attention.W_k.weight.copy_(W_k)
            attention.w_v.weight.copy_(w_v[None])
            context = attention(query.unsqueeze(1), enc_outputs, enc_outputs, lens).squeeze(1)
        assert torch.allclose(case.expected[0], context, atol=1e-5)
        assert torch.allclose(case.expected[1], attention.attention_weights.squeeze(1), atol=1e-6)


def test_multihead_reference_agrees_with_the_chapters_multihead_attention():
    m = module_of("multihead_attention")
    zero_length_seen = False
    for case in m._cases():
        queries, keys, values, lens, params, num_heads = case.args
        zero_length_seen |= lens is not None and bool((lens == 0).any())
        mha = d2l.MultiHeadAttention(keys.shape[-1], queries.shape[-1], values.shape[-1], params[0].shape[1],
                                     num_heads, dropout=0).eval()
        with torch.no_grad():
            for layer, W in zip((mha.W_q, mha.W_k, mha.W_v, mha.W_o), params):
                layer.weight.copy_(W.T)
            assert torch.allclose(case.expected, mha(queries, keys, values, lens), atol=1e-5)
    assert zero_length_seen, "a case with a query that sees no key (d2l-ai/d2l-en#2423)"


def test_layer_norm_reference_agrees_with_torch():
    m = module_of("layer_norm")
    for case in m._cases():
        X, gamma, beta = case.args
        eps = case.kwargs.get("eps", 1e-5)
        assert torch.allclose(case.expected, F.layer_norm(X, X.shape[-1:], gamma, beta, eps), atol=1e-5)


def test_checks_print_only_their_verdict():
    """A check prints one verdict line and its indented explanation, nothing else (no warnings on stderr)."""
    checked, answer = teacher_answer("layer_norm")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        checked.check_function(answer)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"✓ {checked.exercise.title}" or lines[0].startswith(f"✓ {checked.exercise.title}")
    assert all(line.startswith("   ") for line in lines[1:]) and err.getvalue() == ""


# --- chapter 15: the Transformer paper's schedule ------------------------------------------------

def test_ch15_reference_is_the_formula_and_peaks_at_the_end_of_the_warm_up():
    from d2l_exercises import ch15

    values = [ch15._reference(step, 512, 4000) for step in range(8000)]
    assert max(range(8000), key=values.__getitem__) == 3999            # the 4000th update
    assert values[0] == pytest.approx(512 ** -0.5 * 4000 ** -1.5)
    assert values[3999] == pytest.approx((512 * 4000) ** -0.5)


def test_ch15_reference_in_lambda_lr_gives_the_formula_for_the_kth_update():
    from d2l_exercises import ch15

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: ch15._reference(step, 32, 10))
    for k in range(1, 25):                                               # the k-th update
        assert optimizer.param_groups[0]["lr"] == pytest.approx(32 ** -0.5 * min(k ** -0.5, k * 10 ** -1.5))
        optimizer.step()
        scheduler.step()
