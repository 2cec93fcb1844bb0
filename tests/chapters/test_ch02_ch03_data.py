"""Tests of chapter 2's data code (d2l_local, generated from notebooks/02_machine_translation_data.ipynb).

No test touches the network: downloads go to a local HTTP server on 127.0.0.1, and "no network"
is a closed local port. The real corpus is used only when D2L_DATA_DIR or the cache already holds
it, and it is read at most once per module.
"""
import collections
import datetime
import functools
import hashlib
import http.server
import io
import os
import re
import socket
import threading
import zipfile
from pathlib import Path

import pytest
import torch

import d2l_local as d2l

RESERVED = ["<pad>", "<bos>", "<eos>"]
SAMPLE = "Go.\tVa !\nHi.\tSalut !\nRun!\tCours\u202f!\n"


# ---------------------------------------------------------------- helpers

def make_zip(members):
    """Bytes of a zip holding {name: text}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def sha1(data):
    return hashlib.sha1(data).hexdigest()


@pytest.fixture
def http_server(tmp_path):
    """Serve the files of a folder on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def closed_url():
    """A URL on 127.0.0.1 where nothing listens (connecting is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fra-eng.zip"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Empty cache and data folders, set through the environment."""
    cache, data = tmp_path / "cache", tmp_path / "data"
    monkeypatch.setenv("D2L_CACHE_DIR", str(cache))
    monkeypatch.setenv("D2L_DATA_DIR", str(data))
    return cache, data


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*"))


# ---------------------------------------------------------------- locating and downloading

def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("D2L_CACHE_DIR", str(tmp_path))
    assert d2l.cache_dir() == tmp_path
    monkeypatch.delenv("D2L_CACHE_DIR")
    repo = Path(d2l.__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        assert d2l.cache_dir() == repo / "data"
    else:
        assert d2l.cache_dir() == Path.home() / ".cache" / "d2l_local"


def test_download_extract_read(http_server, dirs):
    root, base = http_server
    cache, _ = dirs
    payload = make_zip({"fra-eng/fra.txt": SAMPLE, "fra-eng/_about.txt": "about"})
    (root / "fra-eng.zip").write_bytes(payload)
    path = d2l.find_fra_eng(f"{base}/fra-eng.zip", sha1(payload))
    assert path == cache / "fra-eng" / "fra.txt"
    assert path.read_text(encoding="utf-8") == SAMPLE
    assert (cache / "fra-eng.zip").read_bytes() == payload
    assert not list(cache.rglob("*.part"))
    # read_data_nmt uses the real URL, but finds the extracted file first: no download
    assert d2l.read_data_nmt() == SAMPLE


def test_download_skips_good_existing_file(http_server, tmp_path):
    _, base = http_server  # serves nothing: a download attempt would fail with 404
    payload = b"already here"
    (tmp_path / "x.zip").write_bytes(payload)
    assert d2l.download(f"{base}/x.zip", sha1(payload), tmp_path) == tmp_path / "x.zip"


def test_wrong_checksum(http_server, tmp_path):
    root, base = http_server
    (root / "fra-eng.zip").write_bytes(b"corrupted bytes")
    folder = tmp_path / "cache"
    with pytest.raises(d2l.DataError, match="checksum") as info:
        d2l.download(f"{base}/fra-eng.zip", "0" * 40, folder)
    message = str(info.value)
    assert "0" * 40 in message and sha1(b"corrupted bytes") in message and "删除" in message
    assert files_under(folder) == []  # neither the .part file nor a bad fra-eng.zip


def test_wrong_checksum_keeps_good_file(http_server, tmp_path):
    root, base = http_server
    folder = tmp_path / "cache"
    folder.mkdir()
    good = make_zip({"fra-eng/fra.txt": SAMPLE})
    (folder / "fra-eng.zip").write_bytes(good)
    (root / "fra-eng.zip").write_bytes(b"something else")
    # The expected sha1 matches neither file: the local file is not used, a download is
    # tried, and the bad download must not replace (or delete) what was there.
    with pytest.raises(d2l.DataError, match="checksum"):
        d2l.download(f"{base}/fra-eng.zip", "1" * 40, folder)
    assert (folder / "fra-eng.zip").read_bytes() == good
    assert files_under(folder) == ["fra-eng.zip"]


def test_no_network_names_three_ways(dirs, closed_url):
    cache, data = dirs
    with pytest.raises(d2l.DataError) as info:
        d2l.find_fra_eng(closed_url, "0" * 40)
    message = str(info.value)
    assert "(1)" in message and "D2L_DATA_DIR" in message and "fra-eng/fra.txt" in message
    assert "(2)" in message and str(cache) in message
    assert "(3)" in message and "网络" in message
    # D2L_DATA_DIR is set but lacks the file: the error says so
    assert str(data) in message
    assert not list(cache.rglob("*.part"))


def test_download_no_network(tmp_path, closed_url):
    with pytest.raises(d2l.DataError, match="D2L_DATA_DIR"):
        d2l.download(closed_url, "0" * 40, tmp_path)
    assert files_under(tmp_path) == []


def test_bad_existing_zip_offline(dirs, closed_url):
    cache, _ = dirs
    cache.mkdir()
    stale = make_zip({"fra-eng/fra.txt": SAMPLE})  # a zip, but not the one with this sha1
    (cache / "fra-eng.zip").write_bytes(stale)
    with pytest.raises(d2l.DataError) as info:
        d2l.find_fra_eng(closed_url, "0" * 40)
    assert str(cache / "fra-eng.zip") in str(info.value)  # says the local zip was not used
    assert (cache / "fra-eng.zip").read_bytes() == stale
    assert not (cache / "fra-eng" / "fra.txt").exists()


@pytest.mark.parametrize("bad_name", ["../evil.txt", "/tmp/evil_absolute.txt",
                                      "fra-eng/../../evil.txt"])
def test_extract_refuses_escaping_members(tmp_path, bad_name):
    zip_path = tmp_path / "bad.zip"
    # the good member comes first: nothing at all may be extracted
    zip_path.write_bytes(make_zip({"fra-eng/fra.txt": SAMPLE, bad_name: "evil"}))
    target = tmp_path / "out"
    with pytest.raises(d2l.DataError, match=re.escape(repr(bad_name))):
        d2l.extract_zip(zip_path, target)
    assert files_under(target) == []
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/evil_absolute.txt").exists()


def test_extract_refuses_symlink_member(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("fra-eng")
        link.external_attr = (0o120777 << 16)  # a symbolic link ...
        archive.writestr(link, str(tmp_path / "elsewhere"))  # ... pointing outside
        archive.writestr("fra-eng/fra.txt", SAMPLE)
    (tmp_path / "link.zip").write_bytes(buffer.getvalue())
    with pytest.raises(d2l.DataError, match="fra-eng"):
        d2l.extract_zip(tmp_path / "link.zip", tmp_path / "out")
    assert files_under(tmp_path / "out") == []


def test_extract_refuses_existing_symlink_dir(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "out"
    target.mkdir()
    (target / "fra-eng").symlink_to(outside, target_is_directory=True)
    (tmp_path / "ok.zip").write_bytes(make_zip({"fra-eng/fra.txt": SAMPLE}))
    with pytest.raises(d2l.DataError):
        d2l.extract_zip(tmp_path / "ok.zip", target)
    assert files_under(outside) == []


def test_extract_bad_zip(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(d2l.DataError, match="zip"):
        d2l.extract_zip(tmp_path / "broken.zip", tmp_path / "out")


def test_data_dir_wins_over_cache(dirs, closed_url):
    cache, data = dirs
    for folder, text in ((cache, "a\tb\n"), (data, "c\td\n")):
        (folder / "fra-eng").mkdir(parents=True)
        (folder / "fra-eng" / "fra.txt").write_text(text, encoding="utf-8")
    assert d2l.find_fra_eng(closed_url, "0" * 40) == data / "fra-eng" / "fra.txt"


def test_cache_used_when_data_dir_lacks_file(dirs, closed_url):
    cache, data = dirs
    data.mkdir()  # exists, but holds no fra-eng/fra.txt
    (cache / "fra-eng").mkdir(parents=True)
    (cache / "fra-eng" / "fra.txt").write_text("a\tb\n", encoding="utf-8")
    # closed_url proves no download is attempted (it would raise DataError)
    assert d2l.find_fra_eng(closed_url, "0" * 40) == cache / "fra-eng" / "fra.txt"


# ---------------------------------------------------------------- text processing

def test_preprocess():
    assert d2l.preprocess_nmt("Cours\u202f!") == "cours !"
    assert d2l.preprocess_nmt("Ça\xa0alors\u202f!") == "ça alors !"
    assert d2l.preprocess_nmt("Hi, Tom. Go!Now?") == "hi , tom . go !now ?"
    assert d2l.preprocess_nmt("Wait ...") == "wait . . ."
    assert d2l.preprocess_nmt("No change !") == "no change !"
    assert d2l.preprocess_nmt("Go.\tVa !\nHi.\tSalut !") == "go .\tva !\nhi .\tsalut !"
    assert d2l.preprocess_nmt(".") == "."


def test_tokenize_counts_and_skips_empty_lines():
    text = "\n".join(f"s{i} .\tt{i} ." for i in range(1000)) + "\n\n"
    source, target = d2l.tokenize_nmt(text, num_examples=600)
    assert len(source) == len(target) == 600  # d2l's loop gives 601 here
    assert source[0] == ["s0", "."] and target[599] == ["t599", "."]
    assert len(d2l.tokenize_nmt(text)[0]) == 1000
    assert len(d2l.tokenize_nmt(text, 5000)[0]) == 1000
    assert d2l.tokenize_nmt(text, 0) == ([], [])
    assert d2l.tokenize_nmt("a  b\tc\n\n\nd\te\n") == ([["a", "b"], ["d"]], [["c"], ["e"]])


@pytest.mark.parametrize("bad_line", ["no tab here", "one\ttwo\tthree", "english only\t"])
def test_tokenize_bad_line(bad_line):
    text = f"a\tb\nc\td\n{bad_line}\ne\tf\n"
    with pytest.raises(d2l.DataError, match="第 3 行"):
        d2l.tokenize_nmt(text)


def test_tokenize_restores_gc_state():
    import gc
    assert gc.isenabled()
    d2l.tokenize_nmt("a\tb\n")
    assert gc.isenabled()
    with pytest.raises(d2l.DataError):
        d2l.tokenize_nmt("no tab\n")
    assert gc.isenabled()
    gc.disable()
    try:
        d2l.tokenize_nmt("a\tb\n")
        assert not gc.isenabled()  # a caller's choice is respected
    finally:
        gc.enable()


def test_tokenize_bad_argument():
    with pytest.raises(ValueError):
        d2l.tokenize_nmt("a\tb\n", num_examples=-1)


def test_vocab_order_unk_min_freq():
    tokens = [["b", "a", "c"], ["a", "b", "d"], ["a", "e"]]
    vocab = d2l.Vocab(tokens, min_freq=2, reserved_tokens=RESERVED)
    # reserved, then <unk>, then by frequency (a:3, b:2), c/d/e dropped (freq 1)
    assert vocab.idx_to_token == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b"]
    assert len(vocab) == 6
    assert (vocab["<pad>"], vocab["<bos>"], vocab["<eos>"], vocab.unk) == (0, 1, 2, 3)
    assert vocab["c"] == vocab["never seen"] == 3
    assert vocab[["a", "zzz", "b"]] == [4, 3, 5]
    assert vocab[("a", "b")] == [4, 5]
    assert vocab.token_to_idx["b"] == 5
    assert vocab.token_freqs[:2] == [("a", 3), ("b", 2)]
    assert vocab.to_tokens([4, 5, 0]) == ["a", "b", "<pad>"]
    assert vocab.to_tokens(torch.tensor([5, 4])) == ["b", "a"]
    assert vocab.to_tokens(4) == "a"
    with pytest.raises(IndexError):
        vocab.to_tokens(len(vocab))


def test_vocab_ties_flat_and_defaults():
    # ties are broken alphabetically, independent of the corpus order
    one = d2l.Vocab(["z", "y", "x", "y"])
    two = d2l.Vocab(["x", "y", "z", "y"])
    assert one.idx_to_token == two.idx_to_token == ["<unk>", "y", "x", "z"]
    assert one.unk == 0
    empty = d2l.Vocab()
    assert len(empty) == 1 and empty["anything"] == 0
    reserved_unk = d2l.Vocab(["a"], reserved_tokens=["<unk>", "<pad>"])
    assert reserved_unk.idx_to_token == ["<unk>", "<pad>", "a"]


def test_vocab_round_trip():
    sentences = [s.split() for s in ["go .", "i lost .", "he's calm .", "go now ."]]
    vocab = d2l.Vocab(sentences, reserved_tokens=RESERVED)
    for sentence in sentences:
        assert vocab.to_tokens(vocab[sentence]) == sentence


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
    with pytest.raises(ValueError, match="<pad>"):
        d2l.build_array_nmt(lines, d2l.Vocab(lines), 4)


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

def _real_corpus_available():
    data_dir = os.environ.get("D2L_DATA_DIR")
    if data_dir and (Path(data_dir) / "fra-eng" / "fra.txt").is_file():
        return True
    return (d2l.cache_dir() / "fra-eng" / "fra.txt").is_file()


needs_corpus = pytest.mark.skipif(
    not _real_corpus_available(),
    reason="fra-eng/fra.txt is neither in $D2L_DATA_DIR nor in the cache (tests never download)")


@pytest.fixture(scope="module")
def corpus():
    """The whole corpus, preprocessed and tokenized, read once for this module."""
    return d2l.tokenize_nmt(d2l.preprocess_nmt(d2l.read_data_nmt()))


@needs_corpus
def test_corpus_shape(corpus):
    source, target = corpus
    assert len(source) == len(target) == 167130
    assert (source[0], target[0]) == (["go", "."], ["va", "!"])
    assert target[2] == ["cours", "!"]  # U+202F became a plain space


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
    with pytest.raises(ValueError):
        d2l.split_nmt(source, target[:-1])
    with pytest.raises(ValueError):
        d2l.split_nmt(source, target, valid_frac=0.5, test_frac=0.5)
    with pytest.raises(ValueError):
        d2l.split_nmt(source, target, valid_frac=-0.1)


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
