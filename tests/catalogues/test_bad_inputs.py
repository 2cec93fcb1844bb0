"""A catalogue of bad inputs across the public API (d2l_local) and the tools (booktools).

Every row of ``BAD_INPUTS`` is one thing a reader can get wrong: what is done, the exception it must
raise, and a regular expression its message must match: a part that says *what to do*, not only
what went wrong. Each row runs in a sandbox that holds a user's files: a corpus
(``data/fra-eng/fra.txt``), a cache folder, a small book (``book/notebooks/*.ipynb`` and the
``book/d2l_local/__init__.py`` generated from it) and a good training checkpoint
(``runs/good.pt``). The SHA-256 of every file under the sandbox is taken after the row has set up
its bad input and again after the error: they must be equal, so a bad input neither changes nor
deletes a user's file and leaves no half-written file (``.part``, ``.tmp``) behind.

The tools run on copies in the sandbox (``--notebooks``/``--output``), never on the repository.
Nothing here uses the network: "no network" is a failing name lookup, downloads come from a local
HTTP server on 127.0.0.1 (and tests/conftest.py refuses any other connection).

Rows marked ``xfail(strict=True)`` describe the behaviour the book should have but does not have
yet; the reason names the notebook whose ``#@save`` code needs the fix. A few inputs are not
errors by design (an unknown word, an overlong sentence): ``TOLERATED`` checks what they do instead.

Size: 128 rows (data 31, api 42, train 29, predict 14, tools 12), none of them xfail, and 6 tolerated
inputs; ``test_the_docstring_states_the_catalogue_size`` keeps these figures true.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import http.server
import io
import os
import re
import shutil
import socket
import threading
import zipfile
from pathlib import Path
from typing import Callable

import nbformat
import pytest
import torch

import d2l_local as d2l
from booktools import build, extract, stability, student

REPO = Path(__file__).resolve().parents[2]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root ignores file permissions
CPU = torch.device("cpu")
RESERVED = ["<pad>", "<bos>", "<eos>"]
CORPUS = ("Go.\tVa !\nHi.\tSalut !\nRun!\tCours\u202f!\nWho?\tQui ?\nWow!\tÇa alors\u202f!\n"
          "I lost.\tJ'ai perdu.\nHe's calm.\tIl est calme.\nI'm home.\tJe suis chez moi.\n")
WORDS = ["go", "hi", "run", "who", "wow", "i", "lost", "home", ".", "!", "?"]


# ---------------------------------------------------------------------------------------------
# The sandbox of user files, and small helpers


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def make_zip(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            if name.startswith("link:"):  # a symbolic link member pointing to `data`
                info = zipfile.ZipInfo(name[len("link:"):])
                info.external_attr = 0o120777 << 16
                archive.writestr(info, data)
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = f"{path.stem[:2]}c{i}"
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def vocab():
    return d2l.Vocab([w.split() for w in ("go .", "hi .", "run !", "who ?", "i lost .", "i home .")],
                     reserved_tokens=RESERVED)


def seq2seq(vocab_size, num_hiddens=16, attention=False, seed=0):
    torch.manual_seed(seed)
    decoder = d2l.Seq2SeqAttentionDecoder if attention else d2l.Seq2SeqDecoder
    return d2l.EncoderDecoder(d2l.Seq2SeqEncoder(vocab_size, 8, num_hiddens, 1),
                              decoder(vocab_size, 8, num_hiddens, 1))


def tiny_data(voc, num_steps=5):
    lines = [w.split() for w in ("go .", "hi .", "run !", "who ?", "i lost .", "i home .")]
    X, X_len = d2l.build_array_nmt(lines, voc, num_steps)
    return d2l.load_array((X, X_len, X, X_len), batch_size=3)


def train(net, voc, path, num_epochs=1):
    torch.manual_seed(0)
    return d2l.train_seq2seq(net, tiny_data(voc), 0.01, num_epochs, voc, CPU, checkpoint_path=path,
                             plot=False)


class ExitStatus(Exception):
    """A command-line tool exited with a non-zero status; str() is 'exit N: <its stderr>'."""


def cli(main: Callable, *argv) -> Callable[[], None]:
    """An action that runs a tool's main(argv) in-process and raises ExitStatus when it fails."""

    def run():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as stop:  # argparse errors
                code = stop.code
        if code:
            raise ExitStatus(f"exit {code}: {err.getvalue()}")

    return run


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@dataclasses.dataclass
class Sandbox:
    root: Path
    monkeypatch: pytest.MonkeyPatch
    cleanups: list = dataclasses.field(default_factory=list)

    @property
    def corpus(self) -> Path:
        return self.root / "data" / "fra-eng" / "fra.txt"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def notebooks(self) -> Path:
        return self.root / "book" / "notebooks"

    @property
    def package(self) -> Path:
        return self.root / "book" / "d2l_local"

    @property
    def checkpoint(self) -> Path:
        return self.root / "runs" / "good.pt"

    def extract(self, *extra, notebooks=None, package=None):
        """The extractor CLI on the sandbox's book (or on the given folders)."""
        return cli(extract.main, *extra, "--notebooks", notebooks or self.notebooks, "--package", package or self.package)

    def serve(self, name: str, payload: bytes) -> str:
        """Serve payload at http://127.0.0.1:<port>/name (outside the sandbox: it is the "internet")."""
        www = self.root.parent / "www"
        www.mkdir(exist_ok=True)
        (www / name).write_bytes(payload)
        handler = functools.partial(_QuietHandler, directory=str(www))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self.cleanups.append(lambda: (server.shutdown(), server.server_close(), thread.join()))
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    def no_network(self):
        """Name lookups fail, as they do on a machine without a network."""

        def refuse(*args, **kwargs):
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

        self.monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    root = tmp_path / "user"
    sb = Sandbox(root, monkeypatch)
    sb.corpus.parent.mkdir(parents=True)
    sb.corpus.write_text(CORPUS, encoding="utf-8")
    sb.cache.mkdir()
    write_notebook(sb.notebooks / "01_basics.ipynb",
                   "#@save\nimport math\n\n\ndef helper(x):\n    return math.sqrt(x)", "print(helper(4.0))")
    write_notebook(sb.notebooks / "02_more.ipynb", "#@save\ndef twice(x):\n    return 2 * d2l.helper(x)")
    sb.package.mkdir(parents=True)
    cli(extract.main, "--notebooks", sb.notebooks, "--package", sb.package)()
    voc = vocab()
    net = seq2seq(len(voc))
    train(net, voc, sb.checkpoint)  # one epoch: model, optimizer state and RNG in the file
    monkeypatch.setenv("D2L_DATA_DIR", str(sb.corpus.parent.parent))
    monkeypatch.setenv("D2L_CACHE_DIR", str(sb.cache))
    yield sb
    for cleanup in reversed(sb.cleanups):
        cleanup()


# ---------------------------------------------------------------------------------------------
# The catalogue


@dataclasses.dataclass
class Bad:
    id: str
    what: str  # what the user did
    setup: Callable[[Sandbox], Callable[[], object]]  # prepares the bad input, returns the action
    raises: type
    says: str  # regex (re.S) the message must match: it says what to do
    xfail: str | None = None  # why the book does not do this yet (and where to fix it)


BAD_INPUTS: list[Bad] = []


def bad(id, raises, says, what, xfail=None):
    def register(setup):
        BAD_INPUTS.append(Bad(id, what, setup, raises, says, xfail))
        return setup
    return register


# --- data (notebooks/02_translation_corpus, 03_minibatches_and_splits, 19_appendix_data_tools) --

@bad("data/corpus-line-without-tab", d2l.DataError, r"^(?!.*请删除)语料第 9 行没有制表符.*修正或删去这一行",
     "fra.txt has a line without a TAB in the middle (a hand-edited file); load_data_nmt. The message says to "
     "fix that line and must not advise deleting the file")
def _(sb):
    sb.corpus.write_text(CORPUS + "I'm cold.J'ai froid.\nGo.\tVa !\n", encoding="utf-8")
    return lambda: d2l.load_data_nmt(batch_size=2, num_steps=5)


@bad("data/corpus-line-with-empty-french", d2l.DataError, r"^(?!.*请删除)语料第 9 行的法语一栏是空的.*修正或删去这一行",
     "fra.txt has a line 'I'm cold.<TAB>' whose French side is empty; load_data_nmt")
def _(sb):
    sb.corpus.write_text(CORPUS + "I'm cold.\t \n", encoding="utf-8")
    return lambda: d2l.load_data_nmt(batch_size=2, num_steps=5)


@bad("data/corpus-cut-inside-the-last-line", d2l.DataError, r"第 9 行.*截断.*请删除 fra-eng/fra\.txt.*重新获取",
     "fra.txt ends in the middle of its last line, before the TAB (an interrupted copy); load_data_nmt")
def _(sb):
    sb.corpus.write_text(CORPUS + "I'm co", encoding="utf-8")
    return lambda: d2l.load_data_nmt(batch_size=2, num_steps=5)


@bad("data/corpus-cut-inside-a-character", d2l.DataError, r"不是 UTF-8.*请删除它后重新获取",
     "fra.txt is cut in the middle of a UTF-8 character (an interrupted copy); read_data_nmt")
def _(sb):
    sb.corpus.write_bytes(CORPUS.encode("utf-8") + "Hi.\tÇa".encode("utf-8")[:-2])
    return d2l.read_data_nmt


@bad("data/corpus-empty", d2l.DataError, r"空.*请删除它后重新获取",
     "fra.txt exists but is empty (0 bytes: disk full while copying); load_data_nmt")
def _(sb):
    sb.corpus.write_bytes(b"")
    return lambda: d2l.load_data_nmt(batch_size=2, num_steps=5)


@bad("data/corpus-as-bytes", TypeError, r"text\.decode\('utf-8'\)",
     "tokenize_nmt(the file's bytes) instead of its text")
def _(sb):
    return lambda: d2l.tokenize_nmt(sb.corpus.read_bytes())


@bad("data/wrong-checksum", d2l.DataError, r"checksum.*已删除.*请稍后重试.*D2L_DATA_DIR",
     "the download's SHA-1 differs from the expected one (a tampered or cut download); a stale zip is in the cache")
def _(sb):
    (sb.cache / "fra-eng.zip").write_bytes(make_zip({"fra-eng/fra.txt": "Old.\tVieux.\n"}))  # the user's old copy
    url = sb.serve("fra-eng.zip", make_zip({"fra-eng/fra.txt": "Tampered.\tModifié.\n"}))
    return lambda: d2l.download(url, d2l.FRA_ENG_SHA1, sb.cache)


@bad("data/zip-member-escapes-with-dotdot", d2l.DataError, r"'\.\./evil\.txt'.*不可信，请删除它",
     "a zip whose member '../evil.txt' would be written outside the target folder; extract_zip")
def _(sb):
    (sb.cache / "fra-eng.zip").write_bytes(make_zip({"fra-eng/fra.txt": CORPUS, "../evil.txt": "pwned"}))
    return lambda: d2l.extract_zip(sb.cache / "fra-eng.zip", sb.cache)


@bad("data/zip-member-is-a-symlink", d2l.DataError, r"符号链接.*不可信，请删除它",
     "a zip whose member 'fra-eng' is a symbolic link pointing outside; extract_zip")
def _(sb):
    zipped = make_zip({"link:fra-eng": str(sb.root / "runs"), "fra-eng/fra.txt": CORPUS})
    (sb.cache / "fra-eng.zip").write_bytes(zipped)
    return lambda: d2l.extract_zip(sb.cache / "fra-eng.zip", sb.cache)


@bad("data/cached-zip-is-not-a-zip", d2l.DataError, r"不是完好的 zip 文件.*请删除它后重新下载",
     "the cached fra-eng.zip is an HTML page (a captive portal), with the checksum the caller expects")
def _(sb):
    page = b"<html>Please log in to the hotel Wi-Fi</html>"
    (sb.cache / "fra-eng.zip").write_bytes(page)
    sb.monkeypatch.delenv("D2L_DATA_DIR")
    return lambda: d2l.find_fra_eng("http://127.0.0.1:9/fra-eng.zip", hashlib.sha1(page).hexdigest())


@bad("data/no-network", d2l.DataError,
     r"\(1\).*D2L_DATA_DIR.*fra-eng/fra\.txt.*\(2\).*D2L_CACHE_DIR.*\(3\).*网络.*已设置 D2L_DATA_DIR",
     "no corpus anywhere, D2L_DATA_DIR points to a folder without it, and no network; read_data_nmt")
def _(sb):
    sb.monkeypatch.setenv("D2L_DATA_DIR", str(sb.root / "not-here"))
    sb.no_network()
    return d2l.read_data_nmt


@bad("data/unwritable-cache", d2l.DataError, r"无法在 .* 里写文件.*请用环境变量 D2L_CACHE_DIR 指定一个可写的文件夹",
     "D2L_CACHE_DIR is a path under a regular file (the cache cannot be created); read_data_nmt")
def _(sb):
    sb.monkeypatch.setenv("D2L_CACHE_DIR", str(sb.corpus / "cache"))
    sb.monkeypatch.setenv("D2L_DATA_DIR", str(sb.root / "not-here"))
    sb.no_network()
    return d2l.read_data_nmt


@bad("data/negative-num-examples", ValueError, r"num_examples 应为非负整数或 None",
     "tokenize_nmt(text, num_examples=-1)")
def _(sb):
    return lambda: d2l.tokenize_nmt(d2l.preprocess_nmt(d2l.read_data_nmt()), num_examples=-1)


@bad("data/num-examples-zero", ValueError, r"num_examples 应是不小于 1 的整数，收到 0",
     "load_data_nmt(2, 5, num_examples=0): no pairs at all (an empty DataLoader used to fail inside torch)")
def _(sb):
    return lambda: d2l.load_data_nmt(batch_size=2, num_steps=5, num_examples=0)


@bad("data/num-steps-fractional", TypeError, r"num_steps 应是整数.*请传入整数，例如 num_steps=4",
     "load_data_nmt(2, num_steps=3.5) (a slice index error from inside truncate_pad before)")
def _(sb):
    return lambda: d2l.load_data_nmt(batch_size=2, num_steps=3.5)


@bad("data/batch-size-zero", ValueError, r"batch_size 应是不小于 1 的整数",
     "load_data_nmt(batch_size=0) (torch's BatchSampler error in English before)")
def _(sb):
    return lambda: d2l.load_data_nmt(batch_size=0, num_steps=5)


@bad("data/num-train-fractional", TypeError, r"num_train 应是整数.*例如 num_train=2",
     "load_data_nmt_split(2, 5, num_train=2.5) (random.sample's error before)")
def _(sb):
    return lambda: d2l.load_data_nmt_split(2, 5, num_train=2.5)


@bad("data/max-tokens-zero", ValueError, r"max_tokens 应是不小于 1 的整数",
     "load_data_nmt_split(2, 5, max_tokens=0): every pair would be filtered out")
def _(sb):
    return lambda: d2l.load_data_nmt_split(2, 5, max_tokens=0)


@bad("data/max-tokens-filters-everything", ValueError, r"max_tokens=1 太小.*请调大 max_tokens",
     "load_data_nmt_split(2, 5, max_tokens=1) on a corpus whose sentences all have at least 2 tokens")
def _(sb):
    return lambda: d2l.load_data_nmt_split(2, 5, max_tokens=1)


@bad("data/split-fractions-over-one", ValueError, r"两者之和小于 1",
     "load_data_nmt_split with valid_frac + test_frac > 1")
def _(sb):
    return lambda: d2l.load_data_nmt_split(2, 5, valid_frac=0.6, test_frac=0.6)


@bad("data/split-fraction-as-a-string", TypeError, r"0 到 1 之间的比例.*valid_frac=0\.05",
     "split_nmt(source, target, valid_frac='0.1')")
def _(sb):
    return lambda: d2l.split_nmt([["go", "."]], [["va", "!"]], valid_frac="0.1")


@bad("data/too-many-dates", ValueError, r"只有 \d+ 个不同的日期句对，要不了 1000000 个.*调小",
     "load_data_dates asks for more distinct date pairs than exist")
def _(sb):
    return lambda: d2l.load_data_dates(32, num_examples=10 ** 6)


@bad("data/date-as-a-string", TypeError, r"datetime\.date\.fromisoformat\('2026-11-25'\)",
     "format_date('2026-11-25', 'dotted') (AttributeError 'str' object has no attribute 'month' before)")
def _(sb):
    return lambda: d2l.format_date("2026-11-25", "dotted")


@bad("data/vocab-without-pad", ValueError, r"词表里没有 <pad>：请在建词表时用 reserved_tokens 保留它",
     "build_array_nmt with a vocabulary built without reserved tokens")
def _(sb):
    return lambda: d2l.build_array_nmt([["go", "."]], d2l.Vocab([["go", "."]]), 4)


@bad("data/build-array-from-sentences-as-strings", TypeError, r"应是词元列表.*split\(\)",
     "build_array_nmt(['go .'], vocab, 4): a string, which used to be read character by character")
def _(sb):
    return lambda: d2l.build_array_nmt(["go ."], vocab(), 4)


@bad("data/vocab-reserved-tokens-as-a-string", TypeError, r"reserved_tokens=\['<pad>'\]",
     "Vocab(tokens, reserved_tokens='<pad>'): a string, which used to reserve '<', 'p', 'a', 'd', '>'")
def _(sb):
    return lambda: d2l.Vocab([["go", "."]], reserved_tokens="<pad>")


@bad("data/vocab-of-a-string", TypeError, r"text\.split\(\).*list\(text\)",
     "Vocab('go home .'): a string, which used to give a vocabulary of characters")
def _(sb):
    return lambda: d2l.Vocab("go home .")


@bad("data/vocab-indexed-with-a-tensor", TypeError, r"vocab\.to_tokens\(indices\)",
     "vocab[torch.tensor([4, 5])] (it used to return <unk> for any tensor)")
def _(sb):
    return lambda: vocab()[torch.tensor([4, 5])]


@bad("data/vocab-to-tokens-with-float-indices", TypeError, r"请先 \.long\(\)",
     "vocab.to_tokens(torch.tensor([4.7])) (a float index used to be truncated to 4)")
def _(sb):
    return lambda: vocab().to_tokens(torch.tensor([4.7]))


@bad("data/load-array-of-one-tensor", TypeError, r"只有一个张量也要写成 \(X,\)",
     "load_array(X, 2): one tensor instead of a tuple of tensors (its rows were taken as the arrays)")
def _(sb):
    return lambda: d2l.load_array(torch.zeros(4, 3), 2)


@bad("data/load-array-of-nothing", ValueError, r"0 个样本.*num_examples、max_tokens、num_train",
     "load_array of empty tensors (an empty loader used to train 'loss 0.000' for epochs that never happened)")
def _(sb):
    return lambda: d2l.load_array((torch.zeros(0, 5), torch.zeros(0)), 2)


# --- models and the API (chapters 1, 5, 7, 9, 11) ---------------------------------------------

def _predict(sentence, beam=False, **kwargs):
    voc = vocab()
    net = seq2seq(len(voc))
    if beam:
        return lambda: d2l.predict_seq2seq_beam(net, sentence, voc, voc, 5, CPU, **kwargs)
    return lambda: d2l.predict_seq2seq(net, sentence, voc, voc, 5, CPU, **kwargs)



@bad("api/predict-empty-sentence", ValueError, r"空的.*请传入至少含一个词",
     "predict_seq2seq(net, '', ...)")
def _(sb):
    return _predict("")


@bad("api/predict-whitespace-sentence-in-batch", ValueError, r"第 1 个源句子是空的.*请传入至少含一个词",
     "predict_seq2seq(net, ['go .', ' \\t '], ...)")
def _(sb):
    return _predict(["go .", " \t\u202f"])


@bad("api/predict-not-a-string", TypeError, r"应是一个 str 或由 str 组成的 list",
     "predict_seq2seq(net, 42, ...)")
def _(sb):
    return _predict(42)


@bad("api/predict-with-another-vocab", ValueError, r"src_vocab.*嵌入.*词表",
     "predict_seq2seq with a src_vocab larger than the one the model was built for")
def _(sb):
    small = vocab()
    net = seq2seq(len(small))
    big = d2l.Vocab([[f"w{i}" for i in range(40)]], reserved_tokens=RESERVED)
    return lambda: d2l.predict_seq2seq(net, "w39 w1", big, big, 5, CPU)


@bad("api/beam-size-zero", ValueError, r"beam_size 应是正整数", "predict_seq2seq_beam(..., beam_size=0)")
def _(sb):
    return _predict("go .", beam=True, beam_size=0)


@bad("api/encoder-interface-not-implemented", NotImplementedError, r"请在 Encoder 的子类中实现它",
     "EncoderDecoder(d2l.Encoder(), d2l.Decoder())(X, Y): the interfaces used directly")
def _(sb):
    X = torch.zeros(2, 3, dtype=torch.long)
    return lambda: d2l.EncoderDecoder(d2l.Encoder(), d2l.Decoder())(X, X)


# --- masking, loss and attention (notebooks/06_masking_and_loss.ipynb, 11_attention_scoring.ipynb) ---------

@bad("api/mask-with-boolean-mask", TypeError, r"请用 mask\.sum\(dim=-1\) 得到长度",
     "sequence_mask(X, mask) with a boolean (batch, steps) mask instead of lengths (wrong dtype)")
def _(sb):
    return lambda: d2l.sequence_mask(torch.ones(2, 3), torch.tensor([[True, True, False], [True, False, False]]))


@bad("api/mask-valid-len-on-another-device", ValueError, r"valid_len\.to\(X\.device\)",
     "sequence_mask with X on the CPU and valid_len on another device (meta)")
def _(sb):
    return lambda: d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, 2], device="meta"))


@bad("api/mask-fractional-valid-len", ValueError, r"valid_len\.round\(\)\.long\(\)",
     "sequence_mask with valid_len 2.5")
def _(sb):
    return lambda: d2l.sequence_mask(torch.ones(2, 3), torch.tensor([2.5, 1.0]))


@bad("api/softmax-integer-scores", TypeError, r"请先转换，例如 X\.float\(\)",
     "masked_softmax on int64 scores (wrong dtype)")
def _(sb):
    return lambda: d2l.masked_softmax(torch.ones(2, 2, 3, dtype=torch.long), torch.tensor([1, 2]))


@bad("api/softmax-valid-lens-count-mismatch", ValueError, r"请为每个样本（或每个样本的每个查询）各给一个长度",
     "masked_softmax with 3 valid_lens for a batch of 2")
def _(sb):
    return lambda: d2l.masked_softmax(torch.rand(2, 3, 4), torch.tensor([1, 2, 3]))


@bad("api/loss-on-permuted-logits", ValueError, r"请直接传未换维的 logits",
     "MaskedSoftmaxCELoss on logits already permuted to (batch, vocab, steps)")
def _(sb):
    pred, label = torch.rand(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)
    return lambda: d2l.MaskedSoftmaxCELoss()(pred.permute(0, 2, 1), label, torch.tensor([3, 2]))


@bad("api/loss-float-labels", TypeError, r"label 应是词元索引（整数型，如 torch\.long）",
     "MaskedSoftmaxCELoss with float labels")
def _(sb):
    return lambda: d2l.MaskedSoftmaxCELoss()(torch.rand(2, 3, 5), torch.zeros(2, 3), torch.tensor([3, 2]))


@bad("api/dot-product-sizes-differ", ValueError, r"请用 AdditiveAttention，或先用 nn\.Linear 投影",
     "DotProductAttention with queries of size 3 and keys of size 4")
def _(sb):
    return lambda: d2l.DotProductAttention(0.0)(torch.rand(1, 2, 3), torch.rand(1, 4, 4), torch.rand(1, 4, 6))


@bad("api/mask-value-overflows-float16", ValueError, r"超出了 torch\.float16 能表示的范围.*torch\.finfo\(X\.dtype\)\.min",
     "sequence_mask(X.half(), valid_len, value=-1e6): masked_fill would raise an overflow RuntimeError")
def _(sb):
    return lambda: d2l.sequence_mask(torch.ones(2, 3, dtype=torch.float16), torch.tensor([1, 2]), value=-1e6)


@bad("api/mask-fractional-value-on-integer-x", ValueError, r"不是整数.*请换一个整数值，或先把 X 转成浮点型",
     "sequence_mask on int64 X with value=-1.5 (masked_fill would silently write -1)")
def _(sb):
    return lambda: d2l.sequence_mask(torch.ones(2, 3, dtype=torch.long), torch.tensor([1, 2]), value=-1.5)


@bad("api/mask-value-not-a-number", TypeError, r"value 应是一个数",
     "sequence_mask(X, valid_len, value='<pad>')")
def _(sb):
    return lambda: d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, 2]), value="<pad>")


@bad("api/mask-negative-valid-len", ValueError, r"不能有负数.*请检查有效长度是怎样算出来的",
     "sequence_mask with valid_len [1, -2]")
def _(sb):
    return lambda: d2l.sequence_mask(torch.ones(2, 3), torch.tensor([1, -2]))


@bad("api/loss-label-outside-vocabulary", ValueError, r"0 到 4 之间的词元索引.*请检查标签是不是用另一个（更大的）词表编码的",
     "MaskedSoftmaxCELoss with a label 7 inside the valid length for 5 logits (a CUDA device-side assert otherwise)")
def _(sb):
    label = torch.tensor([[1, 7, 2], [0, 0, 0]])
    return lambda: d2l.MaskedSoftmaxCELoss()(torch.rand(2, 3, 5), label, torch.tensor([3, 1]))


@bad("api/loss-boolean-labels", TypeError, r"label 应是词元索引（整数型，如 torch\.long）",
     "MaskedSoftmaxCELoss with boolean labels")
def _(sb):
    return lambda: d2l.MaskedSoftmaxCELoss()(torch.rand(2, 3, 5), torch.ones(2, 3, dtype=torch.bool), torch.tensor([3, 2]))


@bad("api/loss-valid-len-count-mismatch", ValueError, r"\(batch_size,\) = \(2,\).*请检查它是不是与 label 来自同一个小批量",
     "MaskedSoftmaxCELoss with 3 valid lengths for a batch of 2")
def _(sb):
    return lambda: d2l.MaskedSoftmaxCELoss()(torch.rand(2, 3, 5), torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 2, 1]))


@bad("api/loss-valid-len-on-another-device", ValueError, r"valid_len\.to\(label\.device\)",
     "MaskedSoftmaxCELoss with valid_len on another device (meta)")
def _(sb):
    return lambda: d2l.MaskedSoftmaxCELoss()(torch.rand(2, 3, 5), torch.zeros(2, 3, dtype=torch.long),
                                             torch.tensor([3, 2], device="meta"))


@bad("api/softmax-valid-lens-on-another-device", ValueError, r"valid_lens\.to\(X\.device\)",
     "masked_softmax with the scores on the CPU and valid_lens on another device (meta)")
def _(sb):
    return lambda: d2l.masked_softmax(torch.rand(2, 2, 3), torch.tensor([1, 2], device="meta"))


@bad("api/softmax-fractional-valid-lens", ValueError, r"valid_lens\.round\(\)\.long\(\)",
     "masked_softmax with valid_lens [1.5, 2.0]")
def _(sb):
    return lambda: d2l.masked_softmax(torch.rand(2, 2, 3), torch.tensor([1.5, 2.0]))


@bad("api/attention-valid-lens-count-mismatch", ValueError, r"请为每个样本（或每个样本的每个查询）各给一个长度",
     "DotProductAttention with 3 valid_lens for a batch of 2")
def _(sb):
    return lambda: d2l.DotProductAttention(0.0)(torch.rand(2, 1, 4), torch.rand(2, 3, 4), torch.rand(2, 3, 2),
                                                torch.tensor([1, 2, 3]))


@bad("api/attention-negative-valid-lens", ValueError, r"不能有负数.*请检查有效长度是怎样算出来的",
     "AdditiveAttention with valid_lens [2, -1]")
def _(sb):
    attention = d2l.AdditiveAttention(4, 4, 8, 0.0)
    return lambda: attention(torch.rand(2, 1, 4), torch.rand(2, 3, 4), torch.rand(2, 3, 2), torch.tensor([2, -1]))


# --- attention and the Transformer (notebooks/12_bahdanau_attention … 15_transformer_training) --

def _transformer(part, vocab_size=10, num_hiddens=16, max_len=1000, **changes):
    """A small TransformerEncoder (part='encoder') or TransformerDecoder; `changes` override its sizes."""
    sizes = dict(key_size=num_hiddens, query_size=num_hiddens, value_size=num_hiddens, num_hiddens=num_hiddens,
                 norm_shape=[num_hiddens], ffn_num_input=num_hiddens, ffn_num_hiddens=32, num_heads=4,
                 num_layers=2, dropout=0.0)
    sizes.update(changes)
    cls = d2l.TransformerEncoder if part == "encoder" else d2l.TransformerDecoder
    torch.manual_seed(0)
    return cls(vocab_size, max_len=max_len, **sizes)


def _bahdanau(vocab_size=10, num_hiddens=16, num_layers=1):
    torch.manual_seed(0)
    encoder = d2l.Seq2SeqEncoder(vocab_size, 8, num_hiddens, num_layers)
    return encoder, d2l.Seq2SeqAttentionDecoder(vocab_size, 8, 16, 1)


@bad("api/heads-do-not-divide-hiddens", ValueError, r"请把 num_hiddens 改成 num_heads 的倍数",
     "MultiHeadAttention(num_hiddens=10, num_heads=4)")
def _(sb):
    return lambda: d2l.MultiHeadAttention(8, 8, 8, 10, 4, 0.0)


@bad("api/heads-not-an-integer", TypeError, r"num_heads 应是正整数，现在是 2\.0.*请写成 num_heads=2",
     "MultiHeadAttention(num_heads=2.0): a float head count (used to fail inside reshape at the first call)")
def _(sb):
    return lambda: d2l.MultiHeadAttention(8, 8, 8, 8, 2.0, 0.0)


@bad("api/zero-hiddens", ValueError, r"num_hiddens 应是正整数（至少为 1），现在是 0",
     "MultiHeadAttention(num_hiddens=0): a layer whose output is empty")
def _(sb):
    return lambda: d2l.MultiHeadAttention(8, 8, 8, 0, 2, 0.0)


@bad("api/positional-encoding-float-size", TypeError, r"请写成 num_hiddens=32",
     "PositionalEncoding(32.0, 0.0): a float size")
def _(sb):
    return lambda: d2l.PositionalEncoding(32.0, 0.0)


@bad("api/sequence-longer-than-positional-encoding", ValueError, r"请在构造时调大 max_len.*max_len=12",
     "PositionalEncoding(max_len=10) on a 12-step sequence (an overlong input)")
def _(sb):
    return lambda: d2l.PositionalEncoding(8, 0.0, max_len=10)(torch.zeros(1, 12, 8))


@bad("api/transformer-encoder-longer-than-max-len", ValueError,
     r"TransformerEncoder 要用到位置 0 到 11.*请在构造时传入更大的 max_len，例如 TransformerEncoder\(\.\.\., max_len=12\)",
     "TransformerEncoder(max_len=10) on a 12-step source: the advice names an argument the class has")
def _(sb):
    encoder = _transformer("encoder", max_len=10)
    return lambda: encoder(torch.ones(2, 12, dtype=torch.long), torch.tensor([12, 5]))


@bad("api/transformer-decoder-past-max-len", ValueError,
     r"TransformerDecoder 要用到位置 4 到 4.*例如 TransformerDecoder\(\.\.\., max_len=5\)",
     "TransformerDecoder(max_len=4) asked for a fifth step while decoding one token at a time")
def _(sb):
    decoder = _transformer("decoder", max_len=4)
    state = decoder.init_state(torch.randn(2, 3, 16), torch.tensor([3, 2]))
    _, state = decoder(torch.ones(2, 4, dtype=torch.long), state)
    return lambda: decoder(torch.ones(2, 1, dtype=torch.long), state)


@bad("api/transformer-token-id-out-of-vocab", ValueError,
     r"词元索引 12，不在 0 到 9 之间.*请用构造模型时的那个词表",
     "TransformerEncoder built for 10 tokens, given the id 12 (a bigger vocabulary; IndexError or a CUDA assert before)")
def _(sb):
    encoder = _transformer("encoder")
    return lambda: encoder(torch.tensor([[1, 12, 3]]), torch.tensor([3]))


@bad("api/transformer-decoder-negative-token-id", ValueError, r"词元索引 -1，不在 0 到 9 之间",
     "TransformerDecoder given the id -1 (a padding value from another library)")
def _(sb):
    decoder = _transformer("decoder")
    state = decoder.init_state(torch.randn(1, 3, 16), torch.tensor([3]))
    return lambda: decoder(torch.tensor([[1, -1]]), state)


@bad("api/float-token-ids", TypeError, r"整数型的词元索引.*请先用词表把词元换成索引",
     "TransformerEncoder given float ids (torch.tensor([[1.0, 2.0]]))")
def _(sb):
    encoder = _transformer("encoder")
    return lambda: encoder(torch.tensor([[1.0, 2.0]]))


@bad("api/bahdanau-token-id-out-of-vocab", ValueError, r"词元索引 10，不在 0 到 9 之间.*load_data_\* 返回的词表",
     "Seq2SeqAttentionDecoder built for 10 tokens, given the id 10")
def _(sb):
    encoder, decoder = _bahdanau()
    X = torch.tensor([[1, 4, 5]])
    state = decoder.init_state(encoder(X), torch.tensor([3]))
    return lambda: decoder(torch.tensor([[1, 10]]), state)


@bad("api/bahdanau-decoder-with-transformer-encoder", TypeError,
     r"Seq2SeqEncoder 返回的 \(output, state\).*TransformerEncoder 的输出请配 TransformerDecoder",
     "Seq2SeqAttentionDecoder.init_state given a TransformerEncoder's output (one tensor, not (output, state))")
def _(sb):
    _, decoder = _bahdanau()
    enc_outputs = _transformer("encoder")(torch.tensor([[1, 4, 5]]))
    return lambda: decoder.init_state(enc_outputs, torch.tensor([3]))


@bad("api/bahdanau-encoder-decoder-sizes-differ", ValueError, r"编码器的 num_hiddens 是 32，解码器的是 16.*请让两者的 num_hiddens 相同",
     "a Seq2SeqEncoder with num_hiddens=32 paired with a Seq2SeqAttentionDecoder with num_hiddens=16")
def _(sb):
    encoder, decoder = _bahdanau(num_hiddens=32)
    X = torch.tensor([[1, 4, 5]])
    return lambda: decoder.init_state(encoder(X), torch.tensor([3]))


@bad("api/decoder-input-and-state-batch-differ", ValueError, r"输入有 2 个句子，状态里有 3 个.*reorder_state",
     "decoding 2 sentences with the state of 3 (a batch filtered without reorder_state)")
def _(sb):
    decoder = _transformer("decoder")
    state = decoder.init_state(torch.randn(3, 4, 16), torch.tensor([4, 2, 3]))
    return lambda: decoder(torch.ones(2, 1, dtype=torch.long), state)


@bad("api/transformer-ffn-input-differs", ValueError, r"ffn_num_input=8 应等于 num_hiddens=16.*请传入 ffn_num_input=16",
     "TransformerEncoder(ffn_num_input=8, num_hiddens=16): one of the repeated sizes mistyped")
def _(sb):
    return lambda: _transformer("encoder", ffn_num_input=8)


@bad("api/transformer-norm-shape-over-steps", ValueError, r"norm_shape=\[10, 16\] 应是 \[num_hiddens\] = \[16\]",
     "TransformerDecoder(norm_shape=[num_steps, num_hiddens]) (normalising over positions breaks prediction)")
def _(sb):
    return lambda: _transformer("decoder", norm_shape=[10, 16])


# --- prediction and BLEU (notebooks/09_prediction_and_evaluation.ipynb) -------------------------

def _predict_with(net, sentence="go .", beam=False, voc=None, device=CPU, **kwargs):
    voc = voc or vocab()
    if beam:
        return lambda: d2l.predict_seq2seq_beam(net, sentence, voc, voc, 5, device, **kwargs)
    return lambda: d2l.predict_seq2seq(net, sentence, voc, voc, 5, device, **kwargs)


def _diverged_net():
    """A model whose training diverged: one weight of the output layer is NaN."""
    net = seq2seq(len(vocab()))
    with torch.no_grad():
        net.decoder.dense.weight[0, 0] = float("nan")
    return net


@bad("predict/nan-weights-greedy", ValueError, r"decoder\.dense\.weight 里有 NaN 或 inf.*请载入发散之前的检查点",
     "predict_seq2seq with a model whose weights hold a NaN (it used to translate to '<pad> <pad> …')")
def _(sb):
    return _predict_with(_diverged_net())


@bad("predict/nan-weights-beam", ValueError, r"decoder\.dense\.weight 里有 NaN 或 inf.*请载入发散之前的检查点",
     "predict_seq2seq_beam with a model whose weights hold a NaN (it used to crash inside the search)")
def _(sb):
    return _predict_with(_diverged_net(), beam=True)


@bad("predict/target-vocab-without-bos-and-eos", ValueError, r"tgt_vocab 里没有 <bos>.*reserved_tokens=",
     "predict_seq2seq with a target vocabulary built without reserved tokens (it used to return '')")
def _(sb):
    voc = vocab()
    plain = d2l.Vocab([[f"w{i}" for i in range(len(voc) - 1)]])  # same size, no '<bos>'/'<eos>'
    net = seq2seq(len(voc))
    return lambda: d2l.predict_seq2seq(net, "go .", voc, plain, 5, CPU)


@bad("predict/decoder-predicts-ids-beyond-the-vocab", ValueError,
     r"每步输出 \d+ 个 logits，而 tgt_vocab 有 \d+ 个词元.*请传入训练这个模型时用的 tgt_vocab",
     "a decoder whose output layer is larger than tgt_vocab: predicted token ids >= the vocabulary size")
def _(sb):
    net = seq2seq(len(vocab()))
    net.decoder.dense = torch.nn.Linear(16, len(vocab()) + 7)
    return _predict_with(net)


@bad("predict/beam-alpha-nan", ValueError, r"alpha 应是有限的非负实数.*常用 0\.6 到 1.*收到 nan",
     "predict_seq2seq_beam(..., alpha=float('nan'))")
def _(sb):
    return _predict_with(seq2seq(len(vocab())), beam=True, alpha=float("nan"))


@bad("predict/num-steps-not-an-integer", ValueError, r"num_steps 应是正整数.*收到 3\.5",
     "predict_seq2seq(..., num_steps=3.5)")
def _(sb):
    voc = vocab()
    net = seq2seq(len(voc))
    return lambda: d2l.predict_seq2seq(net, "go .", voc, voc, 3.5, CPU)


@bad("predict/tokenizer-given-as-a-name", TypeError, r"src_tokenizer 应是有 tokenize.*d2l\.CharTokenizer\(\)",
     "predict_seq2seq(..., src_tokenizer='char'): a name instead of a tokenizer object")
def _(sb):
    return _predict_with(seq2seq(len(vocab())), src_tokenizer="char")


@bad("predict/tokenizer-class-instead-of-instance", TypeError, r"收到的是类 CharTokenizer 本身：请写成 CharTokenizer\(\)",
     "predict_seq2seq(..., tgt_tokenizer=d2l.CharTokenizer): the class, not an instance")
def _(sb):
    return _predict_with(seq2seq(len(vocab())), tgt_tokenizer=d2l.CharTokenizer)


@bad("predict/model-on-another-device", ValueError, r"模型的参数在 meta 上.*请先 net\.to\(device\)",
     "predict_seq2seq with the model on another device than `device` (meta here, a GPU on Colab)")
def _(sb):
    return _predict_with(seq2seq(len(vocab())).to("meta"))


@bad("predict/device-not-a-device", ValueError, r"device='gpu' 不是一个设备：请用 d2l\.try_gpu\(\)",
     "predict_seq2seq(..., device='gpu')")
def _(sb):
    return _predict_with(seq2seq(len(vocab())), device="gpu")


@bad("predict/bleu-of-none", TypeError, r"pred_seq 应是一个 str（词元用空格分隔）或词元列表.*预测失败时",
     "bleu(None, 'va !', 2): a failed prediction passed on")
def _(sb):
    return lambda: d2l.bleu(None, "va !", 2)


@bad("predict/corpus-bleu-of-two-strings", TypeError, r"predictions 应是每句一项的 list.*corpus_bleu\(\[prediction\], \[reference\]\)",
     "corpus_bleu('il est calme .', 'il est calme .'): it used to score the characters")
def _(sb):
    return lambda: d2l.corpus_bleu("il est calme .", "il est calme .")


@bad("predict/corpus-bleu-token-list-references", ValueError, r"references 看起来是词元列表.*' '\.join\(tokens\)",
     "corpus_bleu(str predictions, token-list references such as splits['test'][1]): an exact match scored 0.0")
def _(sb):
    return lambda: d2l.corpus_bleu(["il est calme .", "va !"], [["il", "est", "calme", "."], ["va", "!"]])


@bad("predict/corpus-bleu-mixed-forms", TypeError, r"参考译文与预测要用同一种形式",
     "corpus_bleu(token-list predictions, str references)")
def _(sb):
    return lambda: d2l.corpus_bleu([["va", "!"]], ["va !"])


# --- training and checkpoints (notebooks/07_training.ipynb) ------------------------------------
# --- training and checkpoints (notebooks/07_training, 08_checkpoints_and_resuming, 20_appendix_training_tools)

@bad("train/target-vocab-without-bos", ValueError, r"<bos>.*reserved_tokens",
     "train_seq2seq with a target vocabulary built without '<bos>'")
def _(sb):
    voc = vocab()
    plain = d2l.Vocab([["<pad>", "<eos>", "go", "."]])  # built without reserved_tokens: no '<bos>'
    net = seq2seq(len(voc))
    return lambda: d2l.train_seq2seq(net, tiny_data(voc), 0.01, 1, plain, CPU, plot=False)


@bad("train/checkpoint-of-another-shape", d2l.CheckpointError,
     r"shape mismatch.*\(48, 16\).*\(36, 12\).*请删除这个文件，或者换一个 checkpoint_path",
     "train_seq2seq(checkpoint_path=good.pt) for a model with 12 instead of 16 hidden units")
def _(sb):
    voc = vocab()
    return lambda: train(seq2seq(len(voc), num_hiddens=12), voc, sb.checkpoint)


@bad("train/checkpoint-of-another-architecture", d2l.CheckpointError,
     r"decoder\.attention\.W_q\.weight：模型里有，检查点里没有.*换一个 checkpoint_path",
     "load_checkpoint of a plain seq2seq checkpoint into a Bahdanau-attention model")
def _(sb):
    voc = vocab()
    return lambda: d2l.load_checkpoint(sb.checkpoint, seq2seq(len(voc), attention=True))


@bad("train/checkpoint-half-written", d2l.CheckpointError, r"只写了一半.*请删除它（或换一个 checkpoint_path）",
     "resume from a checkpoint cut in half (copied from a crashed run)")
def _(sb):
    half = sb.root / "runs" / "half.pt"
    data = sb.checkpoint.read_bytes()
    half.write_bytes(data[:len(data) // 2])
    voc = vocab()
    return lambda: train(seq2seq(len(voc)), voc, half)


@bad("train/checkpoint-is-a-plain-state-dict", d2l.CheckpointError,
     r"不是 save_checkpoint 写的检查点.*换一个 checkpoint_path",
     "checkpoint_path names a file of torch.save(net.state_dict()), not a checkpoint")
def _(sb):
    voc = vocab()
    weights = sb.root / "runs" / "weights.pt"
    torch.save(seq2seq(len(voc)).state_dict(), weights)
    return lambda: train(seq2seq(len(voc)), voc, weights)


@bad("train/checkpoint-folder-unwritable", d2l.CheckpointError, r"可写.*checkpoint_path|checkpoint_path.*可写",
     "checkpoint_path under a regular file (its folder cannot be created)")
def _(sb):
    voc = vocab()
    return lambda: train(seq2seq(len(voc)), voc, sb.checkpoint / "next.pt")


def resume(sb, lr=0.01, num_epochs=3, **kwargs):
    """Resume the sandbox's good checkpoint (1 epoch) up to num_epochs, saving after every epoch."""
    voc = vocab()
    net = kwargs.pop("net", None) or seq2seq(len(voc), seed=1)
    kwargs = {"save_every": 1, "plot": False, **kwargs}
    return lambda: d2l.train_seq2seq(net, tiny_data(voc), lr, num_epochs, voc, CPU, checkpoint_path=sb.checkpoint,
                                     **kwargs)


def forged_checkpoint(sb, name, change):
    """A copy of the good checkpoint whose dictionary was changed (a damaged or hand-edited file)."""
    state = torch.load(sb.checkpoint, weights_only=True)
    change(state)
    path = sb.root / "runs" / name
    torch.save(state, path)
    return path


@bad("train/save-every-zero", ValueError, r"save_every（每隔几轮保存一次检查点）应是正整数.*请传入一个正整数",
     "train_seq2seq(save_every=0): refused before the first step (was ZeroDivisionError after an epoch)")
def _(sb):
    return resume(sb, save_every=0)


@bad("train/plot-every-zero", ValueError, r"plot_every（每隔几轮重画一次损失曲线）应是正整数.*请传入一个正整数",
     "train_seq2seq(plot_every=0)")
def _(sb):
    voc = vocab()
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), tiny_data(voc), 0.01, 2, voc, CPU, plot_every=0)


@bad("train/num-epochs-fractional", TypeError, r"num_epochs.*应是正整数.*例如写成 num_epochs=2",
     "train_seq2seq(num_epochs=2.5)")
def _(sb):
    voc = vocab()
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), tiny_data(voc), 0.01, 2.5, voc, CPU, plot=False)


@bad("train/cpu-threads-zero", ValueError, r"cpu_threads.*应是正整数.*请传入一个正整数",
     "train_seq2seq(cpu_threads=0)")
def _(sb):
    return resume(sb, cpu_threads=0)


@bad("train/theta-negative", ValueError, r"theta（梯度裁剪的阈值，例如 1）应是正数.*请传入一个正数",
     "train_seq2seq(theta=-1): clipping would turn gradient descent into ascent")
def _(sb):
    return resume(sb, theta=-1.0)


@bad("train/grad-clipping-theta-zero", ValueError, r"theta.*应是正数.*请传入一个正数",
     "grad_clipping(net, 0)")
def _(sb):
    voc = vocab()
    net = seq2seq(len(voc))
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    return lambda: d2l.grad_clipping(net, 0)


@bad("train/resume-with-infinite-lr", ValueError, r"lr（学习率，例如 0\.005）应是正数.*请传入一个正数",
     "resume good.pt with lr=inf (used to save all-nan weights over it)")
def _(sb):
    return resume(sb, lr=float("inf"))


@bad("train/resume-diverges-with-huge-lr", d2l.NonFiniteError,
     r"第 2 轮训练出现了 nan 或 inf.*lr=1e\+38.*请把 lr 调小.*这一轮没有保存.*good\.pt 仍是之前保存的状态",
     "resume good.pt with lr=1e38: the run goes non-finite; good.pt stays byte-identical")
def _(sb):
    return resume(sb, lr=1e38)


@bad("train/resume-with-an-inf-gradient", d2l.NonFiniteError,
     r"第 2 轮.*梯度范数是 inf 或 nan.*这一轮没有保存.*good\.pt",
     "resume good.pt when one gradient overflows to inf (grad_clipping turns it into nan everywhere)")
def _(sb):
    voc = vocab()
    net = seq2seq(len(voc), seed=1)
    net.decoder.dense.weight.register_hook(lambda grad: torch.full_like(grad, float("inf")))
    return resume(sb, net=net)


@bad("train/empty-data-iterator", ValueError, r"data_iter 是空的.*请检查数据是否读进来了",
     "train_seq2seq on a DataLoader without a single batch (used to print loss 0.000 and save a checkpoint)")
def _(sb):
    voc = vocab()
    X, X_len = torch.zeros(0, 5, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    empty = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, X_len, X, X_len), batch_size=3)
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), empty, 0.01, 2, voc, CPU,
                                     checkpoint_path=sb.root / "runs" / "new.pt", plot=False)


@bad("train/one-shot-generator", ValueError, r"第 2 轮 data_iter 没有给出任何有效词元.*只能遍历一次.*DataLoader",
     "train_seq2seq on a generator of batches: the 2nd epoch has nothing left to train on")
def _(sb):
    voc = vocab()
    batches = (batch for batch in tiny_data(voc))
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), batches, 0.01, 2, voc, CPU,
                                     checkpoint_path=sb.root / "runs" / "new.pt", plot=False)


@bad("train/batch-is-not-four-tensors", ValueError, r"应是 \(X, X_valid_len, Y, Y_valid_len\) 四个张量.*load_array",
     "train_seq2seq on batches of (X, Y) pairs")
def _(sb):
    voc = vocab()
    X, _ = d2l.build_array_nmt([["go", "."]] * 4, voc, 5)
    pairs = d2l.load_array((X, X), batch_size=2)
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), pairs, 0.01, 1, voc, CPU, plot=False)


@bad("train/labels-outside-the-target-vocab", ValueError, r"目标词表只有 5 个词元.*是不是把源词表和目标词表弄反了",
     "train_seq2seq with a target vocabulary smaller than the labels (source and target vocabularies swapped)")
def _(sb):
    voc = vocab()
    small = d2l.Vocab([["go"]], reserved_tokens=RESERVED)  # 5 tokens; the labels go up to len(voc) - 1
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), tiny_data(voc), 0.01, 1, small, CPU, plot=False)


@bad("train/device-unknown-name", ValueError, r"收到的是 'gpu'：请用 d2l\.try_gpu\(\)",
     "train_seq2seq(device='gpu')")
def _(sb):
    voc = vocab()
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), tiny_data(voc), 0.01, 1, voc, "gpu", plot=False)


@bad("train/device-missing-gpu", ValueError, r"没有 cuda:99 这块 GPU.*请用 d2l\.try_gpu\(\)",
     "train_seq2seq(device='cuda:99') on a machine without that GPU")
def _(sb):
    voc = vocab()
    return lambda: d2l.train_seq2seq(seq2seq(len(voc)), tiny_data(voc), 0.01, 1, voc, "cuda:99", plot=False)


@bad("train/checkpoint-path-is-a-folder", d2l.CheckpointError, r"是一个文件夹，不是文件.*model\.pt",
     "train_seq2seq(checkpoint_path=runs/): a folder, not a file")
def _(sb):
    voc = vocab()
    return lambda: train(seq2seq(len(voc)), voc, sb.checkpoint.parent)


@bad("train/checkpoint-negative-epoch", d2l.CheckpointError, r"已训练轮数是 -3，不是非负整数.*换回一份完好的副本",
     "resume from a checkpoint whose epoch is -3 (hand-edited)")
def _(sb):
    path = forged_checkpoint(sb, "negative.pt", lambda state: state.update(epoch=-3))
    voc = vocab()
    return lambda: train(seq2seq(len(voc)), voc, path, num_epochs=2)


@bad("train/checkpoint-with-nan-weights", d2l.CheckpointError, r"有 nan 或 inf.*请换回更早的检查点，或者删除它从头训练",
     "resume from a checkpoint whose weights are nan (written by an older version after a diverged run)")
def _(sb):
    path = forged_checkpoint(sb, "nan.pt", lambda state: state["model"]["decoder.dense.bias"].fill_(float("nan")))
    voc = vocab()
    return lambda: train(seq2seq(len(voc)), voc, path, num_epochs=2)


@bad("train/load-with-an-optimizer-over-other-parameters", d2l.CheckpointError,
     r"optimizer 管理的不是这个模型的参数.*d2l\.make_adam\(net, lr\)",
     "load_checkpoint(good.pt, net, optimizer_of_another_model): refused before the model is changed")
def _(sb):
    voc = vocab()
    other = torch.optim.Adam(seq2seq(len(voc)).parameters())
    return lambda: d2l.load_checkpoint(sb.checkpoint, seq2seq(len(voc)), other)


@bad("train/save-a-model-with-nan-weights", d2l.NonFiniteError, r"不保存检查点.*nan 或 inf.*good\.pt 保持原样.*调小学习率",
     "save_checkpoint(good.pt, a model whose weights are nan): good.pt stays as it was")
def _(sb):
    voc = vocab()
    net = seq2seq(len(voc))
    with torch.no_grad():
        net.decoder.dense.bias.fill_(float("nan"))
    return lambda: d2l.save_checkpoint(sb.checkpoint, net, torch.optim.Adam(net.parameters()), 2, [1.0, 0.5])


class _InterruptedFile(io.RawIOBase):
    """A file whose 2nd write raises KeyboardInterrupt: Ctrl-C taking effect inside torch.save."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def writable(self):
        return True

    def write(self, data):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.f.write(data)


@bad("train/ctrl-c-inside-torch-save", KeyboardInterrupt, r"保存检查点时被中断：.*good\.pt 没有被改动",
     "Ctrl-C while save_checkpoint is inside torch.save (torch wraps it into a RuntimeError of its own)")
def _(sb):
    voc = vocab()
    net = seq2seq(len(voc))
    real_save = torch.save
    sb.monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: real_save(obj, _InterruptedFile(f), *a, **k))
    return lambda: d2l.save_checkpoint(sb.checkpoint, net, torch.optim.Adam(net.parameters()), 2, [1.0, 0.5])


@bad("train/budget-scale-not-a-number", ValueError, r"D2L_BUDGET_SCALE 应是一个正数.*'fast'.*请改正它，或者删除它",
     "D2L_BUDGET_SCALE=fast, then budget_seconds(60)")
def _(sb):
    sb.monkeypatch.setenv("D2L_BUDGET_SCALE", "fast")
    return lambda: d2l.budget_seconds(60)


@bad("train/budget-not-positive", ValueError, r"seconds（训练单元格的时间预算，单位是秒）应是正数.*请传入一个正数",
     "budget_seconds(0)")
def _(sb):
    return lambda: d2l.budget_seconds(0)


# --- the tools (booktools) ---------------------------------------------------------------------

@bad("tools/extract-syntax-error-in-a-saved-cell-of-the-book", ExitStatus,
     r"^exit 2: error: notebooks/06_masking_and_loss\.ipynb, cell \d+ \(id [^)]+\): the saved code does not parse"
     r".*fix the cell \(run it in Jupyter to see the error\), then extract again",
     "a copy of the real book where the `def sequence_mask(...):  #@save` line lost its colon; extract")
def _(sb):
    book = sb.root / "realbook"
    shutil.copytree(REPO / "notebooks", book / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "checkpoints"))
    shutil.copytree(REPO / "d2l_local", book / "d2l_local", ignore=shutil.ignore_patterns("__pycache__"))
    path = book / "notebooks" / "06_masking_and_loss.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def sequence_mask(")]
    assert cells, "notebooks/05 no longer saves sequence_mask with a trailing #@save: update this row"
    cells[0].source = cells[0].source.replace("):  #@save", ")  #@save", 1)
    nbformat.write(nb, path)
    return sb.extract(notebooks=book / "notebooks", package=book / "d2l_local")


@bad("tools/extract-name-saved-twice", ExitStatus,
     r"^exit 2: error: notebooks/02_more\.ipynb, cell 2.*saves `helper`.*Rename it.*`#@save redefines=helper`",
     "a second notebook saves `helper` again without saying `redefines=`; extract")
def _(sb):
    write_notebook(sb.notebooks / "02_more.ipynb", "#@save\ndef twice(x):\n    return 2 * d2l.helper(x)",
                   "#@save\ndef helper(x):\n    return x")
    return sb.extract()


@bad("tools/extract-magic-in-a-saved-cell", ExitStatus,
     r"^exit 2: .*IPython magic or shell escape.*move that line to a cell without `#@save`",
     "`%time` inside a #@save cell; extract")
def _(sb):
    write_notebook(sb.notebooks / "03_magic.ipynb", "#@save\n%time\nZ = 1")
    return sb.extract()


@bad("tools/extract-undefined-name", ExitStatus,
     r"^exit 2: .*save that cell, or add the import to a saved cell.*03_helpers\.ipynb, cell 2.*undefined name 'np'",
     "a saved cell uses `np`, imported only in an unsaved cell; extract")
def _(sb):
    write_notebook(sb.notebooks / "03_helpers.ipynb", "import numpy as np", "#@save\ndef ones():\n    return np.ones(2)")
    return sb.extract()


@bad("tools/extract-notebook-truncated", ExitStatus,
     r"^exit 2: error: \S*notebooks/02_more\.ipynb: not valid JSON.*Restore it from git or re-save it from Jupyter",
     "a notebook cut in half (an editor crashed while saving); extract")
def _(sb):
    path = sb.notebooks / "02_more.ipynb"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return sb.extract()


@bad("tools/extract-check-stale-module", ExitStatus,
     r"^exit 1: .*is stale.*Fix: run `python -m booktools\.extract`.*never edit",
     "a saved cell was edited but d2l_local was not regenerated; extract --check")
def _(sb):
    write_notebook(sb.notebooks / "02_more.ipynb", "#@save\ndef twice(x):\n    return 3 * d2l.helper(x)")
    return sb.extract("--check")


@bad("tools/extract-unwritable-d2l_local", ExitStatus,
     r"^exit 2: error: .*(is a file, not a folder.*move that file away|cannot write into.*make it writable)"
     r".*Nothing was changed",
     "d2l_local cannot be written: a read-only folder (as root, which ignores permissions: a file where the "
     "package folder should be); extract")
def _(sb):
    if IS_ROOT:
        blocker = sb.root / "book" / "pkg"
        blocker.write_text("not a folder\n")
        return sb.extract(package=blocker)
    folder = sb.package
    folder.chmod(0o555)
    sb.cleanups.append(lambda: folder.chmod(0o755))
    write_notebook(sb.notebooks / "02_more.ipynb", "#@save\ndef twice(x):\n    return 3 * d2l.helper(x)")
    return sb.extract()


@bad("tools/build-cell-raises", build.BuildError, r"a cell failed.*fix it, then build again.*ZeroDivisionError",
     "booktools.build executes a notebook whose cell raises")
def _(sb):
    path = write_notebook(sb.notebooks / "03_broken.ipynb", "print('ok')", "1 / 0")
    return lambda: build.execute(path)


@bad("tools/build-missing-notebook", ExitStatus, r"^exit 2: error: .*13_missing\.ipynb does not exist.*notebooks/NN_",
     "python -m booktools.build notebooks/13_missing.ipynb (a typo): it must fail before regenerating d2l_local")
def _(sb):
    def regenerate(argv):
        raise AssertionError("build regenerated d2l_local before checking its arguments")

    sb.monkeypatch.setattr(build.extract, "main", regenerate)
    return cli(build.main, sb.notebooks / "13_missing.ipynb", "--no-html")


@bad("tools/student-solution-never-closed", student.StudentEditionError,
     r"`### BEGIN SOLUTION` is never closed; add `### END SOLUTION`",
     "a notebook whose `### BEGIN SOLUTION` has no END; make the student edition")
def _(sb):
    path = write_notebook(sb.notebooks / "03_exercise.ipynb", "def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    return lambda: student.make_edition([path], sb.root / "student")


@bad("tools/student-edition-over-the-notebooks", student.StudentEditionError,
     r"would overwrite the teachers' notebooks.*choose another directory",
     "make the student edition with --out set to the book itself")
def _(sb):
    return lambda: student.make_edition([sb.notebooks / "01_basics.ipynb"], sb.root / "book")


@bad("tools/stability-zero-runs", ExitStatus, r"^exit 2: .*--runs must be at least 1",
     "python -m booktools.stability --runs 0")
def _(sb):
    return cli(stability.main, "--runs", "0")


def _params():
    return [pytest.param(case, id=case.id,
                         marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [])
            for case in BAD_INPUTS]


def test_the_docstring_states_the_catalogue_size():
    ids = [case.id for case in BAD_INPUTS]
    areas = {area: sum(i.startswith(area + "/") for i in ids) for area in ("data", "api", "train", "predict", "tools")}
    stated = (f"{len(ids)} rows (" + ", ".join(f"{a} {n}" for a, n in areas.items()) + "), none of them xfail, "
              f"and {len(TOLERATED)} tolerated")
    assert sum(areas.values()) == len(ids)
    assert stated in " ".join(__doc__.split()), f"update the module docstring: {stated}"
    assert not any(case.xfail for case in BAD_INPUTS)


def test_catalogue_is_wide_enough():
    """At least 20 rows, spread over data, the API, training/checkpoints and the tools."""
    ids = [case.id for case in BAD_INPUTS]
    assert len(ids) == len(set(ids)) and len(ids) >= 20
    for area, least in {"data": 5, "api": 5, "train": 4, "tools": 5}.items():
        assert sum(i.startswith(area + "/") for i in ids) >= least, area


@pytest.mark.parametrize("case", _params())
def test_bad_input_gives_a_clear_error_and_leaves_files_alone(case, sandbox):
    action = case.setup(sandbox)
    before = snapshot(sandbox.root)
    with pytest.raises(case.raises) as info:
        action()
    message = str(info.value)
    assert re.search(case.says, message, re.S), f"{case.id}: the message does not say {case.says!r}:\n{message}"
    after = snapshot(sandbox.root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"{case.id}: the user's files changed (or were left behind): {changed}"


# ---------------------------------------------------------------------------------------------
# Inputs that are not errors by design: what they do instead


def _unknown_words():
    voc = vocab()
    X, valid_lens, _ = d2l.prepare_source("Go zorglub blorf .", voc, 6, CPU)
    assert X[0, :valid_lens[0]].tolist() == [voc["go"], voc.unk, voc.unk, voc["."], voc["<eos>"]]
    translation, _ = d2l.predict_seq2seq(seq2seq(len(voc)), "Go zorglub blorf .", voc, voc, 6, CPU)
    assert isinstance(translation, str) and len(translation.split()) <= 6


def _overlong_sentence():
    voc = vocab()
    sentence = " ".join(["go"] * 50)
    X, valid_lens, _ = d2l.prepare_source(sentence, voc, 5, CPU)
    assert X.shape == (1, 5) and valid_lens.tolist() == [5]  # truncated like the training data
    for predict in (d2l.predict_seq2seq, d2l.predict_seq2seq_beam):
        translation, _ = predict(seq2seq(len(voc)), sentence, voc, voc, 5, CPU)
        assert len(translation.split()) <= 5


def _valid_len_beyond_num_steps():
    X = torch.arange(6.0).reshape(2, 3)
    assert torch.equal(d2l.sequence_mask(X, torch.tensor([7, 3])), X)
    weights = d2l.masked_softmax(torch.zeros(1, 1, 4), torch.tensor([9]))
    assert torch.allclose(weights, torch.full((1, 1, 4), 0.25))


def _case_and_unicode_spaces():
    voc = vocab()
    a, _, _ = d2l.prepare_source("I\u202fLOST\xa0!", voc, 6, CPU)
    b, _, _ = d2l.prepare_source("i lost !", voc, 6, CPU)
    assert torch.equal(a, b)


def _zero_valid_length_gives_zeros_not_nan():
    assert torch.equal(d2l.sequence_mask(torch.ones(2, 3), torch.tensor([0, 0])), torch.zeros(2, 3))
    weights = d2l.masked_softmax(torch.rand(2, 1, 4), torch.tensor([0, 4]))
    assert (weights[0] == 0).all() and torch.isfinite(weights).all()
    pred = torch.rand(2, 3, 5, requires_grad=True)
    loss = d2l.MaskedSoftmaxCELoss()(pred, torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 0]))
    loss.backward()
    assert loss.item() == 0.0 and (pred.grad == 0).all()


def _non_finite_values_in_padding_are_ignored():
    pred = torch.rand(2, 3, 5).masked_fill(torch.tensor([[False, True, True], [False, False, True]])[..., None],
                                           float("nan")).requires_grad_()
    loss = d2l.MaskedSoftmaxCELoss()(pred, torch.zeros(2, 3, dtype=torch.long), torch.tensor([1, 2]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    values = torch.rand(2, 3, 2)
    inf_values = values.masked_fill(torch.tensor([[False, False, True], [False, True, True]])[..., None], float("inf"))
    attention = d2l.DotProductAttention(0.0)
    Q, K = torch.rand(2, 1, 4), torch.rand(2, 3, 4)
    assert torch.allclose(attention(Q, K, inf_values, torch.tensor([2, 1])), attention(Q, K, values, torch.tensor([2, 1])))


TOLERATED = {
    "unknown-words-become-unk": _unknown_words,
    "overlong-sentence-is-truncated-to-num_steps": _overlong_sentence,
    "valid_len-beyond-num_steps-means-all-valid": _valid_len_beyond_num_steps,
    "case-and-unicode-spaces-are-normalised": _case_and_unicode_spaces,
    "zero-valid-length-gives-zeros-not-nan": _zero_valid_length_gives_zeros_not_nan,
    "non-finite-values-in-padding-are-ignored": _non_finite_values_in_padding_are_ignored,
}


@pytest.mark.parametrize("check", TOLERATED.values(), ids=TOLERATED.keys())
def test_tolerated_input_has_its_documented_behaviour(check):
    check()


def test_membership_in_a_vocab_answers_instead_of_looping_forever():
    voc = vocab()
    # without __contains__ the `in` below would never return: check first, so the test cannot hang
    assert "__contains__" in vars(d2l.Vocab), "`token in vocab` would loop forever"
    assert "go" in voc and "<bos>" in voc and "zorglub" not in voc
