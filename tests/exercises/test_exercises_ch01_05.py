"""The checked exercises of chapters 1–5 (d2l_exercises.ch01 … ch05).

For every check: the notebook's own solution passes; typical wrong implementations fail with the
hint written for that mistake; the student edition's placeholder reports "not done yet" without
raising; an exception in the student's code is reported with its message and no traceback.
"""
from __future__ import annotations

import random
import re

import pytest
import torch
from torch import nn

import d2l_local as d2l
from booktools import student
from d2l_exercises import ch01, ch02, ch03, ch04, ch05
from exercise_support import exercise_cells, notebook, run, solution_cells, student_version

# chapter -> [(name the scaffold defines, the check that takes it)], in reading order
EXERCISES = {
    "01_encoder_decoder": [("masked_mean_context", ch01.masked_mean_context),
                           ("greedy_decode", ch01.greedy_decode)],
    "02_translation_corpus": [("preprocess_keep_numbers", ch02.preprocess_keep_numbers)],
    "03_minibatches_and_splits": [("batch_padding_ratio", ch03.batch_padding_ratio)],
    "04_encoder": [("packed_encode", ch04.packed_encode), ("reverse_valid", ch04.reverse_valid)],
    "05_decoder": [("OutputStateDecoder", ch05.output_state_decoder)],
}
PARAMS = [pytest.param(chapter, k, id=f"{chapter[:2]}-{name}")
          for chapter, items in EXERCISES.items() for k, (name, _) in enumerate(items)]


def namespace():
    """What the earlier cells of chapters 1–5 give the exercise cells (they import the rest themselves)."""
    return {"torch": torch, "nn": nn, "d2l": d2l, "random": random}


def pairs(chapter):
    """[(scaffold source, check source)] of a chapter, in reading order."""
    cells = exercise_cells(chapter)
    scaffolds = [c for c in cells if student.BEGIN in c]
    checks = [c for c in cells if student.BEGIN not in c]
    assert len(scaffolds) == len(checks) == len(EXERCISES[chapter])
    return list(zip(scaffolds, checks))


def verdict(capsys):
    return capsys.readouterr().out


def assert_fails_with(out, *fragments):
    assert out.startswith("✗ 练习 "), out
    assert "Traceback" not in out
    for fragment in fragments:
        assert fragment in out, (fragment, out)


# ------------------------------------------------------------------------------------ the notebooks

@pytest.mark.parametrize("chapter, k", PARAMS)
def test_notebook_solution_passes(chapter, k):
    scaffold, check = pairs(chapter)[k]
    name, _ = EXERCISES[chapter][k]
    assert scaffold in solution_cells(chapter)
    assert re.search(rf"^(def|class) {name}\(", scaffold, re.M)
    assert f"checks.{EXERCISES[chapter][k][1].__name__}({name})" in check
    ns, printed = run(scaffold + "\n" + check, namespace())
    assert ns["ok"] is True
    assert printed.startswith("✓ 练习 "), printed
    assert "检查全部通过" in printed and "✗" not in printed


@pytest.mark.parametrize("chapter, k", PARAMS)
def test_student_placeholder_reports_not_done(chapter, k):
    scaffold, check = pairs(chapter)[k]
    stripped = student_version(scaffold)
    assert student.BEGIN not in stripped and "NotImplementedError" in stripped
    solution_lines = [line.strip() for line in scaffold.split(student.BEGIN)[1].split(student.END)[0].splitlines()]
    assert not any(line and line in stripped.splitlines() for line in solution_lines[1:3])
    ns, printed = run(stripped + "\n" + check, namespace())   # must not raise
    assert ns["ok"] is False
    assert printed.startswith("⏳ 练习 "), printed
    assert "还没有完成" in printed and "Traceback" not in printed and "✗" not in printed


@pytest.mark.parametrize("chapter", list(EXERCISES))
def test_exercise_cells_follow_the_list_and_leave_the_chapter_alone(chapter):
    nb = notebook(chapter)
    index = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "markdown" and re.search(r"^##\s+练习", c.source, re.M))
    listing = nb.cells[index].source
    assert listing.count("（自动检查，见下方）") == len(EXERCISES[chapter])
    after = nb.cells[index + 1:]
    code_after = [c for c in after if c.cell_type == "code"]
    assert all({"exercise", "solution"} & set(c.metadata.get("tags", [])) for c in code_after)
    assert not any(c.cell_type == "code" for c in nb.cells[:index + 1] if "exercise" in c.metadata.get("tags", []))
    headings = [c.source.splitlines()[0] for c in after if c.source.startswith("### 练习")]
    number = int(chapter[:2])
    assert len(headings) == len(EXERCISES[chapter])
    assert all(re.match(rf"### 练习 {number}\.\d+（自动检查）：\S", h) for h in headings), headings
    # the references, if any, stay the last cell
    if any("## 参考文献" in c.source for c in nb.cells):
        assert nb.cells[-1].source.startswith("## 参考文献")
    # every check cell binds its verdict to `ok` (nothing is displayed as Out[]), and its stored
    # output is a ✓ for the exercise whose heading it follows
    current = None
    for cell in after:
        if cell.source.startswith("### 练习"):
            current = re.match(r"### (练习 \d+\.\d+)", cell.source).group(1)
        elif "exercise" in cell.metadata.get("tags", []) and student.BEGIN not in cell.source:
            assert re.search(r"^ok = checks\.\w+\(\w+\)$", cell.source, re.M)
            printed = "".join(o.get("text", "") for o in cell.outputs)
            assert printed.startswith(f"✓ {current} "), (current, printed)


@pytest.mark.parametrize("chapter", list(EXERCISES))
def test_student_edition_of_the_chapter_has_no_answers(chapter):
    nb, removed = student.student_notebook(notebook(chapter), chapter)
    text = "\n".join(c.source for c in nb.cells)
    assert removed >= len(EXERCISES[chapter])
    assert student.BEGIN not in text and "**参考答案**" not in text and "<!-- BEGIN" not in text
    assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    for cell in nb.cells:
        if "exercise" in cell.metadata.get("tags", []):
            assert cell.outputs == [] and "nbval-ignore-output" in cell.metadata["tags"]


class _ReturnsNothing(d2l.Decoder):
    def __init__(self, *args):
        super().__init__()
        self.embedding, self.rnn, self.dense = nn.Embedding(10, 6), nn.GRU(14, 8, 2), nn.Linear(8, 10)

    def init_state(self, enc_all_outputs, *args):
        return None

    def forward(self, X, state):
        return None

    def reorder_state(self, state, index):
        return None


@pytest.mark.parametrize("check, answer", [
    (ch01.masked_mean_context, lambda *args: None), (ch01.greedy_decode, lambda *args: None),
    (ch02.preprocess_keep_numbers, lambda *args: None), (ch03.batch_padding_ratio, lambda *args: None),
    (ch04.packed_encode, lambda *args: None), (ch04.reverse_valid, lambda *args: None),
    (ch05.output_state_decoder, _ReturnsNothing),
    (ch01.masked_mean_context, lambda *args: "0.5"), (ch03.batch_padding_ratio, lambda *args: [0.5, 0.5]),
    (ch04.packed_encode, lambda *args: (torch.zeros(2), torch.zeros(2))),
    (ch04.reverse_valid, lambda X, valid_lens: X.float()),
], ids=lambda value: getattr(value, "__name__", "answer"))
def test_odd_answers_are_reported_not_raised(check, answer, capsys):
    assert check(answer) is False
    out = verdict(capsys)
    assert out.startswith("✗ 练习 ") and "Traceback" not in out
    assert "第 1 个检查" in out


# ------------------------------------------------------------------------------------ 练习 1.3

def test_masked_mean_wrong_answers(capsys):
    def mean_over_all(embs, valid_lens):
        return embs.mean(dim=1)

    def divide_by_num_steps(embs, valid_lens):
        mask = torch.arange(embs.shape[1])[None, :] < valid_lens[:, None]
        return (embs * mask.unsqueeze(-1)).sum(dim=1) / embs.shape[1]

    def less_or_equal(embs, valid_lens):
        mask = torch.arange(embs.shape[1])[None, :] <= valid_lens[:, None]
        return (embs * mask.unsqueeze(-1)).sum(dim=1) / valid_lens[:, None]

    def no_new_axis(embs, valid_lens):
        mask = torch.arange(embs.shape[1])[None, :] < valid_lens[:, None]
        return (embs * mask.unsqueeze(-1)).sum(dim=1) / valid_lens

    def zero_in_place(embs, valid_lens):
        mask = torch.arange(embs.shape[1])[None, :] < valid_lens[:, None]
        embs[~mask] = 0
        return embs.sum(dim=1) / valid_lens[:, None]

    for wrong, hint in ((mean_over_all, "<pad> 的嵌入也被算了进去"),
                        (divide_by_num_steps, "分母却是 num_steps"),
                        (less_or_equal, "多算了一个位置"),
                        (no_new_axis, "valid_lens[:, None]"),
                        (zero_in_place, "原地修改")):
        assert ch01.masked_mean_context(wrong) is False
        assert_fails_with(verdict(capsys), hint)


def test_masked_mean_exception_is_reported_without_traceback(capsys):
    def wrong_dim(embs, valid_lens):
        return embs.mean(dim=3)

    assert ch01.masked_mean_context(wrong_dim) is False
    assert_fails_with(verdict(capsys), "IndexError", "Dimension out of range", "embs.mean(dim=3)", "提示：")


def test_masked_mean_reference_is_the_valid_mean():
    embs = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)
    got = ch01._masked_mean_reference(embs, torch.tensor([1, 3]))
    assert torch.equal(got, torch.stack([embs[0, 0], embs[1, :3].mean(dim=0)]))


# ------------------------------------------------------------------------------------ 练习 1.6

def _greedy(feed_prediction=True, pass_state=True, keep_eos=False, extra_steps=0, as_tensor=False):
    def greedy_decode(decoder, state, bos_id, eos_id, max_steps):
        dec_X, first_state, tokens = torch.tensor([[bos_id]]), state, []
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


@pytest.mark.parametrize("wrong, hint", [
    (_greedy(pass_state=False), "每次调用解码器都传入了最初的 state"),
    (_greedy(feed_prediction=False), "每一步都喂了 <bos>"),
    (_greedy(keep_eos=True), "<eos> 只表示“到此结束”"),
    (_greedy(extra_steps=1), "最多调用解码器 max_steps 次"),
    (_greedy(as_tensor=True), "不是 tensor"),
])
def test_greedy_wrong_answers(wrong, hint, capsys):
    assert ch01.greedy_decode(wrong) is False
    assert_fails_with(verdict(capsys), hint)


def test_greedy_right_loop_passes_and_exception_is_explained(capsys):
    assert ch01.greedy_decode(_greedy()) is True
    assert verdict(capsys).startswith("✓")

    def int_instead_of_tensor(decoder, state, bos_id, eos_id, max_steps):
        logits, state = decoder(bos_id, state)
        return [logits.argmax().item()]

    assert ch01.greedy_decode(int_instead_of_tensor) is False
    assert_fails_with(verdict(capsys), "ValueError", "形状 (1, 1) 的 LongTensor", "decoder(bos_id, state)")


def test_scripted_decoder_needs_the_right_input_and_state():
    decoder = ch01.ScriptedDecoder()
    state = torch.tensor([[0, 0]])
    logits, state2 = decoder(torch.tensor([[ch01.BOS]]), state)
    assert logits.shape == (1, 1, ch01.VOCAB_SIZE) and logits.argmax().item() == ch01._ROUTES[0][0]
    assert state.tolist() == [[0, 0]] and state2.tolist() == [[0, 1]]   # a new state, the old one untouched
    # feeding <bos> again (instead of the prediction) leaves the route and never reaches <eos>
    assert decoder(torch.tensor([[ch01.BOS]]), state2)[0].argmax().item() not in (ch01._ROUTES[0][1], ch01.EOS)
    with pytest.raises(ValueError, match="形状 \\(1, 1\\)"):
        decoder(torch.tensor([ch01.BOS]), state)
    with pytest.raises(ValueError, match="state"):
        decoder(torch.tensor([[ch01.BOS]]), None)


# ------------------------------------------------------------------------------------ 练习 2.1

@pytest.mark.parametrize("wrong, hint", [
    (d2l.preprocess_nmt, "数字中间的 . 和 , 仍然被分开了"),
    (lambda text: re.sub(r"(?<=[^ \d])(?=[,.!?])", " ",
                         text.replace("\u202f", " ").replace("\xa0", " ").lower()), "你只看了标点前面的字符"),
    (lambda text: re.sub(r"(?<=[^ ])(?=[,.!?](?!\d))", " ",
                         text.replace("\u202f", " ").replace("\xa0", " ").lower()), "你只看了标点后面的字符"),
    (lambda text: re.sub(r"(?<=[^ ])(?=[,.!?])(?!(?<=\d)[.,]\d)", " ", text), "原有的两步"),
])
def test_preprocess_wrong_answers(wrong, hint, capsys):
    assert ch02.preprocess_keep_numbers(wrong) is False
    assert_fails_with(verdict(capsys), hint)


def test_preprocess_exception_is_reported_without_traceback(capsys):
    def variable_lookbehind(text):
        return re.sub(r"(?<=[^ ])(?=[,.!?])(?<!\d+)", " ", text.lower())

    assert ch02.preprocess_keep_numbers(variable_lookbehind) is False
    out = verdict(capsys)
    assert_fails_with(out, "正则表达式写错了", "look-behind requires fixed-width pattern", "不能用 `+`、`*`")
    assert "_compile" not in out   # not a line of the re module's own source

    def typo(text):
        return text.lower().replace("\u202f", " ").replace("\xa0", " ").split()

    assert ch02.preprocess_keep_numbers(typo) is False
    assert_fails_with(verdict(capsys), "返回处理后的字符串（str）")
    assert ch02.preprocess_keep_numbers("not a function") is False
    assert_fails_with(verdict(capsys), "应当是一个函数")


def test_preprocess_reference_examples():
    assert ch02._preprocess_reference("I'm 5.") == "i'm 5 ."
    assert ch02._preprocess_reference("It costs 3.50, not 1,000.") == "it costs 3.50 , not 1,000 ."
    assert ch02._preprocess_reference("Room no.5") == "room no .5"
    assert ch02._preprocess_reference("Ça\xa0alors\u202f!") == "ça alors !"


# ------------------------------------------------------------------------------------ 练习 3.1

def _ratio(extra=1, global_width=False, average=False, drop_last=False, valid_share=False):
    def batch_padding_ratio(lengths, batch_size):
        batches = [lengths[s:s + batch_size] for s in range(0, len(lengths), batch_size)]
        if drop_last:
            batches = [b for b in batches if len(b) == batch_size]
        widest = max(lengths) + extra
        ratios, pads, positions = [], 0, 0
        for batch in batches:
            width = widest if global_width else max(batch) + extra
            batch_pads = sum(width - (n + extra) for n in batch)
            ratios.append(batch_pads / (width * len(batch)))
            pads, positions = pads + batch_pads, positions + width * len(batch)
        rho = sum(ratios) / len(ratios) if average else pads / positions
        return 1 - rho if valid_share else rho
    return batch_padding_ratio


@pytest.mark.parametrize("wrong, hint", [
    (_ratio(extra=0), "每个句子末尾还有一个 <eos>"),
    (_ratio(global_width=True), "填充到了全体最长的句子"),
    (_ratio(average=True), "不要对各批的填充比例求平均"),
    (_ratio(drop_last=True), "最后一个不满 batch_size 的批量也要算进去"),
    (_ratio(valid_share=True), "有效位置所占的比例 1 - ρ"),
])
def test_padding_ratio_wrong_answers(wrong, hint, capsys):
    assert ch03.batch_padding_ratio(wrong) is False
    assert_fails_with(verdict(capsys), hint)


def test_padding_ratio_right_and_exception(capsys):
    assert ch03.batch_padding_ratio(_ratio()) is True
    assert verdict(capsys).startswith("✓")

    def one_batch_too_many(lengths, batch_size):
        pads = positions = 0
        for start in range(0, len(lengths) + 1, batch_size):   # an empty last batch when it divides evenly
            valid = [n + 1 for n in lengths[start:start + batch_size]]
            positions += max(valid) * len(valid)
            pads += max(valid) * len(valid) - sum(valid)
        return pads / positions

    assert ch03.batch_padding_ratio(one_batch_too_many) is False
    assert_fails_with(verdict(capsys), "ValueError", "max()", "positions += max(valid) * len(valid)")


def test_padding_ratio_reference_by_hand():
    # batches [3, 7] and [2]: widths 8 and 3, so 2 * 8 + 3 = 19 positions, 4 + 8 + 3 = 15 valid
    assert ch03._padding_reference([3, 7, 2], 2) == pytest.approx(4 / 19)


# ------------------------------------------------------------------------------------ 练习 4.2

def _packed(total_length=True, sorted_ok=True, direct=False, batch_major=False):
    def packed_encode(encoder, X, valid_lens):
        if direct:
            return encoder(X)
        embs = encoder.embedding(X.t())
        packed = nn.utils.rnn.pack_padded_sequence(embs, valid_lens.tolist(), enforce_sorted=not sorted_ok)
        out, state = encoder.rnn(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=X.shape[1] if total_length else None)
        return (output.transpose(0, 1) if batch_major else output), state
    return packed_encode


@pytest.mark.parametrize("wrong, hint", [
    (_packed(direct=True), "state 与直接调用 encoder(X) 相同"),
    (_packed(total_length=False), "total_length=X.shape[1]"),
    (_packed(batch_major=True), "output 应当是时间步优先的"),
])
def test_packed_encode_wrong_answers(wrong, hint, capsys):
    assert ch04.packed_encode(wrong) is False
    assert_fails_with(verdict(capsys), hint)


def test_packed_encode_exception_is_reported_without_traceback(capsys):
    assert ch04.packed_encode(_packed(sorted_ok=False)) is False
    assert_fails_with(verdict(capsys), "RuntimeError", "enforce_sorted", "pack_padded_sequence", "提示：")


def test_packed_encode_check_leaves_the_random_state_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    assert ch04.packed_encode(_packed()) is True
    assert torch.equal(torch.rand(3), expected)


# ------------------------------------------------------------------------------------ 练习 4.5

def test_reverse_valid_wrong_answers(capsys):
    def flip_all(X, valid_lens):
        return X.flip(1)

    def one_short(X, valid_lens):
        Y = X.clone()
        for i, n in enumerate(valid_lens.tolist()):
            Y[i, :n - 1] = X[i, :n - 1].flip(0)
        return Y

    def in_place(X, valid_lens):
        for i, n in enumerate(valid_lens.tolist()):
            X[i, :n] = X[i, :n].flip(0).clone()
        return X

    for wrong, hint in ((flip_all, "<pad> 跑到了句首"), (one_short, "少翻了一个位置"), (in_place, "原地修改")):
        assert ch04.reverse_valid(wrong) is False
        assert_fails_with(verdict(capsys), hint)


def test_reverse_valid_exception_is_reported_without_traceback(capsys):
    def forgot_new_axis(X, valid_lens):
        steps = torch.arange(X.shape[1])[None, :]
        return X.gather(1, torch.where(steps < valid_lens, valid_lens - 1 - steps, steps))

    assert ch04.reverse_valid(forgot_new_axis) is False
    assert_fails_with(verdict(capsys), "RuntimeError", "must match the size", "torch.where(")


# ------------------------------------------------------------------------------------ 练习 5.3

class _Decoder(d2l.Decoder):
    """A configurable OutputStateDecoder with the typical mistakes switched on one at a time."""

    drift = reorder_dim = keep_decoder_output = hidden_context_state = forget_enc_output = False
    batch_major_input = False

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_all_outputs, *args):
        enc_output, enc_state = enc_all_outputs
        return (enc_state, enc_state[-1]) if self.hidden_context_state else (enc_output, enc_state)

    def forward(self, X, state):
        enc_output, hidden = state
        embs = self.embedding(X if self.batch_major_input else X.t())
        context = hidden[-1] if self.drift else enc_output[-1]
        output, hidden = self.rnn(torch.cat([embs, context.unsqueeze(0).expand(embs.shape[0], -1, -1)], -1),
                                  hidden)
        return self.dense(output).transpose(0, 1), (output if self.keep_decoder_output else enc_output, hidden)

    def reorder_state(self, state, index):
        enc_output, hidden = state
        if self.forget_enc_output:
            return enc_output, hidden.index_select(1, index)
        return enc_output.index_select(0 if self.reorder_dim else 1, index), hidden.index_select(1, index)


def _decoder_with(**mistakes):
    return type("Decoder", (_Decoder,), mistakes)


@pytest.mark.parametrize("mistake, hint", [
    ("drift", "5.2 节的上下文漂移"),
    ("keep_decoder_output", "5.2 节的上下文漂移"),
    ("hidden_context_state", "状态的第一项应当是编码器的 output"),
    ("reorder_dim", "批量在第 1 维"),
    ("forget_enc_output", "enc_output 也要按 index 挑选"),
])
def test_output_state_decoder_wrong_answers(mistake, hint, capsys):
    assert ch05.output_state_decoder(_decoder_with(**{mistake: True})) is False
    assert_fails_with(verdict(capsys), hint)


def test_output_state_decoder_right_and_exception(capsys):
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    assert ch05.output_state_decoder(_Decoder) is True
    assert verdict(capsys).startswith("✓")
    assert torch.equal(torch.rand(2), expected)   # the check leaves the caller's random state alone

    assert ch05.output_state_decoder(_decoder_with(batch_major_input=True)) is False
    assert_fails_with(verdict(capsys), "RuntimeError", "Sizes of tensors must match", "提示：", "第 1 维")


def test_output_state_decoder_explains_renamed_submodules_and_non_classes(capsys):
    class Renamed(_Decoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers):
            super().__init__(vocab_size, embed_size, num_hiddens, num_layers)
            self.output_layer = self.dense
            del self.dense

    assert ch05.output_state_decoder(Renamed) is False
    assert_fails_with(verdict(capsys), "embedding、rnn、dense")
    assert ch05.output_state_decoder(_Decoder(10, 6, 8, 2)) is False
    assert_fails_with(verdict(capsys), "类本身")
