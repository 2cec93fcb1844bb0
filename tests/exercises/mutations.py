"""A catalogue of real, published bugs of sequence-to-sequence and attention code, as patches.

Each entry is one bug: what it does, where it was reported (an issue or pull request, or the paper that
defines the right computation), and how to plant it in the teachers' solutions of the checked exercises
(found in the notebooks), keyed by the name of the check. ``test_mutations.py`` plants every patch and
expects the check to reject the result: ✗, no traceback, no hang.

A patch is either :class:`Replace` (exact text of the teacher's solution, which must occur between the
``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers) or an AST edit of the solution's lines
(:class:`SoftmaxDim`, :class:`DropContext`). When a chapter's solution is rewritten, a patch that no
longer applies fails its test with the text it looked for: update the patch here (the bug stays the same).
"""
from __future__ import annotations

import ast
import dataclasses
from typing import Callable

from booktools import student


def solution_lines(scaffold: str) -> set[int]:
    """1-based numbers of the lines between the solution markers."""
    inside, lines = False, set()
    for number, line in enumerate(scaffold.split("\n"), 1):
        if line.strip() == student.BEGIN:
            inside = True
        elif line.strip() == student.END:
            inside = False
        elif inside:
            lines.add(number)
    return lines


@dataclasses.dataclass(frozen=True)
class Replace:
    """Replace `old` (text of the teacher's solution) by `new`."""
    old: str
    new: str

    def apply(self, scaffold: str) -> str | None:
        lines = scaffold.split("\n")
        inside = solution_lines(scaffold)
        for first in sorted(inside):   # each solution block: a run of consecutive lines
            if first - 1 in inside:
                continue
            last = first
            while last + 1 in inside:
                last += 1
            block = "\n".join(lines[first - 1:last])
            if self.old in block:
                lines[first - 1:last] = block.replace(self.old, self.new, 1).split("\n")
                return "\n".join(lines)
        return None

    def __str__(self):
        return f"`{self.old.strip()}` → `{self.new.strip()}`"


class _InSolution(ast.NodeTransformer):
    def __init__(self, lines):
        self.lines, self.changed = lines, 0

    def mine(self, node):
        return getattr(node, "lineno", None) in self.lines


@dataclasses.dataclass(frozen=True)
class SoftmaxDim:
    """Every softmax / log_softmax of the solution normalises along axis `dim` instead."""
    dim: int

    def apply(self, scaffold: str) -> str | None:
        dim = self.dim

        class Edit(_InSolution):
            def visit_Call(self, node):
                self.generic_visit(node)
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("softmax", "log_softmax") and self.mine(node):
                    for keyword in node.keywords:
                        if keyword.arg == "dim":
                            keyword.value = ast.Constant(dim)
                            self.changed += 1
                return node

        return _edit(scaffold, Edit)

    def __str__(self):
        return f"softmax(..., dim={self.dim})"


@dataclasses.dataclass(frozen=True)
class DropContext:
    """`with a(x), b(y):` loses the context manager called `name`."""
    name: str

    def apply(self, scaffold: str) -> str | None:
        target = self.name

        class Edit(_InSolution):
            def visit_With(self, node):
                self.generic_visit(node)
                if not self.mine(node):
                    return node
                kept = [item for item in node.items
                        if not (isinstance(item.context_expr, ast.Call)
                                and getattr(item.context_expr.func, "id", None) == target)]
                if len(kept) == len(node.items):
                    return node
                self.changed += 1
                if not kept:
                    return node.body
                node.items = kept
                return node

        return _edit(scaffold, Edit)

    def __str__(self):
        return f"without `with {self.name}(...)`"


def _edit(scaffold: str, edit_class: Callable) -> str | None:
    edit = edit_class(solution_lines(scaffold))
    tree = edit.visit(ast.parse(scaffold))
    return ast.unparse(ast.fix_missing_locations(tree)) if edit.changed else None


@dataclasses.dataclass(frozen=True)
class Mutation:
    id: str
    bug: str
    source: str
    patches: dict   # check name -> a patch, or a tuple of patches (each must apply to an exercise of that name)

    def planted(self):
        """(check name, patch) pairs."""
        for name, patches in self.patches.items():
            for patch in (patches if isinstance(patches, tuple) else (patches,)):
                yield name, patch

    def __str__(self):
        return self.id


_D2L_MASKED_SOFTMAX = """\
scores = torch.bmm(Q, K.transpose(1, 2)) / Q.shape[-1] ** 0.5
    if valid_lens is not None:  # d2l's masked_softmax: masked scores become -1e6
        lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None].expand(scores.shape[:2])
        masked = torch.arange(scores.shape[-1])[None, None, :] >= lens[:, :, None]
        scores = scores.masked_fill(masked, -1e6)
    output = torch.bmm(torch.softmax(scores, dim=-1), V)"""


CATALOGUE = [
    Mutation(
        "loss-averaged-over-padding",
        "The masked loss of a sentence is averaged over all num_steps positions, padding included "
        "(`.mean(dim=1)` instead of a sum divided by the number of valid tokens).",
        "d2l-ai/d2l-en#2076 (MaskedSoftmaxCELoss), fixed by d2l-ai/d2l-en#2707 — "
        "https://github.com/d2l-ai/d2l-en/issues/2076",
        {"smoothed_masked_ce": Replace("return token_loss.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)",
                                       "return token_loss.masked_fill(~valid, 0).mean(dim=1).mean()"),
         "masked_mean_context": Replace("return total / valid_lens[:, None].to(embs.dtype)",
                                        "return total / num_steps")}),
    Mutation(
        "prediction-in-training-mode",
        "Prediction runs with the model in training mode, so dropout is still active.",
        "d2l-ai/d2l-en#1484, fixed by d2l-ai/d2l-en#1528 (predict_s2s_ch9 now calls net.eval()) — "
        "https://github.com/d2l-ai/d2l-en/pull/1528",
        {"greedy_decode": DropContext("eval_mode")}),
    Mutation(
        "masked-softmax-valid-length-zero",
        "masked_softmax fills masked scores with -1e6, so a query with valid length 0 spreads its weight evenly "
        "over the padding instead of getting weight 0.",
        "d2l-ai/d2l-en#2423 — https://github.com/d2l-ai/d2l-en/pull/2423",
        {"multihead_attention": Replace("output = d2l.DotProductAttention(dropout=0)(Q, K, V, valid_lens)",
                                        _D2L_MASKED_SOFTMAX)}),
    Mutation(
        "attention-ignores-encoder-outputs",
        "The attention scores are computed from the decoder's side only (query, input), never from the encoder "
        "outputs, so every source position gets the same weight.",
        "pytorch/tutorials#1098 (AttnDecoderRNN of the seq2seq translation tutorial) — "
        "https://github.com/pytorch/tutorials/issues/1098",
        {"bahdanau_context": Replace(
            "features = torch.tanh((query @ W_q.T).unsqueeze(1) + enc_outputs @ W_k.T)",
            "features = torch.tanh((query @ W_q.T).unsqueeze(1)).expand(-1, enc_outputs.shape[1], -1)")}),
    Mutation(
        "one-iteration-too-many",
        "A loop bound off by one: `i > n` instead of `i >= n` makes the tokeniser process n + 1 examples; the same "
        "slip lets a decoder loop take one step more, or a trimmed batch keep one column more.",
        "d2l-ai/d2l-en#2690 (MTFraEng._tokenize) — https://github.com/d2l-ai/d2l-en/pull/2690",
        {"greedy_decode": (Replace("for _ in range(max_steps):", "for _ in range(max_steps + 1):"),
                           Replace("for _ in range(num_steps):", "for _ in range(num_steps + 1):")),
         "teacher_forcing_batch": Replace("labels = Y[:, :int(Y_valid_len.max())]",
                                          "labels = Y[:, :int(Y_valid_len.max()) + 1]"),
         "batch_padding_ratio": Replace("for start in range(0, len(lengths), batch_size):",
                                        "for start in range(0, len(lengths) + 1, batch_size):")}),
    Mutation(
        "decoder-state-not-carried",
        "The decoding loop calls the decoder with the initial state every time: the new state it returns is "
        "dropped.",
        "pytorch/examples#88 (OpenNMT example: hidden state not updated in the decoder); "
        "tensorflow/tensorflow#9904 (BeamSearchDecoder never used next_cell_state) — "
        "https://github.com/pytorch/examples/issues/88",
        {"greedy_decode": (Replace("Y_hat, state = decoder(dec_X, state)", "Y_hat, _ = decoder(dec_X, state)"),
                           Replace("Y, state = decoder(dec_X, state)", "Y, _ = decoder(dec_X, state)")),
         "output_state_decoder": Replace("output, hidden = self.rnn(torch.cat([embs, context], dim=-1), hidden)",
                                         "output, _ = self.rnn(torch.cat([embs, context], dim=-1), hidden)")}),
    Mutation(
        "context-drift",
        "The context vector lives in the decoder's state and is overwritten by the decoder's own hidden state, "
        "so during prediction the context drifts away from the encoder's summary.",
        "d2l-ai/d2l-en#2134 — https://github.com/d2l-ai/d2l-en/issues/2134",
        {"output_state_decoder": Replace("context = enc_output[-1].unsqueeze(0)",
                                         "context = hidden[-1].unsqueeze(0)")}),
    Mutation(
        "teacher-forcing-without-shift",
        "Under teacher forcing the decoder is fed the very tokens it must predict (no <bos> shift), so it "
        "learns to copy its input.",
        "code-gen/cscg#4; Kyubyong/transformer#94 — https://github.com/code-gen/cscg/issues/4",
        {"teacher_forcing_batch": Replace("dec_input = torch.cat([bos_col, labels[:, :-1]], dim=1)",
                                          "dec_input = labels.clone()")}),
    Mutation(
        "clipping-per-parameter",
        "Gradients are clipped tensor by tensor (each to norm theta) instead of by their global norm, which "
        "changes the direction of the update.",
        "keras-team/keras#13575; tensorflow/tensorflow#36001 (`clipnorm` clips each weight separately) — "
        "https://github.com/tensorflow/tensorflow/issues/36001",
        {"clip_by_global_norm": Replace(
            "return [g * scale for g in grads], norm",
            "return [g * torch.clamp(theta / torch.linalg.vector_norm(g), max=1.0) for g in grads], norm")}),
    Mutation(
        "bleu-without-clipping",
        "n-gram matches are not clipped by the reference counts, so repeating a correct word scores a perfect "
        "precision (“the the the the the the the”: 7/7).",
        "Papineni, Roukos, Ward & Zhu 2002, BLEU, §2.1 (modified n-gram precision) — "
        "https://aclanthology.org/P02-1040/",
        {"clipped_matches": Replace("matches = sum(min(count, max_ref_counts[gram])",
                                    "matches = sum((count if max_ref_counts[gram] else 0)")}),
    Mutation(
        "softmax-over-the-wrong-axis",
        "The softmax of attention scores normalises over the first axis (the batch, the queries) instead of the "
        "keys.",
        "PetrochukM/PyTorch-NLP#2 (Attention used nn.Softmax(dim=0)); FudanNLP/fastNLP#254 — "
        "https://github.com/PetrochukM/PyTorch-NLP/issues/2",
        {"laplace_weights": SoftmaxDim(0), "loo_predict": SoftmaxDim(0), "masked_softmax": SoftmaxDim(0),
         "smoothed_masked_ce": SoftmaxDim(0)}),
    Mutation(
        "mask-repeat-instead-of-repeat-interleave",
        "Per-example masks (valid lengths) are copied for the heads/queries with `repeat` ([M0, M1, M0, M1]) "
        "instead of `repeat_interleave` ([M0, M0, M1, M1]): heads attend with another example's padding mask.",
        "ArrowLuo/CLIP4Clip#22; line/lighthouse#77 — https://github.com/ArrowLuo/CLIP4Clip/issues/22",
        {"multihead_attention": Replace(
            "valid_lens = torch.repeat_interleave(valid_lens, num_heads, dim=0)",
            "valid_lens = valid_lens.repeat(num_heads, *[1] * (valid_lens.dim() - 1))"),
         "masked_softmax": Replace("lens = valid_len.repeat_interleave(num_queries)",
                                   "lens = valid_len.repeat(num_queries)")}),
    Mutation(
        "attention-scaled-by-model-width",
        "Multi-head attention divides the scores by √d_model instead of √d_k, the width of one head.",
        "karpathy/ng-video-lecture#6; jadore801120/attention-is-all-you-need-pytorch#42 — "
        "https://github.com/karpathy/ng-video-lecture/pull/6",
        {"multihead_attention": Replace(
            "output = d2l.DotProductAttention(dropout=0)(Q, K, V, valid_lens)",
            "output = d2l.DotProductAttention(dropout=0)(Q * (Q.shape[-1] / W_q.shape[1]) ** 0.5, K, V, valid_lens)")}),
    Mutation(
        "causal-mask-off-by-one",
        "The causal mask leaves out the diagonal: position i cannot attend to itself (and position 0 to "
        "anything).",
        "RVC-Boss/GPT-SoVITS#965 — https://github.com/RVC-Boss/GPT-SoVITS/issues/965",
        {"causal_attention": Replace("valid_lens = torch.arange(1, n + 1, device=queries.device)",
                                     "valid_lens = torch.arange(0, n, device=queries.device)")}),
    Mutation(
        "layer-norm-unbiased-variance",
        "Layer normalisation divides by the unbiased variance (d - 1), the default of torch's var/std.",
        "harvardnlp/annotated-transformer#119; hyunwoongko/transformer#7 — "
        "https://github.com/harvardnlp/annotated-transformer/pull/119",
        {"layer_norm": Replace("var = X.var(dim=-1, unbiased=False, keepdim=True)",
                               "var = X.var(dim=-1, keepdim=True)")}),
    Mutation(
        "layer-norm-eps-outside-the-root",
        "eps is added to the standard deviation instead of the variance: (x - μ) / (σ + ε).",
        "codertimo/BERT-pytorch#30; hyunwoongko/transformer#7 — https://github.com/hyunwoongko/transformer/issues/7",
        {"layer_norm": Replace("return (X - mean) / torch.sqrt(var + eps) * gamma + beta",
                               "return (X - mean) / (torch.sqrt(var) + eps) * gamma + beta")}),
    Mutation(
        "last-output-is-padding",
        "The last time step of a padded batch is taken as every sentence's last output (or final state): for a "
        "shorter sentence that is the output at <pad>.",
        "tensorflow/tensorflow#1830; thtrieu/qclass_dl#1 — https://github.com/tensorflow/tensorflow/issues/1830",
        {"last_valid_outputs": Replace("return enc_outputs[valid_lens - 1, batch]", "return enc_outputs[-1]"),
         "packed_encode": Replace("embs = encoder.embedding(X.t())", "return encoder(X)")}),
]
