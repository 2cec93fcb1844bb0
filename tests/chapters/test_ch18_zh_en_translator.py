"""Chapter 18 (从零训练一个中英翻译器): BLEU the standard way (equal to sacrebleu's tokenisers and
corpus_bleu), the sampling filters (top-k, top-p) and sampler, the training data of one direction,
the translator model (tied weights) and the attention matrix for the explorer.

Property tests have a bounded ``max_examples``, ``deadline=None`` and no example database on disk.
"""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import d2l_local as d2l

sacrebleu = pytest.importorskip("sacrebleu")
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a  # noqa: E402
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh  # noqa: E402

CPU = torch.device("cpu")
RESERVED = ["<pad>", "<bos>", "<eos>"]


def bounded(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------------------------------------
# BLEU the standard way

mixed_text = st.lists(st.sampled_from(
    list("abcXYZ019 .,!?'\"-()$%&/:;<>@[]^_`{|}~\t\n") + ["&amp;", "&quot;", "<skipped>", "-\n", "3.5", "1,000",
                                                       "我", "们", "。", "，", "？", "“", "”", "’", "…", "–",
                                                       "Tom ", "汤姆", "\u3000", "ｂ", "①", "☺"]),
    max_size=25).map("".join)


@bounded(400)
@given(st.one_of(mixed_text, st.text(max_size=30)))
def test_tokenizers_equal_sacrebleus(text):
    assert d2l.tokenize_13a(text) == Tokenizer13a()(text)
    assert d2l.tokenize_zh(text) == TokenizerZh()(text)


def test_tokenizer_examples():
    assert d2l.tokenize_13a("It costs $1,000.50, not 3.5!") == "It costs $ 1,000.50 , not 3.5 !"
    assert d2l.tokenize_13a("I'm home.") == "I'm home ."
    assert d2l.tokenize_zh("汤姆买了3.5公斤苹果。") == "汤 姆 买 了 3.5 公 斤 苹 果 。"
    assert d2l.tokenize_zh("他是个DJ，叫Tom Jackson。") == "他 是 个 DJ ， 叫 Tom Jackson 。"


sentence = st.lists(st.sampled_from(["the", "cat", "sat", "on", "mat", "Tom", "is", ".", ",", "!", "?",
                                     "don't", "我", "们", "在", "家", "。", "汤姆", "3.5"]),
                    min_size=1, max_size=12).map(" ".join)


@bounded(150)
@given(st.lists(st.tuples(sentence, sentence), min_size=1, max_size=12), st.sampled_from(["13a", "zh"]),
       st.booleans())
def test_sacre_bleu_equals_sacrebleu_corpus_bleu(pairs, tokenize, lowercase):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    ours = d2l.sacre_bleu(hyps, refs, tokenize=tokenize, lowercase=lowercase)
    # sacrebleu smooths a zero n-gram count ('exp'); the book's corpus_bleu returns 0 then: compare
    # with smoothing off, which is sacrebleu's own value whenever every order has a match
    theirs = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize, lowercase=lowercase,
                                   smooth_method="none", force=True).score
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_sacre_bleu_on_a_real_corpus_equals_the_default_sacrebleu():
    pairs = d2l.preprocess_cmn(d2l.parse_cmn(d2l.read_data_cmn()))[:3000:7]
    en = [e for e, _ in pairs]
    zh = [z for _, z in pairs]
    hyps_zh = [z[::-1] if i % 3 == 0 else z[:-1] for i, z in enumerate(zh)]   # imperfect "translations"
    hyps_en = [e.upper() if i % 2 else " ".join(e.split()[:-1]) or e for i, e in enumerate(en)]
    assert d2l.sacre_bleu(hyps_zh, zh, "zh") == pytest.approx(
        sacrebleu.corpus_bleu(hyps_zh, [zh], tokenize="zh").score, abs=1e-9)
    assert d2l.sacre_bleu(hyps_en, en, "13a", lowercase=True) == pytest.approx(
        sacrebleu.corpus_bleu(hyps_en, [en], tokenize="13a", lowercase=True).score, abs=1e-9)
    assert d2l.sacre_bleu(zh, zh, "zh") == pytest.approx(100.0)


def test_sacre_bleu_refuses_bad_input():
    with pytest.raises(ValueError, match="'13a'.*'zh'"):
        d2l.sacre_bleu(["a"], ["a"], tokenize="intl")
    with pytest.raises(ValueError, match="每句要有一个参考译文"):
        d2l.sacre_bleu(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="str 的列表"):
        d2l.sacre_bleu("a b", ["a b"])
    with pytest.raises(TypeError, match="str 的列表"):
        d2l.sacre_bleu(["a"], [["a", "b"]])


# ---------------------------------------------------------------------------------------------
# sampling filters

logit_rows = st.lists(st.floats(-20, 20, allow_nan=False, width=32), min_size=1, max_size=12)


def kept(x):
    return torch.isfinite(x)


@bounded(300)
@given(st.lists(logit_rows, min_size=1, max_size=4).filter(lambda rows: len({len(r) for r in rows}) == 1),
       st.integers(1, 14))
def test_top_k_keeps_the_k_largest_of_every_row(rows, k):
    logits = torch.tensor(rows)
    before = logits.clone()
    out = d2l.top_k_filter(logits, k)
    assert torch.equal(logits, before)                                   # no in-place change
    for row, filtered in zip(logits, out):
        if k >= len(row):
            assert torch.equal(filtered, row)
            continue
        kth = row.sort(descending=True).values[k - 1]
        assert torch.equal(kept(filtered), row >= kth)                   # ties with the k-th stay
        assert torch.equal(filtered[kept(filtered)], row[row >= kth])    # kept values unchanged
        assert kept(filtered).sum() >= k


@bounded(300)
@given(st.lists(logit_rows, min_size=1, max_size=4).filter(lambda rows: len({len(r) for r in rows}) == 1),
       st.floats(0.01, 0.999))
def test_top_p_keeps_the_smallest_nucleus(rows, p):
    logits = torch.tensor(rows)
    before = logits.clone()
    out = d2l.top_p_filter(logits, p)
    assert torch.equal(logits, before)
    for row, filtered in zip(logits, out):
        mask = kept(filtered)
        probs = row.double().softmax(-1)
        assert mask[row.argmax()]                                        # the most probable token stays
        assert torch.equal(filtered[mask], row[mask])
        assert probs[mask].sum() >= p - 1e-6 or mask.all()              # the nucleus reaches p
        # smallest: without its least probable member the nucleus would be short of p
        least = probs[mask].min()
        assert probs[mask].sum() - least < p + 1e-6
        # a nucleus: nothing left out is more probable than something kept (up to rounding ties)
        if not mask.all():
            assert probs[~mask].max() <= least + 1e-6


def test_filters_on_a_small_example_and_their_identities():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0, -1.0], [0.5, 0.4, 0.3, 0.2, 0.1]])
    assert kept(d2l.top_k_filter(logits, 2)).tolist() == [[True, True, False, False, False]] * 2
    assert kept(d2l.top_p_filter(logits, 0.8)).sum(-1).tolist() == [2, 4]
    assert d2l.top_k_filter(logits, None) is logits and d2l.top_k_filter(logits, 5) is logits
    assert d2l.top_p_filter(logits, None) is logits and d2l.top_p_filter(logits, 1.0) is logits
    assert kept(d2l.top_p_filter(logits, 1e-9)).sum(-1).tolist() == [1, 1]
    three_d = logits[:, None, :]                                         # (batch, 1, vocab)
    assert torch.equal(d2l.top_p_filter(three_d, 0.8)[:, 0], d2l.top_p_filter(logits, 0.8))
    with pytest.raises(ValueError, match="top_k 应是正整数"):
        d2l.top_k_filter(logits, 0)
    with pytest.raises(ValueError, match="top_p 应是 0 到 1"):
        d2l.top_p_filter(logits, 0.0)


# ---------------------------------------------------------------------------------------------
# the sampler on a scripted model

class SourceEncoder(d2l.Encoder):
    def forward(self, X, *args):
        return X


class TableDecoder(d2l.Decoder):
    """Logits that depend only on the previous token: a fixed table (vocab, vocab)."""

    def __init__(self, table):
        super().__init__()
        self.table = nn.Parameter(table, requires_grad=False)

    def init_state(self, enc_outputs, valid_lens=None):
        return enc_outputs

    def forward(self, X, state):
        return self.table[X], state


@pytest.fixture
def scripted():
    tokens = ["a", "b", "c", "d"]
    vocab = d2l.Vocab([tokens], reserved_tokens=RESERVED)
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(len(vocab), len(vocab), generator=gen) * 2
    table[:, vocab["<pad>"]] = table[:, vocab["<bos>"]] = table[:, vocab["<unk>"]] = -30.0
    table[vocab["c"], vocab["<eos>"]] = 8.0                                 # 'c' usually ends a sentence
    net = d2l.EncoderDecoder(SourceEncoder(), TableDecoder(table))
    return net, vocab


def test_top_k_one_is_greedy_and_the_seed_fixes_the_samples(scripted):
    net, vocab = scripted
    kw = dict(src_vocab=vocab, tgt_vocab=vocab, num_steps=8, device=CPU,
              src_tokenizer=d2l.CharTokenizer(), tgt_tokenizer=d2l.CharTokenizer())
    greedy, _ = d2l.predict_seq2seq(net, "ab", **kw)
    assert d2l.sample_seq2seq(net, "ab", top_k=1, num_samples=3, **kw) == [greedy] * 3
    assert d2l.sample_seq2seq(net, "ab", temperature=1e-4, **kw) == [greedy]
    rng = torch.get_rng_state()
    first = d2l.sample_seq2seq(net, "ab", num_samples=20, seed=3, temperature=2.0, **kw)
    assert torch.equal(rng, torch.get_rng_state())                      # the global RNG is not touched
    assert d2l.sample_seq2seq(net, "ab", num_samples=20, seed=3, temperature=2.0, **kw) == first
    assert len(set(first)) > 1                                          # a hot sampler varies
    assert all(set(s) <= set("abcd") and len(s) <= 8 for s in first)


def test_sampling_follows_the_filtered_distribution(scripted):
    """One step from <bos>: the sampled first tokens are the filters' survivors, in their proportions."""
    net, vocab = scripted
    kw = dict(src_vocab=vocab, tgt_vocab=vocab, num_steps=1, device=CPU,
              src_tokenizer=d2l.CharTokenizer(), tgt_tokenizer=d2l.CharTokenizer())
    logits = net.decoder.table[vocab["<bos>"]]
    for setting in (dict(top_k=2), dict(top_p=0.7), dict(temperature=0.7, top_p=0.9)):
        filtered = d2l.top_p_filter(d2l.top_k_filter(logits / setting.get("temperature", 1.0),
                                                     setting.get("top_k")), setting.get("top_p"))
        allowed = {vocab.idx_to_token[i] for i in torch.isfinite(filtered).nonzero().flatten().tolist()}
        samples = d2l.sample_seq2seq(net, "a", num_samples=2000, seed=1, **setting, **kw)
        firsts = [s[:1] or "<eos>" for s in samples]
        assert set(firsts) <= allowed, setting
        probs = filtered.softmax(-1)
        for token in allowed:
            share = firsts.count(token) / len(firsts)
            assert abs(share - probs[vocab[token]].item()) < 0.05, (setting, token)


def test_sampler_refuses_bad_arguments(scripted):
    net, vocab = scripted
    kw = dict(src_vocab=vocab, tgt_vocab=vocab, num_steps=4, device=CPU, src_tokenizer=d2l.CharTokenizer())
    for bad in (0, -1.0, math.inf, "hot"):
        with pytest.raises(ValueError, match="temperature"):
            d2l.sample_seq2seq(net, "ab", temperature=bad, **kw)
    with pytest.raises(ValueError, match="num_samples"):
        d2l.sample_seq2seq(net, "ab", num_samples=0, **kw)
    with pytest.raises(TypeError, match="一个 str"):
        d2l.sample_seq2seq(net, ["ab"], **kw)
    with pytest.raises(ValueError, match="空的"):
        d2l.sample_seq2seq(net, "  ", **kw)


# ---------------------------------------------------------------------------------------------
# data, model, attention

def test_build_translation_data_both_directions():
    pairs = [("I'm home.", "我在家。"), ("Go!", "走！"), ("A very long sentence indeed.", "一" * 30)]
    en_tok, zh_tok = d2l.WordTokenizer(), d2l.CharTokenizer()
    arrays, src_vocab, tgt_vocab = d2l.build_translation_data(pairs, "en", en_tok, zh_tok, num_steps=6)
    X, X_len, Y, Y_len = arrays
    assert X.shape == Y.shape == (2, 6)                                  # the 30-character target is left out
    assert X_len.tolist() == [4, 3] and Y_len.tolist() == [5, 3]
    assert src_vocab.idx_to_token[:3] == RESERVED and "我" in tgt_vocab.token_to_idx
    assert src_vocab.to_tokens(X[0, :3].tolist()) == ["i'm", "home", "."]
    back, src_back, tgt_back = d2l.build_translation_data(pairs, "zh", zh_tok, en_tok, num_steps=6)
    assert torch.equal(back[0], Y) and torch.equal(back[2], X)
    with pytest.raises(ValueError, match="'en'.*'zh'"):
        d2l.build_translation_data(pairs, "fr", en_tok, zh_tok, 6)
    with pytest.raises(ValueError, match="增大 num_steps"):
        d2l.build_translation_data(pairs, "en", en_tok, zh_tok, 2)


@pytest.mark.skipif(not hasattr(d2l, "tie_weights"), reason="chapter 16 (tie_weights) not merged yet")
def test_translator_model_ties_weights_and_attention_matrix_shape():
    src_vocab = d2l.Vocab([list("abcdef")], reserved_tokens=RESERVED)
    tgt_vocab = d2l.Vocab([list("uvwxyz")], reserved_tokens=RESERVED)
    torch.manual_seed(0)
    net = d2l.transformer_translator(src_vocab, tgt_vocab, num_hiddens=16, num_layers=2, num_heads=2,
                                     ffn_num_hiddens=32, dropout=0.0)
    assert net.decoder.dense.weight is net.decoder.embedding.weight
    char = d2l.CharTokenizer()
    translation, steps = d2l.predict_seq2seq(net, "abc", src_vocab, tgt_vocab, 5, CPU, save_attention_weights=True,
                                             src_tokenizer=char, tgt_tokenizer=char)
    weights = d2l.cross_attention(steps, src_len=4)
    assert weights.shape == (2, 2, len(steps), 4)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, len(steps)), atol=1e-5)
    assert 1 <= len(steps) <= 5
    with pytest.raises(ValueError, match="save_attention_weights=True"):
        d2l.cross_attention([], 4)
