# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""2. 机器翻译语料：预处理、词元化与词表: the saved code of notebooks/02_translation_corpus.ipynb (generated)."""

import collections
import gc
import operator
import re
import torch
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'DataError',
    'read_data_nmt',
    'preprocess_nmt',
    'tokenize_nmt',
    'Vocab',
]


# ---- notebooks/02_translation_corpus.ipynb · cell id ch02-11 ----
class DataError(RuntimeError):
    """数据文件出了问题（取不到、校验和不对、内容损坏）；消息里写明该怎么办。"""


def read_data_nmt():
    """读入英法语料，返回整个文件的文本（str），每行一个“英语<TAB>法语”句对。

    文件由 d2l.find_fra_eng() 寻找（附录 A.1）；文件开头若有 BOM（U+FEFF），读入时去掉。
    """
    path = d2l.find_fra_eng()
    try:
        text = path.read_text(encoding="utf-8-sig")  # utf-8-sig：去掉开头可能有的 BOM
    except UnicodeDecodeError as error:
        raise DataError(f"{path} 不是 UTF-8 文本，文件可能已损坏。"
                        "请删除它后重新获取（见附录 A.1）。") from error
    if not text.strip():
        raise DataError(f"{path} 是空的，文件可能只复制了一半。请删除它后重新获取（见附录 A.1）。")
    return text


# ---- notebooks/02_translation_corpus.ipynb · cell id ch02-17 ----
def preprocess_nmt(text):
    """预处理英法语料：不换行空格（U+202F、U+00A0）换成普通空格，转小写，
    并在前面不是空格的 , . ! ? 前插入一个空格。返回新的 str。"""
    if not isinstance(text, str):
        raise TypeError(f"text 应是 str，收到 {type(text).__name__}。bytes 请先解码：text.decode('utf-8')。")
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    # 在“前一个字符不是空格、后一个字符是 , . ! ?”的位置插入空格
    return re.sub(r"(?<=[^ ])(?=[,.!?])", " ", text)


# ---- notebooks/02_translation_corpus.ipynb · cell id ch02-25 ----
def tokenize_nmt(text, num_examples=None):
    """把预处理后的语料切成词元，返回 (source, target)：两个等长的列表，
    第 i 项是第 i 个句对的英语/法语词元列表。

    每行是“英语<TAB>法语”，后面还可以有别的栏（manythings.org 现在的文件第三栏是出处），
    多出的栏被忽略。按空白切分，跳过空行；num_examples 不为 None 时恰好取前 num_examples 个
    句对（不足则全取）。格式不对的行抛出 DataError，消息里有行号和该怎么办。
    """
    if not isinstance(text, str):
        raise TypeError(f"text 应是 str，收到 {type(text).__name__}。bytes 请先解码：text.decode('utf-8')。")
    if num_examples is not None:
        if isinstance(num_examples, bool) or not isinstance(num_examples, int):
            raise TypeError(f"num_examples 应是整数或 None（全部句对），收到 {num_examples!r}。"
                            "例如 num_examples=600。")
        if num_examples < 0:
            raise ValueError(f"num_examples 应为非负整数或 None（全部句对），收到 {num_examples}。")
    lines = text.split("\n")
    source, target = [], []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # 切分期间暂停循环垃圾回收：这些小列表之间没有循环引用
    try:
        for line_no, line in enumerate(lines, start=1):
            if len(source) == num_examples:  # num_examples 为 None 时永不成立
                break
            columns = line.split("\t")
            src, tgt = columns[0].split(), (columns[1].split() if len(columns) > 1 else [])
            if src and tgt:
                source.append(src)
                target.append(tgt)
            elif line.strip():  # 空行跳过，其余不合格式的行报错
                raise DataError(_bad_line_message(line_no, line, columns, line_no == len(lines)))
    finally:
        if gc_was_enabled:
            gc.enable()
    return source, target


def _bad_line_message(line_no, line, columns, is_last_piece):
    """tokenize_nmt 遇到不合格式的一行时的消息：哪里不对，以及该怎么办。"""
    if len(columns) == 1:
        what = "没有制表符（TAB），不是“英语<TAB>法语”的格式"
    else:
        what = f"的{'英语' if not columns[0].split() else '法语'}一栏是空的"
    shown = repr(line[:60]) + ("…" if len(line) > 60 else "")
    if is_last_piece:  # 文件最后一段没有以换行结束：多半是复制或下载到一半
        todo = ("这是文件的最后一行，而且文件没有以换行结束：文件多半在复制或下载时被截断了。"
                "请删除 fra-eng/fra.txt（和 fra-eng.zip）后重新获取（见附录 A.1）。")
    else:
        todo = ("问题出在这一行本身，不是文件被截断：如果文件是你整理或编辑过的，请修正或删去这一行；"
                "否则请换用未经改动的原始文件。")
    return f"语料第 {line_no} 行{what}：{shown}。{todo}"


# ---- notebooks/02_translation_corpus.ipynb · cell id ch02-45 ----
class Vocab:
    """词表：在词元（str）和索引（int）之间互相转换。

    tokens 可以是词元列表，也可以是“词元列表的列表”。索引的顺序：先是
    reserved_tokens（按给定顺序），再是 '<unk>'（若未保留），然后是出现次数
    不少于 min_freq 的词元，按次数从多到少、次数相同按字母序排列。
    """

    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        if isinstance(reserved_tokens, str):
            raise TypeError(f"reserved_tokens 应是词元的列表，收到的是字符串 {reserved_tokens!r}，"
                            "它会被拆成一个个字符。只保留一个词元也要写成列表："
                            f"reserved_tokens=[{reserved_tokens!r}]。")
        if isinstance(tokens, str):
            raise TypeError("tokens 应是词元列表（或词元列表的列表），收到的是一个字符串。"
                            "请先切分：按空白切成词用 text.split()，按字符建词表用 list(text)。")
        if isinstance(min_freq, bool) or not isinstance(min_freq, (int, float)):
            raise TypeError(f"min_freq 应是一个数（出现次数的下限），收到 {min_freq!r}。例如 min_freq=2。")
        reserved = list(reserved_tokens or [])
        if len(set(reserved)) != len(reserved):
            raise ValueError(f"reserved_tokens 里有重复：{reserved}。每个保留词元只写一次。")
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
        """一个词元（str）→ 索引；列表/元组 → 索引列表。词表里没有的词元映射到 unk。"""
        if isinstance(tokens, (list, tuple)):
            return [self[token] for token in tokens]
        if not isinstance(tokens, str):
            raise TypeError(f"vocab[...] 把词元（str）换成索引，收到的是 {type(tokens).__name__}。"
                            "要把索引换回词元，请用 vocab.to_tokens(indices)；"
                            "要一次查多个词元，请传 list 或 tuple。")
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        """一个索引 → 词元；列表/元组/张量 → 词元列表。"""
        if isinstance(indices, torch.Tensor):
            indices = indices.tolist()
        if isinstance(indices, (list, tuple)):
            return [self.to_tokens(index) for index in indices]
        try:
            index = operator.index(indices)  # 只接受整数：2.7 不会被悄悄截成 2
        except TypeError:
            raise TypeError(f"索引应是整数，收到 {type(indices).__name__}：{indices!r}。"
                            "浮点型的张量请先 .long()；把词元换成索引请用 vocab[tokens]。") from None
        if not 0 <= index < len(self.idx_to_token):
            raise IndexError(f"索引 {index} 超出词表范围 [0, {len(self.idx_to_token)})。"
                             "这个索引是不是来自另一个词表？")
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
