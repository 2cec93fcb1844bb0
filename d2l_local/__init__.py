# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""d2l_local: the code of the book, in reading order (generated from its notebooks)."""

import collections
import contextlib
import dataclasses
import datetime
import functools
import gc
import hashlib
import io
import itertools
import math
import os
import random
import re
import stat
import sys
import tempfile
import time
import torch
import urllib.parse
import urllib.request
import zipfile
from matplotlib import pyplot as plt
from pathlib import Path
from torch import nn
from torch.nn import functional as F

# Saved code refers to earlier chapters as `d2l.name`, as the notebooks do.
d2l = sys.modules[__name__]


# ---- notebooks/01_encoder_decoder.ipynb · cell 9 · id ch01-08 ----
class Encoder(nn.Module):
    """编码器接口：把一批源序列变成交给解码器的编码结果。

    子类实现 ``forward(X, *args)``：

    - ``X``：源序列的词元索引，形状 ``(batch_size, num_steps)``；
    - ``*args``：额外信息，例如有效长度 ``valid_lens``，形状 ``(batch_size,)``；
    - 返回：编码结果 ``enc_all_outputs``，原样交给 ``Decoder.init_state``。
      它可以是一个张量，也可以是张量组成的元组，由子类和与它配对的解码器约定。
    """

    def forward(self, X, *args):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 forward(X, *args)。请在 Encoder 的子类中实现它："
            "读入形状为 (batch_size, num_steps) 的词元索引 X，"
            "返回交给 Decoder.init_state 的编码结果。")


# ---- notebooks/01_encoder_decoder.ipynb · cell 11 · id ch01-10 ----
class Decoder(nn.Module):
    """解码器接口：先由编码结果得到初始状态，再根据输入词元和状态算出输出。

    子类实现两个方法：

    - ``init_state(enc_all_outputs, *args)``：接收编码器的全部输出，以及传给
      ``EncoderDecoder.forward`` 的同一组额外参数（如 ``valid_lens``），返回初始状态；
    - ``forward(X, state)``：``X`` 是输入词元，形状 ``(batch_size, num_steps)``
      （训练时是整段目标前缀，逐词预测时 ``num_steps`` 为 1）；返回 ``(output, state)``，
      ``output`` 通常是形状为 ``(batch_size, num_steps, vocab_size)`` 的 logits，
      ``state`` 是更新后的状态，下一次调用时要把它传回来。
    """

    def init_state(self, enc_all_outputs, *args):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 init_state(enc_all_outputs, *args)。"
            "请在 Decoder 的子类中实现它：把编码器的输出（和有效长度等额外参数）变成解码器的初始状态。")

    def forward(self, X, state):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 forward(X, state)。请在 Decoder 的子类中实现它："
            "读入形状为 (batch_size, num_steps) 的词元索引 X 和状态 state，返回 (output, state)。")


# ---- notebooks/01_encoder_decoder.ipynb · cell 13 · id ch01-12 ----
class EncoderDecoder(nn.Module):
    """把一个编码器和一个解码器连成一个可以端到端训练的模型。

    ``forward(enc_X, dec_X, *args)``：

    - ``enc_X``：源序列，形状 ``(batch_size, num_src_steps)``，交给编码器；
    - ``dec_X``：解码器的输入，形状 ``(batch_size, num_tgt_steps)``
      （训练时是以 ``<bos>`` 开头的目标序列）；
    - ``*args``：额外参数（如源序列的有效长度），同时交给编码器和 ``decoder.init_state``；
    - 返回：解码器的 ``(output, state)``，不做任何改动。
    """

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_all_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_all_outputs, *args)
        return self.decoder(dec_X, dec_state)


# ---- notebooks/02_machine_translation_data.ipynb · cell 6 · id ch02-005 ----
FRA_ENG_URL = "https://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
FRA_ENG_SHA1 = "94646ad1522d915e7b0f9296181140edcf86a4f5"


class DataError(RuntimeError):
    """数据文件出了问题（取不到、校验和不对、内容损坏）；消息里写明该怎么办。"""


# ---- notebooks/02_machine_translation_data.ipynb · cell 8 · id ch02-007 ----
def cache_dir():
    """返回存放下载数据的文件夹（Path，不一定已存在）。

    顺序：环境变量 D2L_CACHE_DIR；若本包位于本书仓库的检出中
    （包的上一级目录有 pyproject.toml 和 notebooks/），用 <仓库>/data；
    否则用 ~/.cache/d2l_local。
    """
    env = os.environ.get("D2L_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        here = Path(__file__).resolve().parent  # 生成的包 d2l_local/
    except NameError:  # 在笔记本里运行时没有 __file__，当前目录就是 notebooks/
        here = Path.cwd().resolve()
    repo = here.parent
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        return repo / "data"
    return Path.home() / ".cache" / "d2l_local"


# ---- notebooks/02_machine_translation_data.ipynb · cell 10 · id ch02-009 ----
def _sha1_of(path):
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ways_to_get_data(folder):
    return ("任选一种办法提供数据：\n"
            "  (1) 把环境变量 D2L_DATA_DIR 设为一个含有 fra-eng/fra.txt 的文件夹；\n"
            f"  (2) 把 fra-eng/fra.txt（或压缩包 fra-eng.zip）放进缓存文件夹 {folder}"
            "（也可用 D2L_CACHE_DIR 换一个缓存文件夹）；\n"
            "  (3) 连上网络后重新运行。")


def download(url, sha1, folder, timeout=60):
    """把 url 下载到 folder 并核对 SHA-1，返回文件路径（Path）。

    先写入 <文件名>.part，校验通过后才用 os.replace 改名到位，所以已有的好文件
    不会被坏文件覆盖。folder 里已有校验正确的同名文件时直接返回它，不访问网络。
    校验和不对或网络出错都抛出 DataError。
    """
    folder = Path(folder)
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    target = folder / name
    stale = ""
    if target.is_file():
        if _sha1_of(target) == sha1:
            return target
        stale = f"（{target} 已存在，但校验和不对，没有使用它。）\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        part = open(folder / (name + ".part"), "wb")
    except OSError as error:
        raise DataError(f"无法在 {folder} 里写文件（{error}）。"
                        "请用环境变量 D2L_CACHE_DIR 指定一个可写的文件夹。") from error
    part_path = Path(part.name)
    digest = hashlib.sha1()
    try:
        with part, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                part.write(chunk)
    except OSError as error:  # URLError、超时、连接被拒都是 OSError
        part_path.unlink(missing_ok=True)
        raise DataError(f"无法下载 {url}（{error}）。\n{stale}" + _ways_to_get_data(folder)) from error
    except BaseException:  # 例如按了 Ctrl-C：同样不留下 .part 文件
        part_path.unlink(missing_ok=True)
        raise
    got = digest.hexdigest()
    if got != sha1:
        part_path.unlink(missing_ok=True)
        raise DataError(f"下载的 {name} 校验和（SHA-1 checksum）不对：应为 {sha1}，"
                        f"实际为 {got}。这个文件不完整或被改动过，已删除。"
                        "请稍后重试，或改用下面的办法：\n" + _ways_to_get_data(folder))
    os.replace(part_path, target)
    return target


# ---- notebooks/02_machine_translation_data.ipynb · cell 12 · id ch02-011 ----
def extract_zip(zip_path, folder):
    """把 zip_path 解压到 folder。先检查全部成员，任何一个会落到 folder 之外
    （如 ../x、绝对路径、符号链接）就抛出 DataError，一个文件也不解压。"""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{zip_path} 不是完好的 zip 文件（{error}）。"
                        "请删除它后重新下载。") from error
    with archive:
        plan = []
        for info in archive.infolist():
            name = info.filename
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            absolute = name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name)
            dest = (root / name).resolve()
            if is_link or absolute or "\\" in name or not dest.is_relative_to(root):
                raise DataError(f"拒绝解压 {zip_path}：成员 {name!r} 会写到 {folder} 之外"
                                "（或是符号链接）。这个压缩包不可信，请删除它。")
            plan.append((info, dest))
        for info, dest in plan:
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(dest.name + ".part")
            with archive.open(info) as src, open(part, "wb") as out:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    out.write(chunk)
            os.replace(part, dest)  # 解压到一半中断也不会留下残缺的文件


# ---- notebooks/02_machine_translation_data.ipynb · cell 14 · id ch02-013 ----
def find_fra_eng(url=FRA_ENG_URL, sha1=FRA_ENG_SHA1):
    """返回英法语料 fra-eng/fra.txt 的路径（Path）。

    依次查找：$D2L_DATA_DIR/fra-eng/fra.txt、cache_dir()/fra-eng/fra.txt；
    都没有时把 zip 下载到 cache_dir() 并解压。取不到时抛出 DataError。
    """
    member = Path("fra-eng", "fra.txt")
    note = ""
    data_dir = os.environ.get("D2L_DATA_DIR")
    if data_dir:
        candidate = Path(data_dir).expanduser() / member
        if candidate.is_file():
            return candidate
        note = f"\n注意：已设置 D2L_DATA_DIR={data_dir}，但其中没有 {member.as_posix()}。"
    folder = cache_dir()
    candidate = folder / member
    if candidate.is_file():
        return candidate
    try:
        extract_zip(download(url, sha1, folder), folder)
    except DataError as error:
        raise DataError(f"{error}{note}") from error
    if not candidate.is_file():
        raise DataError(f"压缩包里没有 {member.as_posix()}。请删除 {folder} 里的 "
                        "fra-eng.zip 后重新下载。" + note)
    return candidate


def read_data_nmt():
    """读入英法语料，返回整个文件的文本（str），每行“英语<TAB>法语”。"""
    path = find_fra_eng()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} 不是 UTF-8 文本，文件可能已损坏。"
                        "请删除它后重新获取。") from error
    if not text.strip():
        raise DataError(f"{path} 是空的，文件可能只复制了一半。请删除它后重新获取。")
    return text


# ---- notebooks/02_machine_translation_data.ipynb · cell 18 · id ch02-017 ----
def preprocess_nmt(text):
    """预处理英法语料：不换行空格（U+202F、U+00A0）换成普通空格，转小写，
    并在前面不是空格的 , . ! ? 前插入一个空格。返回新的 str。"""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    # 在“前一个字符不是空格、后一个字符是 , . ! ?”的位置插入空格
    return re.sub(r"(?<=[^ ])(?=[,.!?])", " ", text)


# ---- notebooks/02_machine_translation_data.ipynb · cell 24 · id ch02-023 ----
def tokenize_nmt(text, num_examples=None):
    """把预处理后的语料切成词元，返回 (source, target)：两个等长的列表，
    第 i 项是第 i 个句对的英语/法语词元列表。按空白切分，跳过空行；
    num_examples 不为 None 时恰好取前 num_examples 个句对（不足则全取）。"""
    if num_examples is not None and (not isinstance(num_examples, int) or num_examples < 0):
        raise ValueError(f"num_examples 应为非负整数或 None，收到 {num_examples!r}")
    source, target = [], []
    # 几十万个小列表会一次次触发 Python 的循环垃圾回收（它们之间并没有循环引用），
    # 切分期间暂停它，整个语料能快一倍左右
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for line_no, line in enumerate(text.split("\n"), start=1):
            if len(source) == num_examples:  # num_examples 为 None 时永不成立
                break
            parts = line.split("\t")
            if len(parts) == 2:
                src, tgt = parts[0].split(), parts[1].split()
                if src and tgt:
                    source.append(src)
                    target.append(tgt)
                    continue
            elif not line.strip():  # 跳过空行
                continue
            raise DataError(
                f"语料第 {line_no} 行不是“英语<TAB>法语”两栏：{line[:60]!r}。"
                "文件看起来被截断或损坏了：请删除 fra-eng/fra.txt（和 fra-eng.zip）后重新获取。")
    finally:
        if gc_was_enabled:
            gc.enable()
    return source, target


# ---- notebooks/02_machine_translation_data.ipynb · cell 38 · id ch02-037 ----
class Vocab:
    """词表：在词元（str）和索引（int）之间互相转换。

    tokens 可以是词元列表，也可以是“词元列表的列表”。索引的顺序：先是
    reserved_tokens（按给定顺序），再是 '<unk>'（若未保留），然后是出现次数
    不少于 min_freq 的词元，按次数从多到少、次数相同按字母序排列。
    """

    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        reserved = list(reserved_tokens or [])
        if len(set(reserved)) != len(reserved):
            raise ValueError(f"reserved_tokens 里有重复：{reserved}")
        flat = []
        for item in tokens or []:
            if isinstance(item, (list, tuple)):
                flat.extend(item)
            else:
                flat.append(item)
        counter = collections.Counter(flat)
        self._token_freqs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        self.idx_to_token = reserved + ([] if "<unk>" in reserved else ["<unk>"])
        self.token_to_idx = {tok: idx for idx, tok in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq >= min_freq and token not in self.token_to_idx:
                self.token_to_idx[token] = len(self.idx_to_token)
                self.idx_to_token.append(token)

    def __len__(self):
        return len(self.idx_to_token)

    def __contains__(self, token):
        """`token in vocab`：词元是否在词表里（没有它，Python 会逐个索引地找下去，永不结束）。"""
        return token in self.token_to_idx

    def __getitem__(self, tokens):
        """一个词元 → 索引；列表/元组 → 索引列表。未知词元映射到 unk。"""
        if isinstance(tokens, (list, tuple)):
            return [self[token] for token in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        """一个索引 → 词元；列表/元组/一维张量 → 词元列表。"""
        if isinstance(indices, torch.Tensor):
            indices = indices.tolist()
        if isinstance(indices, (list, tuple)):
            return [self.to_tokens(index) for index in indices]
        index = int(indices)
        if not 0 <= index < len(self.idx_to_token):
            raise IndexError(f"索引 {index} 超出词表范围 [0, {len(self.idx_to_token)})")
        return self.idx_to_token[index]

    @property
    def unk(self):
        """未知词元 '<unk>' 的索引。"""
        return self.token_to_idx["<unk>"]

    @property
    def token_freqs(self):
        """[(词元, 次数), ...]，按次数从多到少（含低于 min_freq 的词元）。"""
        return self._token_freqs

    def __repr__(self):
        return f"Vocab(size={len(self)}, unk={self.unk})"


# ---- notebooks/02_machine_translation_data.ipynb · cell 44 · id ch02-043 ----
def truncate_pad(line, num_steps, padding_token):
    """返回一个恰好 num_steps 项的新列表：过长截断，过短在末尾补 padding_token。
    不修改 line。"""
    if num_steps < 0:
        raise ValueError(f"num_steps 不能为负数，收到 {num_steps}")
    line = list(line[:num_steps])
    return line + [padding_token] * (num_steps - len(line))


def build_array_nmt(lines, vocab, num_steps):
    """把词元序列变成小批量张量。每个序列末尾加 '<eos>' 后截断或填充到 num_steps。

    返回 (array, valid_len)：array 形状 (len(lines), num_steps)，int64；
    valid_len 形状 (len(lines),)，int64，是每行非 '<pad>' 词元的个数。
    """
    if num_steps < 1:
        raise ValueError(f"num_steps 至少为 1，收到 {num_steps}")
    for token in ("<pad>", "<eos>"):
        if token not in vocab.token_to_idx:
            raise ValueError(f"词表里没有 {token}：请用 reserved_tokens 保留它")
    pad, eos, unk = vocab["<pad>"], vocab["<eos>"], vocab.unk
    lookup = vocab.token_to_idx.get  # 与 vocab[line] 相同，但对十几万行更快
    rows = [truncate_pad([lookup(token, unk) for token in line] + [eos], num_steps, pad)
            for line in lines]
    array = torch.tensor(rows, dtype=torch.long).reshape(len(rows), num_steps)
    valid_len = (array != pad).sum(dim=1)
    return array, valid_len


# ---- notebooks/02_machine_translation_data.ipynb · cell 48 · id ch02-047 ----
def load_array(data_arrays, batch_size, is_train=True):
    """用若干个第一维等长的张量构造 DataLoader；is_train=True 时每轮打乱顺序。

    采样器每次给出一整批下标，TensorDataset 用它一次切出整批，不必逐个样本取出再拼起来
    （对小模型，这能省下可观的时间）；打乱的顺序与 DataLoader(dataset, batch_size,
    shuffle=True) 完全相同。
    """
    dataset = torch.utils.data.TensorDataset(*data_arrays)
    order = (torch.utils.data.RandomSampler(dataset) if is_train
             else torch.utils.data.SequentialSampler(dataset))
    batches = torch.utils.data.BatchSampler(order, batch_size, drop_last=False)
    return torch.utils.data.DataLoader(dataset, sampler=batches, batch_size=None)


def load_data_nmt(batch_size, num_steps, num_examples=600):
    """读入英法语料的前 num_examples 个句对，返回 (data_iter, src_vocab, tgt_vocab)。

    data_iter 的每个小批量是 (X, X_valid_len, Y, Y_valid_len)：X、Y 形状
    (batch_size, num_steps)，两个 valid_len 形状 (batch_size,)，都是 int64。
    词表只收出现至少 2 次的词元，保留 <pad>=0、<bos>=1、<eos>=2，<unk>=3。
    """
    text = preprocess_nmt(read_data_nmt())
    source, target = tokenize_nmt(text, num_examples)
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = Vocab(source, min_freq=2, reserved_tokens=reserved)
    tgt_vocab = Vocab(target, min_freq=2, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    data_iter = load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), batch_size)
    return data_iter, src_vocab, tgt_vocab


# ---- notebooks/02_machine_translation_data.ipynb · cell 67 · id ch02-066 ----
def split_nmt(source, target, valid_frac=0.05, test_frac=0.05, seed=0):
    """按英语句子把句对分成训练/验证/测试三部分。

    同一个英语句子（词元用空格连起来）的所有句对落在同一部分。先把不同的英语
    句子排序，再用 random.Random(seed) 打乱，前 test_frac 份作测试、接着
    valid_frac 份作验证、其余作训练；每部分内句对保持语料中的顺序。
    返回 {'train': (src, tgt), 'valid': (src, tgt), 'test': (src, tgt)}。
    """
    if len(source) != len(target):
        raise ValueError(f"source 和 target 长度不同：{len(source)} 与 {len(target)}")
    if not (0 <= valid_frac and 0 <= test_frac and valid_frac + test_frac < 1):
        raise ValueError("需要 0 <= valid_frac、0 <= test_frac 且两者之和小于 1，"
                         f"收到 valid_frac={valid_frac}, test_frac={test_frac}")
    sentences = sorted({" ".join(tokens) for tokens in source})
    random.Random(seed).shuffle(sentences)
    num_test = round(len(sentences) * test_frac)
    num_valid = round(len(sentences) * valid_frac)
    part_of = {}
    for i, sentence in enumerate(sentences):
        part_of[sentence] = ("test" if i < num_test else
                             "valid" if i < num_test + num_valid else "train")
    splits = {part: ([], []) for part in ("train", "valid", "test")}
    for src, tgt in zip(source, target):
        src_part, tgt_part = splits[part_of[" ".join(src)]]
        src_part.append(src)
        tgt_part.append(tgt)
    return splits


# ---- notebooks/02_machine_translation_data.ipynb · cell 75 · id ch02-074 ----
def load_data_nmt_split(batch_size, num_steps, *, valid_frac=0.05, test_frac=0.05, seed=0,
                        max_tokens=None, num_train=None, min_freq=2):
    """在整个英法语料上按英语句子划分，返回 (train_iter, src_vocab, tgt_vocab, splits)。

    max_tokens：只保留两侧都不超过 max_tokens 个词元的句对（在划分之前过滤）。
    num_train：训练句对最多取这么多（用 seed 抽取的子集，保持语料顺序）；
    验证集和测试集不受它影响。词表只用训练部分构建。train_iter 的小批量格式
    与 load_data_nmt 相同；splits 的格式同 split_nmt 的返回值（词元列表），
    其中 'train' 是实际用于训练的那部分。
    """
    source, target = tokenize_nmt(preprocess_nmt(read_data_nmt()))
    if max_tokens is not None:
        keep = [i for i, (src, tgt) in enumerate(zip(source, target))
                if len(src) <= max_tokens and len(tgt) <= max_tokens]
        source = [source[i] for i in keep]
        target = [target[i] for i in keep]
    splits = split_nmt(source, target, valid_frac, test_frac, seed)
    train_src, train_tgt = splits["train"]
    if num_train is not None:
        if num_train < 0:
            raise ValueError(f"num_train 不能为负数，收到 {num_train}")
        if num_train < len(train_src):
            chosen = sorted(random.Random(seed).sample(range(len(train_src)), num_train))
            train_src = [train_src[i] for i in chosen]
            train_tgt = [train_tgt[i] for i in chosen]
            splits["train"] = (train_src, train_tgt)
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = Vocab(train_src, min_freq=min_freq, reserved_tokens=reserved)
    tgt_vocab = Vocab(train_tgt, min_freq=min_freq, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(train_src, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(train_tgt, tgt_vocab, num_steps)
    train_iter = load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), batch_size)
    return train_iter, src_vocab, tgt_vocab, splits


# ---- notebooks/02_machine_translation_data.ipynb · cell 81 · id ch02-080 ----
DATE_FORMATS = ("zh_numerals", "zh_digits", "en_short", "en_long",
                "en_day_first", "en_weekday", "dotted")
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZH_DIGITS = "〇一二三四五六七八九"


def _zh_number(n):
    """1..31 写成汉字：5 → 五，10 → 十，12 → 十二，25 → 二十五，30 → 三十。"""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _ZH_DIGITS[ones]
    return ((_ZH_DIGITS[tens] if tens > 1 else "") + "十"
            + (_ZH_DIGITS[ones] if ones else ""))


def format_date(day, fmt):
    """把 datetime.date 按 DATE_FORMATS 中的一种格式写成字符串。"""
    month = _MONTHS[day.month - 1]
    if fmt == "zh_numerals":  # 二〇二六年十一月二十五日
        year = "".join(_ZH_DIGITS[int(c)] for c in str(day.year))
        return f"{year}年{_zh_number(day.month)}月{_zh_number(day.day)}日"
    if fmt == "zh_digits":  # 2026年11月25日
        return f"{day.year}年{day.month}月{day.day}日"
    if fmt == "en_short":  # Nov 25, 2026
        return f"{month[:3]} {day.day}, {day.year}"
    if fmt == "en_long":  # November 25, 2026
        return f"{month} {day.day}, {day.year}"
    if fmt == "en_day_first":  # 25 November 2026
        return f"{day.day} {month} {day.year}"
    if fmt == "en_weekday":  # Wednesday, November 25, 2026
        return f"{_WEEKDAYS[day.weekday()]}, {month} {day.day}, {day.year}"
    if fmt == "dotted":  # 25.11.2026
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    raise ValueError(f"未知的日期格式 {fmt!r}，可选：{DATE_FORMATS}")


def date_split(day):
    """日期所属的部分：'test'（约 10%）或 'train'。由日期的 ISO 字符串的 SHA-1
    决定，与随机种子无关，所以测试日期永远不会出现在训练集里。"""
    digest = hashlib.sha1(day.isoformat().encode("ascii")).digest()
    return "test" if int.from_bytes(digest[:4], "big") % 10 == 0 else "train"


# ---- notebooks/02_machine_translation_data.ipynb · cell 87 · id ch02-086 ----
def make_date_pairs(num_examples, seed=0, split="train"):
    """生成 num_examples 个不重复的 (源字符串, 'YYYY-MM-DD') 日期句对。

    日期取自 1950-01-01 到 2049-12-31 中属于 split（'train' 或 'test'，
    见 date_split）的那些，格式取自 DATE_FORMATS；同样的参数总给出同样的结果。
    """
    if split not in ("train", "test"):
        raise ValueError(f"split 只能是 'train' 或 'test'，收到 {split!r}")
    if not isinstance(num_examples, int) or num_examples < 0:
        raise ValueError(f"num_examples 应为非负整数，收到 {num_examples!r}")
    num_days = (LAST_DATE - FIRST_DATE).days + 1
    days = [FIRST_DATE + datetime.timedelta(i) for i in range(num_days)]
    days = [day for day in days if date_split(day) == split]
    short = DATE_FORMATS.index("en_short")
    # 五月的缩写 May 与全称相同，en_short 与 en_long 会重复，故去掉这些组合
    candidates = [(d, f) for d, day in enumerate(days) for f in range(len(DATE_FORMATS))
                  if not (f == short and day.month == 5)]
    if num_examples > len(candidates):
        raise ValueError(f"split={split!r} 只有 {len(candidates)} 个不同的日期句对，"
                         f"要不了 {num_examples} 个")
    chosen = random.Random(seed).sample(candidates, num_examples)
    return [(format_date(days[d], DATE_FORMATS[f]), days[d].isoformat()) for d, f in chosen]


def tokenize_dates(pairs):
    """按字符切分日期句对，返回 (source, target)：字符列表的列表。"""
    return [list(src) for src, _ in pairs], [list(tgt) for _, tgt in pairs]


def load_data_dates(batch_size, num_examples=10000, num_steps=None, seed=0):
    """合成的日期翻译数据（训练部分），返回 (data_iter, src_vocab, tgt_vocab)。

    小批量格式同 load_data_nmt：(X, X_valid_len, Y, Y_valid_len)，X、Y 形状
    (batch_size, num_steps)。num_steps 为 None 时取最长源序列长度 + 1（留给 <eos>）。
    词表为字符级，保留 <pad>=0、<bos>=1、<eos>=2，<unk>=3。
    """
    if not isinstance(num_examples, int) or num_examples < 1:
        raise ValueError(f"num_examples 应为正整数，收到 {num_examples!r}")
    source, target = tokenize_dates(make_date_pairs(num_examples, seed, "train"))
    if num_steps is None:
        num_steps = max(len(line) for line in source) + 1
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = Vocab(source, reserved_tokens=reserved)
    tgt_vocab = Vocab(target, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    data_iter = load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), batch_size)
    return data_iter, src_vocab, tgt_vocab


# ---- notebooks/03_encoder.ipynb · cell 12 · id ch03-11 ----
class Seq2SeqEncoder(d2l.Encoder):
    """序列到序列学习的 RNN 编码器：嵌入层 + 多层 GRU，内部按时间步优先排列。

    ``forward(X, *args)``：``X`` 是词元索引，形状 ``(batch_size, num_steps)``；``*args``
    （如有效长度）不使用。返回 ``(output, state)``：

    - ``output``：最顶层 GRU 在每个时间步的隐状态，形状 ``(num_steps, batch_size, num_hiddens)``；
    - ``state``：每一层 GRU 在最后一个时间步的隐状态，形状 ``(num_layers, batch_size, num_hiddens)``。
      ``state[-1]`` 与 ``output[-1]`` 相等，就是上下文 c。
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

    def forward(self, X, *args):
        embs = self.embedding(X.t())    # (num_steps, batch_size, embed_size)
        output, state = self.rnn(embs)  # 初始隐状态默认为全 0
        return output, state


# ---- notebooks/04_decoder.ipynb · cell 16 · id ch04-15 ----
class Seq2SeqDecoder(d2l.Decoder):
    """序列到序列学习的 RNN 解码器：上下文放在状态里，逐步调用与一次调用结果相同。

    状态是元组 ``(hidden, context)``：

    - ``hidden``：GRU 各层的隐状态，形状 ``(num_layers, batch_size, num_hiddens)``，每次调用后更新；
    - ``context``：编码器顶层的最终隐状态 c，形状 ``(batch_size, num_hiddens)``，原样传下去。

    ``forward(X, state)``：``X`` 形状 ``(batch_size, num_steps)``；返回 ``(output, state)``，
    ``output`` 是形状为 ``(batch_size, num_steps, vocab_size)`` 的 logits。
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_all_outputs, *args):
        _, enc_state = enc_all_outputs          # enc_state: (num_layers, batch_size, num_hiddens)
        return enc_state, enc_state[-1]         # (hidden, context)

    def forward(self, X, state):
        hidden, context = state
        embs = self.embedding(X.t())                                     # (num_steps, batch_size, embed_size)
        context_steps = context.unsqueeze(0).expand(embs.shape[0], -1, -1)  # (num_steps, batch_size, num_hiddens)
        output, hidden = self.rnn(torch.cat([embs, context_steps], dim=-1), hidden)
        logits = self.dense(output).transpose(0, 1)                      # (batch_size, num_steps, vocab_size)
        return logits, (hidden, context)

    def reorder_state(self, state, index):
        """按 index（LongTensor，形状 (k,)）挑出批量中的句子，可以重复、可以调换顺序。"""
        hidden, context = state
        return hidden.index_select(1, index), context.index_select(0, index)


# ---- notebooks/05_masking_and_loss.ipynb · cell 18 · id ch05-16 ----
def sequence_mask(X, valid_len, value=0):
    """返回 X 的新副本，其中第 i 行第 t >= valid_len[i] 个时间步的元素都换成 value。

    - X：形状 (batch_size, num_steps, ...)，至少二维；X 本身从不被修改。
    - valid_len：形状 (batch_size,) 的有效长度，与 X 在同一设备上。可以是整数，
      也可以是取整数值的浮点数（如 3.0）；带小数的、负的会被拒绝。大于 num_steps
      表示整行有效，0 表示整行被遮蔽。
    - value：填入被遮蔽位置的值（算损失时用 0，注意力里用 -1e6 这样很小的数）。

    结果可以求导：梯度只流向没被遮蔽的位置。
    """
    if not torch.is_tensor(X) or X.dim() < 2:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f"X 的形状应为 (batch_size, num_steps, ...)，至少二维；现在是 {shape}。"
                         "一个序列也请写成批量：X.unsqueeze(0)。")
    if not torch.is_tensor(valid_len):
        valid_len = torch.as_tensor(valid_len, device=X.device)
    if valid_len.device != X.device:
        raise ValueError(f"valid_len 在 {valid_len.device} 上，X 在 {X.device} 上："
                         "请把 valid_len 移到 X 所在的设备（move valid_len to X.device），"
                         "例如 valid_len.to(X.device)。")
    if valid_len.dtype == torch.bool or valid_len.is_complex():
        raise TypeError(f"valid_len 应是整数型的有效长度，现在是 {valid_len.dtype}。"
                        "如果手里是 (batch_size, num_steps) 的掩码，请用 mask.sum(dim=1) 得到长度。")
    batch_size = X.shape[0]
    if valid_len.dim() != 1:
        raise ValueError(f"valid_len 的形状应为 (batch_size,) = ({batch_size},)，每个序列一个长度；"
                         f"现在是 {tuple(valid_len.shape)}。二维的长度请先展平：valid_len.reshape(-1)，"
                         "并把 X 相应地展平成 (-1, num_steps)。")
    if valid_len.shape[0] != batch_size:
        raise ValueError(f"valid_len 有 {valid_len.shape[0]} 个长度，X 却有 {batch_size} 个序列："
                         "请为 X 的每个序列（第 0 维）各给一个长度。")
    if not valid_len.is_meta:  # meta 张量没有数值，只能检查形状
        if bool((valid_len < 0).any()):
            raise ValueError(f"valid_len 不能有负数（它数的是有效词元的个数）：{valid_len.tolist()}。"
                             "请检查有效长度是怎样算出来的。")
        if valid_len.is_floating_point() and bool((valid_len != valid_len.floor()).any()):
            raise ValueError(f"valid_len 必须是整数值（3.0 可以，2.5 和 nan 不行）：{valid_len.tolist()}。"
                             "请检查有效长度是怎样算出来的，或先取整：valid_len.round().long()。")
    steps = torch.arange(X.shape[1], device=X.device)
    keep = steps[None, :] < valid_len[:, None]              # (batch_size, num_steps)
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))  # 广播到 X 的其余维度
    return X.masked_fill(~keep, value)                      # 新张量，X 不变


# ---- notebooks/05_masking_and_loss.ipynb · cell 35 · id ch05-33 ----
class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """带遮蔽的 softmax 交叉熵：只对有效词元求平均。

    loss(pred, label, valid_len)：
    - pred：logits，形状 (batch_size, num_steps, vocab_size)；
    - label：词元索引，形状 (batch_size, num_steps)；
    - valid_len：有效长度，形状 (batch_size,)，规则同 sequence_mask；
    - 返回：标量，所有有效词元的损失之和 / 有效词元总数，不随 num_steps（填充多少）变化。
      没有有效词元时返回 0（梯度全为 0），不返回 NaN。
    构造参数 weight、label_smoothing、ignore_index 作用于每个词元；reduction 不起作用。
    """

    def forward(self, pred, label, valid_len):
        if pred.dim() != 3:
            raise ValueError(f"pred 应是形状为 (batch_size, num_steps, vocab_size) 的 logits，"
                             f"现在是 {tuple(pred.shape)}。")
        if label.shape != pred.shape[:2]:
            hint = ("pred 是不是已经换成了 (batch_size, vocab_size, num_steps)？请直接传未换维的 logits。"
                    if label.shape == (pred.shape[0], pred.shape[2]) else
                    "请检查 label 是否与 pred 的前两维对应。")
            raise ValueError(f"label 的形状应为 (batch_size, num_steps) = {tuple(pred.shape[:2])}，"
                             f"现在是 {tuple(label.shape)}。{hint}")
        if label.is_floating_point():
            raise TypeError(f"label 应是词元索引（整数型，如 torch.long），现在是 {label.dtype}。")
        # 展平成 (batch_size * num_steps, vocab_size)，每行一个词元：比换维后计算更快，结果相同
        batch_size, num_steps, vocab_size = pred.shape
        token_loss = F.cross_entropy(pred.reshape(-1, vocab_size), label.reshape(-1), weight=self.weight,
                                     ignore_index=self.ignore_index, reduction='none',
                                     label_smoothing=self.label_smoothing)
        token_loss = token_loss.reshape(batch_size, num_steps)             # (batch_size, num_steps)
        valid = sequence_mask(torch.ones_like(token_loss), valid_len) > 0  # 有效位置为 True
        return token_loss.masked_fill(~valid, 0).sum() / valid.sum().clamp(min=1)


# ---- notebooks/06_training.ipynb · cell 10 · id ch06-09 ----
def grad_clipping(net, theta):
    """把 net 全部参数的梯度看成一个向量 g，做 g <- min(1, theta/||g||) g。

    原地修改各参数的 .grad；返回裁剪前的 ||g||（0 维张量，在参数所在的设备上）。
    不调用 .item()，不用 Python 的 if 判断张量，所以在 GPU 上不会迫使 CPU 等待。"""
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(theta / norm, max=1.0)  # ||g|| <= theta 时恰好为 1
    for g in grads:
        g.mul_(scale)
    return norm


# ---- notebooks/06_training.ipynb · cell 14 · id ch06-13 ----
def xavier_init_weights(module):
    """Xavier 均匀初始化：nn.Linear 的权重，以及 RNN（GRU、LSTM……）的每个权重矩阵；偏置不动。
    用法：net.apply(xavier_init_weights)。"""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    if isinstance(module, nn.RNNBase):
        for name, param in module.named_parameters():
            if name.startswith('weight'):
                nn.init.xavier_uniform_(param)


# ---- notebooks/06_training.ipynb · cell 18 · id ch06-17 ----
def _make_adam(net, lr):
    """Adam 优化器；torch 支持时用 fused 版本（一个核函数做完全部参数的更新；CPU 上要 torch >= 2.4）。"""
    params = list(net.parameters())
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


# ---- notebooks/06_training.ipynb · cell 20 · id ch06-19 ----
def try_gpu(i=0):
    """有第 i 块 GPU 就返回 torch.device('cuda:i')，否则返回 CPU。"""
    return torch.device(f'cuda:{i}' if torch.cuda.device_count() > i else 'cpu')


# ---- notebooks/06_training.ipynb · cell 23 · id ch06-22 ----
class Timer:
    """记录多段时间：start() 开始一段，stop() 结束这一段并返回它的秒数。"""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self._start = time.perf_counter()

    def stop(self):
        self.times.append(time.perf_counter() - self._start)
        return self.times[-1]

    def avg(self):
        return sum(self.times) / len(self.times)

    def sum(self):
        return sum(self.times)

    def cumsum(self):
        """各段时间的累计和。"""
        out, total = [], 0.0
        for t in self.times:
            total += t
            out.append(total)
        return out


# ---- notebooks/06_training.ipynb · cell 25 · id ch06-24 ----
class Accumulator:
    """对 n 个量分别求和。add 的参数可以是 Python 数，也可以是张量：张量留在原设备上累加，
    读取 acc[i] 时才变成 Python 的 float，所以每个小批量都 add 也不会迫使 GPU 同步。"""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        if len(args) != len(self.data):
            raise ValueError(f'这个 Accumulator 累加 {len(self.data)} 个量，add 却收到 {len(args)} 个')
        self.data = [a + b for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return float(self.data[idx])


# ---- notebooks/06_training.ipynb · cell 28 · id ch06-27 ----
class Animator:
    """一张随训练更新的折线图（API 同 d2l：add(x, y)，y 可以是几条曲线各一个值）。

    在 IPython 内核（Jupyter、Colab、nbval）里：第一次重画时显示一张 PNG，之后原地替换它
    （display_id），单元格里只留一张图，也不会清掉单元格里的其他输出。
    不在内核里（普通脚本）时只记录数据，不画图；figure() 随时给出一张 matplotlib Figure。
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale='linear', yscale='linear', fmts=('-', 'm--', 'g-.', 'r:'),
                 figsize=(3.5, 2.5), live=None):
        self.xlabel, self.ylabel, self.legend = xlabel, ylabel, legend
        self.xlim, self.ylim, self.xscale, self.yscale = xlim, ylim, xscale, yscale
        self.fmts, self.figsize = fmts, figsize
        self.X, self.Y = None, None
        self.live = ('ipykernel' in sys.modules) if live is None else live  # 是否真的显示
        self._handle = None

    def add(self, x, y, redraw=True):
        """添加一个点；redraw=False 只记录不重画（重画一次要几十毫秒）。"""
        if not hasattr(y, '__len__'):
            y = [y]
        if not hasattr(x, '__len__'):
            x = [x] * len(y)
        if self.X is None:
            self.X, self.Y = [[] for _ in y], [[] for _ in y]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        if redraw:
            self.show()

    def figure(self):
        """用目前的数据画一张新的 matplotlib Figure（不经过 pyplot）。"""
        from matplotlib.figure import Figure
        fig = Figure(figsize=self.figsize)
        ax = fig.add_subplot()
        for i, (x, y) in enumerate(zip(self.X or [], self.Y or [])):
            ax.plot(x, y, self.fmts[i % len(self.fmts)])
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.legend:
            ax.legend(self.legend)
        ax.grid(True)
        fig.tight_layout()
        return fig

    def show(self):
        """在 IPython 内核里显示这张图，或原地替换上一次显示的那张；否则什么也不做。"""
        if not self.live or self.X is None:
            return
        from IPython.display import Image, display
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format='png', dpi=100)
        image = Image(data=buffer.getvalue(), format='png')
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)


# ---- notebooks/06_training.ipynb · cell 32 · id ch06-31 ----
class CheckpointError(RuntimeError):
    """检查点读不出来，或者与要恢复的模型不符。"""


CHECKPOINT_FORMAT = 'd2l_local.train_seq2seq/1'


def _check_checkpoint_folder(path):
    """建好检查点所在的文件夹并确认能在里面写文件；返回文件夹。写不了时抛出 CheckpointError。"""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CheckpointError(f'无法在 {folder} 里写检查点（{error}）：请换一个可写的 checkpoint_path。') from None
    return folder


def save_checkpoint(path, net, optimizer, epoch, loss_history=()):
    """把训练现场原子地写进 path：模型和优化器的状态、已训练的轮数 epoch、每轮的损失，
    以及续训所需的随机数状态（torch CPU、CUDA、Python random）。
    先写同一文件夹里的临时文件，落盘后再 os.replace，所以 path 永远是一个完整的检查点。"""
    state = {
        'format': CHECKPOINT_FORMAT,
        'epoch': int(epoch),
        'model': net.state_dict(),
        'optimizer': optimizer.state_dict(),
        'loss_history': [float(x) for x in loss_history],
        'rng': {'torch': torch.get_rng_state(),
                'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                'python': random.getstate()},
    }
    folder = _check_checkpoint_folder(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + '.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())  # 确实写到磁盘上之后才替换
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):  # 只有出错时它才还在：删掉，旧检查点不受影响
            os.remove(tmp)


# ---- notebooks/06_training.ipynb · cell 34 · id ch06-33 ----
def _check_shapes(path, own, saved):
    """比较模型与检查点的参数名和形状；不一致时抛出 CheckpointError，列出每一处不同。"""
    problems = []
    for name, tensor in own.items():
        if name not in saved:
            problems.append(f'  {name}：模型里有，检查点里没有')
        elif tuple(saved[name].shape) != tuple(tensor.shape):
            problems.append(f'  {name}：检查点里的形状是 {tuple(saved[name].shape)}，'
                            f'模型里是 {tuple(tensor.shape)}')
    problems += [f'  {name}：检查点里有，模型里没有' for name in saved if name not in own]
    if problems:
        raise CheckpointError(
            f'检查点 {path} 属于另一个形状的模型（shape mismatch），不能用来续训：\n'
            + '\n'.join(problems)
            + '\n若要从头训练这个模型，请删除这个文件，或者换一个 checkpoint_path。')

def load_checkpoint(path, net, optimizer=None, *, restore_rng=False):
    """读入 save_checkpoint 写的检查点，恢复 net（和 optimizer）的状态；restore_rng=True 时
    还恢复随机数状态（续训时需要）。返回 {'epoch': 已训练轮数, 'loss_history': [...]}。
    文件读不出来，或与 net 的参数形状不符时，抛出 CheckpointError，net 保持不变。"""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise CheckpointError(
            f'读不出检查点 {path}：文件可能只写了一半，或者已经损坏。请删除它（或换一个 '
            f'checkpoint_path）从头训练，或者换回一份完好的副本。\n'
            f'（原始错误：{type(error).__name__}: {error}）') from error
    keys = {'format', 'epoch', 'model', 'optimizer', 'loss_history', 'rng'}
    if not (isinstance(state, dict) and state.get('format') == CHECKPOINT_FORMAT and keys <= state.keys()):
        raise CheckpointError(f'{path} 不是 save_checkpoint 写的检查点（它没有被改动）。'
                              '请换一个 checkpoint_path；如果它是 torch.save(net.state_dict()) 存的权重，'
                              '用 net.load_state_dict(torch.load(path)) 读入。')
    _check_shapes(path, net.state_dict(), state['model'])
    net.load_state_dict(state['model'])
    if optimizer is not None:
        optimizer.load_state_dict(state['optimizer'])
    if restore_rng:
        torch.set_rng_state(state['rng']['torch'])
        if torch.cuda.is_available() and len(state['rng']['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['rng']['cuda'])
        random.setstate(state['rng']['python'])
    return {'epoch': state['epoch'], 'loss_history': state['loss_history']}


# ---- notebooks/06_training.ipynb · cell 36 · id ch06-35 ----
@dataclasses.dataclass
class TrainResult:
    """train_seq2seq 的返回值。"""
    loss: float            # 最后一轮的每词元损失
    tokens_per_sec: float  # 本次调用的训练速度：每秒处理的有效目标词元数
    epochs_run: int        # 本次调用训练了几轮
    start_epoch: int       # 从第几轮之后开始（续训时大于 0）
    num_epochs: int        # 训练到第几轮为止
    seconds: float         # 本次调用花在训练上的秒数（不含画图和保存检查点）
    loss_history: list     # 每一轮的每词元损失（含续训之前的各轮）


# ---- notebooks/06_training.ipynb · cell 37 · id ch06-36 ----
def train_seq2seq(net, data_iter, lr, num_epochs, tgt_vocab, device, *,
                  checkpoint_path=None, save_every=10, theta=1.0,
                  plot=True, plot_every=10, cpu_threads=1):
    """用强制教学训练序列到序列模型，返回 TrainResult。

    checkpoint_path：每 save_every 轮和结束时保存检查点；该文件已存在时从它续训（模型、优化器、
        轮数、损失记录和随机数状态都恢复，结果与没中断过一样）。读不出或形状不符时报错。
    theta：梯度裁剪的阈值。plot：是否画损失曲线（只在 Jupyter 里显示），每 plot_every 轮重画一次。
    cpu_threads：在 CPU 上训练时使用的线程数（结束后恢复）；None 表示不改。
    """
    if '<bos>' not in getattr(tgt_vocab, 'token_to_idx', tgt_vocab):
        raise ValueError("tgt_vocab 里没有 '<bos>'：构造词表时请用 "
                         "reserved_tokens=['<pad>', '<bos>', '<eos>'] 保留它。")
    if checkpoint_path is not None:
        _check_checkpoint_folder(checkpoint_path)  # 现在就发现写不了，而不是训练了 save_every 轮之后
    net.to(device)
    optimizer = _make_adam(net, lr)
    loss = d2l.MaskedSoftmaxCELoss()
    start_epoch, history = 0, []
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        saved = load_checkpoint(checkpoint_path, net, optimizer, restore_rng=True)
        start_epoch, history = saved['epoch'], saved['loss_history']
        for group in optimizer.param_groups:
            group['lr'] = lr  # 学习率以这次调用为准
    else:
        net.apply(xavier_init_weights)
    if start_epoch >= num_epochs:
        print(f'检查点已训练到第 {start_epoch} 轮（num_epochs={num_epochs}），无需继续训练。')
        return TrainResult(history[-1] if history else math.nan, 0.0, 0, start_epoch,
                           num_epochs, 0.0, history)
    if start_epoch > 0:
        print(f'从检查点 {os.path.basename(checkpoint_path)} 的第 {start_epoch} 轮之后继续训练')
    animator = Animator(xlabel='epoch', ylabel='loss per token', xlim=[1, num_epochs],
                        live=None if plot else False)
    for epoch, value in enumerate(history, start=1):
        animator.add(epoch, value, redraw=False)
    old_threads = torch.get_num_threads()
    if device.type == 'cpu' and cpu_threads:
        torch.set_num_threads(cpu_threads)
    timer, num_tokens = Timer(), 0.0
    net.train()
    try:
        for epoch in range(start_epoch + 1, num_epochs + 1):
            timer.start()
            metric = Accumulator(2)  # 损失 × 词元数之和，有效词元数（留在设备上）
            for X, X_valid_len, Y, Y_valid_len in data_iter:
                Y = Y[:, :int(Y_valid_len.max())]  # 全是 <pad> 的尾列不进损失，不必计算
                X, X_valid_len, Y, Y_valid_len = [t.to(device) for t in (X, X_valid_len, Y, Y_valid_len)]
                bos = torch.full((Y.shape[0], 1), tgt_vocab['<bos>'], device=device)
                dec_input = torch.cat([bos, Y[:, :-1]], dim=1)  # 强制教学
                Y_hat, _ = net(X, dec_input, X_valid_len)
                l = loss(Y_hat, Y, Y_valid_len)  # 标量：有效词元上的平均损失
                optimizer.zero_grad(set_to_none=True)
                l.backward()
                grad_clipping(net, theta)
                optimizer.step()
                num_batch_tokens = Y_valid_len.sum()
                metric.add(l.detach() * num_batch_tokens, num_batch_tokens)
            history.append(metric[0] / max(metric[1], 1))  # 每轮只在这里同步一次
            timer.stop()
            num_tokens += metric[1]
            animator.add(epoch, history[-1], redraw=(epoch % plot_every == 0 or epoch == num_epochs))
            if checkpoint_path is not None and (epoch % save_every == 0 or epoch == num_epochs):
                save_checkpoint(checkpoint_path, net, optimizer, epoch, history)
    finally:
        torch.set_num_threads(old_threads)
    speed = num_tokens / timer.sum()
    print(f'loss {history[-1]:.3f}, {speed:.0f} tokens/sec on {device}')
    return TrainResult(history[-1], speed, num_epochs - start_epoch, start_epoch, num_epochs,
                       timer.sum(), history)


# ---- notebooks/07_prediction_and_evaluation.ipynb · cell 10 · id ch07-09 ----
def check_vocabs(net, src_vocab, tgt_vocab):
    """词表必须是训练这个模型时用的那两个：大小与编码器、解码器的嵌入层行数一致（有嵌入层时才查）。"""
    for name, vocab, part in (('src_vocab', src_vocab, net.encoder), ('tgt_vocab', tgt_vocab, net.decoder)):
        embedding = getattr(part, 'embedding', None)
        rows = getattr(embedding, 'num_embeddings', None)
        if rows is not None and len(vocab) != rows:
            where = '编码器' if part is net.encoder else '解码器'
            raise ValueError(f"{name} 有 {len(vocab)} 个词元，而{where}的嵌入层有 {rows} 行：请传入训练这个"
                             f"模型时用的词表（load_data_* 返回的 {name}）。")

def prepare_source(src_sentences, src_vocab, num_steps, device):
    """检查并编码要翻译的源句子，返回 (X, valid_lens, single)。

    - src_sentences：一个 str，或由 str 组成的 list/tuple；
    - X：形状 (n, num_steps) 的词元索引，在 device 上；valid_lens：形状 (n,)；
    - single：输入是不是单个 str。

    预处理与训练时完全相同：d2l.preprocess_nmt（小写、标点前加空格），再按空白切分，
    末尾加 '<eos>'，截断或填充到 num_steps。词表里没有的词变成 '<unk>'；
    超过 num_steps 的部分（连同 '<eos>'）被截掉，与训练数据的处理方式一致。
    非字符串 → TypeError；空串或只有空白 → ValueError。
    """
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps 应是正整数，收到 {num_steps!r}")
    single = isinstance(src_sentences, str)
    if single:
        sentences = [src_sentences]
    elif isinstance(src_sentences, (list, tuple)):
        sentences = list(src_sentences)
        for i, sentence in enumerate(sentences):
            if not isinstance(sentence, str):
                raise TypeError(f"第 {i} 个源句子应是 str，收到 {type(sentence).__name__}：{sentence!r}")
    else:
        raise TypeError("src_sentences 应是一个 str 或由 str 组成的 list，"
                        f"收到 {type(src_sentences).__name__}：{src_sentences!r}")
    pad, eos = src_vocab['<pad>'], src_vocab['<eos>']
    rows, valid_lens = [], []
    for i, sentence in enumerate(sentences):
        tokens = d2l.preprocess_nmt(sentence).split()
        if not tokens:
            where = '源句子' if single else f'第 {i} 个源句子'
            raise ValueError(f"{where}是空的（或只有空白）：没有可以翻译的词元。请传入至少含一个词的句子；"
                             "批量翻译前先去掉空串：[s for s in sentences if s.strip()]。")
        ids = src_vocab[tokens] + [eos]
        rows.append(d2l.truncate_pad(ids, num_steps, pad))
        valid_lens.append(min(len(ids), num_steps))
    X = torch.tensor(rows, dtype=torch.long, device=device).reshape(len(rows), num_steps)
    return X, torch.tensor(valid_lens, dtype=torch.long, device=device), single


# ---- notebooks/07_prediction_and_evaluation.ipynb · cell 16 · id ch07-15 ----
class eval_mode:
    """with eval_mode(net): ... 在块内把 net 的每个子模块设为评估模式，离开时逐个恢复原状。"""

    def __init__(self, net):
        self.net = net

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.net.modules()]
        self.net.eval()
        return self.net

    def __exit__(self, *exc_info):
        for module, mode in self.modes:
            module.training = mode
        return False


# ---- notebooks/07_prediction_and_evaluation.ipynb · cell 20 · id ch07-19 ----
def _select_sentence(weights, i, n):
    """从一步的注意力权重里取出第 i 个句子的那一份（第 0 维按句子排列）。"""
    if isinstance(weights, torch.Tensor):
        if weights.dim() > 0 and weights.shape[0] == n:
            return weights[i].detach().cpu()
        if weights.dim() > 0 and weights.shape[0] % n == 0:  # 多头：(n * num_heads, ...)
            return weights.reshape(n, -1, *weights.shape[1:])[i].detach().cpu()
        return weights.detach().cpu()
    if isinstance(weights, (list, tuple)):
        return [_select_sentence(w, i, n) for w in weights]
    return weights

def predict_seq2seq(net, src_sentence, src_vocab, tgt_vocab, num_steps, device,
                    save_attention_weights=False):
    """贪心解码。src_sentence 是 str → (译文 str, 注意力权重列表)；
    是 str 的列表 → 作为**一个批量**解码 → (译文列表, 注意力权重列表的列表)；空列表 → ([], [])。

    - 输入的预处理、截断与非法输入的处理见 prepare_source（空串 ValueError，非字符串 TypeError）；
    - 每个句子在生成自己的 '<eos>' 时结束（'<eos>' 不出现在译文里），最多 num_steps 个词元；
      解码器有 reorder_state 时，结束了的句子随即离开批量；全部结束或到达 num_steps 步时停止；
    - 解码时 net 处于评估模式（关掉 dropout），结束后恢复调用者原来的模式；
    - save_attention_weights=True 且解码器有 attention_weights 属性时，每个句子得到一个列表，
      每个生成的词元（含 '<eos>'）一项：该步 net.decoder.attention_weights 中属于这个句子的部分
      （第 0 维按句子取出，在 CPU 上），例如加性注意力是形状 (1, num_steps) 的张量；
      否则（如不带注意力的 GRU 解码器）是空列表。
    """
    check_vocabs(net, src_vocab, tgt_vocab)
    X, valid_lens, single = prepare_source(src_sentence, src_vocab, num_steps, device)
    n = X.shape[0]
    if n == 0:
        return [], []
    bos, eos = tgt_vocab['<bos>'], tgt_vocab['<eos>']
    shrink = hasattr(net.decoder, 'reorder_state')
    steps = []                                # 每步：(这一步在批量里的句子编号, 预测的词元)
    attention_weights = [[] for _ in range(n)]
    with eval_mode(net), torch.no_grad():
        enc_outputs = net.encoder(X, valid_lens)
        state = net.decoder.init_state(enc_outputs, valid_lens)
        dec_X = torch.full((n, 1), bos, dtype=torch.long, device=device)  # (批量大小, 1)
        rows = torch.arange(n, device=device)         # 批量的每一行是第几个句子
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        for _ in range(num_steps):
            Y, state = net.decoder(dec_X, state)      # Y: (批量大小, 1, len(tgt_vocab))
            dec_X = Y.argmax(dim=2)                   # (批量大小, 1)：下一步的输入
            steps.append((rows, dec_X[:, 0]))
            if save_attention_weights and hasattr(net.decoder, 'attention_weights'):
                weights = net.decoder.attention_weights
                for pos, i in enumerate(rows.tolist()):
                    if not finished[i]:
                        attention_weights[i].append(_select_sentence(weights, pos, len(rows)))
            finished[rows] |= dec_X[:, 0] == eos
            live = ~finished[rows]
            if not bool(live.any()):
                break
            if shrink and not bool(live.all()):      # 结束了的句子离开批量
                index = live.nonzero().squeeze(1)
                rows, dec_X = rows[index], dec_X[index]
                state = net.decoder.reorder_state(state, index)
        outputs = torch.full((n, len(steps)), eos, dtype=torch.long, device=device)
        for t, (step_rows, tokens) in enumerate(steps):
            outputs[step_rows, t] = tokens
    translations = []
    for ids in outputs.tolist():
        length = ids.index(eos) if eos in ids else len(ids)
        translations.append(' '.join(tgt_vocab.to_tokens(ids[:length])))
    if single:
        return translations[0], attention_weights[0]
    return translations, attention_weights


# ---- notebooks/07_prediction_and_evaluation.ipynb · cell 26 · id ch07-25 ----
def bleu(pred_seq, label_seq, k):
    """单句 BLEU（d2l 的定义）：exp(min(0, 1 - len_label/len_pred)) * prod_{n=1}^{k} p_n^(1/2^n)。

    pred_seq、label_seq 是用空格分隔词元的 str（按空白切分）。与 d2l 不同，任何输入都不会除以零：
    - 空预测得 0；
    - 预测短于 n 个词元、凑不出 n 元组时：若参考译文也短于 n，这一阶不参与计算（因子为 1）；
      否则 p_n = 0，整个得分为 0。
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k 应是正整数，收到 {k!r}")
    pred_tokens, label_tokens = pred_seq.split(), label_seq.split()
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        if len_pred < n:
            if len_label < n:
                continue
            return 0.0
        label_counts = ngram_counts(label_tokens, n)
        num_matches = sum(min(count, label_counts[gram])
                          for gram, count in ngram_counts(pred_tokens, n).items())
        score *= (num_matches / (len_pred - n + 1)) ** (0.5 ** n)
    return score

def ngram_counts(tokens, n):
    """tokens 中每个 n 元组（tuple）出现的次数，返回 collections.Counter。"""
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


# ---- notebooks/07_prediction_and_evaluation.ipynb · cell 38 · id ch07-37 ----
def corpus_bleu(predictions, references, max_n=4):
    """语料级 BLEU（Papineni 等，2002），返回 0 到 1 之间的 float。

    - predictions：译文列表，每项是用空格分隔词元的 str；
    - references：与 predictions 等长；每项是一个参考译文 str，或若干参考译文组成的 list；
    - 每阶 n 的精度 p_n = 全语料截断后的匹配 n 元组数 / 预测中的 n 元组总数，
      截断上限是该 n 元组在任一参考译文中出现的最多次数；
    - BLEU = BP * exp(mean_n log p_n)，任一 p_n 为 0（或没有 n 元组）时为 0；
    - BP = min(1, exp(1 - r/c))：c 是预测的总词元数，r 是每句取长度最接近预测的参考译文
      （一样近取较短的）后的总长度。
    词元按空白切分，不再做别的分词：与 sacrebleu 的 tokenize='none' 一致。
    """
    if len(predictions) != len(references):
        raise ValueError(f"predictions 有 {len(predictions)} 句，references 有 {len(references)} 句")
    if not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"max_n 应是正整数，收到 {max_n!r}")
    matches, totals = [0] * max_n, [0] * max_n
    pred_len = ref_len = 0
    for i, (pred, refs) in enumerate(zip(predictions, references)):
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not isinstance(pred, str) or not refs or not all(isinstance(r, str) for r in refs):
            raise TypeError(f"第 {i} 句：预测应是 str，参考译文应是 str 或非空的 str 列表")
        pred_tokens = pred.split()
        ref_tokens = [r.split() for r in refs]
        pred_len += len(pred_tokens)
        ref_len += min((abs(len(r) - len(pred_tokens)), len(r)) for r in ref_tokens)[1]
        for n in range(1, max_n + 1):
            max_ref_counts = collections.Counter()
            for r in ref_tokens:
                max_ref_counts |= ngram_counts(r, n)  # | 取每个 n 元组的最大次数
            matches[n - 1] += sum(min(count, max_ref_counts[gram])
                                  for gram, count in ngram_counts(pred_tokens, n).items())
            totals[n - 1] += max(0, len(pred_tokens) - n + 1)
    if min(matches) == 0:  # 包括某阶一个 n 元组都没有的情形
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity_penalty = math.exp(min(0.0, 1 - ref_len / pred_len))
    return brevity_penalty * math.exp(log_precision)


# ---- notebooks/07_prediction_and_evaluation.ipynb · cell 39 · id ch07-38 ----
def group_references(source, target):
    """把句对按源句子分组，返回 (sources, references)。

    source、target 是等长的词元列表的列表（如 load_data_nmt_split 返回的 splits['test']）。
    sources：不同的源句子（词元用空格连接的 str），按第一次出现的顺序；
    references[i]：sources[i] 的全部译文（str 的列表），供 corpus_bleu 当作多个参考译文。
    """
    groups = {}
    for src, tgt in zip(source, target):
        groups.setdefault(' '.join(src), []).append(' '.join(tgt))
    return list(groups), list(groups.values())


# ---- notebooks/07_prediction_and_evaluation.ipynb · cell 43 · id ch07-42 ----
def predict_seq2seq_beam(net, src_sentences, src_vocab, tgt_vocab, num_steps, device,
                         beam_size=4, alpha=0.75):
    """束搜索。所有句子的所有束放在一个批量里解码。

    src_sentences 是 str → (译文 str, 候选列表)；是 str 的列表 → (译文列表, 候选列表的列表)。
    候选列表按最终得分从高到低排列，每项是 (译文 str, 得分, log P)，
    得分 = log P / L**alpha，L 是生成的词元数（含 '<eos>'）。
    每步从 (活着的束 × 词表) 个候选中取累积 log P 最大的若干个：以 '<eos>' 结尾的移入"已完成"，
    束宽随之减一；全部完成或到达 num_steps 时停止，此时仍活着的假设也作为候选（没有 '<eos>'）。
    beam_size=1 时与 predict_seq2seq 的贪心解码完全相同。输入的处理同 predict_seq2seq。
    """
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size 应是正整数，收到 {beam_size!r}")
    check_vocabs(net, src_vocab, tgt_vocab)
    X, valid_lens, single = prepare_source(src_sentences, src_vocab, num_steps, device)
    n, k = X.shape[0], beam_size
    if n == 0:
        return [], []
    bos, eos = tgt_vocab['<bos>'], tgt_vocab['<eos>']
    finished = [[] for _ in range(n)]  # 每个句子：[(词元索引列表, log P), ...]
    with eval_mode(net), torch.no_grad():
        enc_outputs = net.encoder(X, valid_lens)
        state = net.decoder.init_state(enc_outputs, valid_lens)
        rows = torch.arange(n, device=device).repeat_interleave(k)  # 第 i 句的 k 个束占第 i*k..i*k+k-1 行
        state = net.decoder.reorder_state(state, rows)
        scores = torch.full((n, k), -math.inf, device=device)
        scores[:, 0] = 0.0                 # 开始时每句只有一个假设：<bos>
        slots = torch.full((n,), k, device=device)  # 每句还能保留几个活着的假设
        dec_X = torch.full((n * k, 1), bos, dtype=torch.long, device=device)
        history = torch.zeros((n * k, 0), dtype=torch.long, device=device)
        rank = torch.arange(k, device=device)
        offsets = (torch.arange(n, device=device) * k)[:, None]  # (n, 1)
        for _ in range(num_steps):
            Y, state = net.decoder(dec_X, state)                   # (n*k, 1, V)
            log_probs = F.log_softmax(Y[:, -1].float(), dim=-1)   # (n*k, V)
            V = log_probs.shape[1]
            candidates = (scores.reshape(-1, 1) + log_probs).reshape(n, k * V)
            top_scores, top_index = candidates.topk(k, dim=1)     # (n, k)，从大到小
            parent, token = top_index // V, top_index % V
            usable = (rank[None, :] < slots[:, None]) & torch.isfinite(top_scores)
            done = usable & (token == eos)
            alive = usable & (token != eos)
            parent_rows = (offsets + parent).reshape(-1)           # (n*k,)
            history = torch.cat([history[parent_rows], token.reshape(-1, 1)], dim=1)
            for i, j in done.nonzero().tolist():
                finished[i].append((history[i * k + j].tolist(), top_scores[i, j].item()))
            slots = slots - done.sum(dim=1)
            scores = top_scores.masked_fill(~alive, -math.inf)
            if not bool(alive.any()):
                break
            state = net.decoder.reorder_state(state, parent_rows)
            dec_X = token.reshape(-1, 1)
        else:  # 到达 num_steps：活着的假设也算候选
            for i, j in torch.isfinite(scores).nonzero().tolist():
                finished[i].append((history[i * k + j].tolist(), scores[i, j].item()))
    translations, candidates_all = [], []
    for hyps in finished:
        ranked = []
        for ids, log_prob in hyps:
            length = len(ids)
            words = ids[:-1] if ids[-1] == eos else ids
            ranked.append((' '.join(tgt_vocab.to_tokens(words)), log_prob / length ** alpha, log_prob))
        ranked.sort(key=lambda c: c[1], reverse=True)
        translations.append(ranked[0][0])
        candidates_all.append(ranked)
    if single:
        return translations[0], candidates_all[0]
    return translations, candidates_all


# ---- notebooks/08_attention_pooling.ipynb · cell 19 · id ch08-018 ----
def show_heatmaps(matrices, xlabel, ylabel, titles=None, figsize=(2.5, 2.5), cmap='Reds'):
    """把一组矩阵（通常是注意力权重）画成热图网格，所有子图共用一个色阶和一个色条。

    - matrices：形状 (num_rows, num_cols, num_queries, num_keys) 的张量或数组，第 [i, j] 个矩阵
      画在第 i 行第 j 列；单个二维矩阵也可以直接传入。张量可以在任何设备上，可以需要梯度。
    - xlabel、ylabel：横轴（键）和纵轴（查询）的说明，写在最下一行和最左一列。
    - titles：每一列的标题，长度为 num_cols 的列表；可省略。
    - figsize：整幅图的大小（英寸）；cmap：颜色表。
    返回 None；图由 matplotlib 显示，需要时用 plt.gcf() 取得。
    """
    if torch.is_tensor(matrices):
        matrices = matrices.detach().cpu()
    matrices = torch.as_tensor(matrices).float()
    if matrices.dim() == 2:
        matrices = matrices[None, None]
    if matrices.dim() != 4 or matrices.numel() == 0:
        raise ValueError(f"matrices 的形状应为 (num_rows, num_cols, num_queries, num_keys)，且不能为空；"
                         f"现在是 {tuple(matrices.shape)}。一个批量的权重 (batch_size, num_queries, num_keys) "
                         "可以写成 weights.unsqueeze(0)，画成一行。")
    num_rows, num_cols = matrices.shape[:2]
    if titles is not None and len(titles) != num_cols:
        raise ValueError(f"titles 应有 {num_cols} 个（每列一个），现在有 {len(titles)} 个。")
    vmin, vmax = matrices.min().item(), matrices.max().item()  # 所有子图共用的色阶
    fig, axes = plt.subplots(num_rows, num_cols, figsize=figsize, sharex=True, sharey=True, squeeze=False)
    for i in range(num_rows):
        for j in range(num_cols):
            ax = axes[i, j]
            image = ax.imshow(matrices[i, j].numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
            if i == num_rows - 1:
                ax.set_xlabel(xlabel)
            if j == 0:
                ax.set_ylabel(ylabel)
            if titles is not None:
                ax.set_title(titles[j])
    fig.colorbar(image, ax=axes, shrink=0.6)


# ---- notebooks/09_attention_scoring.ipynb · cell 13 · id ch09-012 ----
def masked_softmax(X, valid_lens):
    """沿最后一个轴做 softmax，每个查询只让前 valid_len 个键参与。返回新张量，X 不变。

    - X：注意力分数，形状 (batch_size, num_queries, num_keys)，浮点型。
    - valid_lens：None（全部有效），形状 (batch_size,)（同一样本的查询共用一个长度），
      或形状 (batch_size, num_queries)（每个查询一个长度）。与 X 在同一设备上；非负，
      取整数值（3.0 可以，2.5 不行）；大于 num_keys 表示全部有效。
    - 返回：与 X 同形状的权重。被遮蔽的位置恰好为 0，有效位置之和为 1。
      valid_len 为 0 的行（没有一个有效的键）返回全 0：注意力的输出是零向量，
      不从填充位置取任何信息，梯度也为 0；这样的行权重之和是 0 而不是 1。
    """
    if not torch.is_tensor(X) or X.dim() != 3:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f"X 的形状应为 (batch_size, num_queries, num_keys)，现在是 {shape}。"
                         "多头注意力请先把头并入批量维：X.reshape(-1, num_queries, num_keys)，"
                         "并把 valid_lens 相应地用 repeat_interleave(num_heads, dim=0) 复制。")
    if not X.is_floating_point():
        raise TypeError(f"X 应是浮点型的分数，现在是 {X.dtype}；请先转换，例如 X.float()。")
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    if not torch.is_tensor(valid_lens):
        valid_lens = torch.as_tensor(valid_lens, device=X.device)
    if valid_lens.device != X.device:
        raise ValueError(f"valid_lens 在 {valid_lens.device} 上，X 在 {X.device} 上：请把 valid_lens "
                         "移到 X 所在的设备（move valid_lens to X.device），例如 valid_lens.to(X.device)。")
    if valid_lens.dtype == torch.bool or valid_lens.is_complex():
        raise TypeError(f"valid_lens 应是整数型的有效长度，现在是 {valid_lens.dtype}。"
                        "如果手里是 (batch_size, num_keys) 的布尔掩码，请用 mask.sum(dim=-1) 得到长度。")
    batch_size, num_queries, num_keys = X.shape
    if valid_lens.dim() == 1 and valid_lens.shape[0] == batch_size:
        lens = valid_lens[:, None, None]                  # (batch_size, 1, 1)：所有查询共用
    elif valid_lens.dim() == 2 and tuple(valid_lens.shape) == (batch_size, num_queries):
        lens = valid_lens[:, :, None]                     # (batch_size, num_queries, 1)
    else:
        raise ValueError(f"valid_lens 的形状应为 (batch_size,) = ({batch_size},) 或 "
                         f"(batch_size, num_queries) = ({batch_size}, {num_queries})，现在是 "
                         f"{tuple(valid_lens.shape)}。请为 X 的每个样本（或每个样本的每个查询）各给一个长度。")
    if not valid_lens.is_meta:  # meta 张量没有数值，只检查形状
        if bool((valid_lens < 0).any()):
            raise ValueError(f"valid_lens 不能有负数（它数的是有效的键的个数）：{valid_lens.tolist()}。"
                             "请检查有效长度是怎样算出来的。")
        if valid_lens.is_floating_point() and bool((valid_lens != valid_lens.floor()).any()):
            raise ValueError(f"valid_lens 必须取整数值（3.0 可以，2.5 和 nan 不行）：{valid_lens.tolist()}。"
                             "请检查有效长度是怎样算出来的，或先取整：valid_lens.round().long()。")
    keep = torch.arange(num_keys, device=X.device) < lens   # (batch_size, 1 或 num_queries, num_keys)
    weights = F.softmax(X.masked_fill(~keep, torch.finfo(X.dtype).min), dim=-1)
    return weights.masked_fill(~keep, 0.0)                  # 整行被遮蔽时：全 0


# ---- notebooks/09_attention_scoring.ipynb · cell 23 · id ch09-022 ----
def check_attention_inputs(queries, keys, values, same_size=False):
    """检查注意力的输入形状，不对时抛出说明该怎么改的 ValueError。

    queries (batch_size, num_queries, d_q)、keys (batch_size, num_keys, d_k)、
    values (batch_size, num_keys, d_v)；same_size=True 时还要求 d_q == d_k（点积注意力）。
    """
    for name, t in (('queries', queries), ('keys', keys), ('values', values)):
        if not torch.is_tensor(t) or t.dim() != 3:
            shape = tuple(t.shape) if torch.is_tensor(t) else type(t).__name__
            raise ValueError(f"{name} 应是形状为 (batch_size, 个数, 特征维) 的三维张量，现在是 {shape}。"
                             "只有一个查询时也请保留这一维：queries.unsqueeze(1)。")
    if not queries.shape[0] == keys.shape[0] == values.shape[0]:
        raise ValueError(f"queries、keys、values 的 batch_size 不同：{queries.shape[0]}、"
                         f"{keys.shape[0]}、{values.shape[0]}。")
    if keys.shape[1] != values.shape[1]:
        raise ValueError(f"每个键要对应一个值：keys 有 {keys.shape[1]} 个，values 有 {values.shape[1]} 个。")
    if same_size and queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"点积注意力要求查询和键的维数相同，现在分别是 {queries.shape[-1]} 和 "
                         f"{keys.shape[-1]}。维数不同时请用 AdditiveAttention，或先用 nn.Linear 投影到相同维数。")


# ---- notebooks/09_attention_scoring.ipynb · cell 24 · id ch09-023 ----
class AdditiveAttention(nn.Module):
    """加性注意力（Bahdanau）：a(q, k) = w_v^T tanh(W_q q + W_k k)。

    forward(queries, keys, values, valid_lens=None)：
    - queries (batch_size, num_queries, query_size)，keys (batch_size, num_keys, key_size)，
      values (batch_size, num_keys, value_size)；valid_lens 的规则同 masked_softmax。
    - 返回 (batch_size, num_queries, value_size)。
    self.attention_weights 保存最近一次的权重 (batch_size, num_queries, num_keys)（dropout 之前）。
    """

    def __init__(self, key_size, query_size, num_hiddens, dropout, **kwargs):
        super().__init__(**kwargs)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        check_attention_inputs(queries, keys, values)
        queries, keys = self.W_q(queries), self.W_k(keys)     # (B, n_q, h), (B, n_k, h)
        features = torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))   # (B, n_q, n_k, h)
        scores = self.w_v(features).squeeze(-1)               # (B, n_q, n_k)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)    # (B, n_q, value_size)


# ---- notebooks/09_attention_scoring.ipynb · cell 34 · id ch09-033 ----
class DotProductAttention(nn.Module):
    """缩放点积注意力：a(q, k) = q^T k / sqrt(d)，要求查询和键的维数 d 相同。

    forward(queries, keys, values, valid_lens=None)：
    - queries (batch_size, num_queries, d)，keys (batch_size, num_keys, d)，
      values (batch_size, num_keys, value_size)；valid_lens 的规则同 masked_softmax。
    - 返回 (batch_size, num_queries, value_size)。
    self.attention_weights 保存最近一次的权重 (batch_size, num_queries, num_keys)（dropout 之前）。
    """

    def __init__(self, dropout, **kwargs):
        super().__init__(**kwargs)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        check_attention_inputs(queries, keys, values, same_size=True)
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)   # (B, n_q, n_k)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)    # (B, n_q, value_size)


# ---- notebooks/10_bahdanau_attention.ipynb · cell 7 · id ch10-006 ----
class AttentionDecoder(d2l.Decoder):
    """带注意力机制的解码器的基类。

    在 ``d2l.Decoder`` 的接口之外，子类还要提供只读属性 ``attention_weights``：最近一次
    ``forward`` 调用的注意力权重（形状由子类说明），调用之前为 None。预测函数每一步读取它，
    用来画注意力热图。
    """

    @property
    def attention_weights(self):
        raise NotImplementedError(
            f"{type(self).__name__} 没有实现 attention_weights。请在 AttentionDecoder 的子类中用 "
            "@property 定义它，返回最近一次 forward 调用的注意力权重（调用之前返回 None），"
            "并在文档里写明形状，例如 (batch_size, num_steps, num_src_steps)。")


# ---- notebooks/10_bahdanau_attention.ipynb · cell 11 · id ch10-010 ----
class Seq2SeqAttentionDecoder(AttentionDecoder):
    """带 Bahdanau 注意力的 RNN 解码器，与 d2l.Seq2SeqEncoder 配对。

    状态是三元组 ``(enc_outputs, hidden_state, enc_valid_lens)``：

    - ``enc_outputs``：编码器顶层在每个位置的输出，批量在前，形状 ``(batch_size, num_src_steps,
      num_hiddens)``，是注意力的键和值，原样传下去；
    - ``hidden_state``：GRU 各层的隐状态，形状 ``(num_layers, batch_size, num_hiddens)``，每次调用后更新；
    - ``enc_valid_lens``：源序列的有效长度，形状 ``(batch_size,)``，填充位置的注意力权重为 0；
      为 None 时不遮蔽。

    ``forward(X, state)``：``X`` 形状 ``(batch_size, num_steps)``；返回 logits
    ``(batch_size, num_steps, vocab_size)`` 和新状态。每一步以顶层隐状态为查询做加性注意力，
    上下文与嵌入拼接后送入 GRU。``attention_weights``：最近一次调用的权重，形状
    ``(batch_size, num_steps, num_src_steps)``（已 detach），有效位置之和为 1。
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.attention = d2l.AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self._attention_weights = None

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        outputs, hidden_state = enc_outputs      # (num_src_steps, batch_size, num_hiddens), (num_layers, ...)
        return outputs.permute(1, 0, 2), hidden_state, enc_valid_lens

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        embs = self.embedding(X.t())             # (num_steps, batch_size, embed_size)
        outputs, weights = [], []
        for emb in embs:                         # emb: (batch_size, embed_size)
            query = hidden_state[-1].unsqueeze(1)                      # (batch_size, 1, num_hiddens)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)  # (batch_size, 1, num_hiddens)
            rnn_input = torch.cat([context.squeeze(1), emb], dim=-1)   # (batch_size, num_hiddens + embed_size)
            output, hidden_state = self.rnn(rnn_input.unsqueeze(0), hidden_state)  # output: (1, batch_size, num_hiddens)
            outputs.append(output)
            weights.append(self.attention.attention_weights)           # (batch_size, 1, num_src_steps)
        self._attention_weights = torch.cat(weights, dim=1).detach()   # (batch_size, num_steps, num_src_steps)
        logits = self.dense(torch.cat(outputs, dim=0)).transpose(0, 1) # (batch_size, num_steps, vocab_size)
        return logits, (enc_outputs, hidden_state, enc_valid_lens)

    @property
    def attention_weights(self):
        """最近一次 forward 的注意力权重 (batch_size, num_steps, num_src_steps)；调用之前为 None。"""
        return self._attention_weights

    def reorder_state(self, state, index):
        """按 index（LongTensor，形状 (k,)）挑出批量中的句子，可以重复、可以调换顺序。"""
        enc_outputs, hidden_state, enc_valid_lens = state
        if enc_valid_lens is not None:
            enc_valid_lens = enc_valid_lens.index_select(0, index)
        return enc_outputs.index_select(0, index), hidden_state.index_select(1, index), enc_valid_lens


# ---- notebooks/11_multihead_attention.ipynb · cell 10 · id ch11-008 ----
def transpose_qkv(X, num_heads):
    """把多个头折进批量维：(batch, n, num_hiddens) -> (batch*num_heads, n, num_hiddens/num_heads)。

    第 b*num_heads + i 个输出是第 b 个样本第 i 个头的那 p = num_hiddens/num_heads 列。
    """
    if X.dim() != 3 or X.shape[-1] % num_heads != 0:
        raise ValueError(f"X 的形状应为 (batch, n, num_hiddens)，且 num_hiddens 能被 num_heads={num_heads} "
                         f"整除；现在是 {tuple(X.shape)}。")
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)  # (batch, n, num_heads, p)
    X = X.permute(0, 2, 1, 3)                             # (batch, num_heads, n, p)
    return X.reshape(-1, X.shape[2], X.shape[3])          # (batch*num_heads, n, p)

def transpose_output(X, num_heads):
    """transpose_qkv 的逆：(batch*num_heads, n, p) -> (batch, n, num_heads*p)，各头按顺序拼在最后一维。"""
    if X.dim() != 3 or X.shape[0] % num_heads != 0:
        raise ValueError(f"X 的形状应为 (batch*num_heads, n, p)，第 0 维是 num_heads={num_heads} 的倍数；"
                         f"现在是 {tuple(X.shape)}。")
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])  # (batch, num_heads, n, p)
    X = X.permute(0, 2, 1, 3)                             # (batch, n, num_heads, p)
    return X.reshape(X.shape[0], X.shape[1], -1)          # (batch, n, num_heads*p)


# ---- notebooks/11_multihead_attention.ipynb · cell 16 · id ch11-014 ----
class MultiHeadAttention(nn.Module):
    """多头注意力：num_heads 个缩放点积注意力并行计算，输出拼接后经 W_o 混合。

    - queries (batch, num_queries, query_size)，keys (batch, num_kv, key_size)，
      values (batch, num_kv, value_size)；
    - valid_lens：None、(batch,) 或 (batch, num_queries)，对每个头都适用；
    - 返回 (batch, num_queries, num_hiddens)；
    - attention_weights：最近一次调用的权重，(batch*num_heads, num_queries, num_kv)。
    每个头的维数 p = num_hiddens / num_heads，所以 num_hiddens 必须是 num_heads 的倍数。
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout,
                 bias=False, **kwargs):
        super().__init__(**kwargs)
        if num_heads < 1:
            raise ValueError(f"num_heads 至少为 1，现在是 {num_heads}。")
        if num_hiddens % num_heads != 0:
            below = num_hiddens // num_heads * num_heads
            fits = [m for m in (below, below + num_heads) if m > 0]
            divisors = [d for d in range(1, num_hiddens + 1) if num_hiddens % d == 0]
            raise ValueError(
                f"num_hiddens={num_hiddens} 不能被 num_heads={num_heads} 整除：每个头分到 "
                f"num_hiddens / num_heads 维，必须是整数。请把 num_hiddens 改成 num_heads 的倍数"
                f"（如 {' 或 '.join(map(str, fits))}），或换一个能整除 num_hiddens 的头数"
                f"（{num_hiddens} 的约数：{divisors}）。")
        self.num_heads = num_heads
        self.attention = d2l.DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    @property
    def attention_weights(self):
        """最近一次调用的注意力权重，形状 (batch*num_heads, num_queries, num_keys)；调用之前为 None。"""
        return getattr(self.attention, 'attention_weights', None)

    def _check_inputs(self, queries, keys, values):
        d2l.check_attention_inputs(queries, keys, values)   # 三维、batch 相同、键值个数相同
        for name, X, layer in (("queries", queries, self.W_q), ("keys", keys, self.W_k),
                               ("values", values, self.W_v)):
            if X.shape[-1] != layer.in_features:
                raise ValueError(f"{name} 的最后一维应是构造时给的 {layer.in_features}，"
                                 f"现在的形状是 {tuple(X.shape)}。")

    def _repeat_valid_lens(self, valid_lens, queries):
        if not torch.is_tensor(valid_lens):
            valid_lens = torch.as_tensor(valid_lens, device=queries.device)
        batch_size, num_queries = queries.shape[0], queries.shape[1]
        if not (valid_lens.dim() in (1, 2) and valid_lens.shape[0] == batch_size
                and (valid_lens.dim() == 1 or valid_lens.shape[1] == num_queries)):
            raise ValueError(f"valid_lens 的形状应为 (batch,) = ({batch_size},) 或 "
                             f"(batch, num_queries) = ({batch_size}, {num_queries})；"
                             f"现在是 {tuple(valid_lens.shape)}。")
        # 第 b 个样本的 num_heads 个头排在一起，共用第 b 个样本的有效长度
        return torch.repeat_interleave(valid_lens, self.num_heads, dim=0)

    def forward(self, queries, keys, values, valid_lens=None):
        self._check_inputs(queries, keys, values)
        if valid_lens is not None:
            valid_lens = self._repeat_valid_lens(valid_lens, queries)  # (batch*num_heads, ...)
        queries = transpose_qkv(self.W_q(queries), self.num_heads)    # (batch*num_heads, num_queries, p)
        keys = transpose_qkv(self.W_k(keys), self.num_heads)          # (batch*num_heads, num_kv, p)
        values = transpose_qkv(self.W_v(values), self.num_heads)      # (batch*num_heads, num_kv, p)
        output = self.attention(queries, keys, values, valid_lens)    # (batch*num_heads, num_queries, p)
        return self.W_o(transpose_output(output, self.num_heads))     # (batch, num_queries, num_hiddens)


# ---- notebooks/11_multihead_attention.ipynb · cell 42 · id ch11-040 ----
class PositionalEncoding(nn.Module):
    """正弦位置编码：forward(X) 返回 dropout(X + P[:num_steps])。

    p[i, 2j] = sin(i / 10000^(2j/d))，p[i, 2j+1] = cos(i / 10000^(2j/d))，d = num_hiddens。
    - X：(batch, num_steps, num_hiddens)；用到的位置不能超过 max_len - 1（否则报错，请调大 max_len）；
    - offset：X 第一个时间步的位置编号，默认 0。逐步解码时传入已经处理过的词元数，
      这样第 t 步加的是 p_t 而不是 p_0；
    - num_hiddens 为奇数时照公式计算：最后一列是没有搭档的正弦（推荐用偶数）。
    """

    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        if num_hiddens < 1 or max_len < 1:
            raise ValueError(f"num_hiddens 和 max_len 都应是正整数，现在是 {num_hiddens} 和 {max_len}。")
        self.num_hiddens, self.max_len = num_hiddens, max_len
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len, dtype=torch.float64)[:, None]           # (max_len, 1)
        omega = torch.pow(10000.0, -torch.arange(0, num_hiddens, 2, dtype=torch.float64) / num_hiddens)
        angle = position * omega                                                  # (max_len, ceil(d/2))
        P = torch.zeros(1, max_len, num_hiddens, dtype=torch.float64)
        P[0, :, 0::2] = torch.sin(angle)                                          # ceil(d/2) 个偶数列
        P[0, :, 1::2] = torch.cos(angle[:, :num_hiddens // 2])                    # floor(d/2) 个奇数列
        self.register_buffer('P', P.float(), persistent=False)                    # 随 .to(device) 移动

    def forward(self, X, offset=0):
        if X.dim() != 3 or X.shape[-1] != self.num_hiddens:
            raise ValueError(f"X 的形状应为 (batch, num_steps, num_hiddens={self.num_hiddens})，"
                             f"现在是 {tuple(X.shape)}。")
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset 应是非负整数（X 第一个时间步的位置编号），现在是 {offset!r}。")
        end = offset + X.shape[1]
        if end > self.max_len:
            raise ValueError(f"要用到位置 {offset} 到 {end - 1}，超过了 max_len={self.max_len} 能编码的范围"
                             f"（0 到 {self.max_len - 1}）：请在构造时调大 max_len，"
                             f"例如 PositionalEncoding(..., max_len={end})。")
        return self.dropout(X + self.P[:, offset:end, :].to(X.dtype))


# ---- notebooks/12_transformer.ipynb · cell 8 · id ch12-007 ----
class PositionWiseFFN(nn.Module):
    """逐位置前馈网络：对每个位置做同样的 dense2(ReLU(dense1(x)))。

    输入 (batch_size, num_steps, ffn_num_input)，输出 (batch_size, num_steps, ffn_num_outputs)。
    """

    def __init__(self, ffn_num_input, ffn_num_hiddens, ffn_num_outputs, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = nn.Linear(ffn_num_input, ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.Linear(ffn_num_hiddens, ffn_num_outputs)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


# ---- notebooks/12_transformer.ipynb · cell 18 · id ch12-017 ----
class AddNorm(nn.Module):
    """残差连接后接层规范化：forward(X, Y) = LayerNorm(dropout(Y) + X)。

    X 是子层的输入，Y 是子层的输出，形状相同，最后几维等于 normalized_shape。
    """

    def __init__(self, normalized_shape, dropout, **kwargs):
        super().__init__(**kwargs)
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(normalized_shape)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


# ---- notebooks/12_transformer.ipynb · cell 21 · id ch12-020 ----
class EncoderBlock(nn.Module):
    """Transformer 编码器块：多头自注意力 + 逐位置前馈网络，各带残差连接和层规范化。

    forward(X, valid_lens)：X (batch_size, num_steps, num_hiddens)，valid_lens (batch_size,) 或 None；
    返回形状相同的张量。
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, dropout, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.attention = d2l.MultiHeadAttention(key_size, query_size, value_size, num_hiddens,
                                                num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(norm_shape, dropout)
        self.ffn = PositionWiseFFN(ffn_num_input, ffn_num_hiddens, num_hiddens)
        self.addnorm2 = AddNorm(norm_shape, dropout)

    def forward(self, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


# ---- notebooks/12_transformer.ipynb · cell 27 · id ch12-026 ----
class TransformerEncoder(d2l.Encoder):
    """Transformer 编码器：嵌入 × sqrt(num_hiddens) + 位置编码，再经过 num_layers 个 EncoderBlock。

    forward(X, valid_lens=None)：X (batch_size, num_steps) 是词元索引，valid_lens (batch_size,)；
    返回 (batch_size, num_steps, num_hiddens)。填充位置的输出没有意义，解码器用 valid_lens 把它们遮住。
    attention_weights：最近一次调用时每一块自注意力的权重（已 detach）组成的列表，
    每项形状 (batch_size * num_heads, num_steps, num_steps)；调用之前为 None。
    嵌入初始化为 N(0, 1/num_hiddens)，乘以 sqrt(num_hiddens) 后与位置编码的尺度相当。
    """

    def __init__(self, vocab_size, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, num_layers, dropout, use_bias=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        nn.init.normal_(self.embedding.weight, std=num_hiddens ** -0.5)
        self.pos_encoding = d2l.PositionalEncoding(num_hiddens, dropout)
        self.blks = nn.Sequential()
        for i in range(num_layers):
            self.blks.add_module(f'block{i}', EncoderBlock(
                key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
                ffn_num_hiddens, num_heads, dropout, use_bias))
        self.attention_weights = None

    def forward(self, X, valid_lens=None, *args):
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        weights = []
        for blk in self.blks:
            X = blk(X, valid_lens)
            weights.append(blk.attention.attention_weights.detach())
        self.attention_weights = weights
        return X


# ---- notebooks/12_transformer.ipynb · cell 33 · id ch12-032 ----
class DecoderBlock(nn.Module):
    """Transformer 解码器的第 i 块：带掩码的多头自注意力、编码器–解码器注意力、逐位置前馈网络。

    forward(X, state)：X (batch_size, num_steps, num_hiddens)；
    state = [enc_outputs, enc_valid_lens, cache]，cache[i] 是本块之前各步的输入
    (batch_size, 已处理的步数, num_hiddens)，还没有时为 None。
    返回 (输出, 新状态)：新状态的 cache[i] 接上了这次的 X；传入的 state 不被修改。
    自注意力的掩码只取决于缓存长度 m：第 j 个新查询看位置 0 … m + j，训练和评估模式相同。
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, dropout, i, **kwargs):
        super().__init__(**kwargs)
        self.i = i
        self.attention1 = d2l.MultiHeadAttention(key_size, query_size, value_size, num_hiddens,
                                                 num_heads, dropout)
        self.addnorm1 = AddNorm(norm_shape, dropout)
        self.attention2 = d2l.MultiHeadAttention(key_size, query_size, value_size, num_hiddens,
                                                 num_heads, dropout)
        self.addnorm2 = AddNorm(norm_shape, dropout)
        self.ffn = PositionWiseFFN(ffn_num_input, ffn_num_hiddens, num_hiddens)
        self.addnorm3 = AddNorm(norm_shape, dropout)

    def forward(self, X, state):
        enc_outputs, enc_valid_lens, cache = state
        past = cache[self.i]
        num_past = 0 if past is None else past.shape[1]
        key_values = X if past is None else torch.cat([past, X], dim=1)  # (batch_size, m + n, num_hiddens)
        batch_size, num_steps, _ = X.shape
        # 第 j 个新查询（全局位置 m + j）可以看 m + j + 1 个键：(batch_size, num_steps)
        dec_valid_lens = torch.arange(num_past + 1, num_past + num_steps + 1,
                                      device=X.device).repeat(batch_size, 1)
        Y = self.addnorm1(X, self.attention1(X, key_values, key_values, dec_valid_lens))
        Z = self.addnorm2(Y, self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens))
        new_cache = list(cache)
        new_cache[self.i] = key_values
        return self.addnorm3(Z, self.ffn(Z)), [enc_outputs, enc_valid_lens, new_cache]


# ---- notebooks/12_transformer.ipynb · cell 35 · id ch12-034 ----
class TransformerDecoder(d2l.AttentionDecoder):
    """Transformer 解码器：嵌入 × sqrt(num_hiddens) + 位置编码，num_layers 个 DecoderBlock，全连接层。

    - init_state(enc_outputs, enc_valid_lens=None) -> [enc_outputs, enc_valid_lens, [None] * num_layers]；
    - forward(X, state)：X (batch_size, num_steps) 是词元索引，可以是整段目标（训练），也可以是
      接着缓存的一段（预测时通常 1 个词元）；位置编码从缓存长度处接着编号。
      返回 (logits (batch_size, num_steps, vocab_size), 新状态)，传入的 state 不被修改；
    - attention_weights：最近一次调用的 (自注意力权重, 编码器–解码器注意力权重)，各是每块一项的
      列表，每项 (batch_size * num_heads, num_steps, 键的个数)，已 detach；调用之前为 None；
    - reorder_state(state, index)：按 index（LongTensor）挑出批量中的句子（可重复、可调换顺序）。
    """

    def __init__(self, vocab_size, key_size, query_size, value_size, num_hiddens, norm_shape,
                 ffn_num_input, ffn_num_hiddens, num_heads, num_layers, dropout, **kwargs):
        super().__init__(**kwargs)
        self.num_hiddens, self.num_layers = num_hiddens, num_layers
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        nn.init.normal_(self.embedding.weight, std=num_hiddens ** -0.5)
        self.pos_encoding = d2l.PositionalEncoding(num_hiddens, dropout)
        self.blks = nn.Sequential()
        for i in range(num_layers):
            self.blks.add_module(f'block{i}', DecoderBlock(
                key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
                ffn_num_hiddens, num_heads, dropout, i))
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self._attention_weights = None

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        return [enc_outputs, enc_valid_lens, [None] * self.num_layers]

    def forward(self, X, state):
        past = state[2][0]
        offset = 0 if past is None else past.shape[1]      # 已经处理过的位置数
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens), offset)
        self_weights, cross_weights = [], []
        for blk in self.blks:
            X, state = blk(X, state)
            self_weights.append(blk.attention1.attention_weights.detach())
            cross_weights.append(blk.attention2.attention_weights.detach())
        self._attention_weights = (self_weights, cross_weights)
        return self.dense(X), state

    @property
    def attention_weights(self):
        return self._attention_weights

    def reorder_state(self, state, index):
        enc_outputs, enc_valid_lens, cache = state
        return [enc_outputs.index_select(0, index),
                None if enc_valid_lens is None else enc_valid_lens.index_select(0, index),
                [None if c is None else c.index_select(0, index) for c in cache]]


# ---- notebooks/16_training_recipe.ipynb · cell 6 · id ch16-004 ----
def budget_seconds(seconds):
    """训练单元的时间预算（秒）：seconds × 环境变量 D2L_BUDGET_SCALE（没有设置时为 1）。

    想快速把整章过一遍（结果当然差些）时，把 D2L_BUDGET_SCALE 设成 0.1 这样的小数。
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise ValueError(f"seconds 应是有限的正数（训练多少秒），收到 {seconds!r}")
    raw = os.environ.get('D2L_BUDGET_SCALE', '1')
    try:
        scale = float(raw)
    except ValueError:
        scale = math.nan
    if not 0 < scale < math.inf:
        raise ValueError(f"环境变量 D2L_BUDGET_SCALE 应是一个正数（例如 1 或 0.1），现在是 {raw!r}："
                         "请改正它，或者删掉它（默认为 1，即完整的预算）。")
    return seconds * scale


# ---- notebooks/16_training_recipe.ipynb · cell 14 · id ch16-012 ----
def cut_batches(lengths, batch_tokens):
    """把排好顺序的句子依次切成小批量，每批的 行数 × 这一批最长的长度 <= batch_tokens。

    lengths：每个句子的长度，按要分批的顺序排列（list）。返回下标列表的列表：下标指 lengths 中的
    位置，每个下标恰好出现一次，顺序不变。有句子比 batch_tokens 还长时报错。
    """
    batches, current, longest = [], [], 0
    for i, n in enumerate(lengths):
        if n > batch_tokens:
            raise ValueError(f"第 {i} 个句子有 {n} 个词元，比 batch_tokens={batch_tokens} 还多："
                             f"请把 batch_tokens 至少设为最长句子的长度 {max(lengths)}。")
        if current and max(longest, n) * (len(current) + 1) > batch_tokens:
            batches.append(current)       # 再加这一句就超出预算：这一批到此为止
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    if current:
        batches.append(current)
    return batches


# ---- notebooks/16_training_recipe.ipynb · cell 18 · id ch16-016 ----
class TokenBatches:
    """按词元预算从长度桶里取小批量。每轮给出若干个 (X, X_valid_len, Y, Y_valid_len)。

    - arrays：(X, X_valid_len, Y, Y_valid_len)，X、Y 形状 (num_pairs, num_steps)，如
      load_data_nmt_split 返回的 train_iter.dataset.tensors；
    - batch_tokens：每批最多多少个目标位置（行数 × 这一批最长的目标句子，填充也算在内）；
    - bucket=True：句对按 (目标长度, 源长度) 排序（长度相同的随机排列），依次切批，再打乱批的顺序；
      bucket=False：随机的句对，每批 batch_tokens // num_steps 对（作对照用）；
    - Y 剪到这一批最长的目标句子；trim_source=True 时 X 也剪到这一批最长的源句子。只有用
      X_valid_len 遮住填充的编码器（如 Transformer）才能剪；GRU 编码器会把填充读进去，保持 False；
    - seed、set_epoch(epoch)：每轮的分批和顺序只由 (seed, epoch) 决定，不用全局的随机数；
    - num_shards、shard：把每轮的批分成 num_shards 份（每份的批数相同，合起来每个句对恰好一次），
      本对象只给出第 shard 份。多个进程一起训练时，每个进程取自己的一份。
    """

    def __init__(self, arrays, batch_tokens, *, bucket=True, trim_source=False, seed=0,
                 num_shards=1, shard=0):
        if len(arrays) != 4:
            raise ValueError("arrays 应是 (X, X_valid_len, Y, Y_valid_len) 四个张量，"
                             "例如 train_iter.dataset.tensors")
        X, X_valid_len, Y, Y_valid_len = arrays
        if not (X.dim() == 2 and Y.dim() == 2 and
                X.shape[0] == X_valid_len.shape[0] == Y.shape[0] == Y_valid_len.shape[0] > 0):
            raise ValueError("X、Y 应是形状 (num_pairs, num_steps) 的张量，两个 valid_len 形状 (num_pairs,)，"
                             f"num_pairs > 0；现在是 {tuple(X.shape)}、{tuple(X_valid_len.shape)}、"
                             f"{tuple(Y.shape)}、{tuple(Y_valid_len.shape)}")
        if not (isinstance(num_shards, int) and num_shards >= 1 and isinstance(shard, int)
                and 0 <= shard < num_shards):
            raise ValueError(f"需要正整数 num_shards 和 0 <= shard < num_shards，"
                             f"收到 num_shards={num_shards!r}, shard={shard!r}")
        if num_shards > X.shape[0]:
            raise ValueError(f"只有 {X.shape[0]} 个句对，分不成 {num_shards} 份")
        self.num_steps = Y.shape[1]
        smallest = int(Y_valid_len.max()) if bucket else self.num_steps
        if isinstance(batch_tokens, bool) or not isinstance(batch_tokens, int) or batch_tokens < smallest:
            what = '最长的目标句子的长度' if bucket else 'num_steps（不分桶时每句都补齐到 num_steps）'
            raise ValueError(f"batch_tokens 应是不小于 {smallest}（{what}）的整数，收到 {batch_tokens!r}")
        self.arrays = (X, X_valid_len, Y, Y_valid_len)
        self.batch_tokens, self.bucket, self.trim_source = batch_tokens, bucket, trim_source
        self.seed, self.num_shards, self.shard, self.epoch = seed, num_shards, shard, 0
        self._src_len, self._tgt_len = X_valid_len.tolist(), Y_valid_len.tolist()
        self._num_batches = len(self.batches())

    @property
    def num_pairs(self):
        return len(self._tgt_len)

    def set_epoch(self, epoch):
        """下一次遍历给出第 epoch 轮的批。"""
        self.epoch = epoch

    def batches(self, epoch=None):
        """第 epoch 轮（默认是 set_epoch 设定的那一轮）本份的批：句对下标的列表的列表。"""
        rng = random.Random(f'{self.seed}/{self.epoch if epoch is None else epoch}')
        order = list(range(self.num_pairs))
        rng.shuffle(order)
        if self.bucket:
            order.sort(key=lambda i: (self._tgt_len[i], self._src_len[i]))  # 稳定排序：同长的仍是随机顺序
            cuts = cut_batches([self._tgt_len[i] for i in order], self.batch_tokens)
            batches = [[order[j] for j in cut] for cut in cuts]
        else:
            size = self.batch_tokens // self.num_steps
            batches = [order[j:j + size] for j in range(0, len(order), size)]
        while len(batches) % self.num_shards:  # 每份的批数要相同：把最大的一批一分为二
            k = max(range(len(batches)), key=lambda j: len(batches[j]))
            if len(batches[k]) < 2:
                raise ValueError(f"{len(batches)} 个只有一个句对的批分不成 {self.num_shards} 等份：请减少 num_shards")
            half = len(batches[k]) // 2
            batches[k:k + 1] = [batches[k][:half], batches[k][half:]]
        rng.shuffle(batches)
        return batches[self.shard::self.num_shards]

    def __len__(self):
        return self._num_batches

    def __iter__(self):
        X, X_valid_len, Y, Y_valid_len = self.arrays
        for rows in self.batches():
            index = torch.tensor(rows, dtype=torch.long)
            src_len, tgt_len = X_valid_len[index], Y_valid_len[index]
            src_steps = int(src_len.max()) if self.trim_source else X.shape[1]
            yield X[index, :src_steps], src_len, Y[index, :int(tgt_len.max())], tgt_len


# ---- notebooks/16_training_recipe.ipynb · cell 26 · id ch16-024 ----
def warmup_linear_decay(progress, warmup=0.05):
    """随预算结束的学习率调度：返回学习率的倍数（0 到 1）。

    progress：已经用去的预算比例（按步数或秒数），0 到 1；warmup：预热占预算的比例，0 <= warmup < 1。
    前 warmup 的预算里从 0 线性升到 1，之后线性下降，预算用完（progress = 1）时恰好为 0。
    """
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup 是预热占预算的比例，应满足 0 <= warmup < 1，收到 {warmup!r}")
    p = min(max(float(progress), 0.0), 1.0)
    if p < warmup:
        return p / warmup
    return (1 - p) / (1 - warmup)


def noam_lr(step, num_hiddens, warmup_steps=4000):
    """Vaswani 等人（2017）的学习率：num_hiddens^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)。

    step 从 1 开始数。前 warmup_steps 步线性增大，在 step = warmup_steps 处达到峰值
    (num_hiddens · warmup_steps)^-0.5，之后按 step^-0.5 衰减；它不知道训练什么时候结束。
    """
    if not step >= 1 or not warmup_steps >= 1:
        raise ValueError(f"step 和 warmup_steps 都从 1 开始数，收到 step={step!r}, warmup_steps={warmup_steps!r}")
    return num_hiddens ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


# ---- notebooks/16_training_recipe.ipynb · cell 38 · id ch16-036 ----
@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup(size=256):
    """这台 CPU 的一个核上，bfloat16 矩阵乘法比 float32 快几倍（> 1：bf16 更快）。只测一次，结果缓存起来。

    只用 1 个线程测（多个线程在忙碌的机器上互相等待，会把结果搅乱），测完恢复原来的线程数；
    用自己的随机数生成器造数据，不影响全局的随机数状态。"""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, 4 * size, generator=gen), torch.randn(4 * size, size, generator=gen)

    def fastest(x, y):
        x @ y  # 预热
        times = []
        for _ in range(5):
            start = time.perf_counter()
            x @ y
            times.append(time.perf_counter() - start)
        return min(times)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fastest(a, b) / fastest(a.bfloat16(), b.bfloat16())
    finally:
        torch.set_num_threads(threads)


def resolve_precision(precision, device):
    """把 precision 变成具体的 'fp32'、'bf16' 或 'fp16'。

    'auto'：CUDA 上，GPU 原生支持 bf16 就用 'bf16'，否则用 'fp16'（配梯度缩放）；CPU 上，只有 bf16 矩阵
    乘法确实更快（CPU 有原生的 bf16 指令）时才用 'bf16'，否则 'fp32'；其他设备用 'fp32'。"""
    choices = ('fp32', 'bf16', 'fp16', 'auto')
    if precision not in choices:
        raise ValueError(f"precision 应是 {', '.join(map(repr, choices))} 之一，收到 {precision!r}")
    if precision != 'auto':
        return precision
    device = torch.device(device)
    if device.type == 'cuda':
        try:
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # 较早的 torch 没有这个参数
            native = torch.cuda.is_bf16_supported()
        return 'bf16' if native else 'fp16'
    if device.type == 'cpu':
        return 'bf16' if cpu_bf16_speedup() > 1.5 else 'fp32'
    return 'fp32'


def mixed_precision(device, precision):
    """混合精度的上下文管理器：'bf16'、'fp16'（或 'auto' 选出的它们）时是 torch.autocast，
    块里的矩阵乘法等用低精度计算；'fp32' 时什么也不做。权重、梯度和优化器状态始终是 float32。"""
    precision = resolve_precision(precision, device)
    if precision == 'fp32':
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == 'bf16' else torch.float16
    return torch.autocast(torch.device(device).type, dtype=dtype)


# ---- notebooks/16_training_recipe.ipynb · cell 44 · id ch16-042 ----
def tie_weights(net):
    """让解码器的输出层（dense）与目标词元的嵌入层（embedding）共用同一个权重矩阵，返回 net。

    net 是 EncoderDecoder 或解码器本身。两个矩阵的形状都必须是 (vocab_size, d)：输出层的输入维数
    （num_hiddens）要等于嵌入维数（embed_size）。共享之后它们是同一个 nn.Parameter，一起训练、一起保存。
    """
    decoder = getattr(net, 'decoder', net)
    embedding, dense = getattr(decoder, 'embedding', None), getattr(decoder, 'dense', None)
    if not isinstance(embedding, nn.Embedding) or not isinstance(dense, nn.Linear):
        raise TypeError(f"{type(decoder).__name__} 应有嵌入层 embedding（nn.Embedding）和输出层 dense"
                        "（nn.Linear），才能共享它们的权重")
    if embedding.weight.shape != dense.weight.shape:
        vocab_size, embed_size = embedding.weight.shape
        raise ValueError(f"嵌入层的权重形状是 {tuple(embedding.weight.shape)}（vocab_size, embed_size），"
                         f"输出层的是 {tuple(dense.weight.shape)}（vocab_size, num_hiddens）：只有 "
                         f"embed_size == num_hiddens 时才能共享。请让解码器的 embed_size 等于 num_hiddens"
                         f"（{dense.weight.shape[1]}）。")
    dense.weight = embedding.weight
    return net


# ---- notebooks/16_training_recipe.ipynb · cell 50 · id ch16-048 ----
def translate_all(net, sentences, src_vocab, tgt_vocab, num_steps, device, *, beam_size=1,
                  precision='fp32', chunk=1000):
    """翻译一串句子，返回译文列表（与 sentences 一一对应）。

    句子按长度排序后每 chunk 句一批（长度相近，填充少），用 d2l.predict_seq2seq 贪心解码，
    beam_size > 1 时用 d2l.predict_seq2seq_beam 束搜索；precision 同 mixed_precision。"""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i].split()))
    translations = [None] * len(sentences)
    for begin in range(0, len(order), chunk):
        part = order[begin:begin + chunk]
        batch = [sentences[i] for i in part]
        with mixed_precision(device, precision):
            if beam_size > 1:
                outputs, _ = d2l.predict_seq2seq_beam(net, batch, src_vocab, tgt_vocab, num_steps, device,
                                                      beam_size=beam_size)
            else:
                outputs, _ = d2l.predict_seq2seq(net, batch, src_vocab, tgt_vocab, num_steps, device)
        for i, output in zip(part, outputs):
            translations[i] = output
    return translations


def evaluate_bleu(net, sentences, references, src_vocab, tgt_vocab, num_steps, device, **kwargs):
    """翻译 sentences，返回百分制的语料级 BLEU（d2l.corpus_bleu × 100）。

    references[i] 是 sentences[i] 的一个参考译文或几个参考译文的列表；其余参数同 translate_all。"""
    translations = translate_all(net, sentences, src_vocab, tgt_vocab, num_steps, device, **kwargs)
    return 100 * d2l.corpus_bleu(translations, references)


# ---- notebooks/16_training_recipe.ipynb · cell 52 · id ch16-050 ----
class ThreadTuner:
    """在 CPU 上训练时，用真实的训练步比较几种线程数，用最快的那个；每隔 every 秒再比一次。

    忙碌的 2 核机器上，两个线程可能比一个慢好几倍（线程互相等待），空闲时则更快，而负载随时在变。
    比较时的步也是正常的训练步，不浪费；比当前选择慢一倍以上的候选立刻出局。"""

    def __init__(self, candidates, every=90.0, probe_steps=2):
        self.candidates = list(dict.fromkeys(candidates))
        self.every, self.probe_steps = every, probe_steps
        self.current = self.candidates[0]
        self.queue, self.times, self.next_probe = [], {}, 0.0
        self.seconds_at = {}  # 线程数 -> 用这么多线程训练的秒数

    def before_step(self, elapsed, step):
        """第 step 步之前调用（elapsed：已训练的秒数）；设好线程数并返回它。"""
        if len(self.candidates) > 1 and not self.queue and elapsed >= self.next_probe and step > 0:
            others = [c for c in self.candidates if c != self.current]
            self.queue = [c for _ in range(self.probe_steps) for c in [self.current] + others]
            self.times = {c: [] for c in self.candidates}
        threads = self.queue[0] if self.queue else self.current
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        return threads

    def after_step(self, threads, seconds, elapsed):
        """这一步用 threads 个线程花了 seconds 秒。"""
        self.seconds_at[threads] = self.seconds_at.get(threads, 0.0) + seconds
        if not self.queue:
            return
        self.queue.pop(0)
        self.times[threads].append(seconds)
        mine = self.times[self.current]
        if threads != self.current and mine and seconds > 2 * min(mine):
            self.queue = []  # 慢得多：不必再比
        if not self.queue:   # 比完了：中位数最小的获胜
            self.current = min((c for c in self.candidates if self.times[c]),
                               key=lambda c: sorted(self.times[c])[(len(self.times[c]) - 1) // 2])
            torch.set_num_threads(self.current)
            self.next_probe = elapsed + self.every

    def summary(self):
        """例如 '2: 70%, 1: 30%'：各线程数占训练时间的比例。"""
        total = sum(self.seconds_at.values()) or 1.0
        used = sorted(self.seconds_at.items(), key=lambda kv: -kv[1])
        return ', '.join(f'{t}: {s / total:.0%}' for t, s in used)


# ---- notebooks/16_training_recipe.ipynb · cell 54 · id ch16-052 ----
def make_adam(params, lr, betas=(0.9, 0.999)):
    """Adam 优化器；torch 支持时用 fused 版本（一个核函数做完全部参数的更新）。"""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


def _rng_state():
    return {'torch': torch.get_rng_state(), 'python': random.getstate(),
            'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state):
    torch.set_rng_state(state['torch'])
    random.setstate(state['python'])
    if torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


def _check_writable(path, name):
    """path 所在的文件夹（必要时先建好）能写文件，否则抛出 CheckpointError。"""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise d2l.CheckpointError(f'无法在 {folder} 里写检查点（{error}）：请换一个可写的 {name}。') from None


# ---- notebooks/16_training_recipe.ipynb · cell 56 · id ch16-054 ----
class RecipeState:
    """配方训练中除模型参数以外要续训的一切：优化器、梯度缩放器和训练进度 progress。

    save_checkpoint / load_checkpoint 把它当作优化器，只调用 state_dict() 和 load_state_dict()，
    所以检查点的格式不变，只是 'optimizer' 一项里多了缩放器和进度。"""
    FORMAT = 'd2l_local.recipe/1'

    def __init__(self, optimizer, scaler, progress):
        self.optimizer, self.scaler, self.progress = optimizer, scaler, progress

    def state_dict(self):
        return {'format': self.FORMAT, 'optimizer': self.optimizer.state_dict(),
                'scaler': self.scaler.state_dict(), 'progress': dict(self.progress)}

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state['optimizer'])
        if state['scaler']:
            self.scaler.load_state_dict(state['scaler'])
        self.progress.update(state['progress'])


def _saved_by_recipe(path):
    """检查点 path 是不是带配方选项的 train_seq2seq 写的；读不出时返回 None（交给 load_checkpoint 报错）。"""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:
        return None
    optimizer = state.get('optimizer') if isinstance(state, dict) else None
    return isinstance(optimizer, dict) and optimizer.get('format') == RecipeState.FORMAT


# ---- notebooks/16_training_recipe.ipynb · cell 58 · id ch16-056 ----
@dataclasses.dataclass
class RecipeResult(d2l.TrainResult):
    """带配方选项的 train_seq2seq 的返回值：TrainResult 的各项，再加上下面这些（都含续训之前）。"""
    steps: int = 0              # 更新的步数
    epochs_seen: float = 0.0    # 走过的轮数（可以不是整数）
    tokens: int = 0             # 训练过的有效目标词元数
    precision: str = 'fp32'     # 实际使用的精度
    lr_history: list = dataclasses.field(default_factory=list)     # 每一步的学习率
    valid_history: list = dataclasses.field(default_factory=list)  # [(步数, 验证分数), ...]
    best_score: float = math.nan  # 最好的验证分数
    best_step: int = 0            # 它出现在第几步之后
    threads: str = ''             # CPU 上：各线程数占训练时间的比例（如 '2: 70%, 1: 30%'）


RECIPE_DEFAULTS = dict(schedule='constant', warmup=0.05, max_steps=None, time_budget=None, clock='wall',
                       label_smoothing=0.0, precision='fp32', betas=(0.9, 0.999), init='xavier',
                       valid=None, eval_every=None, best_checkpoint_path=None, save_every_steps=None)


def _check_recipe_options(o, num_epochs, data_iter, checkpoint_path):
    """检查配方选项，有问题时抛出说明怎么改的 ValueError。"""
    schedules = ('constant', 'linear', 'noam')
    if not (o['schedule'] in schedules or callable(o['schedule'])):
        raise ValueError(f"schedule 应是 {', '.join(map(repr, schedules))} 之一，或函数 f(step, progress)，"
                         f"收到 {o['schedule']!r}")
    if o['schedule'] == 'linear' and not 0 <= o['warmup'] < 1:
        raise ValueError(f"schedule='linear' 时 warmup 是预热占预算的比例，应满足 0 <= warmup < 1，收到 {o['warmup']!r}")
    if o['schedule'] == 'noam' and not (isinstance(o['warmup'], int) and o['warmup'] >= 1):
        raise ValueError(f"schedule='noam' 时 warmup 是预热的步数（正整数，论文里是 4000），收到 {o['warmup']!r}")
    if o['max_steps'] is not None and not (isinstance(o['max_steps'], int) and o['max_steps'] >= 1):
        raise ValueError(f"max_steps 应是正整数，收到 {o['max_steps']!r}")
    if o['time_budget'] is not None and not 0 < o['time_budget'] < math.inf:
        raise ValueError(f"time_budget 应是有限的正数（秒），收到 {o['time_budget']!r}")
    if num_epochs is None and o['max_steps'] is None and o['time_budget'] is None:
        raise ValueError("num_epochs=None 表示由预算决定训练多久：请给出 max_steps 或 time_budget")
    if num_epochs is not None and not (isinstance(num_epochs, int) and num_epochs >= 1):
        raise ValueError(f"num_epochs 应是正整数（或 None，由预算决定），收到 {num_epochs!r}")
    if o['schedule'] == 'linear' and o['max_steps'] is None and o['time_budget'] is None:
        try:
            len(data_iter)
        except TypeError:
            raise ValueError("schedule='linear' 要知道预算何时用完：请给出 max_steps 或 time_budget"
                             "（data_iter 没有长度，无法从 num_epochs 算出总步数）") from None
    if o['clock'] not in ('wall', 'process'):
        raise ValueError(f"clock 应是 'wall'（墙上时间）或 'process'（本进程的 CPU 时间），收到 {o['clock']!r}")
    if not 0 <= o['label_smoothing'] < 1:
        raise ValueError(f"label_smoothing 应满足 0 <= label_smoothing < 1，收到 {o['label_smoothing']!r}")
    if o['init'] not in ('xavier', None):
        raise ValueError(f"init 应是 'xavier'（第 7 章的初始化）或 None（保留模型自己的初始化），收到 {o['init']!r}")
    if o['valid'] is not None and not callable(o['valid']):
        raise ValueError("valid 应是一个函数 valid(net) -> 分数（越大越好），例如用 d2l.evaluate_bleu 算验证集 BLEU")
    if o['eval_every'] is not None and not (isinstance(o['eval_every'], int) and o['eval_every'] >= 1):
        raise ValueError(f"eval_every 应是正整数（每多少步评估一次），收到 {o['eval_every']!r}")
    if (o['eval_every'] is not None or o['best_checkpoint_path'] is not None) and o['valid'] is None:
        raise ValueError("eval_every 和 best_checkpoint_path 需要验证函数：请同时给出 valid=")
    if o['save_every_steps'] is not None:
        if not (isinstance(o['save_every_steps'], int) and o['save_every_steps'] >= 1):
            raise ValueError(f"save_every_steps 应是正整数，收到 {o['save_every_steps']!r}")
        if checkpoint_path is None:
            raise ValueError("save_every_steps 需要 checkpoint_path：检查点要写到哪里？")
    resolve_precision(o['precision'], 'cpu')  # 只检查拼写


def _result(history, speed, seconds, start_epoch, completed_epochs, num_epochs, progress, precision,
            epoch_steps, threads=''):
    """带配方选项时 train_seq2seq 的返回值。"""
    seen = completed_epochs + (progress['epoch_steps'] / epoch_steps if epoch_steps else 0.0)
    best = progress['best_score'] if progress['valid_history'] else math.nan
    return RecipeResult(history[-1] if history else math.nan, speed, completed_epochs - start_epoch, start_epoch,
                        num_epochs, seconds, list(history), steps=progress['steps'], epochs_seen=seen,
                        tokens=progress['tokens'], precision=precision, lr_history=list(progress['lr_history']),
                        valid_history=[tuple(v) for v in progress['valid_history']], best_score=best,
                        best_step=progress['best_step'], threads=threads)


# ---- notebooks/16_training_recipe.ipynb · cell 60 · id ch16-058 ----
def train_seq2seq(net, data_iter, lr, num_epochs, tgt_vocab, device, *,
                  checkpoint_path=None, save_every=10, theta=1.0, plot=True, plot_every=10, cpu_threads=1,
                  schedule='constant', warmup=0.05, max_steps=None, time_budget=None, clock='wall',
                  label_smoothing=0.0, precision='fp32', betas=(0.9, 0.999), init='xavier',
                  valid=None, eval_every=None, best_checkpoint_path=None, save_every_steps=None):
    """用强制教学训练序列到序列模型。不给配方选项时与第 7 章的版本完全相同，返回 TrainResult；
    给了任何一个配方选项时返回 RecipeResult。

    第 7 章的参数：checkpoint_path（每 save_every 轮和结束时保存；文件已存在时从它续训）、theta（梯度
    裁剪的阈值）、plot、plot_every（配方训练时：每 plot_every 步画一个点）、cpu_threads（CPU 上的线程数；
    'auto'：用 ThreadTuner 边训练边选）。

    配方选项（都只能按关键字给出）：
    - schedule：'constant'（不变）、'linear'（预热 warmup 比例的预算后线性降到预算结束时的 0）、
      'noam'（Vaswani 等人 2017，warmup 是预热的步数，峰值为 lr），或函数 f(step, progress) -> 倍数；
    - max_steps、time_budget（秒，按 clock：'wall' 墙上时间或 'process' 本进程的 CPU 时间）：预算，
      先用完的那个结束训练；num_epochs 可以是 None（只由预算决定）；
    - label_smoothing；precision：'fp32'、'bf16'、'fp16'、'auto'（见 resolve_precision）；
    - betas：Adam 的 (beta1, beta2)；init：'xavier' 或 None（保留模型自己的初始化）；
    - valid：函数 valid(net) -> 分数（越大越好），每 eval_every 步（默认每轮）和结束时调用；
      best_checkpoint_path：分数创新高时把模型存到这里（可用 d2l.load_checkpoint 读回）；
    - save_every_steps：每这么多步也保存一次检查点。
    检查点里有调度的位置、缩放器的状态和最好的分数：用同样的参数再调用一次，就从断点逐位相同地接着训练。
    """
    if '<bos>' not in getattr(tgt_vocab, 'token_to_idx', tgt_vocab):
        raise ValueError("tgt_vocab 里没有 '<bos>'：构造词表时请用 "
                         "reserved_tokens=['<pad>', '<bos>', '<eos>'] 保留它。")
    options = dict(schedule=schedule, warmup=warmup, max_steps=max_steps, time_budget=time_budget,
                   clock=clock, label_smoothing=label_smoothing, precision=precision, betas=betas, init=init,
                   valid=valid, eval_every=eval_every, best_checkpoint_path=best_checkpoint_path,
                   save_every_steps=save_every_steps)
    recipe = num_epochs is None or cpu_threads == 'auto' or any(
        options[k] is not v and options[k] != v for k, v in RECIPE_DEFAULTS.items())
    if recipe:
        _check_recipe_options(options, num_epochs, data_iter, checkpoint_path)
    for path, name in ((checkpoint_path, 'checkpoint_path'), (best_checkpoint_path, 'best_checkpoint_path')):
        if path is not None:
            _check_writable(path, name)  # 现在就发现写不了，而不是训练了很久之后
    precision = resolve_precision(precision, device)
    net.to(device)
    optimizer = make_adam(net.parameters(), lr, betas)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == 'fp16')
    loss = d2l.MaskedSoftmaxCELoss(label_smoothing=label_smoothing)
    progress = dict(steps=0, epoch_steps=0, seconds=0.0, tokens=0, pairs=0, loss_sum=0.0, token_count=0.0,
                    partial_epoch=False, epoch_rng=None, lr_history=[], curve=[], valid_history=[],
                    best_score=-math.inf, best_step=0)
    state = RecipeState(optimizer, scaler, progress) if recipe else optimizer  # 检查点里存的“优化器”
    start_epoch, history = 0, []
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        if _saved_by_recipe(checkpoint_path) not in (None, recipe):
            raise d2l.CheckpointError(
                f"检查点 {checkpoint_path} 是{'不' if recipe else ''}带配方选项的 train_seq2seq 写的，"
                f"这次调用{'带' if recipe else '没带'}配方选项：请用写它时的参数续训，或者换一个 checkpoint_path。")
        saved = d2l.load_checkpoint(checkpoint_path, net, state, restore_rng=True)
        start_epoch, history = saved['epoch'], saved['loss_history']
        for group in optimizer.param_groups:
            group['lr'] = lr  # 学习率以这次调用为准
    elif init == 'xavier':
        net.apply(d2l.xavier_init_weights)
    start_tokens, start_seconds = progress['tokens'], progress['seconds']
    if recipe and progress['partial_epoch']:
        history.pop()  # 上次停在一轮的中间，这一轮的损失等它练完再记
        progress['partial_epoch'] = False
    now = time.perf_counter if clock == 'wall' else time.process_time
    epoch_steps = len(data_iter) if recipe and hasattr(data_iter, '__len__') else None

    def used(steps, seconds):
        """已用去的预算比例（几种预算中最大的那个）。"""
        fractions = [0.0]
        if max_steps is not None:
            fractions.append(steps / max_steps)
        if time_budget is not None:
            fractions.append(seconds / time_budget)
        if num_epochs is not None and epoch_steps:
            fractions.append(steps / (num_epochs * epoch_steps))
        return max(fractions)

    def learning_rate(step, seconds):
        """第 step 步（从 1 数）的学习率；按步数的预算取这一步的中点 step - 0.5。"""
        if schedule == 'constant':
            return lr
        p = used(step - 0.5, seconds)
        if schedule == 'linear':
            return lr * warmup_linear_decay(p, warmup)
        if schedule == 'noam':
            return lr * min(step / warmup, (warmup / step) ** 0.5)
        return lr * schedule(step, p)

    finished = start_epoch >= num_epochs if num_epochs is not None else False
    if recipe:
        finished = finished or used(progress['steps'], progress['seconds']) >= 1
    if finished:
        if recipe:
            print(f'检查点已用完训练预算（第 {progress["steps"]} 步，第 {start_epoch} 轮），无需继续训练。')
        else:
            print(f'检查点已训练到第 {start_epoch} 轮（num_epochs={num_epochs}），无需继续训练。')
        if not recipe:
            return d2l.TrainResult(history[-1] if history else math.nan, 0.0, 0, start_epoch,
                                   num_epochs, 0.0, history)
        return _result(history, 0.0, 0.0, start_epoch, start_epoch, num_epochs, progress, precision, epoch_steps)
    if start_epoch > 0 or progress['steps'] > 0:
        where = f'第 {start_epoch} 轮之后' if not recipe else f'第 {progress["steps"]} 步（第 {start_epoch} 轮之后）'
        print(f'从检查点 {os.path.basename(checkpoint_path)} 的{where}继续训练')
    if recipe:
        animator = d2l.Animator(xlabel='步数', ylabel='每词元训练损失', live=None if plot else False)
        for step, value in progress['curve']:
            animator.add(step, value, redraw=False)
    else:
        animator = d2l.Animator(xlabel='epoch', ylabel='loss per token', xlim=[1, num_epochs],
                                live=None if plot else False)
        for epoch, value in enumerate(history, start=1):
            animator.add(epoch, value, redraw=False)
    old_threads, tuner = torch.get_num_threads(), None
    if device.type == 'cpu' and cpu_threads == 'auto':
        tuner = ThreadTuner([1, os.cpu_count() or 1])
    elif device.type == 'cpu' and cpu_threads:
        torch.set_num_threads(cpu_threads)
    bos = tgt_vocab['<bos>']

    def train_step(X, X_valid_len, Y, Y_valid_len):
        """一次更新：强制教学的前向（可能是混合精度）、损失、反向、裁剪、Adam；返回 (损失, 有效词元数)。"""
        Y = Y[:, :int(Y_valid_len.max())]  # 全是 <pad> 的尾列不进损失，不必计算
        X, X_valid_len, Y, Y_valid_len = [t.to(device) for t in (X, X_valid_len, Y, Y_valid_len)]
        dec_input = torch.cat([torch.full((Y.shape[0], 1), bos, device=device), Y[:, :-1]], dim=1)
        with mixed_precision(device, precision):
            Y_hat, _ = net(X, dec_input, X_valid_len)
        l = loss(Y_hat.float(), Y, Y_valid_len)  # 损失总在 float32 里算
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(l).backward()   # fp16：先把损失放大，免得小梯度下溢成 0
        scaler.unscale_(optimizer)   # 裁剪之前先还原梯度的真实大小
        d2l.grad_clipping(net, theta)
        scaler.step(optimizer)       # fp16 且梯度里有 inf/nan 时跳过这一步
        scaler.update()
        return l.detach(), Y_valid_len.sum()

    # ======== 副作用都在这里：画图、评估、保存检查点。多个进程一起训练时，只让 0 号进程做这些 ========
    def evaluate():
        rng = _rng_state()      # 验证函数即使用了随机数，也不影响训练的随机数
        score = float(valid(net))
        _set_rng_state(rng)
        net.train()
        progress['valid_history'].append((progress['steps'], score))
        if score > progress['best_score']:
            progress['best_score'], progress['best_step'] = score, progress['steps']
            if best_checkpoint_path is not None:
                save_progress(metric)
                d2l.save_checkpoint(best_checkpoint_path, net, state, completed_epochs, history)

    def after_step(step_loss):
        steps = progress['steps']
        if plot_every and steps % plot_every == 0:
            value = float(step_loss[0] / max(float(step_loss[1]), 1))
            progress['curve'].append((steps, value))
            animator.add(steps, value, redraw=len(progress['curve']) % 20 == 0)
            step_loss[:] = [0.0, 0.0]
        if valid is not None and eval_every is not None and steps % eval_every == 0:
            evaluate()
        if save_every_steps is not None and steps % save_every_steps == 0:
            save_progress(metric)
            d2l.save_checkpoint(checkpoint_path, net, state, completed_epochs, history)

    def after_epoch(epoch, complete):
        if not recipe:
            animator.add(epoch, history[-1], redraw=(epoch % plot_every == 0 or epoch == num_epochs))
            if checkpoint_path is not None and (epoch % save_every == 0 or epoch == num_epochs):
                d2l.save_checkpoint(checkpoint_path, net, optimizer, epoch, history)
            return
        if complete and valid is not None and eval_every is None:
            evaluate()
        if complete and checkpoint_path is not None and epoch % save_every == 0:
            save_progress(None)
            d2l.save_checkpoint(checkpoint_path, net, state, completed_epochs, history)

    def after_training():
        if valid is not None and (not progress['valid_history'] or
                                  progress['valid_history'][-1][0] != progress['steps']):
            evaluate()
        if checkpoint_path is not None:
            save_progress(metric if progress['partial_epoch'] else None)
            d2l.save_checkpoint(checkpoint_path, net, state, completed_epochs, history)
        if plot and progress['curve']:
            animator.show()
    # ======================================================================================

    def save_progress(epoch_metric):
        """把本轮的累计损失写进 progress（一轮中间保存检查点时要用）。"""
        progress['loss_sum'] = epoch_metric[0] if epoch_metric is not None else 0.0
        progress['token_count'] = epoch_metric[1] if epoch_metric is not None else 0.0

    timer, num_tokens = d2l.Timer(), 0.0
    completed_epochs, metric, stopped = start_epoch, None, False
    start, side_seconds = now(), 0.0
    step_loss = [0.0, 0.0]
    net.train()
    try:
        epochs = range(start_epoch + 1, num_epochs + 1) if num_epochs is not None else itertools.count(start_epoch + 1)
        for epoch in epochs:
            if hasattr(data_iter, 'set_epoch'):
                data_iter.set_epoch(epoch)
            timer.start()
            metric = d2l.Accumulator(2)  # 损失 × 词元数之和，有效词元数（留在设备上）
            if recipe and progress['epoch_steps'] > 0:
                # 续训，而且上次停在这一轮的中间：按这一轮开始时的随机数状态重建迭代器，跳过已经训练过
                # 的批，再换回保存时的随机数状态。于是数据顺序和 dropout 都与没中断时相同
                metric.add(progress['loss_sum'], progress['token_count'])
                current = _rng_state()
                _set_rng_state(progress['epoch_rng'])
                batches = iter(data_iter)
                for _ in range(progress['epoch_steps']):
                    next(batches)
                _set_rng_state(current)
            else:
                if recipe:
                    progress['epoch_rng'], progress['epoch_steps'] = _rng_state(), 0
                batches = iter(data_iter)
            for X, X_valid_len, Y, Y_valid_len in batches:
                if recipe:
                    seconds = start_seconds + now() - start - side_seconds
                    if used(progress['steps'], seconds) >= 1:
                        stopped = True
                        break
                    step_lr = learning_rate(progress['steps'] + 1, seconds)
                    for group in optimizer.param_groups:
                        group['lr'] = step_lr
                    if tuner is not None:
                        threads, step_start = tuner.before_step(seconds, progress['steps']), time.perf_counter()
                l, n = train_step(X, X_valid_len, Y, Y_valid_len)
                metric.add(l * n, n)
                if recipe:
                    if tuner is not None:
                        tuner.after_step(threads, time.perf_counter() - step_start, seconds)
                    progress['steps'] += 1
                    progress['epoch_steps'] += 1
                    progress['pairs'] += Y.shape[0]
                    progress['tokens'] += int(Y_valid_len.sum())  # Y_valid_len 还在 CPU 上：不同步设备
                    progress['lr_history'].append(step_lr)
                    step_loss[0], step_loss[1] = step_loss[0] + l * n, step_loss[1] + n
                    side_start = now()
                    after_step(step_loss)
                    side_seconds += now() - side_start
            if recipe and progress['epoch_steps'] == 0:
                break  # 预算恰好在上一轮结束时用完
            complete = not stopped
            history.append(metric[0] / max(metric[1], 1))  # 每轮只在这里同步一次
            timer.stop()
            num_tokens += metric[1]
            if complete:
                completed_epochs = epoch
                progress['epoch_steps'] = 0
            progress['partial_epoch'] = not complete
            side_start = now()
            after_epoch(epoch, complete)
            side_seconds += now() - side_start
            if stopped:
                break
        if recipe:
            progress['seconds'] = start_seconds + now() - start - side_seconds
            after_training()
    finally:
        torch.set_num_threads(old_threads)
    if not recipe:
        speed = num_tokens / timer.sum()
        print(f'loss {history[-1]:.3f}, {speed:.0f} tokens/sec on {device}')
        return d2l.TrainResult(history[-1], speed, num_epochs - start_epoch, start_epoch, num_epochs,
                               timer.sum(), history)
    seconds = progress['seconds'] - start_seconds
    speed = (progress['tokens'] - start_tokens) / seconds if seconds > 0 else 0.0
    threads = ('' if device.type != 'cpu' else tuner.summary() if tuner is not None
               else f'{cpu_threads or old_threads}: 100%')
    result = _result(history, speed, seconds, start_epoch, completed_epochs, num_epochs, progress, precision,
                     epoch_steps, threads)
    best = f'，验证分数最高 {result.best_score:.2f}（第 {result.best_step} 步）' if valid is not None else ''
    print(f'{result.steps} 步（{result.epochs_seen:.2f} 轮），每词元损失 {result.loss:.3f}，'
          f'每秒 {speed:,.0f} 个词元（{device}，{precision}）{best}')
    return result
