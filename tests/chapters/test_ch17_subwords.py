"""Chapter 17 (子词): the bundled English–Chinese corpus (checksum, formats, clear errors on a damaged
copy), the script conversion, the split by English *and* Chinese sentence, the tokenizer protocol and
the from-scratch BPE (round trips, determinism, and the same merges as Hugging Face ``tokenizers``).

Property tests have a bounded ``max_examples``, ``deadline=None`` (a busy 2-core machine must not turn a
slow example into a failure) and no example database on disk.
"""
from __future__ import annotations

import collections
import hashlib
import inspect
import json
import lzma
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2l_local as d2l
from d2l_local import ch17_subwords as ch17

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "d2l_local" / "data" / "cmn-eng.txt.xz"


def bounded(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def raw_pairs():
    return d2l.parse_cmn(d2l.read_data_cmn())


@pytest.fixture(scope="module")
def cmn_pairs(raw_pairs):
    return d2l.preprocess_cmn(raw_pairs)


@pytest.fixture(scope="module")
def splits(cmn_pairs):
    return d2l.split_cmn(cmn_pairs, seed=0)


@pytest.fixture(scope="module")
def tokenizers(splits):
    """The tokenizers under test; the BPE ones learned on a slice of the training split (fast)."""
    train = splits["train"][::4]
    en = list(dict.fromkeys(en for en, _ in train))
    zh = list(dict.fromkeys(zh for _, zh in train))
    return {
        "word": d2l.WordTokenizer(),
        "word-attached": d2l.WordTokenizer(attach_punctuation=True),
        "char": d2l.CharTokenizer(),
        "jieba": d2l.JiebaTokenizer(),
        "bpe-en": d2l.BPETokenizer.learn(en, num_merges=600),
        "bpe-zh": d2l.BPETokenizer.learn(zh, num_merges=600),
        "bpe-mixed-lower": d2l.BPETokenizer.learn(en + zh, num_merges=400, lowercase=True),
    }


# ---------------------------------------------------------------------------------------------
# the bundled corpus


def test_bundled_corpus_is_the_documented_release():
    assert BUNDLED.stat().st_size <= 1_000_000, "the shipped copy must stay within 1 MB"
    assert BUNDLED.read_bytes()[:6] == b"\xfd7zXZ\x00", "an xz file"
    assert d2l.cmn_eng_path() == BUNDLED
    text = d2l.read_data_cmn()
    data = text.encode("utf-8")
    assert hashlib.sha256(data).hexdigest() == d2l.CMN_ENG_SHA256 == \
        "d766002332a8f21099afd7427138d44f06bed7486a18f7f0f26f217092667d73"
    assert len(data) == 4_565_695
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 32_029
    assert all(len(line.split("\t")) == 3 for line in lines[:-1])
    pairs = d2l.parse_cmn(text)
    assert len(pairs) == 32_028
    assert pairs[0] == ("Hi.", "嗨。")
    assert all(line.startswith("\t".join(pair) + "\t") for line, pair in zip(lines, pairs))


def test_attribution_names_the_sources_and_the_license():
    for fragment in ("Tatoeba", "tatoeba.org", "manythings.org/anki", "CC-BY 2.0", "2026-02-13"):
        assert fragment in d2l.CMN_ENG_ATTRIBUTION
    readme = (ROOT / "d2l_local" / "data" / "README.md").read_text(encoding="utf-8")
    for fragment in ("tatoeba.org", "manythings.org/anki", "CC-BY 2.0", d2l.CMN_ENG_SHA256):
        assert fragment in readme


def _bundled_copy(tmp_path, monkeypatch, data: bytes) -> Path:
    """A copy of the bundled file holding `data`, which read_data_cmn() then reads as the bundled one."""
    copy = tmp_path / "cmn-eng.txt.xz"
    copy.write_bytes(data)
    monkeypatch.setattr(ch17, "cmn_eng_path", lambda: copy)
    return copy


def _assert_reinstall_error(error, *fragments):
    message = str(error.value)
    for fragment in ("重新安装", "git checkout -- d2l_local/data/cmn-eng.txt.xz", "pip install --force-reinstall",
                     "Colab", "没有删除或改动任何文件", *fragments):
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "garbage"])
def test_damaged_bundled_copy_gives_a_clear_error_and_is_left_alone(tmp_path, monkeypatch, damage):
    good = BUNDLED.read_bytes()
    if damage == "flipped byte":
        middle = len(good) // 2
        bad = good[:middle] + bytes([good[middle] ^ 0x40]) + good[middle + 1:]
    elif damage == "truncated":
        bad = good[: len(good) // 3]
    else:
        bad = b"this is not an xz file\n" * 10
    copy = _bundled_copy(tmp_path, monkeypatch, bad)
    with pytest.raises(d2l.DataError) as error:
        d2l.read_data_cmn()
    _assert_reinstall_error(error, "已损坏", str(copy))
    assert copy.read_bytes() == bad, "the damaged file must not be deleted or rewritten"


def test_intact_xz_with_changed_content_fails_the_checksum(tmp_path, monkeypatch):
    text = lzma.decompress(BUNDLED.read_bytes()).replace("我在家裡。".encode(), "我在家里。".encode(), 1)
    copy = _bundled_copy(tmp_path, monkeypatch, lzma.compress(text, preset=0))
    with pytest.raises(d2l.DataError) as error:
        d2l.read_data_cmn()
    _assert_reinstall_error(error, "SHA-256", d2l.CMN_ENG_SHA256, hashlib.sha256(text).hexdigest())
    assert lzma.decompress(copy.read_bytes()) == text


def test_missing_bundled_copy_says_how_to_reinstall(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "cmn-eng.txt.xz"
    monkeypatch.setattr(ch17, "cmn_eng_path", lambda: missing)
    with pytest.raises(d2l.DataError) as error:
        d2l.read_data_cmn()
    _assert_reinstall_error(error, "找不到", str(missing))
    assert not missing.parent.exists()


def test_python_without_lzma_gets_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "lzma", None)        # `import lzma` now raises ImportError
    with pytest.raises(d2l.DataError, match="没有 lzma 模块"):
        d2l.read_data_cmn()


def test_own_files_plain_or_xz_with_an_optional_checksum(tmp_path):
    text = "Hi.\t嗨。\nRun!\t你用跑的。\n"
    plain = tmp_path / "old.txt"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "old.txt.xz"
    packed.write_bytes(lzma.compress(text.encode()))
    for path in (plain, packed, str(plain)):
        assert d2l.read_data_cmn(path) == text
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert d2l.read_data_cmn(packed, sha256=digest) == text
    with pytest.raises(d2l.DataError) as error:
        d2l.read_data_cmn(plain, sha256="0" * 64)
    assert "SHA-256" in str(error.value) and "请换一份完好的文件" in str(error.value)
    assert "重新安装" not in str(error.value)            # not the package's file: no reinstall advice
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(d2l.DataError, match="是空的"):
        d2l.read_data_cmn(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("Café.\tK\xe4se\n".encode("latin-1"))
    with pytest.raises(d2l.DataError, match="UTF-8"):
        d2l.read_data_cmn(tmp_path / "latin1.txt")
    assert plain.read_text(encoding="utf-8") == text


def test_parse_reads_three_and_two_columns_crlf_bom_and_blank_lines():
    three = "Hi.\t嗨。\tCC-BY 2.0 (France) Attribution: tatoeba.org #1 (a) & #2 (b)\n"
    assert d2l.parse_cmn(three) == [("Hi.", "嗨。")]
    two = "\ufeffHi.\t嗨。\r\n\r\n Run! \t 你用跑的。 \r\n"
    assert d2l.parse_cmn(two) == [("Hi.", "嗨。"), ("Run!", "你用跑的。")]
    assert d2l.parse_cmn("") == []


@pytest.mark.parametrize("bad", ["Hi.\t嗨。\nno tab here\n", "Hi.\t嗨。\na\tb\tc\td\n", "Hi.\t嗨。\nRun!\t \n"])
def test_parse_names_the_bad_line(bad):
    with pytest.raises(d2l.DataError, match="第 2 行"):
        d2l.parse_cmn(bad)


# ---------------------------------------------------------------------------------------------
# traditional -> simplified, and the other clean-up


def test_to_simplified_converts_traditional_and_leaves_simplified_alone():
    assert d2l.to_simplified("我在家裡。走開！") == "我在家里。走开！"
    for simplified in ("我们什么时候出发？", "有什么喝的吗？", "他抬起头。", "后来发生了什么？"):
        assert d2l.to_simplified(simplified) == simplified


def test_normalize_zh_examples():
    cases = {
        "我在家裡。": "我在家里。",
        "很大, 不是嗎?": "很大，不是吗？",
        "他是一个 DJ 。": "他是一个DJ。",
        "比賽在 2:30 開始。": "比赛在2:30开始。",
        "我想跟 Tom Jackson 說話。": "我想跟Tom Jackson说话。",
        "一共 1,000 元!": "一共1,000元！",
        "不要动.": "不要动。",
        "等等...": "等等...",
        "請\u200b\u200b借我你的書。": "请借我你的书。",
        "「你認識我嗎？」「認識。」": "“你认识我吗？”“认识。”",
        "“谢谢你的帮助。”\u3000“不用谢。”": "“谢谢你的帮助。”“不用谢。”",
    }
    for raw, clean in cases.items():
        assert d2l.normalize_zh(raw) == clean, raw
    assert d2l.normalize_zh("我在家裡。", simplified=False) == "我在家裡。"
    assert d2l.normalize_en("  I’m   home. ") == "I'm home."


def test_preprocess_is_idempotent_and_unifies_the_script(raw_pairs, cmn_pairs):
    assert len(cmn_pairs) == len(raw_pairs)
    assert d2l.preprocess_cmn(cmn_pairs) == cmn_pairs
    assert all(d2l.to_simplified(zh) == zh for _, zh in cmn_pairs)
    assert not any("\u200b" in zh or "\u3000" in zh for _, zh in cmn_pairs)
    # the same sentence written in two scripts is one sentence afterwards
    assert ("Who are you?", "你是谁？") in cmn_pairs and not any("誰" in zh for _, zh in cmn_pairs)


def test_missing_converter_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "opencc", None)
    ch17._t2s_converter.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install opencc-python-reimplemented"):
            d2l.to_simplified("裡")
    finally:
        ch17._t2s_converter.cache_clear()


# ---------------------------------------------------------------------------------------------
# the split


def en_key(en):
    return " ".join(d2l.preprocess_nmt(en).split())


def zh_key(zh):
    return "".join(zh.lower().split())


def test_split_covers_every_pair_once_and_no_sentence_crosses_parts(cmn_pairs, splits):
    assert set(splits) == {"train", "valid", "test"}
    assert collections.Counter(p for part in splits.values() for p in part) == collections.Counter(cmn_pairs)
    target = round(0.05 * len(cmn_pairs))
    assert target <= len(splits["test"]) < target + 30 and target <= len(splits["valid"]) < target + 30
    for key, side in ((en_key, 0), (zh_key, 1)):
        keys = {part: {key(pair[side]) for pair in pairs} for part, pairs in splits.items()}
        assert not keys["train"] & keys["test"]
        assert not keys["train"] & keys["valid"]
        assert not keys["valid"] & keys["test"]
    # within each part the corpus order is kept (some pairs occur twice once the script is unified)
    for pairs in splits.values():
        rest = iter(cmn_pairs)
        assert all(any(pair == other for other in rest) for pair in pairs)


def test_split_is_seeded(cmn_pairs, splits):
    assert d2l.split_cmn(cmn_pairs, seed=0) == splits
    assert d2l.split_cmn(cmn_pairs, seed=1)["test"] != splits["test"]


@bounded(60)
@given(st.lists(st.tuples(st.sampled_from(["Go.", "go .", "Hi.", "Run!", "Wait.", "Stop!", "No."]),
                          st.sampled_from(["走。", "走 。", "嗨。", "跑！", "等等。", "停！", "不。", "好。"])),
                min_size=1, max_size=40),
       st.integers(0, 5), st.sampled_from([0.0, 0.1, 0.3]), st.sampled_from([0.0, 0.2, 0.5]))
def test_split_keeps_chains_of_shared_sentences_together(pairs, seed, valid_frac, test_frac):
    parts = d2l.split_cmn(pairs, valid_frac=valid_frac, test_frac=test_frac, seed=seed)
    assert collections.Counter(p for part in parts.values() for p in part) == collections.Counter(pairs)
    part_of_en, part_of_zh = {}, {}
    for name, part in parts.items():
        for en, zh in part:
            assert part_of_en.setdefault(en_key(en), name) == name     # "Go." and "go ." are one sentence
            assert part_of_zh.setdefault(zh_key(zh), name) == name     # "走。" and "走 。" too


def test_split_rejects_bad_fractions():
    for valid_frac, test_frac in ((-0.1, 0.1), (0.5, 0.5), (0.1, -0.2)):
        with pytest.raises(ValueError, match="valid_frac"):
            d2l.split_cmn([("a", "甲")], valid_frac=valid_frac, test_frac=test_frac)


# ---------------------------------------------------------------------------------------------
# the tokenizer protocol: detokenize(tokenize(s)) == normalize(s) for every string

english_like = st.text(st.sampled_from(list("abcXYZ019 .,!?'’-()\t\n\u00a0éßİ")), max_size=40)
chinese_like = st.lists(st.sampled_from(list("我们汤姆在家里什么。，？！“”《》0123 ab\u3000\u200b▁") + ["Tom ", "Mary"]),
                        max_size=20).map("".join)
any_text = st.text(max_size=40)


@bounded(250)
@given(st.one_of(english_like, chinese_like, any_text))
def test_round_trip_for_every_tokenizer(tokenizers, text):
    for name, tokenizer in tokenizers.items():
        tokens = tokenizer.tokenize(text)
        assert all(isinstance(token, str) and token for token in tokens), (name, tokens)
        assert tokenizer.detokenize(tokens) == tokenizer.normalize(text), (name, text, tokens)
        assert tokenizer.normalize(tokenizer.normalize(text)) == tokenizer.normalize(text), name


def test_round_trip_on_every_held_out_sentence(tokenizers, splits):
    en = [en for en, _ in splits["test"]]
    zh = [zh for _, zh in splits["test"]]
    for name, tokenizer in tokenizers.items():
        for text in (en if name.startswith("word") or name == "bpe-en"
                     else zh if name in ("jieba", "bpe-zh") else en + zh):
            assert tokenizer.detokenize(tokenizer.tokenize(text)) == tokenizer.normalize(text), (name, text)


def test_every_tokenizer_implements_the_protocol(tokenizers):
    for tokenizer in tokenizers.values():
        assert isinstance(tokenizer, d2l.Tokenizer)
    assert not isinstance("a string", d2l.Tokenizer) and not isinstance(object(), d2l.Tokenizer)


def test_edge_cases_empty_whitespace_and_bad_types(tokenizers):
    for name, tokenizer in tokenizers.items():
        for empty in ("",) + (() if name == "char" else ("   ", "\t\n\u3000")) + \
                (() if name.startswith("word") or name == "char" else ("▁", " ▁ ")):
            assert tokenizer.tokenize(empty) == [], (name, empty)
        assert tokenizer.detokenize([]) == ""
        with pytest.raises(TypeError, match="str"):
            tokenizer.tokenize(None)
        with pytest.raises(TypeError, match="列表"):
            tokenizer.detokenize("abc")
        with pytest.raises(TypeError, match="列表"):
            tokenizer.detokenize(["a", 1])


def test_word_tokenizer_is_chapter_2_and_can_invert_the_punctuation_spacing():
    word = d2l.WordTokenizer(attach_punctuation=True)
    assert word.tokenize("I'm home, Tom!") == ["i'm", "home", ",", "tom", "!"]
    assert word.tokenize("Go.") == d2l.preprocess_nmt("Go.").split()
    assert word.detokenize(["i'm", "home", ",", "tom", "!"]) == "i'm home, tom!"
    assert word.detokenize(["what", "?", "!", "."]) == "what?!."
    assert word.normalize("  Hello ,  World . ") == "hello, world."
    # chapter 9's default keeps the corpus' spacing (the references of the French BLEU are written so)
    assert d2l.WordTokenizer().detokenize(["i'm", "home", ",", "tom", "!"]) == "i'm home , tom !"
    assert d2l.WordTokenizer().normalize("  Hello,  World. ") == "hello , world ."
    assert repr(word) == "WordTokenizer(attach_punctuation=True)"


def test_char_and_jieba_tokenizers():
    assert d2l.CharTokenizer().tokenize(" a  b ") == [" ", "a", " ", " ", "b", " "]  # chapter 9: exact inverse
    assert d2l.CharTokenizer().tokenize("汤姆。") == ["汤", "姆", "。"]
    assert d2l.JiebaTokenizer().tokenize("汤姆在家里。") == ["汤姆", "在", "家里", "。"]
    assert d2l.JiebaTokenizer().tokenize("Tom Jackson") == ["Tom", "▁", "Jackson"]


def test_unknown_characters_pass_through_and_become_unk_in_the_vocabulary(tokenizers):
    bpe = tokenizers["bpe-en"]
    text = "I like Привет 😀 ok"
    tokens = bpe.tokenize(text)
    strangers = [t for t in tokens if t not in set(bpe.symbols)]
    assert strangers == ["П", "р", "и", "в", "е", "т", "😀"]         # each unseen character on its own
    assert bpe.detokenize(tokens) == text
    vocab = d2l.Vocab(bpe.symbols, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    assert [vocab[t] for t in strangers] == [vocab.unk] * len(strangers)


# ---------------------------------------------------------------------------------------------
# BPE


def naive_bpe(word_freqs, num_merges, min_freq=1):
    """The textbook loop, independent of learn_bpe: recount every pair after each merge; ties go to the
    pair whose left (then right) symbol entered the vocabulary first (characters by code point, then
    merged symbols in the order they were made)."""
    words = {tuple(word): freq for word, freq in word_freqs.items()}
    order = {ch: i for i, ch in enumerate(sorted({ch for word in word_freqs for ch in word}))}
    merges = []
    while len(merges) < num_merges:
        counts = collections.Counter()
        for symbols, freq in words.items():
            for pair in zip(symbols, symbols[1:]):
                counts[pair] += freq
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], order[p[0]], order[p[1]]))
        if counts[best] < min_freq:
            break
        merges.append(best)
        order.setdefault(best[0] + best[1], len(order))
        merged = collections.Counter()
        for symbols, freq in words.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] += freq
        words = dict(merged)
    return merges


def apply_in_order(word, merges):
    symbols = list(word)
    for pair in merges:
        symbols = d2l.merge_pair(symbols, pair)
    return symbols


small_corpus = st.dictionaries(st.text(st.sampled_from("ab▁c"), min_size=1, max_size=10),
                               st.integers(1, 5), min_size=1, max_size=15)


@bounded(200)
@given(small_corpus)
def test_learn_bpe_equals_the_naive_textbook_loop(word_freqs):
    alphabet, merges = d2l.learn_bpe(word_freqs, num_merges=60, min_freq=1)
    assert alphabet == sorted({ch for word in word_freqs for ch in word})
    assert merges == naive_bpe(word_freqs, 60)
    assert d2l.learn_bpe(word_freqs, num_merges=60, min_freq=2)[1] == naive_bpe(word_freqs, 60, min_freq=2)


@bounded(150)
@given(small_corpus, st.lists(st.text(st.sampled_from("ab▁cd"), max_size=12), min_size=1, max_size=8))
def test_tokenizer_segments_like_applying_the_merges_in_order(word_freqs, words):
    alphabet, merges = d2l.learn_bpe(word_freqs, num_merges=30, min_freq=1)
    bpe = d2l.BPETokenizer(alphabet, merges)
    for word in list(words) + list(word_freqs):
        assert bpe._segment(word) == apply_in_order(word, merges)


def test_the_tie_rule_and_the_toy_example():
    assert d2l.learn_bpe({"ab": 1, "cd": 1}, num_merges=1, min_freq=1)[1] == [("a", "b")]
    assert d2l.learn_bpe({"ba": 1, "ab": 1}, num_merges=1, min_freq=1)[1] == [("a", "b")]
    # a merged symbol ranks after every character (not by its spelling: "ab" < "c" as strings)
    assert d2l.learn_bpe({"abc": 2, "cd": 2}, num_merges=3, min_freq=1)[1] == [("a", "b"), ("c", "d"), ("ab", "c")]
    toy = {"low": 5, "lower": 2, "newest": 6, "widest": 3}
    assert d2l.learn_bpe(toy, num_merges=6, min_freq=1)[1] == [
        ("e", "s"), ("es", "t"), ("l", "o"), ("lo", "w"), ("e", "w"), ("n", "ew")]


def test_learning_is_deterministic_whatever_the_order_and_the_hash_seed(splits):
    texts = list(dict.fromkeys(en for en, _ in splits["train"][:3000]))
    reference = d2l.BPETokenizer.learn(texts, num_merges=300).merges
    shuffled = texts[:]
    random.Random(1).shuffle(shuffled)
    assert d2l.BPETokenizer.learn(shuffled, num_merges=300).merges == reference
    # sets and dicts of strings iterate in a different order under another hash seed: run learn_bpe's own
    # source (without importing torch) in fresh interpreters and compare
    word_freqs = collections.Counter(w for text in texts for w in d2l.split_words(text))
    script = "\n".join(["import collections, heapq, json, sys"] +
                       [inspect.getsource(f) for f in (d2l.merge_pair, d2l.count_pairs, d2l.learn_bpe)] +
                       ["print(json.dumps(learn_bpe(json.load(sys.stdin), num_merges=300)[1]))"])
    for seed in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", script], input=json.dumps(word_freqs), capture_output=True,
                             text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert [tuple(m) for m in json.loads(run.stdout)] == reference


def test_num_merges_vocab_size_and_min_freq(splits):
    texts = list(dict.fromkeys(zh for _, zh in splits["train"][:2000]))
    by_size = d2l.BPETokenizer.learn(texts, vocab_size=1500, min_freq=1)
    assert len(by_size.symbols) == 1500 and by_size.symbols[: len(by_size.alphabet)] == tuple(by_size.alphabet)
    by_count = d2l.BPETokenizer.learn(texts, num_merges=len(by_size.merges), min_freq=1)
    assert by_count.merges == by_size.merges
    assert d2l.learn_bpe({"abc": 1, "abd": 1}, num_merges=10)[1] == [("a", "b")]    # min_freq=2 stops there
    assert d2l.learn_bpe({"ab": 1}, num_merges=10, min_freq=1)[1] == [("a", "b")]    # nothing left to merge
    assert d2l.learn_bpe({"ab": 1}, vocab_size=2)[1] == []
    with pytest.raises(ValueError, match="恰好给一个"):
        d2l.learn_bpe({"ab": 1})
    with pytest.raises(ValueError, match="恰好给一个"):
        d2l.learn_bpe({"ab": 1}, num_merges=1, vocab_size=3)
    with pytest.raises(ValueError, match="比字母表还小"):
        d2l.BPETokenizer.learn(["汤姆在家里。"], vocab_size=3)
    with pytest.raises(ValueError, match="非负整数"):
        d2l.learn_bpe({"ab": 1}, num_merges=-1)
    with pytest.raises(TypeError, match="列表"):
        d2l.BPETokenizer.learn("a single string", num_merges=5)


def test_truncated_is_what_learning_fewer_merges_gives(splits):
    texts = list(dict.fromkeys(en for en, _ in splits["train"][:3000]))
    many = d2l.BPETokenizer.learn(texts, num_merges=400)
    for k in (0, 1, 57, 200):
        assert many.truncated(k).merges == d2l.BPETokenizer.learn(texts, num_merges=k).merges
    assert many.truncated(0).tokenize("Hi there.") == \
        [d2l.SPACE_MARK if c == " " else c for c in d2l.CharTokenizer().tokenize("Hi there.")]


def test_space_marks_start_words_and_merges_never_cross_words(tokenizers):
    bpe = tokenizers["bpe-en"]
    assert d2l.split_words("Tom's 3 cats (and) don't...") == \
        ["Tom's", "▁3", "▁cats", "▁(", "and", ")", "▁don't", "..."]
    assert d2l.split_words("汤姆在家里，玛丽不在。") == ["汤姆在家里", "，", "玛丽不在", "。"]
    for symbol in bpe.symbols:
        assert " " not in symbol and "▁" not in symbol[1:], symbol
    assert bpe.tokenize("I am") == ["I", "▁am"]


@bounded(200)
@given(st.text(max_size=40))
def test_split_words_covers_the_normalized_text(text):
    normalized = d2l.BPETokenizer([], []).normalize(text)
    words = d2l.split_words(normalized)
    assert "".join(words).replace("▁", " ") == normalized
    assert all(word and " " not in word and "▁" not in word[1:] for word in words)


def test_merges_equal_huggingface_tokenizers_on_the_training_split(splits):
    """The from-scratch BPE against Hugging Face ``tokenizers`` (a test-only dependency): its BpeTrainer,
    fed the same words (``split_words`` joined by spaces, split again by ``WhitespaceSplit``), learns
    exactly the same merges, in the same order, and cuts the held-out sentences the same way.

    They agree because the algorithm and the tie rule are the same: pairs are counted once per
    occurrence, merged left to right without overlap, and a tie goes to the pair with the smaller ids,
    where ids are the characters by code point and then the merged symbols in the order they were made.
    Two conventions differ and are set here: ``tokenizers`` counts its special tokens in ``vocab_size``
    (there are none here) and its ``min_frequency`` defaults to 0 (``learn_bpe``'s ``min_freq`` to 2).
    """
    pytest.importorskip("tokenizers", reason="test dependency: pip install tokenizers")
    for side in (0, 1):
        texts = list(dict.fromkeys(pair[side] for pair in splits["train"]))
        ours = d2l.BPETokenizer.learn(texts, num_merges=2000)
        lines = [" ".join(d2l.split_words(ours.normalize(text))) for text in texts]
        theirs = _huggingface_bpe(lines, len(ours.alphabet) + 2000, min_frequency=2)
        assert _huggingface_merges(theirs) == ours.merges
        for text in (pair[side] for pair in splits["test"]):
            words = d2l.split_words(ours.normalize(text))
            if all(ch in ours.alphabet for word in words for ch in word):
                assert theirs.encode(" ".join(words)).tokens == ours.tokenize(text), text


@bounded(120)
@given(st.lists(st.text(st.sampled_from("ab▁c"), min_size=1, max_size=12), min_size=1, max_size=25))
def test_merges_equal_huggingface_tokenizers_on_random_corpora(words):
    """Random small corpora, merged until every word is one symbol: same merges as ``tokenizers``
    (including the corner cases: a string made by two different pairs, runs like ``a a a``)."""
    pytest.importorskip("tokenizers", reason="test dependency: pip install tokenizers")
    alphabet, merges = d2l.learn_bpe(collections.Counter(words), num_merges=10_000, min_freq=1)
    theirs = _huggingface_bpe(words, len(alphabet) + 10_000, min_frequency=1)
    assert _huggingface_merges(theirs) == merges


def _huggingface_bpe(lines, vocab_size, min_frequency):
    """``tokenizers``' BPE trained on `lines`, each a sequence of words separated by spaces."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False)
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def _huggingface_merges(tokenizer):
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    # newer versions store [left, right], older ones "left right"
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]


def test_save_load_and_state_dict(tmp_path, tokenizers, splits):
    bpe = tokenizers["bpe-mixed-lower"]
    path = tmp_path / "bpe.json"
    path.write_text("an older file that save() replaces", encoding="utf-8")
    bpe.save(path)
    assert not (tmp_path / "bpe.json.part").exists()
    again = d2l.BPETokenizer.load(path)
    assert (again.alphabet, again.merges, again.lowercase, again.symbols) == \
        (bpe.alphabet, bpe.merges, bpe.lowercase, bpe.symbols)
    for en, zh in splits["test"][:300]:
        assert again.tokenize(en) == bpe.tokenize(en) and again.tokenize(zh) == bpe.tokenize(zh)
    state = bpe.state_dict()
    assert json.loads(json.dumps(state)) == state
    assert d2l.BPETokenizer.from_state_dict(state).merges == bpe.merges


def test_bad_states_and_files_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="BPETokenizer.state_dict"):
        d2l.BPETokenizer.from_state_dict({"kind": "something else"})
    with pytest.raises(ValueError, match="已有子词"):
        d2l.BPETokenizer(["a", "b"], [("ab", "a")])              # 'ab' does not exist yet
    with pytest.raises(ValueError, match="单个字符"):
        d2l.BPETokenizer(["ab"], [])
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="save"):
        d2l.BPETokenizer.load(tmp_path / "broken.json")
    with pytest.raises(ValueError, match="save"):
        d2l.BPETokenizer.load(tmp_path / "missing.json")
