"""Tests of chapter 3's code (d2l_local, generated from notebooks/03_minibatches_and_splits.ipynb):
truncation, padding and valid lengths, the minibatch loaders, the held-out split and the date task.

The real corpus is used only when D2L_DATA_DIR or the cache already holds it (tests never download),
and it is read at most once per module.
"""
import collections
import datetime
import re

import pytest
import torch

import d2l_local as d2l
from chapter_support import needs_corpus

RESERVED = ["<pad>", "<bos>", "<eos>"]


def test_truncate_pad():
    line = [5, 6, 7]
    assert d2l.truncate_pad(line, 5, 0) == [5, 6, 7, 0, 0]
    assert d2l.truncate_pad(line, 2, 0) == [5, 6]
    assert d2l.truncate_pad(line, 3, 0) == [5, 6, 7]
    assert line == [5, 6, 7]
    out = d2l.truncate_pad(line, 3, 0)
    out.append(8)
    assert line == [5, 6, 7]  # a new list, even when no change was needed
    assert d2l.truncate_pad(("a",), 2, "<pad>") == ["a", "<pad>"]


def test_truncate_pad_wants_an_integer_length():
    with pytest.raises(TypeError, match="num_steps=4"):
        d2l.truncate_pad([1, 2], 3.5, 0)
    with pytest.raises(ValueError, match="不小于 0"):
        d2l.truncate_pad([1, 2], -1, 0)
    assert d2l.truncate_pad([1, 2], 0, 0) == []


def test_build_array_nmt():
    lines = [["go", "."], ["i", "lost", "it", "all", "."], []]
    vocab = d2l.Vocab(lines, reserved_tokens=RESERVED)
    array, valid_len = d2l.build_array_nmt(lines, vocab, num_steps=4)
    assert array.shape == (3, 4) and array.dtype == torch.int64
    assert valid_len.shape == (3,) and valid_len.dtype == torch.int64
    assert valid_len.tolist() == [3, 4, 1]
    eos, pad = vocab["<eos>"], vocab["<pad>"]
    assert array[0].tolist() == vocab[["go", "."]] + [eos, pad]
    assert array[1].tolist() == vocab[["i", "lost", "it", "all"]]  # truncated: no <eos>
    assert array[2].tolist() == [eos, pad, pad, pad]
    empty, empty_len = d2l.build_array_nmt([], vocab, 4)
    assert empty.shape == (0, 4) and empty_len.shape == (0,)
    with pytest.raises(ValueError, match="<pad>.*reserved_tokens"):
        d2l.build_array_nmt(lines, d2l.Vocab(lines), 4)
    with pytest.raises(TypeError, match=r"split\(\)"):
        d2l.build_array_nmt(["go ."], vocab, 4)
    for bad in (3.5, "8", True):
        with pytest.raises(TypeError, match="num_steps"):
            d2l.build_array_nmt(lines, vocab, bad)
    with pytest.raises(ValueError, match="不小于 1"):
        d2l.build_array_nmt(lines, vocab, 0)


@pytest.mark.parametrize("literal", ["<pad>", "<eos>", "<bos>", "<unk>"])
def test_valid_length_is_the_sentence_length_even_with_a_literal_special_token(literal):
    """A literal <pad> used to shorten the valid length by one and push <eos> out of the loss."""
    lines = [["type", literal, "here", "."], [literal], ["go", "."]]
    vocab = d2l.Vocab(lines, reserved_tokens=RESERVED)
    array, valid_len = d2l.build_array_nmt(lines, vocab, num_steps=6)
    assert valid_len.tolist() == [5, 2, 3]
    eos = vocab["<eos>"]
    for row, length, line in zip(array.tolist(), valid_len.tolist(), lines):
        assert row[length - 1] == eos and row[:length - 1] == vocab[line]  # <eos> is the last valid token
    # training and prediction agree on the sentence: chapter 9 encodes a source the same way
    for line, row, length in zip(lines, array, valid_len):
        X, lens, _ = d2l.prepare_source(" ".join(line), vocab, 6, torch.device("cpu"))
        assert X[0].tolist() == row.tolist() and lens.tolist() == [int(length)]
    # and the masked loss sees the final <eos> of the first sentence
    mask = d2l.sequence_mask(torch.ones(array.shape), valid_len)
    assert mask[0, 4] == 1 and array[0, 4] == eos


def test_load_array_checks_its_arguments():
    x = torch.arange(10)
    with pytest.raises(TypeError, match=r"\(X,\)"):
        d2l.load_array(x, 4)
    with pytest.raises(ValueError, match=r"\[10, 9\]"):
        d2l.load_array((x, x[:9]), 4)
    with pytest.raises(ValueError, match="0 个样本"):
        d2l.load_array((x[:0], x[:0]), 4)
    for bad, error in ((0, ValueError), (2.5, TypeError), ("4", TypeError)):
        with pytest.raises(error, match="batch_size"):
            d2l.load_array((x,), bad)


def test_load_array():
    x = torch.arange(10)
    y = torch.arange(10) * 2
    batches = list(d2l.load_array((x, y), 4, is_train=False))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert torch.equal(batches[0][0], torch.arange(4))
    torch.manual_seed(0)
    shuffled = torch.cat([b[0] for b in d2l.load_array((x, y), 4)])
    assert sorted(shuffled.tolist()) == list(range(10))
    assert shuffled.tolist() != list(range(10))


# ---------------------------------------------------------------- the real corpus

@needs_corpus
def test_load_data_nmt():
    data_iter, src_vocab, tgt_vocab = d2l.load_data_nmt(batch_size=2, num_steps=8)
    assert len(data_iter.dataset) == 600
    for vocab in (src_vocab, tgt_vocab):
        assert vocab.idx_to_token[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
        assert all(freq >= 2 for token, freq in vocab.token_freqs if token in vocab.token_to_idx)
    X, X_valid_len, Y, Y_valid_len = next(iter(data_iter))
    assert X.shape == Y.shape == (2, 8)
    assert X_valid_len.shape == Y_valid_len.shape == (2,)
    for t in (X, X_valid_len, Y, Y_valid_len):
        assert t.dtype == torch.int64
    assert torch.equal(X_valid_len, (X != 0).sum(1))


@needs_corpus
def test_split_real_corpus(corpus):
    source, target = corpus
    splits = d2l.split_nmt(source, target)
    sentences = {part: {" ".join(s) for s in src} for part, (src, _) in splits.items()}
    assert not sentences["train"] & sentences["valid"]
    assert not sentences["train"] & sentences["test"]
    assert not sentences["valid"] & sentences["test"]
    assert sum(len(src) for src, _ in splits.values()) == len(source)
    total = sum(len(s) for s in sentences.values())
    for part in ("valid", "test"):
        assert abs(len(sentences[part]) / total - 0.05) < 0.002


@needs_corpus
def test_load_data_nmt_split():
    train_iter, src_vocab, tgt_vocab, splits = d2l.load_data_nmt_split(
        32, 10, max_tokens=8, num_train=5000)
    assert len(splits["train"][0]) == len(train_iter.dataset) == 5000
    for src, tgt in splits.values():
        assert all(len(s) <= 8 for s in src) and all(len(t) <= 8 for t in tgt)
    train_words = {token for sentence in splits["train"][0] for token in sentence}
    assert set(src_vocab.idx_to_token[4:]) <= train_words  # vocab from training data only
    X, X_valid_len, Y, Y_valid_len = next(iter(train_iter))
    assert X.shape == Y.shape == (32, 10) and X_valid_len.shape == (32,)
    test_sentences = {" ".join(s) for s in splits["test"][0]}
    assert not test_sentences & {" ".join(s) for s in splits["train"][0]}


# ---------------------------------------------------------------- split_nmt on small data

def _toy_pairs():
    source, target = [], []
    for i in range(400):
        for j in range(1 + i % 3):  # 1 to 3 translations per English sentence
            source.append(f"sentence {i} .".split())
            target.append(f"phrase {i} {j} .".split())
    return source, target


def test_split_nmt_groups_and_determinism():
    source, target = _toy_pairs()
    splits = d2l.split_nmt(source, target, valid_frac=0.1, test_frac=0.2, seed=3)
    assert set(splits) == {"train", "valid", "test"}
    owner = {}
    for part, (src, tgt) in splits.items():
        assert len(src) == len(tgt)
        for s, t in zip(src, tgt):
            assert t[1] == s[1]  # pairs stay together
            assert owner.setdefault(" ".join(s), part) == part  # one part per sentence
    counts = collections.Counter(owner.values())
    assert (counts["test"], counts["valid"], counts["train"]) == (80, 40, 280)
    # all pairs of a sentence are present and keep corpus order
    for src, tgt in splits.values():
        order = [(int(s[1]), int(t[2])) for s, t in zip(src, tgt)]
        assert order == sorted(order)
    assert splits == d2l.split_nmt(source, target, valid_frac=0.1, test_frac=0.2, seed=3)
    other = d2l.split_nmt(source, target, valid_frac=0.1, test_frac=0.2, seed=4)
    assert other["test"] != splits["test"]


def test_split_nmt_bad_arguments():
    source, target = _toy_pairs()
    with pytest.raises(ValueError, match="同一次 tokenize_nmt"):
        d2l.split_nmt(source, target[:-1])
    with pytest.raises(ValueError, match="两者之和小于 1"):
        d2l.split_nmt(source, target, valid_frac=0.5, test_frac=0.5)
    with pytest.raises(ValueError):
        d2l.split_nmt(source, target, valid_frac=-0.1)
    with pytest.raises(ValueError):
        d2l.split_nmt(source, target, valid_frac=float("nan"))
    with pytest.raises(TypeError, match="valid_frac=0.05"):
        d2l.split_nmt(source, target, valid_frac="0.1")


# ---------------------------------------------------------------- the date task

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ZH = "〇一二三四五六七八九"


def parse_zh_number(text):
    if "十" not in text:
        return ZH.index(text)
    tens, _, ones = text.partition("十")
    return (ZH.index(tens) if tens else 1) * 10 + (ZH.index(ones) if ones else 0)


def parse_source(source):
    """Independent parser of every format; returns (date, weekday name or None)."""
    m = re.fullmatch(r"([〇一二三四五六七八九]{4})年(\w+)月(\w+)日", source)
    if m:
        year = int("".join(str(ZH.index(c)) for c in m[1]))
        return datetime.date(year, parse_zh_number(m[2]), parse_zh_number(m[3])), None
    m = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", source)
    if m:
        return datetime.date(int(m[1]), int(m[2]), int(m[3])), None
    m = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})", source)
    if m:
        return datetime.date(int(m[3]), int(m[2]), int(m[1])), None
    m = re.fullmatch(r"(\d{1,2}) ([A-Z][a-z]+) (\d{4})", source)
    if m:
        return datetime.date(int(m[3]), MONTHS.index(m[2]) + 1, int(m[1])), None
    m = re.fullmatch(r"(?:([A-Z][a-z]+day), )?([A-Z][a-z]+) (\d{1,2}), (\d{4})", source)
    if m:
        month = [name for name in MONTHS if name == m[2] or name[:3] == m[2]]
        assert len(month) == 1, source
        return datetime.date(int(m[4]), MONTHS.index(month[0]) + 1, int(m[3])), m[1]
    raise AssertionError(f"unknown format: {source!r}")


def test_date_pairs_are_correct():
    pairs = d2l.make_date_pairs(3000, seed=1)
    assert len(pairs) == 3000
    assert len({src for src, _ in pairs}) == 3000  # unique sources
    weekday_seen = 0
    for source, target in pairs:
        day = datetime.date.fromisoformat(target)
        assert target == day.isoformat() and len(target) == 10
        assert datetime.date(1950, 1, 1) <= day <= datetime.date(2049, 12, 31)
        parsed, weekday = parse_source(source)
        assert parsed == day, (source, target)
        if weekday is not None:
            weekday_seen += 1
            assert weekday == WEEKDAYS[day.weekday()], source
    assert weekday_seen > 100
    # every format occurs
    assert len({re.sub(r"\d|[〇一二三四五六七八九十]", "", s)[:3] for s, _ in pairs}) >= 7


def test_date_examples():
    day = datetime.date(2026, 11, 25)
    assert [d2l.format_date(day, f) for f in d2l.DATE_FORMATS] == [
        "二〇二六年十一月二十五日", "2026年11月25日", "Nov 25, 2026", "November 25, 2026",
        "25 November 2026", "Wednesday, November 25, 2026", "25.11.2026"]
    assert d2l.format_date(datetime.date(1950, 1, 10), "zh_numerals") == "一九五〇年一月十日"
    assert d2l.format_date(datetime.date(2049, 12, 31), "zh_numerals") == "二〇四九年十二月三十一日"


def test_date_determinism_and_held_out_dates():
    assert d2l.make_date_pairs(500, seed=7) == d2l.make_date_pairs(500, seed=7)
    assert d2l.make_date_pairs(500, seed=7) != d2l.make_date_pairs(500, seed=8)
    test_pairs = d2l.make_date_pairs(2000, seed=0, split="test")
    test_dates = {tgt for _, tgt in test_pairs}
    for seed in (0, 1, 2):
        train_dates = {tgt for _, tgt in d2l.make_date_pairs(20000, seed=seed)}
        assert not train_dates & test_dates
    for _, target in test_pairs[:50]:
        assert d2l.date_split(datetime.date.fromisoformat(target)) == "test"
    # about 10% of all dates are test dates
    days = [datetime.date(1950, 1, 1) + datetime.timedelta(i) for i in range(36525)]
    share = sum(d2l.date_split(day) == "test" for day in days) / len(days)
    assert 0.08 < share < 0.12


def test_date_bad_arguments():
    with pytest.raises(TypeError, match=r"fromisoformat\('2026-11-25'\)"):
        d2l.format_date("2026-11-25", "dotted")
    with pytest.raises(TypeError, match=r"datetime\.date\(2026, 11, 25\)"):
        d2l.date_split(20261125)
    with pytest.raises(TypeError, match="num_examples=2"):
        d2l.load_data_dates(8, num_examples=2.5)
    with pytest.raises(TypeError, match="num_steps"):
        d2l.load_data_dates(8, num_examples=10, num_steps=20.0)
    with pytest.raises(ValueError, match="batch_size"):
        d2l.load_data_dates(0, num_examples=10)
    with pytest.raises(ValueError, match="split"):
        d2l.make_date_pairs(10, split="valid")
    with pytest.raises(ValueError, match="不同的日期句对"):
        d2l.make_date_pairs(10 ** 6, split="test")
    with pytest.raises(ValueError):
        d2l.make_date_pairs(-1)
    with pytest.raises(ValueError):
        d2l.load_data_dates(8, num_examples=0)
    with pytest.raises(ValueError):
        d2l.format_date(datetime.date(2000, 1, 1), "us_slashes")


def test_load_data_dates():
    data_iter, src_vocab, tgt_vocab = d2l.load_data_dates(16, num_examples=500, seed=0)
    assert len(data_iter.dataset) == 500
    for vocab in (src_vocab, tgt_vocab):
        assert vocab.idx_to_token[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert set(tgt_vocab.idx_to_token[4:]) == set("0123456789-")
    X, X_valid_len, Y, Y_valid_len = next(iter(data_iter))
    sources = [src for src, _ in d2l.make_date_pairs(500, seed=0)]
    num_steps = max(len(s) for s in sources) + 1
    assert X.shape == Y.shape == (16, num_steps)
    assert X_valid_len.shape == Y_valid_len.shape == (16,)
    assert (Y_valid_len == 11).all()  # 10 characters + <eos>
    for row, length in zip(X, X_valid_len):
        text = "".join(src_vocab.to_tokens(row[:length - 1]))
        assert text in sources
    fixed_iter, _, _ = d2l.load_data_dates(4, num_examples=20, num_steps=40)
    assert next(iter(fixed_iter))[0].shape == (4, 40)


def test_load_array_batches_equal_a_plain_shuffled_dataloader():
    """load_array slices whole batches at once; the order must be exactly DataLoader(shuffle=True)'s."""
    X, y = torch.arange(200).reshape(100, 2), torch.arange(100)
    fast = d2l.load_array((X, y), 16)
    plain = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), 16, shuffle=True)
    for seed in range(3):
        torch.manual_seed(seed)
        ours = [[t.tolist() for t in batch] for batch in fast]
        torch.manual_seed(seed)
        theirs = [[t.tolist() for t in batch] for batch in plain]
        assert ours == theirs
    assert len(fast) == 7
    in_order = d2l.load_array((X, y), 16, is_train=False)
    assert torch.equal(torch.cat([b[1] for b in in_order]), y)


# ---------------------------------------------------------------- the loaders check their arguments first

@pytest.fixture
def no_corpus(monkeypatch, tmp_path):
    """Reading the corpus fails loudly: an argument check must come before it."""
    def unreachable():
        raise AssertionError("the corpus was read before the arguments were checked")
    monkeypatch.setattr(d2l, "read_data_nmt", unreachable)


@pytest.mark.parametrize("call, error, says", [
    (lambda: d2l.load_data_nmt(2, 8, num_examples=0), ValueError, "num_examples 应是不小于 1"),
    (lambda: d2l.load_data_nmt(0, 8), ValueError, "batch_size"),
    (lambda: d2l.load_data_nmt(2, 3.5), TypeError, "num_steps=4"),
    (lambda: d2l.load_data_nmt(2, 8, num_examples=600.0), TypeError, "num_examples=600"),
    (lambda: d2l.load_data_nmt_split(2, 5, num_train=2.5), TypeError, "num_train=2"),
    (lambda: d2l.load_data_nmt_split(2, 5, num_train=0), ValueError, "num_train"),
    (lambda: d2l.load_data_nmt_split(2, 5, max_tokens=0), ValueError, "max_tokens"),
    (lambda: d2l.load_data_nmt_split(2, 5.0), TypeError, "num_steps=5"),
])
def test_loaders_reject_bad_sizes_before_reading_the_corpus(no_corpus, call, error, says):
    with pytest.raises(error, match=says):
        call()


def test_max_tokens_that_filters_everything_says_so(tmp_path, monkeypatch):
    (tmp_path / "fra-eng").mkdir()
    (tmp_path / "fra-eng" / "fra.txt").write_text("Go now.\tVa !\nHi there.\tSalut !\n", encoding="utf-8")
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="请调大 max_tokens"):
        d2l.load_data_nmt_split(2, 5, max_tokens=1)
    with pytest.raises(ValueError, match="训练部分是空的"):
        d2l.load_data_nmt_split(2, 5, valid_frac=0.5, test_frac=0.49)
