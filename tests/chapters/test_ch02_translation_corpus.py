"""Tests of chapter 2's corpus code (d2l_local, generated from notebooks/02_translation_corpus.ipynb):
reading the file, preprocessing, tokenization and the vocabulary.

The real corpus is used only when D2L_DATA_DIR or the cache already holds it (tests never download),
and it is read at most once per module.
"""

import pytest
import torch

import d2l_local as d2l
from chapter_support import needs_corpus

RESERVED = ["<pad>", "<bos>", "<eos>"]


@pytest.fixture
def corpus_file(tmp_path, monkeypatch):
    """A fra-eng/fra.txt of our own under D2L_DATA_DIR; returns a function that writes its bytes."""
    path = tmp_path / "data" / "fra-eng" / "fra.txt"
    path.parent.mkdir(parents=True)
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("D2L_CACHE_DIR", str(tmp_path / "cache"))

    def write(data: bytes):
        path.write_bytes(data)
        return path
    return write


# ---------------------------------------------------------------- reading the file

def test_read_data_nmt_drops_a_byte_order_mark(corpus_file):
    corpus_file("\ufeffGo.\tVa !\nHi.\tSalut !\n".encode("utf-8"))
    text = d2l.read_data_nmt()
    assert text == "Go.\tVa !\nHi.\tSalut !\n"
    source, _ = d2l.tokenize_nmt(d2l.preprocess_nmt(text))
    assert source[0] == ["go", "."]  # not ['\ufeffgo', '.']
    vocab = d2l.Vocab(source, reserved_tokens=RESERVED)
    assert "go" in vocab and not any(t.startswith("\ufeff") for t in vocab.idx_to_token)


def test_read_data_nmt_reads_the_three_column_format(corpus_file):
    corpus_file("Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n".encode("utf-8"))
    assert d2l.tokenize_nmt(d2l.preprocess_nmt(d2l.read_data_nmt())) == ([["go", "."]], [["va", "!"]])


@pytest.mark.parametrize("data, says", [(b"", "是空的"), (b"\n \n", "是空的"),
                                        ("Go.\tÇa".encode("utf-8")[:-2], "不是 UTF-8")])
def test_read_data_nmt_broken_files(corpus_file, data, says):
    path = corpus_file(data)
    with pytest.raises(d2l.DataError, match=says) as info:
        d2l.read_data_nmt()
    assert str(path) in str(info.value) and "附录 A.1" in str(info.value)
    assert path.read_bytes() == data


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


@pytest.mark.parametrize("bad_line, what", [("no tab here", "没有制表符"), ("english only\t", "法语一栏是空的"),
                                            ("\tfrench only", "英语一栏是空的"), ("\t\tattribution", "英语一栏是空的")])
def test_tokenize_bad_line_in_the_middle_says_fix_the_line(bad_line, what):
    text = f"a\tb\nc\td\n{bad_line}\ne\tf\n"
    with pytest.raises(d2l.DataError, match="第 3 行") as info:
        d2l.tokenize_nmt(text)
    message = str(info.value)
    assert what in message and "修正或删去这一行" in message
    assert "请删除" not in message  # the file is fine: deleting it would not help


def test_tokenize_truncated_last_line_says_get_the_file_again():
    with pytest.raises(d2l.DataError, match="第 3 行") as info:
        d2l.tokenize_nmt("a\tb\nc\td\nrun ! co")
    assert "截断" in str(info.value) and "请删除 fra-eng/fra.txt" in str(info.value)
    # the same line followed by a newline is a broken line, not a cut file
    with pytest.raises(d2l.DataError, match="修正或删去这一行"):
        d2l.tokenize_nmt("a\tb\nc\td\nrun ! co\n")


def test_tokenize_reads_the_three_column_manythings_format():
    text = ("Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\n"
            "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)\n")
    assert d2l.tokenize_nmt(d2l.preprocess_nmt(text)) == ([["go", "."], ["hi", "."]], [["va", "!"], ["salut", "!"]])
    assert d2l.tokenize_nmt("a\tb\tc\td\n", 1) == ([["a"]], [["b"]])  # any extra columns are ignored


def test_tokenize_crlf_lines():
    assert d2l.tokenize_nmt("go .\tva !\r\n\r\nhi .\tsalut !\r\n") == ([["go", "."], ["hi", "."]],
                                                                     [["va", "!"], ["salut", "!"]])


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


def test_tokenize_bad_arguments():
    with pytest.raises(ValueError, match="非负整数"):
        d2l.tokenize_nmt("a\tb\n", num_examples=-1)
    for bad in (2.5, "3", True):
        with pytest.raises(TypeError, match="num_examples=600"):
            d2l.tokenize_nmt("a\tb\n", num_examples=bad)
    with pytest.raises(TypeError, match=r"decode\('utf-8'\)"):
        d2l.tokenize_nmt(b"a\tb\n")
    with pytest.raises(TypeError, match=r"decode\('utf-8'\)"):
        d2l.preprocess_nmt(b"Go.")


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


def test_vocab_rejects_a_string_of_reserved_tokens_or_tokens():
    with pytest.raises(TypeError, match=r"reserved_tokens=\['<pad>'\]"):
        d2l.Vocab([["a"]], reserved_tokens="<pad>")
    with pytest.raises(TypeError, match=r"list\(text\)"):
        d2l.Vocab("go home")
    with pytest.raises(TypeError, match="min_freq=2"):
        d2l.Vocab([["a"]], min_freq="2")
    with pytest.raises(ValueError, match="重复"):
        d2l.Vocab([["a"]], reserved_tokens=["<pad>", "<pad>"])
    # a tuple or any iterable of tokens still works
    assert d2l.Vocab([["a"]], reserved_tokens=("<pad>", "<eos>")).idx_to_token == ["<pad>", "<eos>", "<unk>", "a"]


def test_vocab_lookup_wants_tokens_and_to_tokens_wants_integers():
    vocab = d2l.Vocab([["a", "b"]], reserved_tokens=RESERVED)
    for key in (torch.tensor([4, 5]), torch.tensor(4), 4, 4.0, None):
        with pytest.raises(TypeError, match=r"vocab\.to_tokens"):
            vocab[key]
    with pytest.raises(TypeError):
        vocab[["a", torch.tensor(4)]]  # the error is raised for the element, not swallowed as <unk>
    for index in (4.7, torch.tensor([4.0, 5.0]), "4"):
        with pytest.raises(TypeError, match=r"\.long\(\)"):
            vocab.to_tokens(index)
    import numpy as np
    assert vocab.to_tokens(np.int64(4)) == "a" and vocab.to_tokens(torch.tensor(5)) == "b"
    assert vocab.to_tokens(torch.tensor([[4], [5]])) == [["a"], ["b"]]
    with pytest.raises(IndexError, match="另一个词表"):
        vocab.to_tokens(-1)


def test_vocab_round_trip():
    sentences = [s.split() for s in ["go .", "i lost .", "he's calm .", "go now ."]]
    vocab = d2l.Vocab(sentences, reserved_tokens=RESERVED)
    for sentence in sentences:
        assert vocab.to_tokens(vocab[sentence]) == sentence


# ---------------------------------------------------------------- the real corpus

@needs_corpus
def test_corpus_shape(corpus):
    source, target = corpus
    assert len(source) == len(target) == 167130
    assert (source[0], target[0]) == (["go", "."], ["va", "!"])
    assert target[2] == ["cours", "!"]  # U+202F became a plain space
