"""Chapter 9 (notebooks/09_prediction_and_evaluation.ipynb): greedy decoding, beam search and BLEU.

Tiny seeded models only; the whole module runs in a few seconds on a CPU.
"""
from __future__ import annotations

import math
import random
import re

import pytest
import sacrebleu
import torch
from torch import nn
from torch.nn import functional as F

import d2l_local as d2l
from chapter_support import needs_corpus

CPU = torch.device("cpu")
RESERVED = ["<pad>", "<bos>", "<eos>"]
SRC_WORDS = ["go", ".", "i", "lost", "he's", "calm", "i'm", "home", "run", "!", "we", "won"]
TGT_WORDS = ["va", "!", "j'ai", "perdu", "il", "est", "calme", ".", "je", "suis", "chez", "moi"]
SENTENCES = ["Go.", "I lost.", "He's calm.", "I'm home.", "run ! run !", "we won .", "i lost i lost home"]


@pytest.fixture(scope="module")
def vocabs():
    return (d2l.Vocab([SRC_WORDS], reserved_tokens=RESERVED),
            d2l.Vocab([TGT_WORDS], reserved_tokens=RESERVED))


def make_net(src_vocab, tgt_vocab, seed=0, embed_size=8, num_hiddens=16, num_layers=2, dropout=0.0,
             sharpen=4.0):
    """A random GRU seq2seq model; `sharpen` scales the output layer so that the random model has
    peaked, varied next-token distributions (with near-uniform ones, every search looks alike)."""
    torch.manual_seed(seed)
    encoder = d2l.Seq2SeqEncoder(len(src_vocab), embed_size, num_hiddens, num_layers, dropout)
    decoder = d2l.Seq2SeqDecoder(len(tgt_vocab), embed_size, num_hiddens, num_layers, dropout)
    net = d2l.EncoderDecoder(encoder, decoder)
    with torch.no_grad():
        net.decoder.dense.weight.mul_(sharpen)  # the output layer
    return net


@pytest.fixture(scope="module")
def net(vocabs):
    return make_net(*vocabs)


def sequence_log_prob(net, src_sentence, token_ids, src_vocab, tgt_vocab, num_steps):
    """log P(token_ids | src) under the model, by teacher forcing one step at a time."""
    X, valid_lens, _ = d2l.prepare_source(src_sentence, src_vocab, num_steps, CPU)
    net.eval()
    with torch.no_grad():
        state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
        dec_X = torch.tensor([[tgt_vocab["<bos>"]]])
        total = 0.0
        for token in token_ids:
            Y, state = net.decoder(dec_X, state)
            total += F.log_softmax(Y[0, -1].double(), dim=-1)[token].item()
            dec_X = torch.tensor([[token]])
    return total


# =============================================================================================
# Scripted decoders: they "predict" a fixed sequence per sentence, so the decoding loop can be
# checked exactly (when each sentence stops, how many steps run, what is collected).


class FirstTokenEncoder(d2l.Encoder):
    """Passes the first source token on: it picks the script the decoder will play."""

    def forward(self, X, *args):
        return X[:, 0]


class ScriptedDecoder(d2l.Decoder):
    """At step t emits script[first source token][t] (one-hot logits); records every call.

    The state carries each row's sentence number, so attention weights (sentence i, step t hold
    100 * i + t) can be checked after rows have been reordered or dropped."""

    def __init__(self, scripts, vocab_size, with_attention=False):
        super().__init__()
        self.scripts, self.vocab_size, self.with_attention = scripts, vocab_size, with_attention
        self.dummy = nn.Linear(1, 1)  # a parameter, so that the module has something to train
        self.calls = []

    def init_state(self, first_tokens, valid_lens=None):
        rows = [self.scripts[int(t)] for t in first_tokens]
        return torch.tensor(rows), 0, torch.arange(len(rows), dtype=torch.float)

    def forward(self, X, state):
        script, t, sentence = state
        self.calls.append((X.shape[0], self.training))
        ids = script[:, t]
        if self.with_attention:  # (batch_size, 1 query, 3 keys)
            self.attention_weights = (sentence[:, None, None] * 100 + t).expand(-1, 1, 3).clone()
        return F.one_hot(ids, self.vocab_size).float()[:, None, :] * 10, (script, t + 1, sentence)

    def reorder_state(self, state, index):
        return state[0][index], state[1], state[2][index]


class ScriptedDecoderWithoutReorder(ScriptedDecoder):
    reorder_state = property()  # hasattr(decoder, 'reorder_state') is False


@pytest.fixture
def scripted(vocabs):
    src_vocab, tgt_vocab = vocabs
    eos = tgt_vocab["<eos>"]
    va, est, calme = tgt_vocab["va"], tgt_vocab["est"], tgt_vocab["calme"]
    scripts = {  # first source token -> the target ids the decoder will emit (6 steps)
        src_vocab["go"]: [va, eos, va, va, va, va],          # stops after 1 word
        src_vocab["he's"]: [est, calme, calme, eos, va, va],  # stops after 3 words
        src_vocab["run"]: [va, va, va, va, va, va],          # never stops
    }
    def build(with_attention=False, reorder=True):
        cls = ScriptedDecoder if reorder else ScriptedDecoderWithoutReorder
        decoder = cls(scripts, len(tgt_vocab), with_attention)
        return d2l.EncoderDecoder(FirstTokenEncoder(), decoder)
    return build


# =============================================================================================
# predict_seq2seq


@pytest.mark.parametrize("reorder", [True, False])
def test_each_sentence_stops_at_its_own_eos(vocabs, scripted, reorder):
    net = scripted(reorder=reorder)
    translations, weights = d2l.predict_seq2seq(net, ["go .", "he's calm .", "go"], *vocabs, 6, CPU)
    assert translations == ["va", "est calme calme", "va"]
    assert weights == [[], [], []]  # this decoder has no attention_weights
    # the loop ends when the last sentence has its <eos>; with reorder_state, finished sentences
    # leave the batch, without it they stay (and their extra tokens are ignored)
    assert [size for size, _ in net.decoder.calls] == ([3, 3, 1, 1] if reorder else [3, 3, 3, 3])


def test_loop_runs_num_steps_when_a_sentence_never_ends(vocabs, scripted):
    net = scripted()
    translations, _ = d2l.predict_seq2seq(net, ["go .", "run !"], *vocabs, 5, CPU)
    assert translations == ["va", "va va va va va"]
    assert len(net.decoder.calls) == 5


@pytest.mark.parametrize("reorder", [True, False])
def test_attention_weights_per_sentence_up_to_its_eos(vocabs, scripted, reorder):
    net = scripted(with_attention=True, reorder=reorder)
    _, weights = d2l.predict_seq2seq(net, ["he's calm .", "go .", "run"], *vocabs, 6, CPU,
                                     save_attention_weights=True)
    assert [len(w) for w in weights] == [4, 2, 6]  # words + the <eos> step; 6 = num_steps
    for i, steps in enumerate(weights):
        for t, w in enumerate(steps):
            assert w.shape == (1, 3)
            assert torch.equal(w, torch.full((1, 3), 100.0 * i + t))
    _, single = d2l.predict_seq2seq(net, "go .", *vocabs, 6, CPU, save_attention_weights=True)
    assert len(single) == 2 and single[0].shape == (1, 3)
    _, not_asked = d2l.predict_seq2seq(net, "go .", *vocabs, 6, CPU)
    assert not_asked == []


def test_batched_equals_one_at_a_time(vocabs):
    for seed in range(3):
        net = make_net(*vocabs, seed=seed)
        batched, _ = d2l.predict_seq2seq(net, SENTENCES, *vocabs, 6, CPU)
        one_by_one = [d2l.predict_seq2seq(net, s, *vocabs, 6, CPU)[0] for s in SENTENCES]
        assert batched == one_by_one
        assert all(isinstance(t, str) for t in batched)
        assert d2l.predict_seq2seq(net, tuple(SENTENCES), *vocabs, 6, CPU)[0] == batched


def test_output_words_are_target_tokens_without_eos(vocabs, net):
    src_vocab, tgt_vocab = vocabs
    translations, _ = d2l.predict_seq2seq(net, SENTENCES, src_vocab, tgt_vocab, 6, CPU)
    for t in translations:
        words = t.split()
        assert len(words) <= 6 and "<eos>" not in words and "<bos>" not in words
        assert all(w in tgt_vocab.token_to_idx for w in words)


def test_train_mode_is_restored_and_decoding_runs_in_eval_mode(vocabs, scripted):
    net = scripted()
    net.train()
    d2l.predict_seq2seq(net, "go .", *vocabs, 6, CPU)
    assert net.training and all(m.training for m in net.modules())
    assert [training for _, training in net.decoder.calls] == [False, False]
    net.eval()
    d2l.predict_seq2seq(net, "go .", *vocabs, 6, CPU)
    assert not any(m.training for m in net.modules())
    net.train()
    net.encoder.eval()  # a mixed state comes back exactly as it was
    d2l.predict_seq2seq(net, ["go .", "run"], *vocabs, 6, CPU)
    assert net.training and net.decoder.training and not net.encoder.training


def test_mode_is_restored_even_when_decoding_fails(vocabs, scripted):
    net = scripted()
    net.train()
    with pytest.raises(KeyError):  # the script has no entry for this first token
        d2l.predict_seq2seq(net, "i lost .", *vocabs, 6, CPU)
    assert all(m.training for m in net.modules())


def test_dropout_is_off_while_predicting(vocabs):
    net = make_net(*vocabs, dropout=0.5)
    net.eval()
    expected, _ = d2l.predict_seq2seq(net, SENTENCES, *vocabs, 6, CPU)
    net.train()
    for _ in range(3):
        assert d2l.predict_seq2seq(net, SENTENCES, *vocabs, 6, CPU)[0] == expected
    assert net.training


def test_input_is_preprocessed_like_the_training_data(vocabs, net):
    src_vocab, _ = vocabs
    X1, len1, single = d2l.prepare_source("He's calm.", src_vocab, 6, CPU)
    X2, len2, _ = d2l.prepare_source("he's   calm .", src_vocab, 6, CPU)
    assert single and torch.equal(X1, X2) and torch.equal(len1, len2)
    assert X1[0].tolist() == src_vocab[["he's", "calm", ".", "<eos>", "<pad>", "<pad>"]]
    assert len1.tolist() == [4]
    assert d2l.predict_seq2seq(net, "He's calm.", *vocabs, 6, CPU)[0] == \
        d2l.predict_seq2seq(net, "he's calm .", *vocabs, 6, CPU)[0]


def test_unknown_words_become_unk_and_the_model_still_answers(vocabs, net):
    src_vocab, _ = vocabs
    X, valid_lens, _ = d2l.prepare_source("Zyxxy qwerty!", src_vocab, 6, CPU)
    assert X[0, :3].tolist() == [src_vocab.unk, src_vocab.unk, src_vocab["!"]]
    translation, _ = d2l.predict_seq2seq(net, "Zyxxy qwerty", *vocabs, 6, CPU)
    assert isinstance(translation, str)


def test_long_input_is_truncated_to_num_steps(vocabs, net):
    src_vocab, _ = vocabs
    long = " ".join(["i", "lost"] * 10)  # 20 words
    X, valid_lens, _ = d2l.prepare_source(long, src_vocab, 5, CPU)
    assert X.shape == (1, 5) and valid_lens.tolist() == [5]
    assert X[0].tolist() == src_vocab[["i", "lost", "i", "lost", "i"]]  # no room left for <eos>
    translation, _ = d2l.predict_seq2seq(net, long, *vocabs, 5, CPU)
    assert translation == d2l.predict_seq2seq(net, "i lost i lost i", *vocabs, 5, CPU)[0]
    assert len(translation.split()) <= 5


@pytest.mark.parametrize("bad", ["", "   ", "\t\n"])
def test_empty_sentence_is_a_value_error(vocabs, net, bad):
    with pytest.raises(ValueError, match="空"):
        d2l.predict_seq2seq(net, bad, *vocabs, 6, CPU)
    with pytest.raises(ValueError, match="第 1 个"):
        d2l.predict_seq2seq(net, ["go .", bad], *vocabs, 6, CPU)


@pytest.mark.parametrize("bad", [None, 3, 2.5, b"go .", ["go .", None], [1, 2], [["go", "."]], {"go ."}])
def test_non_strings_are_a_type_error(vocabs, net, bad):
    with pytest.raises(TypeError):
        d2l.predict_seq2seq(net, bad, *vocabs, 6, CPU)
    with pytest.raises(TypeError):
        d2l.predict_seq2seq_beam(net, bad, *vocabs, 6, CPU)


def test_empty_list_gives_empty_results(vocabs, net):
    assert d2l.predict_seq2seq(net, [], *vocabs, 6, CPU) == ([], [])
    assert d2l.predict_seq2seq_beam(net, [], *vocabs, 6, CPU) == ([], [])


def test_num_steps_must_be_positive(vocabs, net):
    with pytest.raises(ValueError, match="num_steps"):
        d2l.predict_seq2seq(net, "go .", *vocabs, 0, CPU)


# ---------------------------------------------------------------------------------------------
# With the book's attention decoders (later chapters): same contract, attention weights per sentence


def make_attention_net(kind, src_vocab, tgt_vocab, seed=0):
    torch.manual_seed(seed)
    if kind == "bahdanau":
        encoder = d2l.Seq2SeqEncoder(len(src_vocab), 8, 16, 2)
        decoder = d2l.Seq2SeqAttentionDecoder(len(tgt_vocab), 8, 16, 2)
    else:
        args = (16, 16, 16, 16, [16], 16, 32, 4, 2, 0.1)  # key/query/value/hiddens, norm, ffn, heads, layers, dropout
        encoder = d2l.TransformerEncoder(len(src_vocab), *args)
        decoder = d2l.TransformerDecoder(len(tgt_vocab), *args)
    net = d2l.EncoderDecoder(encoder, decoder)
    with torch.no_grad():
        net.decoder.dense.weight.mul_(4.0)
    return net


@pytest.mark.parametrize("kind", ["bahdanau", "transformer"])
def test_attention_decoders_batched_beam_and_weights(vocabs, kind):
    needed = {"bahdanau": ["Seq2SeqAttentionDecoder"], "transformer": ["TransformerEncoder", "TransformerDecoder"]}
    if not all(hasattr(d2l, name) for name in needed[kind]):
        pytest.skip(f"the {kind} chapter is not in d2l_local")
    src_vocab, tgt_vocab = vocabs
    net = make_attention_net(kind, *vocabs)
    net.train()  # dropout on: predictions must still be deterministic
    batched, weights = d2l.predict_seq2seq(net, SENTENCES, *vocabs, 6, CPU, save_attention_weights=True)
    one_by_one = [d2l.predict_seq2seq(net, s, *vocabs, 6, CPU)[0] for s in SENTENCES]
    assert batched == one_by_one
    assert d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU, beam_size=1)[0] == batched
    assert net.training
    for sentence, translation, steps in zip(SENTENCES, batched, weights):
        num_words = len(translation.split())
        assert len(steps) in (num_words + 1, 6)  # one entry per generated token, <eos> included
        valid = int(d2l.prepare_source(sentence, src_vocab, 6, CPU)[1])
        for w in steps:
            if kind == "bahdanau":  # (1 query, num_steps source positions)
                assert w.shape == (1, 6)
                assert w.sum().item() == pytest.approx(1.0, abs=1e-5)
                assert w[0, valid:].abs().sum().item() < 1e-6  # padding gets no attention
            else:  # (self-attention per block, cross-attention per block), each (num_heads, 1, keys)
                self_w, cross_w = w
                assert len(self_w) == len(cross_w) == 2
                assert all(c.shape == (4, 1, 6) for c in cross_w)
                assert torch.allclose(cross_w[0].sum(-1), torch.ones(4, 1), atol=1e-5)


# =============================================================================================
# Tokenizers: word (the default), character, any object with tokenize/detokenize


def old_prepare_source(sentences, src_vocab, num_steps):
    """The encoding of the chapter before tokenizers existed (word level, written out by hand)."""
    rows, lens = [], []
    for sentence in sentences:
        ids = src_vocab[d2l.preprocess_nmt(sentence).split()] + [src_vocab["<eos>"]]
        rows.append(d2l.truncate_pad(ids, num_steps, src_vocab["<pad>"]))
        lens.append(min(len(ids), num_steps))
    return torch.tensor(rows), torch.tensor(lens)


def test_default_call_is_the_word_level_behaviour(vocabs, net):
    src_vocab, tgt_vocab = vocabs
    X, valid_lens, _ = d2l.prepare_source(SENTENCES, src_vocab, 6, CPU)
    X_old, lens_old = old_prepare_source(SENTENCES, src_vocab, 6)
    assert torch.equal(X, X_old) and torch.equal(valid_lens, lens_old)
    word = d2l.WordTokenizer()
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        default, _ = predict(net, SENTENCES, *vocabs, 6, CPU)
        explicit, _ = predict(net, SENTENCES, *vocabs, 6, CPU, src_tokenizer=word, tgt_tokenizer=word)
        assert default == explicit
        for translation in default:  # words joined by single spaces, exactly the vocabulary's tokens
            assert translation == " ".join(translation.split())
            assert all(w in tgt_vocab.token_to_idx for w in translation.split())


def test_word_and_char_tokenizers():
    word, char = d2l.WordTokenizer(), d2l.CharTokenizer()
    assert word.tokenize("He's calm.") == ["he's", "calm", "."]
    assert word.detokenize(["il", "est", "calme", "."]) == "il est calme ."
    assert word.tokenize("I\u202fLOST\xa0!") == ["i", "lost", "!"]
    for text in ["25.11.2026", "Wednesday, April 26, 2000", "二〇二六年十一月二十五日", "  a  b ", ""]:
        assert char.tokenize(text) == list(text)
        assert char.detokenize(char.tokenize(text)) == text  # an exact inverse, spaces included
    assert repr(word) == "WordTokenizer()" and repr(char) == "CharTokenizer()"


class RowEncoder(d2l.Encoder):
    """Passes the whole source row on: the decoder picks its script by the row's token ids."""

    def forward(self, X, *args):
        return X


class RowScriptDecoder(d2l.Decoder):
    """Emits script[tuple(source row)] one token per step (one-hot logits), then <eos> forever."""

    def __init__(self, scripts, vocab_size, eos):
        super().__init__()
        self.scripts, self.vocab_size, self.eos = scripts, vocab_size, eos
        self.dummy = nn.Linear(1, 1)

    def init_state(self, X, valid_lens=None):
        steps = max(len(s) for s in self.scripts.values()) + 1
        rows = [self.scripts[tuple(row)] + [self.eos] * (steps - len(self.scripts[tuple(row)]))
                for row in X.tolist()]
        return torch.tensor(rows), 0

    def forward(self, X, state):
        script, t = state
        ids = script[:, min(t, script.shape[1] - 1)]
        return F.one_hot(ids, self.vocab_size).float()[:, None, :] * 10, (script, t + 1)

    def reorder_state(self, state, index):
        return state[0][index], state[1]


def test_char_level_round_trip_on_the_date_task():
    pairs = d2l.make_date_pairs(40, split="test")
    source, target = d2l.tokenize_dates(pairs)
    src_vocab = d2l.Vocab(source, reserved_tokens=RESERVED)
    tgt_vocab = d2l.Vocab(target, reserved_tokens=RESERVED)
    num_steps = max(len(s) for s in source) + 1
    char = d2l.CharTokenizer()
    sources = [src for src, _ in pairs]
    # the source side is encoded exactly like the training data of the date task
    X, valid_lens, _ = d2l.prepare_source(sources, src_vocab, num_steps, CPU, src_tokenizer=char)
    X_train, valid_train = d2l.build_array_nmt(source, src_vocab, num_steps)
    assert torch.equal(X, X_train) and torch.equal(valid_lens, valid_train)
    # a decoder that emits each date's ISO characters: the translation is the ISO string, no spaces
    scripts = {tuple(row): tgt_vocab[list(tgt)] for row, (_, tgt) in zip(X_train.tolist(), pairs)}
    net = d2l.EncoderDecoder(RowEncoder(), RowScriptDecoder(scripts, len(tgt_vocab), tgt_vocab["<eos>"]))
    expected = [tgt for _, tgt in pairs]
    translations, _ = d2l.predict_seq2seq(net, sources, src_vocab, tgt_vocab, num_steps, CPU,
                                          src_tokenizer=char, tgt_tokenizer=char)
    assert translations == expected
    assert d2l.predict_seq2seq(net, sources[0], src_vocab, tgt_vocab, num_steps, CPU,
                               src_tokenizer=char, tgt_tokenizer=char)[0] == expected[0]
    for beam_size in (1, 3):
        beam, candidates = d2l.predict_seq2seq_beam(net, sources, src_vocab, tgt_vocab, num_steps, CPU,
                                                    beam_size=beam_size, src_tokenizer=char, tgt_tokenizer=char)
        assert beam == expected and all(c[0][0] == e for c, e in zip(candidates, expected))
    # with the default (word-level) tokenizer the same model cannot read these sources
    word_X, _, _ = d2l.prepare_source(sources, src_vocab, num_steps, CPU)
    assert not torch.equal(word_X, X_train)


class DashTokenizer:
    """A tokenizer of our own: '-'-separated tokens in, '+'-joined text out (tuples are fine too)."""

    def tokenize(self, text):
        return tuple(text.split("-"))

    def detokenize(self, tokens):
        return "+".join(tokens)


def test_a_custom_tokenizer_object_is_used_on_both_sides(vocabs, scripted):
    src_vocab, tgt_vocab = vocabs
    net = scripted()
    dash = DashTokenizer()
    X, valid_lens, _ = d2l.prepare_source("he's-calm-.", src_vocab, 6, CPU, src_tokenizer=dash)
    assert X[0, :4].tolist() == src_vocab[["he's", "calm", ".", "<eos>"]] and valid_lens.tolist() == [4]
    translations, _ = d2l.predict_seq2seq(net, ["he's-calm", "go"], *vocabs, 6, CPU,
                                          src_tokenizer=dash, tgt_tokenizer=dash)
    assert translations == ["est+calme+calme", "va"]
    beam, _ = d2l.predict_seq2seq_beam(net, ["he's-calm", "go"], *vocabs, 6, CPU, beam_size=2,
                                       src_tokenizer=dash, tgt_tokenizer=dash)
    assert beam == translations
    # only the target side: the source is still split into words
    assert d2l.predict_seq2seq(net, "He's calm.", *vocabs, 6, CPU, tgt_tokenizer=dash)[0] == "est+calme+calme"


class OnlyTokenize:
    def tokenize(self, text):
        return text.split()


class ReturnsText:
    def tokenize(self, text):
        return text.lower()

    def detokenize(self, tokens):
        return " ".join(tokens)


class ReturnsIds:
    def tokenize(self, text):
        return [len(w) for w in text.split()]

    def detokenize(self, tokens):
        return " ".join(tokens)


class DetokenizesToList:
    def tokenize(self, text):
        return text.split()

    def detokenize(self, tokens):
        return list(tokens)


@pytest.mark.parametrize("side", ["src_tokenizer", "tgt_tokenizer"])
@pytest.mark.parametrize("bad, says", [
    ("char", r"tokenize\(text\) -> list\[str\].*没有 tokenize、detokenize.*d2l\.CharTokenizer\(\)"),
    (d2l.CharTokenizer, r"收到的是类 CharTokenizer 本身：请写成 CharTokenizer\(\)"),
    (OnlyTokenize(), r"OnlyTokenize.*没有 detokenize"),
    (42, r"没有 tokenize、detokenize"),
])
def test_objects_that_are_not_tokenizers_are_refused(vocabs, net, side, bad, says):
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        with pytest.raises(TypeError, match=says):
            predict(net, "go .", *vocabs, 6, CPU, **{side: bad})


@pytest.mark.parametrize("bad, side, says", [
    (ReturnsText(), "src_tokenizer", r"ReturnsText\.tokenize 应返回 str 的列表，对源句子却返回了 str"),
    (ReturnsIds(), "src_tokenizer", r"ReturnsIds\.tokenize 应返回 str 的列表.*\[2, 1\]"),
    (DetokenizesToList(), "tgt_tokenizer", r"DetokenizesToList\.detokenize 应返回 str，却返回了 list"),
])
def test_tokenizers_that_return_the_wrong_type_are_refused(vocabs, net, bad, side, says):
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        with pytest.raises(TypeError, match=says):
            predict(net, "go .", *vocabs, 6, CPU, **{side: bad})


def test_tokenizers_are_keyword_only(vocabs, net):
    with pytest.raises(TypeError):
        d2l.predict_seq2seq(net, "go .", *vocabs, 6, CPU, False, d2l.WordTokenizer())
    with pytest.raises(TypeError):
        d2l.prepare_source("go .", vocabs[0], 6, CPU, d2l.WordTokenizer())


def test_whitespace_only_sentence_is_empty_for_a_char_tokenizer_too(vocabs, net):
    with pytest.raises(ValueError, match="空"):
        d2l.prepare_source("   ", vocabs[0], 6, CPU, src_tokenizer=d2l.CharTokenizer())


# =============================================================================================
# Bad models, vocabularies, devices and numbers: clear errors instead of silent wrong results


def test_target_vocab_without_bos_or_eos_is_refused(vocabs, net):
    src_vocab, tgt_vocab = vocabs
    for reserved in (["<pad>", "<eos>"], ["<pad>", "<bos>"]):
        words = [w for w in tgt_vocab.idx_to_token if w not in ("<pad>", "<bos>", "<eos>", "<unk>")]
        # the same size as the model's target embedding, but without one of the tokens prediction needs
        filler = [f"x{i}" for i in range(len(tgt_vocab) - len(reserved) - 1 - len(words))]
        partial = d2l.Vocab([words + filler], reserved_tokens=reserved)
        missing = ({"<bos>", "<eos>"} - set(reserved)).pop()
        for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
            with pytest.raises(ValueError, match=f"tgt_vocab 里没有 {missing}.*reserved_tokens"):
                predict(net, "go .", src_vocab, partial, 6, CPU)
    plain_src = d2l.Vocab([SRC_WORDS])  # no <pad>, no <eos>
    with pytest.raises(ValueError, match="src_vocab 里没有 <pad>"):
        d2l.predict_seq2seq(net, "go .", plain_src, tgt_vocab, 6, CPU)


@pytest.mark.parametrize("where", ["decoder.dense.weight", "encoder.rnn.weight_hh_l0", "decoder.embedding.weight"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_and_the_model_is_left_alone(vocabs, where, value):
    net = make_net(*vocabs)
    with torch.no_grad():
        net.get_parameter(where)[0, 0] = value
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        with pytest.raises(ValueError, match=rf"{re.escape(where)} 里有 NaN 或 inf.*检查点"):
            predict(net, SENTENCES, *vocabs, 6, CPU)
    assert net.training
    after = net.state_dict()
    assert all(torch.allclose(before[k], after[k], equal_nan=True) for k in before)


class NaNDecoder(ScriptedDecoder):
    """Finite weights, but its logits become NaN at step 2 (as an overflow would make them)."""

    def forward(self, X, state):
        Y, state = super().forward(X, state)
        if state[1] == 2:
            Y = Y.clone()
            Y[0, 0, 3] = float("nan")
        return Y, state


def test_non_finite_logits_are_refused(vocabs):
    src_vocab, tgt_vocab = vocabs
    va, eos = tgt_vocab["va"], tgt_vocab["<eos>"]
    scripts = {src_vocab["run"]: [va] * 6}
    net = d2l.EncoderDecoder(FirstTokenEncoder(), NaNDecoder(scripts, len(tgt_vocab)))
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        with pytest.raises(ValueError, match="第 2 步输出了 NaN 或 inf"):
            predict(net, "run", *vocabs, 6, CPU)


def test_decoder_with_more_outputs_than_the_vocab_is_refused(vocabs):
    # predicted ids >= len(tgt_vocab) used to reach Vocab.to_tokens (an IndexError from inside)
    src_vocab, tgt_vocab = vocabs
    net = make_net(*vocabs)
    net.decoder.dense = nn.Linear(16, len(tgt_vocab) + 5)
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        with pytest.raises(ValueError, match=rf"每步输出 {len(tgt_vocab) + 5} 个 logits.*tgt_vocab 有 {len(tgt_vocab)} 个"):
            predict(net, "go .", *vocabs, 6, CPU)


def test_device_is_checked_and_may_be_a_string(vocabs, net):
    expected, _ = d2l.predict_seq2seq(net, SENTENCES, *vocabs, 6, CPU)
    assert d2l.predict_seq2seq(net, SENTENCES, *vocabs, 6, "cpu")[0] == expected
    assert d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, "cpu", beam_size=1)[0] == expected
    with pytest.raises(ValueError, match=r"device='gpu' 不是一个设备.*d2l\.try_gpu\(\)"):
        d2l.predict_seq2seq(net, "go .", *vocabs, 6, "gpu")
    meta_net = make_net(*vocabs).to("meta")  # a model that lives on another device
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        with pytest.raises(ValueError, match=r"模型的参数在 meta 上，而 device='cpu'.*net\.to\(device\)"):
            predict(meta_net, "go .", *vocabs, 6, CPU)


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), -0.5, "0.75", None, True])
def test_beam_search_refuses_bad_alpha(vocabs, net, alpha):
    with pytest.raises(ValueError, match=r"alpha 应是有限的非负实数"):
        d2l.predict_seq2seq_beam(net, "go .", *vocabs, 6, CPU, alpha=alpha)


def test_beam_search_accepts_integral_alpha_and_numpy_numbers(vocabs, net):
    import numpy as np
    a, _ = d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU, beam_size=np.int64(3), alpha=np.float64(1.0))
    b, _ = d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU, beam_size=3, alpha=1)
    assert a == b


@pytest.mark.parametrize("num_steps", [0, -1, 3.5, True, "6", None])
def test_num_steps_must_be_a_positive_integer(vocabs, net, num_steps):
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        with pytest.raises(ValueError, match="num_steps 应是正整数"):
            predict(net, "go .", *vocabs, num_steps, CPU)


def test_beam_size_true_is_not_one(vocabs, net):
    with pytest.raises(ValueError, match="beam_size"):
        d2l.predict_seq2seq_beam(net, "go .", *vocabs, 6, CPU, beam_size=True)


# =============================================================================================
# Beam search


def test_beam_size_one_is_greedy(vocabs):
    for seed in range(4):
        net = make_net(*vocabs, seed=seed)
        greedy, _ = d2l.predict_seq2seq(net, SENTENCES, *vocabs, 6, CPU)
        for alpha in (0.0, 0.75):
            beam, candidates = d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU,
                                                        beam_size=1, alpha=alpha)
            assert beam == greedy
            assert all(len(c) == 1 for c in candidates)


def test_beam_stops_at_eos_and_returns_finished_hypotheses(vocabs, scripted):
    net = scripted()
    translations, candidates = d2l.predict_seq2seq_beam(net, ["go .", "he's calm .", "run"],
                                                        *vocabs, 6, CPU, beam_size=1)
    assert translations == ["va", "est calme calme", "va va va va va va"]
    assert [c[0][0] for c in candidates] == translations


def test_candidates_are_sorted_and_scores_are_normalised_log_probs(vocabs, net):
    src_vocab, tgt_vocab = vocabs
    for alpha in (0.0, 0.75, 1.0):
        translations, candidates = d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU,
                                                            beam_size=4, alpha=alpha)
        for sentence, best, cands in zip(SENTENCES, translations, candidates):
            assert 1 <= len(cands) <= 4 and best == cands[0][0]
            scores = [score for _, score, _ in cands]
            assert scores == sorted(scores, reverse=True)
            for text, score, log_prob in cands:
                ids = tgt_vocab[text.split()] if text else []
                if len(ids) < 6:
                    ids = ids + [tgt_vocab["<eos>"]]  # finished hypotheses end with <eos>
                assert log_prob <= 0
                assert score == pytest.approx(log_prob / len(ids) ** alpha, rel=1e-6)
                model = sequence_log_prob(net, sentence, ids, src_vocab, tgt_vocab, 6)
                assert log_prob == pytest.approx(model, abs=1e-4)


def test_wider_beam_finds_at_least_greedys_log_prob_on_a_seeded_model(vocabs):
    # Beam search is not exact search: a wider beam can drop the prefix greedy would have kept and end
    # up worse (about 1 sentence in 100 on random models like these; the chapter discusses it). On
    # this seeded model it finds a strictly better sequence for every sentence and beam size.
    net = make_net(*vocabs, seed=3)
    _, greedy = d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU, beam_size=1, alpha=0.0)
    for beam_size in (2, 3, 5):
        _, beam = d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU,
                                           beam_size=beam_size, alpha=0.0)
        for g, b in zip(greedy, beam):
            assert b[0][2] >= g[0][2] - 1e-6
        assert any(b[0][2] > g[0][2] + 1e-4 for g, b in zip(greedy, beam))  # and it does search


def all_sequences_with_log_probs(net, sentence, src_vocab, tgt_vocab, num_steps):
    """Every output the decoder can produce (ends with <eos>, or has num_steps tokens) with its
    log-probability, by walking the whole tree of prefixes (one decoder call per prefix)."""
    X, valid_lens, _ = d2l.prepare_source(sentence, src_vocab, num_steps, CPU)
    eos, V = tgt_vocab["<eos>"], len(tgt_vocab)
    net.eval()
    results = []

    def walk(prefix, log_prob, dec_X, state):
        if len(prefix) == num_steps:
            results.append((prefix, log_prob))
            return
        Y, new_state = net.decoder(dec_X, state)
        log_probs = F.log_softmax(Y[0, -1].double(), dim=-1).tolist()
        for token in range(V):
            if token == eos:
                results.append((prefix + [eos], log_prob + log_probs[eos]))
            else:
                walk(prefix + [token], log_prob + log_probs[token], torch.tensor([[token]]), new_state)

    with torch.no_grad():
        state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
        walk([], 0.0, torch.tensor([[tgt_vocab["<bos>"]]]), state)
    return results


@pytest.mark.parametrize("alpha", [0.0, 0.75])
def test_a_beam_wide_enough_to_prune_nothing_is_exact_search(alpha):
    src_vocab = d2l.Vocab([["a", "b"]], reserved_tokens=RESERVED)
    tgt_vocab = d2l.Vocab([["x", "y"]], reserved_tokens=RESERVED)  # 6 tokens, <unk> included
    num_steps, V = 3, len(tgt_vocab)
    net = make_net(src_vocab, tgt_vocab, seed=1, sharpen=2.0)
    for sentence in ["a b", "b", "b b a"]:
        _, cands = d2l.predict_seq2seq_beam(net, sentence, src_vocab, tgt_vocab, num_steps, CPU,
                                            beam_size=V ** num_steps, alpha=alpha)
        scored = [(log_prob / len(ids) ** alpha, ids) for ids, log_prob in
                  all_sequences_with_log_probs(net, sentence, src_vocab, tgt_vocab, num_steps)]
        assert len(scored) == 1 + 5 + 5 ** 2 + 5 ** 3  # <eos> at step 1, 2, 3, or none
        best_score, best_ids = max(scored)
        assert len(cands) == len(scored)  # nothing pruned
        assert cands[0][1] == pytest.approx(best_score, abs=1e-5)
        words = best_ids[:-1] if best_ids[-1] == tgt_vocab["<eos>"] else best_ids
        assert cands[0][0] == " ".join(tgt_vocab.to_tokens(words))


def test_beam_search_restores_mode_and_rejects_bad_arguments(vocabs, net):
    net.train()
    d2l.predict_seq2seq_beam(net, SENTENCES, *vocabs, 6, CPU, beam_size=3)
    assert all(m.training for m in net.modules())
    for bad in (0, -1, 2.0, None):
        with pytest.raises(ValueError, match="beam_size"):
            d2l.predict_seq2seq_beam(net, "go .", *vocabs, 6, CPU, beam_size=bad)
    with pytest.raises(ValueError, match="空"):
        d2l.predict_seq2seq_beam(net, " ", *vocabs, 6, CPU)
    single, cands = d2l.predict_seq2seq_beam(net, "He's calm.", *vocabs, 6, CPU, beam_size=3)
    assert isinstance(single, str) and single == cands[0][0]


# =============================================================================================
# Sentence BLEU


def d2l_bleu(pred_seq, label_seq, k):
    """d2l's formula as published, to show that it divides by zero."""
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        num_matches, label_subs = 0, {}
        for i in range(len_label - n + 1):
            gram = " ".join(label_tokens[i:i + n])
            label_subs[gram] = label_subs.get(gram, 0) + 1
        for i in range(len_pred - n + 1):
            gram = " ".join(pred_tokens[i:i + n])
            if label_subs.get(gram, 0) > 0:
                num_matches += 1
                label_subs[gram] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


@pytest.mark.parametrize("sentence", ["va !", "il est calme .", "je suis chez moi .", "a", "a b c d e f g"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_perfect_match_is_one(sentence, k):
    assert d2l.bleu(sentence, sentence, k) == pytest.approx(1.0)


def test_hand_computed_examples():
    pred, label = "a b b c d", "a b c d e f"
    # p1 = 4/5 (a b c d; the second b is clipped), p2 = 3/4 (ab bc cd), p3 = 1/3 (bcd);
    # the prediction is shorter: brevity penalty exp(1 - 6/5)
    bp = math.exp(1 - 6 / 5)
    assert d2l.bleu(pred, label, 1) == pytest.approx(bp * (4 / 5) ** 0.5)
    assert d2l.bleu(pred, label, 2) == pytest.approx(bp * (4 / 5) ** 0.5 * (3 / 4) ** 0.25)
    assert d2l.bleu(pred, label, 3) == pytest.approx(bp * (4 / 5) ** 0.5 * (3 / 4) ** 0.25 * (1 / 3) ** 0.125)
    assert d2l.bleu(pred, label, 4) == 0.0  # no 4-gram matches
    # a longer prediction is not rewarded, nor penalised by the brevity penalty
    assert d2l.bleu("a b c d", "a b c", 2) == pytest.approx((3 / 4) ** 0.5 * (2 / 3) ** 0.25)
    # clipping: "the" counts at most as often as in the label
    assert d2l.bleu("the the the", "the cat", 1) == pytest.approx((1 / 3) ** 0.5)
    # where d2l's formula is defined, the two agree
    for k in (1, 2, 3):
        assert d2l.bleu(pred, label, k) == pytest.approx(d2l_bleu(pred, label, k))
    assert d2l.bleu("ils regardent .", "ils regardent .", 2) == d2l_bleu("ils regardent .", "ils regardent .", 2)


def test_short_and_empty_predictions_do_not_divide_by_zero():
    with pytest.raises(ZeroDivisionError):
        d2l_bleu("va", "va !", 2)  # the bug this chapter fixes
    assert d2l.bleu("va", "va !", 2) == 0.0  # the label has a 2-gram the prediction cannot form
    assert d2l.bleu("va", "va", 4) == 1.0  # neither side has 2-, 3-, 4-grams: those orders are skipped
    assert d2l.bleu("va", "allez", 4) == 0.0
    assert d2l.bleu("va !", "va !", 4) == 1.0
    assert d2l.bleu("je suis", "je suis chez moi", 2) == pytest.approx(math.exp(1 - 4 / 2))
    for k in (1, 2, 4):
        assert d2l.bleu("", "va !", k) == 0.0
        assert d2l.bleu("   ", "va !", k) == 0.0
        assert d2l.bleu("", "", k) == 0.0


def test_bleu_rejects_a_bad_order():
    with pytest.raises(ValueError, match="k"):
        d2l.bleu("va !", "va !", 0)


# =============================================================================================
# Corpus BLEU against sacrebleu (no tokenisation, no smoothing)


def sacre(hyps, refs, max_n=4):
    """sacrebleu's score / 100; refs[i] is a list of references (variable counts allowed)."""
    most = max(len(r) for r in refs)
    streams = [[r[j] if j < len(r) else None for r in refs] for j in range(most)]
    if max_n == 4:
        result = sacrebleu.corpus_bleu(hyps, streams, tokenize="none", smooth_method="none", force=True)
    else:
        metric = sacrebleu.metrics.BLEU(max_ngram_order=max_n, tokenize="none", smooth_method="none",
                                        force=True)
        result = metric.corpus_score(hyps, streams)
    return result.score / 100


def random_sentence(rng, words, lo, hi):
    return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))


@pytest.mark.parametrize("seed", range(8))
def test_corpus_bleu_matches_sacrebleu_on_random_data(seed):
    rng = random.Random(seed)
    words = ["a", "b", "c", "d", "e"][: 3 + seed % 3]  # a small vocabulary: many n-gram matches
    hyps, refs = [], []
    for _ in range(rng.randint(1, 30)):
        hyps.append(random_sentence(rng, words, 1 if seed % 2 else 0, 9))
        refs.append([random_sentence(rng, words, 1, 9) for _ in range(rng.randint(1, 3))])
    for max_n in (1, 2, 3, 4):
        ours = d2l.corpus_bleu(hyps, refs, max_n)
        assert ours == pytest.approx(sacre(hyps, refs, max_n), abs=1e-6)
        assert 0.0 <= ours <= 1.0


def test_corpus_bleu_with_nonzero_scores_and_several_references():
    rng = random.Random(1)
    words = ["a", "b", "c"]
    hyps = [random_sentence(rng, words, 4, 10) for _ in range(40)]
    refs = [[random_sentence(rng, words, 4, 10) for _ in range(1 + i % 4)] for i in range(40)]
    ours = d2l.corpus_bleu(hyps, refs)
    assert ours > 0.1
    assert ours == pytest.approx(sacre(hyps, refs), abs=1e-6)
    # one reference given as a str is the same as a list with that one str
    assert d2l.corpus_bleu(hyps, [r[0] for r in refs]) == d2l.corpus_bleu(hyps, [r[:1] for r in refs])


REAL = [  # lines of fra.txt in our tokenisation, with hand-made system outputs
    ("va !", ["va !", "marche .", "bouge !"]),
    ("je suis calme .", ["il est calme .", "il est tranquille ."]),
    ("je suis à la maison .", ["je suis chez moi .", "je suis à la maison ."]),
    ("j'ai perdu .", ["j'ai perdu ."]),
    ("nous avons gagné !", ["nous avons gagné .", "nous l'avons emporté ."]),
    ("il est en retard .", ["il est en retard .", "il a du retard ."]),
    ("c'est le mien .", ["c'est à moi .", "c'est le mien .", "c'est la mienne ."]),
    ("tom est parti .", ["tom est parti .", "tom est partie ."]),
    ("elle est là .", ["elle est ici ."]),
    ("je l'aime beaucoup .", ["je l'aime beaucoup .", "je l'apprécie beaucoup ."]),
]


def test_corpus_bleu_matches_sacrebleu_on_real_sentences():
    hyps = [h for h, _ in REAL]
    refs = [r for _, r in REAL]
    ours = d2l.corpus_bleu(hyps, refs)
    assert 0.3 < ours < 1
    assert ours == pytest.approx(sacre(hyps, refs), abs=1e-6)
    assert d2l.corpus_bleu([r[0] for r in refs], refs) == pytest.approx(1.0)


def test_corpus_bleu_edge_cases():
    assert d2l.corpus_bleu([], []) == 0.0
    assert d2l.corpus_bleu(["", ""], ["va !", "il est calme ."]) == 0.0
    assert d2l.corpus_bleu(["va !"], [["va !"]]) == 0.0  # no 3- and 4-grams at all: standard BLEU is 0
    assert d2l.corpus_bleu(["va !"], [["va !"]], max_n=2) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        d2l.corpus_bleu(["va !"], [])
    with pytest.raises(TypeError):
        d2l.corpus_bleu([["va", "!"]], ["va !"])
    with pytest.raises(TypeError):
        d2l.corpus_bleu(["va !"], [[]])


def test_corpus_bleu_on_token_lists_equals_the_string_form():
    rng = random.Random(3)
    words = ["a", "b", "c", "d"]
    hyps = [random_sentence(rng, words, 0, 9) for _ in range(30)]
    refs = [[random_sentence(rng, words, 1, 9) for _ in range(1 + i % 3)] for i in range(30)]
    hyp_tokens = [h.split() for h in hyps]
    ref_tokens = [[r.split() for r in several] for several in refs]
    for max_n in (1, 2, 4):
        expected = d2l.corpus_bleu(hyps, refs, max_n)
        assert d2l.corpus_bleu(hyp_tokens, ref_tokens, max_n) == expected
        assert d2l.corpus_bleu(tuple(map(tuple, hyp_tokens)), ref_tokens, max_n) == expected
    # one tokenised reference per sentence: a list of str, as in splits['test'][1]
    single = [r[0] for r in ref_tokens]
    assert d2l.corpus_bleu(hyp_tokens, single) == d2l.corpus_bleu(hyps, [r[0] for r in refs])


def test_corpus_bleu_exact_match_of_tokenised_sentences_is_one():
    # issue 13: tokenised references used to score an exact match 0.0 (each token a "reference")
    sentences = [["il", "est", "calme", "."], ["je", "suis", "chez", "moi", "."]]
    assert d2l.corpus_bleu(sentences, sentences) == pytest.approx(1.0)
    assert d2l.corpus_bleu(sentences, [[s] for s in sentences]) == pytest.approx(1.0)
    assert d2l.corpus_bleu([" ".join(s) for s in sentences], [" ".join(s) for s in sentences]) == pytest.approx(1.0)


def test_corpus_bleu_refuses_token_list_references_with_string_predictions():
    # what a user gets by passing splits['test'][1] (token lists) as references for str predictions
    with pytest.raises(ValueError, match=r"看起来是词元列表.*' '\.join\(tokens\).*prediction\.split\(\)"):
        d2l.corpus_bleu(["il est calme .", "va !"], [["il", "est", "calme", "."], ["va", "!"]])
    # several one-word references with one-word predictions are a legitimate input
    assert d2l.corpus_bleu(["oui"], [["oui", "ouais"]], max_n=1) == pytest.approx(1.0)


@pytest.mark.parametrize("predictions, references, error, says", [
    ("il est calme .", "il est calme .", TypeError, r"predictions 应是每句一项的 list.*corpus_bleu\(\[prediction\], \[reference\]\)"),
    (["il est calme ."], "il est calme .", TypeError, r"references 应是每句一项的 list"),
    (None, [], TypeError, r"predictions 应是每句一项的 list"),
    (["va !", ["va", "!"]], ["va !", "va !"], TypeError, r"第 1 个预测应是str"),
    ([["va", "!"], "va !"], [["va", "!"], ["va", "!"]], TypeError, r"第 1 个预测应是词元列表"),
    ([["va", "!"]], ["va !"], TypeError, r"参考译文与预测要用同一种形式"),
    ([["va", "!"]], [[]], TypeError, r"非空 list"),
    (["va !"], [["va !", None]], TypeError, r"第 0 句的参考译文应是一个 str"),
    (["va !"], [], ValueError, r"predictions 有 1 句，references 有 0 句"),
])
def test_corpus_bleu_bad_inputs(predictions, references, error, says):
    with pytest.raises(error, match=says):
        d2l.corpus_bleu(predictions, references)


def test_corpus_bleu_rejects_bad_orders():
    for bad in (0, -1, 2.0, True, None):
        with pytest.raises(ValueError, match="max_n"):
            d2l.corpus_bleu(["va !"], ["va !"], bad)


def test_bleu_takes_strings_or_token_lists_and_refuses_the_rest():
    expected = d2l.bleu("a b b c d", "a b c d e f", 2)
    assert d2l.bleu("a b b c d".split(), "a b c d e f", 2) == expected
    assert d2l.bleu("a b b c d", tuple("a b c d e f".split()), 2) == expected
    for bad_pred, bad_label, name in [(None, "va !", "pred_seq"), ("va !", None, "label_seq"),
                                      (3, "va !", "pred_seq"), (["va", 1], "va !", "pred_seq")]:
        with pytest.raises(TypeError, match=rf"{name} 应是一个 str（词元用空格分隔）或词元列表"):
            d2l.bleu(bad_pred, bad_label, 2)
    with pytest.raises(ValueError, match="k"):
        d2l.bleu("va !", "va !", True)


def test_group_references_refuses_unequal_lengths():
    with pytest.raises(ValueError, match=r"source 有 2 句，target 有 1 句"):
        d2l.group_references([["go", "."], ["hi", "."]], [["va", "!"]])


def test_group_references_keeps_all_translations_of_a_sentence():
    source = [["go", "."], ["hi", "."], ["go", "."]]
    target = [["va", "!"], ["salut", "!"], ["marche", "."]]
    sources, references = d2l.group_references(source, target)
    assert sources == ["go .", "hi ."]
    assert references == [["va !", "marche ."], ["salut !"]]


@needs_corpus
def test_corpus_bleu_matches_sacrebleu_on_the_held_out_corpus():
    source, target = d2l.tokenize_nmt(d2l.preprocess_nmt(d2l.read_data_nmt()))
    splits = d2l.split_nmt(source, target)
    sources, references = d2l.group_references(*splits["test"])
    assert max(len(r) for r in references) > 1  # several references per sentence
    rng = random.Random(0)
    picked = rng.sample(range(len(sources)), 500)
    refs = [references[i] for i in picked]
    hyps = []
    for r in refs:  # a "system": a reference with words dropped and swapped
        words = rng.choice(r).split()
        words = [w for w in words if rng.random() > 0.15] or words[:1]
        if len(words) > 2 and rng.random() < 0.3:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        hyps.append(" ".join(words))
    ours = d2l.corpus_bleu(hyps, refs)
    assert 0.2 < ours < 0.95
    assert ours == pytest.approx(sacre(hyps, refs), abs=1e-6)
