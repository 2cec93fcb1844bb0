# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""d2l_local: the code of the book, in reading order (generated from its notebooks)."""

import collections
import dataclasses
import datetime
import gc
import hashlib
import io
import math
import numbers
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


# ---- notebooks/04_encoder.ipynb · cell 12 · id ch04-11 ----
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


# ---- notebooks/05_decoder.ipynb · cell 16 · id ch05-15 ----
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


# ---- notebooks/06_masking_and_loss.ipynb · cell 18 · id ch06-16 ----
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


# ---- notebooks/06_masking_and_loss.ipynb · cell 35 · id ch06-33 ----
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


# ---- notebooks/07_training.ipynb · cell 10 · id ch07-09 ----
def grad_clipping(net, theta):
    """把 net 全部参数的梯度看成一个向量 g，做 g <- min(1, theta/||g||) g。

    原地修改各参数的 .grad；返回裁剪前的 ||g||（0 维张量，在参数所在的设备上）。
    不调用 .item()，不用 Python 的 if 判断张量，所以在 GPU 上不会迫使 CPU 等待。
    theta 必须是正数（theta < 0 会把梯度下降变成梯度上升）。"""
    d2l.check_positive('theta', theta, hint='梯度裁剪的阈值，例如 1')
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(theta / norm, max=1.0)  # ||g|| <= theta 时恰好为 1
    for g in grads:
        g.mul_(scale)
    return norm


# ---- notebooks/07_training.ipynb · cell 14 · id ch07-13 ----
def xavier_init_weights(module):
    """Xavier 均匀初始化：nn.Linear 的权重，以及 RNN（GRU、LSTM……）的每个权重矩阵；偏置不动。
    用法：net.apply(xavier_init_weights)。"""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    if isinstance(module, nn.RNNBase):
        for name, param in module.named_parameters():
            if name.startswith('weight'):
                nn.init.xavier_uniform_(param)


# ---- notebooks/07_training.ipynb · cell 18 · id ch07-17 ----
def make_adam(net, lr):
    """Adam 优化器；torch 支持时用 fused 版本（一个核函数做完全部参数的更新；CPU 上要 torch >= 2.4）。"""
    params = list(net.parameters())
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


# ---- notebooks/07_training.ipynb · cell 20 · id ch07-19 ----
def try_gpu(i=0):
    """有第 i 块 GPU 就返回 torch.device('cuda:i')，否则返回 CPU。"""
    return torch.device(f'cuda:{i}' if torch.cuda.device_count() > i else 'cpu')


# ---- notebooks/07_training.ipynb · cell 23 · id ch07-22 ----
def train_epoch_seq2seq(net, data_iter, loss, optimizer, tgt_vocab, theta, device):
    """用强制教学训练一轮。返回 (每词元损失, 有效词元数, 各小批量的梯度范数是否都是有限数)。
    损失、词元数和这个标志都留在设备上累加，只在这一轮结束时读一次（GPU 每轮只同步一次）。"""
    bos = tgt_vocab['<bos>']
    vocab_size = len(tgt_vocab) if hasattr(tgt_vocab, 'idx_to_token') else None
    metric = d2l.Accumulator(2)  # 损失 × 词元数之和，有效词元数
    grads_finite = torch.ones((), dtype=torch.bool, device=device)
    net.train()
    for batch in data_iter:
        X, X_valid_len, Y, Y_valid_len = d2l.check_batch(batch, vocab_size)
        Y = Y[:, :int(Y_valid_len.max())]  # 全是 <pad> 的尾列不进损失，不必计算
        X, X_valid_len, Y, Y_valid_len = [t.to(device) for t in (X, X_valid_len, Y, Y_valid_len)]
        bos_col = torch.full((Y.shape[0], 1), bos, device=device)
        dec_input = torch.cat([bos_col, Y[:, :-1]], dim=1)  # 强制教学
        Y_hat, _ = net(X, dec_input, X_valid_len)
        l = loss(Y_hat, Y, Y_valid_len)  # 标量：有效词元上的平均损失
        optimizer.zero_grad(set_to_none=True)
        l.backward()
        grads_finite &= torch.isfinite(grad_clipping(net, theta))
        optimizer.step()
        num_batch_tokens = Y_valid_len.sum()
        metric.add(l.detach() * num_batch_tokens, num_batch_tokens)
    num_tokens = metric[1]  # 这一轮唯一的同步
    loss_per_token = metric[0] / num_tokens if num_tokens else math.nan
    return loss_per_token, num_tokens, bool(grads_finite)


# ---- notebooks/07_training.ipynb · cell 25 · id ch07-24 ----
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


# ---- notebooks/07_training.ipynb · cell 26 · id ch07-25 ----
def train_seq2seq(net, data_iter, lr, num_epochs, tgt_vocab, device, *,
                  checkpoint_path=None, save_every=10, theta=1.0,
                  plot=True, plot_every=10, cpu_threads=1):
    """用强制教学训练序列到序列模型，返回 TrainResult。

    checkpoint_path：每 save_every 轮和结束时保存检查点；该文件已存在时从它续训（模型、优化器、
        轮数、损失记录和随机数状态都恢复，结果与没中断过一样，见第 8 章）。
    theta：梯度裁剪的阈值。plot：是否画损失曲线（只在 Jupyter 里显示），每 plot_every 轮重画一次。
    cpu_threads：在 CPU 上训练时使用的线程数（结束后恢复）；None 表示不改。
    参数有误时在训练第一步之前报错；某一轮出现 nan 或 inf 时停下并报错，这一轮不保存。"""
    # ---- 1. 检查参数：有错就在训练之前报告 ----
    device = d2l.check_train_args(net, data_iter, lr, num_epochs, tgt_vocab, device,
                                  checkpoint_path=checkpoint_path, save_every=save_every, theta=theta,
                                  plot_every=plot_every, cpu_threads=cpu_threads)
    # ---- 2. 准备：有检查点就从它续训，否则从 Xavier 初始化开始 ----
    net.to(device)
    optimizer, loss = make_adam(net, lr), d2l.MaskedSoftmaxCELoss()
    start_epoch, history = 0, []
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        saved = d2l.load_checkpoint(checkpoint_path, net, optimizer, restore_rng=True)
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
    animator = d2l.Animator(xlabel='轮数', ylabel='每词元损失', xlim=[1, num_epochs],
                            live=None if plot else False)
    for epoch, value in enumerate(history, start=1):
        animator.add(epoch, value, redraw=False)
    # ---- 3. 训练 ----
    old_threads = torch.get_num_threads()
    if device.type == 'cpu' and cpu_threads:
        torch.set_num_threads(cpu_threads)
    timer, num_tokens = d2l.Timer(), 0.0
    try:
        for epoch in range(start_epoch + 1, num_epochs + 1):
            d2l.reseed_cudnn_dropout(device)  # GPU 上续训也与不中断时一样（附录 A.2.5）
            timer.start()
            epoch_loss, epoch_tokens, grads_finite = train_epoch_seq2seq(
                net, data_iter, loss, optimizer, tgt_vocab, theta, device)
            timer.stop()
            d2l.check_epoch(epoch, epoch_loss, epoch_tokens, grads_finite, net, lr=lr,
                            checkpoint_path=checkpoint_path)  # nan/inf 或空数据：停下，不保存
            history.append(epoch_loss)
            num_tokens += epoch_tokens
            # ---- 4. 副作用只在这里：画图、保存检查点 ----
            animator.add(epoch, epoch_loss, redraw=(epoch % plot_every == 0 or epoch == num_epochs))
            if checkpoint_path is not None and (epoch % save_every == 0 or epoch == num_epochs):
                d2l.save_checkpoint(checkpoint_path, net, optimizer, epoch, history)
    finally:
        torch.set_num_threads(old_threads)
    speed = num_tokens / timer.sum()
    print(f'每词元损失 {history[-1]:.3f}，每秒 {speed:.0f} 个词元，设备 {device}')
    return TrainResult(history[-1], speed, num_epochs - start_epoch, start_epoch, num_epochs,
                       timer.sum(), history)


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell 10 · id ch09-09 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell 16 · id ch09-15 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell 20 · id ch09-19 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell 26 · id ch09-25 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell 38 · id ch09-37 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell 39 · id ch09-38 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell 43 · id ch09-42 ----
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


# ---- notebooks/10_attention_pooling.ipynb · cell 19 · id ch10-018 ----
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


# ---- notebooks/11_attention_scoring.ipynb · cell 13 · id ch11-012 ----
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


# ---- notebooks/11_attention_scoring.ipynb · cell 23 · id ch11-022 ----
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


# ---- notebooks/11_attention_scoring.ipynb · cell 24 · id ch11-023 ----
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


# ---- notebooks/11_attention_scoring.ipynb · cell 34 · id ch11-033 ----
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


# ---- notebooks/12_bahdanau_attention.ipynb · cell 7 · id ch12-006 ----
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


# ---- notebooks/12_bahdanau_attention.ipynb · cell 11 · id ch12-010 ----
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


# ---- notebooks/13_multihead_attention.ipynb · cell 10 · id ch13-008 ----
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


# ---- notebooks/13_multihead_attention.ipynb · cell 16 · id ch13-014 ----
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


# ---- notebooks/13_multihead_attention.ipynb · cell 42 · id ch13-040 ----
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


# ---- notebooks/14_transformer.ipynb · cell 8 · id ch14-007 ----
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


# ---- notebooks/14_transformer.ipynb · cell 18 · id ch14-017 ----
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


# ---- notebooks/14_transformer.ipynb · cell 21 · id ch14-020 ----
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


# ---- notebooks/14_transformer.ipynb · cell 27 · id ch14-026 ----
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


# ---- notebooks/14_transformer.ipynb · cell 33 · id ch14-032 ----
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


# ---- notebooks/14_transformer.ipynb · cell 35 · id ch14-034 ----
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


# ---- notebooks/20_appendix_training_tools.ipynb · cell 5 · id ch20-03 ----
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


# ---- notebooks/20_appendix_training_tools.ipynb · cell 8 · id ch20-06 ----
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


# ---- notebooks/20_appendix_training_tools.ipynb · cell 11 · id ch20-09 ----
class Animator:
    """一张随训练更新的折线图（API 同 d2l：add(x, y)，y 可以是几条曲线各一个值）。

    在 IPython 内核（Jupyter、Colab）里：第一次重画时显示一张 PNG，之后原地替换它
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
        """添加一个点；redraw=False 只记录不重画（重画一次要把整张图渲染成 PNG）。"""
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


# ---- notebooks/20_appendix_training_tools.ipynb · cell 15 · id ch20-13 ----
def check_positive(name, value, *, integer=False, hint=''):
    """value 应是有限的正数（integer=True 时是正整数），否则抛出说明怎样改的 TypeError/ValueError；
    返回 value。hint 是对这个参数的说明，放进错误信息里。"""
    kind = '正整数' if integer else '正数'
    about = f'（{hint}）' if hint else ' '
    expected = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, expected):
        advice = f'，例如写成 {name}={max(1, round(value))}' if integer and isinstance(value, numbers.Real) \
            and not isinstance(value, bool) and math.isfinite(value) else ''
        raise TypeError(f'{name}{about}应是{kind}，收到的是 {type(value).__name__} {value!r}：'
                        f'请传入一个{kind}{advice}。')
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f'{name}{about}应是{kind}（有限且大于 0），收到的是 {value!r}：请传入一个{kind}。')
    return value

def as_device(device):
    """把 'cpu'、'cuda:0' 这样的字符串（或 torch.device）变成 torch.device，并确认这个设备存在。"""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device 应是 torch.device，或 'cpu'、'cuda:0' 这样的字符串，收到的是 {device!r}："
                         '请用 d2l.try_gpu()，它有 GPU 时返回 GPU，没有时返回 CPU。') from None
    if device.type == 'cuda' and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f'没有 {device} 这块 GPU（这台机器有 {torch.cuda.device_count()} 块）：'
                         '请用 d2l.try_gpu()，它有 GPU 时返回 GPU，没有时返回 CPU。')
    return device

def check_batch(batch, tgt_vocab_size=None):
    """训练循环的每个小批量应是 (X, X_valid_len, Y, Y_valid_len) 四个张量；tgt_vocab_size 给出时，
    还检查在 CPU 上的标签 Y 都是目标词表里的索引。返回这四个张量。"""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 4
            and all(isinstance(t, torch.Tensor) for t in batch)):
        got = f'{len(batch)} 个元素的 {type(batch).__name__}' if isinstance(batch, (tuple, list)) \
            else type(batch).__name__
        raise ValueError(f'data_iter 的每个小批量应是 (X, X_valid_len, Y, Y_valid_len) 四个张量，'
                         f'收到的是 {got}：请用 d2l.load_data_nmt、d2l.load_array 这类函数构造数据。')
    Y = batch[2]
    if tgt_vocab_size is not None and Y.device.type == 'cpu' and Y.numel() > 0:
        low, high = int(Y.min()), int(Y.max())
        if low < 0 or high >= tgt_vocab_size:
            raise ValueError(f'标签 Y 里有目标词表之外的索引（最小 {low}，最大 {high}，目标词表只有 '
                             f'{tgt_vocab_size} 个词元）：Y 应当用传给 train_seq2seq 的 tgt_vocab 构造；'
                             '请检查是不是把源词表和目标词表弄反了。')
    return tuple(batch)

class NonFiniteError(FloatingPointError):
    """训练中出现了 nan 或 inf（损失、梯度或参数），或者要保存的状态里有 nan 或 inf。"""

def nonfinite_names(named_tensors):
    """(名字, 张量) 对里含 nan 或 inf 的浮点张量的名字。张量都在同一个设备上时只同步一次。"""
    named = [(name, t) for name, t in named_tensors if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not named:
        return []
    flags = [torch.isfinite(t).all() for _, t in named]
    if len({f.device for f in flags}) == 1:
        finite = torch.stack(flags).tolist()
    else:
        finite = [bool(f) for f in flags]
    return [name for (name, _), ok in zip(named, finite) if not ok]


# ---- notebooks/20_appendix_training_tools.ipynb · cell 19 · id ch20-17 ----
class CheckpointError(RuntimeError):
    """检查点读不出来、写不了，或者与要恢复的模型、优化器不符。"""


CHECKPOINT_FORMAT = 'd2l_local.train_seq2seq/1'


def checkpoint_target(path):
    """检查点真正要写的文件（path 是符号链接时，是它指向的文件）。确认它不是文件夹、所在的文件夹
    存在（不存在就建好）并且可写；否则抛出说明怎么办的 CheckpointError。"""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f'checkpoint_path 应是一个文件路径（str 或 pathlib.Path），收到的是 '
                        f'{type(path).__name__}。') from None
    target = os.path.realpath(path)  # 符号链接：写到它指向的文件，链接本身不变
    if os.path.isdir(target):
        raise CheckpointError(f'checkpoint_path {path} 是一个文件夹，不是文件：请在后面加上文件名，'
                              f'例如 {os.path.join(path, "model.pt")}。')
    folder = os.path.dirname(target)
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CheckpointError(f'无法在 {folder} 里写检查点（{error}）：请换一个可写的 checkpoint_path。') from None
    return target


def _interrupted(error):
    """error 是不是由 KeyboardInterrupt 引起的（torch.save 会把 C++ 回调里的中断包装成 RuntimeError）。"""
    for _ in range(20):
        if error is None:
            return False
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


def _file_mode(target):
    """新写的检查点的权限：沿用旧文件的；没有旧文件时与 open() 新建的文件相同（0o666 去掉 umask）。"""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _state_problems(state):
    """要保存的状态里含 nan 或 inf 的部分的名字。"""
    named = [(f'模型参数 {k}', v) for k, v in state['model'].items()]
    named += [(f'优化器状态 {i}.{k}', v) for i, entry in state['optimizer'].get('state', {}).items()
              for k, v in entry.items()]
    bad = nonfinite_names(named)
    if not all(math.isfinite(x) for x in state['loss_history']):
        bad.append('损失记录')
    return bad


def save_checkpoint(path, net, optimizer, epoch, loss_history=()):
    """把训练现场原子地写进 path：模型和优化器的状态、已训练的轮数 epoch、每轮的损失，
    以及续训所需的随机数状态（torch CPU、CUDA、Python random）。
    先写同一文件夹里的临时文件，落盘后再 os.replace，所以 path 上永远是一个完整的检查点。
    含 nan/inf 的状态不写（抛出 NonFiniteError）；写到一半出错或被中断时，path 上的旧文件不变。"""
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(f'epoch 应是非负整数（已训练的轮数），收到的是 {epoch!r}。')
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
    bad = _state_problems(state)
    if bad:
        raise NonFiniteError(f'不保存检查点：{"、".join(bad[:3])}{" 等" if len(bad) > 3 else ""}里有 nan 或 inf'
                             f'（训练发散了）。{path} 保持原样；请调小学习率后从它续训，或者重新构造模型从头训练。')
    target = checkpoint_target(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(target) + '.', suffix='.tmp', dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, 'wb') as f:
            try:
                torch.save(state, f)
            except RuntimeError as error:
                if _interrupted(error):  # Ctrl-C 落在 torch.save 里：还原成普通的中断
                    raise KeyboardInterrupt(f'保存检查点时被中断：{path} 没有被改动。') from None
                raise
            f.flush()
            os.fsync(f.fileno())  # 确实写到磁盘上之后才替换
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):  # 只有出错或被中断时它才还在：删掉，旧检查点不受影响
            os.remove(tmp)


# ---- notebooks/20_appendix_training_tools.ipynb · cell 21 · id ch20-19 ----
def _read_checkpoint(path):
    """torch.load 检查点并检查它的格式、轮数和损失记录；读不出或不对时抛出 CheckpointError。"""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f'检查点路径 {path} 是一个文件夹，不是文件：请给出检查点文件的路径，'
                              f'例如 {os.path.join(path, "model.pt")}。')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise
    except PermissionError as error:
        raise CheckpointError(f'没有权限读检查点 {path}（{error}）：请检查文件的权限，'
                              '或者换一个 checkpoint_path。') from None
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
    epoch, history = state['epoch'], state['loss_history']
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise CheckpointError(f'检查点 {path} 记录的已训练轮数是 {epoch!r}，不是非负整数：文件被改动过或已损坏。'
                              '请换回一份完好的副本，或者删除它从头训练。')
    if not (isinstance(history, list) and all(isinstance(x, float) and math.isfinite(x) for x in history)):
        raise CheckpointError(f'检查点 {path} 的损失记录不是有限数的列表：文件被改动过，或者来自一次发散的训练。'
                              '请换回一份完好的副本，或者删除它从头训练。')
    return state

def _check_model_state(path, own, saved):
    """比较模型与检查点的参数名和形状，并确认检查点的参数里没有 nan/inf；有问题时抛出 CheckpointError。"""
    if not (isinstance(saved, dict) and all(isinstance(v, torch.Tensor) for v in saved.values())):
        raise CheckpointError(f'检查点 {path} 里的模型参数已损坏：请换回一份完好的副本，或者删除它从头训练。')
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
    bad = nonfinite_names(saved.items())
    if bad:
        raise CheckpointError(f'检查点 {path} 里的模型参数 {", ".join(bad[:3])} 有 nan 或 inf：保存它的那次训练'
                              '已经发散，不能用来续训。请换回更早的检查点，或者删除它从头训练。')

def _check_optimizer_state(path, net, optimizer, saved):
    """确认 optimizer 管理的是 net 的参数，检查点里的优化器状态与它的参数组、参数形状一致。"""
    own_params = [p for group in optimizer.param_groups for p in group['params']]
    net_params = {id(p) for p in net.parameters()}
    if any(id(p) not in net_params for p in own_params):
        raise CheckpointError('optimizer 管理的不是这个模型的参数：请用这个模型的参数构造优化器'
                              '（例如 d2l.make_adam(net, lr)）之后再读入检查点。')
    try:
        groups, entries = saved['param_groups'], saved['state']
        saved_sizes = [len(group['params']) for group in groups]
        saved_ids = [i for group in groups for i in group['params']]
    except (TypeError, KeyError):
        raise CheckpointError(f'检查点 {path} 里的优化器状态已损坏：请换回一份完好的副本，'
                              '或者删除它从头训练。') from None
    own_sizes = [len(group['params']) for group in optimizer.param_groups]
    if saved_sizes != own_sizes:
        raise CheckpointError(f'检查点 {path} 里的优化器状态属于另一组参数（各参数组的大小是 {saved_sizes}，'
                              f'这个 optimizer 是 {own_sizes}）：请用模型的全部参数构造优化器，例如 '
                              'd2l.make_adam(net, lr)；或者换一个 checkpoint_path。')
    for own_group, saved_group in zip(optimizer.param_groups, groups):
        for key in ('betas', 'momentum'):
            if (key in own_group) != (key in saved_group):
                raise CheckpointError(f'检查点 {path} 里的优化器状态来自另一种优化器：请用与保存时相同的优化器'
                                      '（train_seq2seq 用的是 d2l.make_adam），或者换一个 checkpoint_path。')
    by_id = dict(zip(saved_ids, own_params))
    problems = []
    for i, entry in entries.items():
        param = by_id.get(i)
        if param is None or not isinstance(entry, dict):
            problems.append(f'  参数 {i}：检查点里有它的状态，优化器里没有这个参数')
            continue
        for key, value in entry.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and tuple(value.shape) != tuple(param.shape):
                problems.append(f'  参数 {i} 的 {key}：检查点里的形状是 {tuple(value.shape)}，'
                                f'参数的形状是 {tuple(param.shape)}')
    bad = nonfinite_names((f'参数 {i} 的 {k}', v) for i, entry in entries.items() if isinstance(entry, dict)
                          for k, v in entry.items())
    problems += [f'  {name}：有 nan 或 inf' for name in bad]
    if problems:
        raise CheckpointError(f'检查点 {path} 里的优化器状态与这个优化器不符，不能用来续训：\n'
                              + '\n'.join(problems[:5])
                              + '\n请用与保存时同样的模型和优化器续训，或者换一个 checkpoint_path。')

def _check_rng_state(path, rng):
    """在一次性的生成器上试着设置检查点里的随机数状态，确认它们完好（不动全局的生成器）。"""
    try:
        torch.Generator().set_state(rng['torch'])
        random.Random().setstate(rng['python'])
        if not (isinstance(rng['cuda'], list) and all(isinstance(s, torch.Tensor) and s.dtype == torch.uint8
                                                      for s in rng['cuda'])):
            raise ValueError('cuda')
    except Exception:
        raise CheckpointError(f'检查点 {path} 里的随机数状态已损坏：请换回一份完好的副本，'
                              '或者删除它从头训练。') from None

def load_checkpoint(path, net, optimizer=None, *, restore_rng=False):
    """读入 save_checkpoint 写的检查点，恢复 net（和 optimizer）的状态；restore_rng=True 时
    还恢复随机数状态（续训时需要）。返回 {'epoch': 已训练轮数, 'loss_history': [...]}。
    先检查一切，再改动任何东西：检查点读不出、不完整、含 nan/inf，或与 net、optimizer 不符时，
    抛出 CheckpointError，net、optimizer 和随机数状态都保持不变。"""
    state = _read_checkpoint(path)
    _check_model_state(path, net.state_dict(), state['model'])
    if optimizer is not None:
        _check_optimizer_state(path, net, optimizer, state['optimizer'])
    if restore_rng:
        _check_rng_state(path, state['rng'])
    # 全部检查通过，才开始改动
    net.load_state_dict(state['model'])
    if optimizer is not None:
        optimizer.load_state_dict(state['optimizer'])
    if restore_rng:
        torch.set_rng_state(state['rng']['torch'])
        if torch.cuda.is_available() and len(state['rng']['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['rng']['cuda'])
        random.setstate(state['rng']['python'])
    return {'epoch': state['epoch'], 'loss_history': state['loss_history']}


# ---- notebooks/20_appendix_training_tools.ipynb · cell 23 · id ch20-21 ----
def reseed_cudnn_dropout(device):
    """GPU 上：让 cuDNN 的 RNN dropout 下一次使用时从 CUDA 随机数生成器重新取种子；CPU 上什么也不做。
    重新设定生成器的状态（这里设成它原来的样子）时，PyTorch 会让 cuDNN 丢掉自己缓存的 dropout 状态。"""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.set_rng_state(torch.cuda.get_rng_state(device), device)


# ---- notebooks/20_appendix_training_tools.ipynb · cell 31 · id ch20-29 ----
def check_train_args(net, data_iter, lr, num_epochs, tgt_vocab, device, *, checkpoint_path=None,
                     save_every=10, theta=1.0, plot_every=10, cpu_threads=1):
    """train_seq2seq 在训练第一步之前做的检查；每个错误都说明怎样改。返回 torch.device。"""
    if not isinstance(net, nn.Module):
        raise TypeError(f'net 应是一个 nn.Module（例如 d2l.EncoderDecoder），收到的是 {type(net).__name__}。')
    check_positive('lr', lr, hint='学习率，例如 0.005')
    check_positive('num_epochs', num_epochs, integer=True, hint='训练到第几轮为止')
    check_positive('theta', theta, hint='梯度裁剪的阈值，例如 1')
    check_positive('save_every', save_every, integer=True, hint='每隔几轮保存一次检查点')
    check_positive('plot_every', plot_every, integer=True, hint='每隔几轮重画一次损失曲线')
    if cpu_threads is not None:
        check_positive('cpu_threads', cpu_threads, integer=True, hint='在 CPU 上训练时用几个线程；None 表示不改')
    if '<bos>' not in getattr(tgt_vocab, 'token_to_idx', tgt_vocab):
        raise ValueError("tgt_vocab 里没有 '<bos>'：构造词表时请用 "
                         "reserved_tokens=['<pad>', '<bos>', '<eos>'] 保留它。")
    if not hasattr(data_iter, '__iter__'):
        raise TypeError(f'data_iter 应是可以遍历的小批量数据（例如 DataLoader），收到的是 {type(data_iter).__name__}。')
    if hasattr(data_iter, '__len__') and len(data_iter) == 0:
        raise ValueError('data_iter 是空的，一个小批量也没有：请检查数据是否读进来了'
                         '（例如 num_examples 是否为 0、批量是否大于样本数而又丢弃了不完整的批量）。')
    device = as_device(device)
    resuming = checkpoint_path is not None and os.path.exists(checkpoint_path)
    bad = [] if resuming else nonfinite_names(net.named_parameters())
    if bad:
        raise NonFiniteError(f'训练开始之前，模型参数 {", ".join(bad[:3])} 里就有 nan 或 inf（多半是上一次训练'
                             '发散了）：请重新构造模型（再调用一次创建它的代码）之后再训练。')
    if checkpoint_path is not None:
        checkpoint_target(checkpoint_path)  # 现在就发现写不了，而不是训练了 save_every 轮之后
    return device

def check_epoch(epoch, epoch_loss, num_tokens, grads_finite, net, *, lr, checkpoint_path=None):
    """train_seq2seq 每轮结束、保存检查点之前的检查：这一轮训练了有效词元，损失、梯度和参数都是有限数。
    有问题时抛出说明原因和办法的错误；这一轮不会被保存。"""
    if num_tokens == 0:
        raise ValueError(f'第 {epoch} 轮 data_iter 没有给出任何有效词元：它是空的，或者是只能遍历一次的'
                         '生成器（上一轮已经用完）。请传入可以反复遍历的数据，例如 d2l.load_data_nmt 返回的'
                         ' DataLoader。这一轮没有保存。')
    problems = []
    if not math.isfinite(epoch_loss):
        problems.append(f'每词元损失是 {epoch_loss}')
    if not grads_finite:
        problems.append('某个小批量的梯度范数是 inf 或 nan（梯度裁剪救不回它：inf 乘以 0 得 nan）')
    bad = nonfinite_names(net.named_parameters())
    if bad:
        problems.append(f'参数 {", ".join(bad[:3])}{" 等" if len(bad) > 3 else ""}里有 nan 或 inf')
    if problems:
        if checkpoint_path is not None and os.path.exists(checkpoint_path):
            kept = f'这一轮没有保存：检查点 {checkpoint_path} 仍是之前保存的状态，重新运行时会从它续训。'
        else:
            kept = '模型的参数已经坏了，请重新构造模型之后再训练。'
        raise NonFiniteError(f'第 {epoch} 轮训练出现了 nan 或 inf：{"；".join(problems)}。最常见的原因是学习率'
                             f'太大（lr={lr}），训练发散了；也可能是梯度爆炸。请把 lr 调小（例如减到十分之一）。{kept}')


# ---- notebooks/20_appendix_training_tools.ipynb · cell 38 · id ch20-36 ----
def budget_seconds(seconds):
    """训练单元格的时间预算：seconds 乘以环境变量 D2L_BUDGET_SCALE（没有设置时为 1）。
    seconds 与 D2L_BUDGET_SCALE 都必须是有限的正数，否则抛出说明怎样改的错误。"""
    check_positive('seconds', seconds, hint='训练单元格的时间预算，单位是秒')
    raw = os.environ.get('D2L_BUDGET_SCALE', '1')
    try:
        scale = float(raw)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f'环境变量 D2L_BUDGET_SCALE 应是一个正数（例如 0.05），现在是 {raw!r}：'
                         '请改正它，或者删除它（删除后按单元格里写的预算训练）。')
    return seconds * scale
