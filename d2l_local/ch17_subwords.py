# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""17. 子词: the saved code of notebooks/17_subwords.ipynb (generated)."""

import collections
import functools
import hashlib
import heapq
import json
import logging
import os
import random
import re
import typing
import warnings
from pathlib import Path
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'CMN_ENG_FILE',
    'CMN_ENG_SHA256',
    'CMN_ENG_ATTRIBUTION',
    'cmn_eng_path',
    'read_data_cmn',
    'parse_cmn',
    'to_simplified',
    'normalize_zh',
    'normalize_en',
    'preprocess_cmn',
    'split_cmn',
    'SPACE_MARK',
    'Tokenizer',
    'JiebaTokenizer',
    'split_words',
    'merge_pair',
    'count_pairs',
    'learn_bpe',
    'BPETokenizer',
]


# ---- notebooks/17_subwords.ipynb · cell id ch17-005 ----
CMN_ENG_FILE = "cmn-eng.txt.xz"
CMN_ENG_SHA256 = "d766002332a8f21099afd7427138d44f06bed7486a18f7f0f26f217092667d73"
CMN_ENG_ATTRIBUTION = (
    "英中句对来自 Tatoeba 项目（https://tatoeba.org），由 manythings.org/anki 整理发布"
    "（2026-02-13 版的 cmn-eng.zip），许可证 CC-BY 2.0（https://creativecommons.org/licenses/by/2.0）；"
    "每行第三栏注明两个句子在 Tatoeba 的编号和贡献者。")


def cmn_eng_path():
    """本书打包的英中语料（xz 压缩）的路径：d2l_local/data/cmn-eng.txt.xz（Path）。"""
    return Path(d2l.__file__).resolve().parent / "data" / CMN_ENG_FILE


def _reinstall_advice():
    return ("这份语料随本书的代码包 d2l_local 一起安装，请重新安装它：在本书仓库的检出里运行 "
            "`git checkout -- d2l_local/data/cmn-eng.txt.xz`（`git status` 能看出它是否被改动过）；"
            "用 pip 安装的，运行 `pip install --force-reinstall --no-deps` 加上当初安装时的地址；"
            "在 Colab 上，选菜单“运行时 → 断开连接并删除运行时”，再从第一个单元格重新运行。"
            "（没有删除或改动任何文件。）")


def read_data_cmn(path=None, sha256=None):
    """读入英中语料，返回整个文件的文本（str）：每行“英语<TAB>中文<TAB>署名”（旧版是前两栏）。

    path 为 None 时读本书打包的副本 cmn_eng_path()，并核对解压后内容的 SHA-256 是否为
    CMN_ENG_SHA256；给出 path 时读这个文件（以 .xz 结尾的先解压），sha256 不为 None 才核对。
    文件缺失、损坏或校验和不对都抛出 d2l.DataError，消息里说明该怎么办；不删除、不改动任何文件。
    """
    bundled = path is None
    path = cmn_eng_path() if bundled else Path(path)
    expected = CMN_ENG_SHA256 if bundled else sha256
    advice = _reinstall_advice() if bundled else "请换一份完好的文件。（没有删除或改动任何文件。）"
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise d2l.DataError(f"找不到英中语料 {path}。" + advice) from error
    except OSError as error:
        raise d2l.DataError(f"无法读取英中语料 {path}（{error}）。" + advice) from error
    if path.suffix == ".xz":
        try:
            import lzma  # 用到时才导入：少数自己编译的 Python 没有它，不该因此连 d2l_local 都导入不了
        except ImportError as error:
            raise d2l.DataError(
                "这个 Python 没有 lzma 模块（编译时缺少 liblzma），解不开 .xz 文件。请换一个带 lzma 的 Python"
                f"（官方安装包、conda、Colab 都带），或者用 xz 命令把 {path} 解压到别处，再传入 path=解压后的文件。"
            ) from error
        try:
            data = lzma.decompress(data)
        except (lzma.LZMAError, EOFError) as error:
            raise d2l.DataError(f"{path} 不是完好的 xz 压缩文件（{error}）：文件已损坏。" + advice) from error
    if expected is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected:
            raise d2l.DataError(f"{path} 的内容与预期不符：SHA-256 校验和应为 {expected}，实际为 {got}，"
                                "文件已损坏或被改动过。" + advice)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise d2l.DataError(f"{path} 不是 UTF-8 文本，文件可能已损坏。" + advice) from error
    if not text.strip():
        raise d2l.DataError(f"{path} 是空的。" + advice)
    return text


# ---- notebooks/17_subwords.ipynb · cell id ch17-009 ----
def parse_cmn(text):
    """把英中语料的文本拆成句对，返回 [(英语, 中文), ...]，两边都去掉首尾空白。

    每个非空行是“英语<TAB>中文<TAB>署名”三栏（manythings.org 现在的格式）或“英语<TAB>中文”两栏
    （旧版）；容许文件开头的 BOM 和 CRLF 换行。不合格式的行抛出 d2l.DataError，指出行号。
    """
    pairs = []
    for line_no, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) in (2, 3) and parts[0].strip() and parts[1].strip():
            pairs.append((parts[0].strip(), parts[1].strip()))
            continue
        raise d2l.DataError(
            f"英中语料第 {line_no} 行既不是“英语<TAB>中文<TAB>署名”三栏，也不是“英语<TAB>中文”两栏："
            f"{line[:60]!r}。文件看起来被截断或损坏了：本书打包的副本请用 read_data_cmn() 读（它会核对校验和），"
            "自己的文件请检查这一行。")
    return pairs


# ---- notebooks/17_subwords.ipynb · cell id ch17-013 ----
@functools.lru_cache(maxsize=None)
def _t2s_converter():
    try:
        import opencc  # opencc-python-reimplemented（纯 Python）或官方的 opencc，用法相同
    except ImportError as error:
        raise ImportError(
            "繁体转简体要用 OpenCC 的词典：请先安装纯 Python 的 opencc-python-reimplemented"
            "（命令行 `pip install opencc-python-reimplemented`，Colab 上在单元格里运行 "
            "`!pip install opencc-python-reimplemented`），再重新运行。") from error
    return opencc.OpenCC("t2s")


def to_simplified(text):
    """用 OpenCC 的 t2s 配置把繁体字转成简体（逐字，并参考常用词组），返回新的 str。"""
    return _t2s_converter().convert(text)


# ---- notebooks/17_subwords.ipynb · cell id ch17-020 ----
_HALF_TO_FULL = {",": "，", "?": "？", "!": "！"}


def normalize_zh(text, simplified=True):
    """清理一个中文句子，返回新的 str：去掉零宽空格（U+200B）；simplified=True 时繁体转简体；
    去掉空白，只在两个 ASCII 字母或数字之间留一个空格（“Tom Jackson”）；不在两个 ASCII 字母或数字之间的
    半角 , ? ! 换成全角的 ，？！；句末的半角句号换成“。”；「」『』换成“”‘’。"""
    text = text.replace("\u200b", "")
    if simplified:
        text = to_simplified(text)
    text = " ".join(text.split())
    text = re.sub(r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])", "", text)
    text = re.sub(r"(?<![A-Za-z0-9])[,?!]|[,?!](?![A-Za-z0-9])", lambda m: _HALF_TO_FULL[m.group()], text)
    text = re.sub(r"(?<![A-Za-z0-9.])\.$", "。", text)
    return text.translate(str.maketrans("「」『』", "“”‘’"))


def normalize_en(text):
    """清理一个英语句子，返回新的 str：弯撇号 ’‘ 换成 '，空白合并成一个空格，去掉首尾空白。"""
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())


def preprocess_cmn(pairs, simplified=True):
    """对每个句对做 normalize_en 和 normalize_zh，返回新的句对列表（不改动 pairs）。"""
    return [(normalize_en(en), normalize_zh(zh, simplified)) for en, zh in pairs]


# ---- notebooks/17_subwords.ipynb · cell id ch17-025 ----
def split_cmn(pairs, valid_frac=0.05, test_frac=0.05, seed=0):
    """按句子把英中句对分成训练/验证/测试三部分：同一个英语句子、同一个中文句子只出现在一部分里。

    比较句子时忽略大小写和空白（英语按 d2l.preprocess_nmt 的词元比较）。共用一个英语句子或一个中文句子的
    句对连成一组（图的连通分量），整组放进同一部分：各组按它在语料中的第一个句对排好，用
    random.Random(seed) 打乱，依次放进测试集，直到它至少有 round(test_frac * 句对数) 个句对；再同样放满
    验证集，其余是训练集。每部分内句对保持语料中的顺序。
    返回 {'train': [...], 'valid': [...], 'test': [...]}，每项是 (英语, 中文) 的列表。
    """
    if not (0 <= valid_frac and 0 <= test_frac and valid_frac + test_frac < 1):
        raise ValueError("需要 0 <= valid_frac、0 <= test_frac 且两者之和小于 1，"
                         f"收到 valid_frac={valid_frac}, test_frac={test_frac}")
    parent = list(range(len(pairs)))       # 并查集：开始时每个句对自成一组

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with = {}                         # 句子 -> 第一个含有它的句对
    for i, (en, zh) in enumerate(pairs):
        for key in (("en", " ".join(d2l.preprocess_nmt(en).split())), ("zh", "".join(zh.lower().split()))):
            root_i, root_j = find(i), find(first_with.setdefault(key, i))
            parent[max(root_i, root_j)] = min(root_i, root_j)
    groups = collections.defaultdict(list)
    for i in range(len(pairs)):
        groups[find(i)].append(i)
    order = [groups[root] for root in sorted(groups)]
    random.Random(seed).shuffle(order)
    part_of, next_group = {}, 0
    for part, frac in (("test", test_frac), ("valid", valid_frac)):
        filled = 0
        while filled < round(frac * len(pairs)) and next_group < len(order):
            for i in order[next_group]:
                part_of[i] = part
            filled += len(order[next_group])
            next_group += 1
    splits = {"train": [], "valid": [], "test": []}
    for i, pair in enumerate(pairs):
        splits[part_of.get(i, "train")].append(pair)
    return splits


# ---- notebooks/17_subwords.ipynb · cell id ch17-030 ----
SPACE_MARK = "\u2581"


@typing.runtime_checkable
class Tokenizer(typing.Protocol):
    """词元化器的接口（第 9 章）：tokenize 把一个句子切成词元，detokenize 把词元拼回句子。

    本书的词元化器还各有一个 normalize(text)，说明切分时保留文本的哪些信息：
    对任何 str s，detokenize(tokenize(s)) == normalize(s)。
    """

    def tokenize(self, text: str) -> list[str]: ...

    def detokenize(self, tokens: list[str]) -> str: ...


def _clean_space(text):
    """'▁' 当作空格，空白合并成一个空格，去掉首尾空白。"""
    return " ".join(text.replace(SPACE_MARK, " ").split())


# ---- notebooks/17_subwords.ipynb · cell id ch17-038 ----
@functools.lru_cache(maxsize=None)
def _jieba():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # 旧版 jieba 导入时可能触发 pkg_resources 或转义序列的警告
            import jieba
    except ImportError as error:
        raise ImportError("中文分词要用 jieba：请先 `pip install jieba`（Colab 自带）。") from error
    jieba.setLogLevel(logging.WARNING)        # 不在标准错误上打印 “Building prefix dict ...”
    jieba.initialize()
    return jieba


class JiebaTokenizer:
    """中文按词切分：jieba 的精确模式（带 HMM 新词发现）。空格记作 '▁'，自成一个词元。

    normalize(text)：'▁' 当作空格，空白合并成一个空格，去掉首尾空白。
    """

    def normalize(self, text):
        d2l.check_text(text)
        return _clean_space(text)

    def tokenize(self, text):
        return [word.replace(" ", SPACE_MARK) for word in _jieba().lcut(self.normalize(text))]

    def detokenize(self, tokens):
        d2l.check_token_list(tokens)
        return _clean_space("".join(tokens))

    def __repr__(self):
        return "JiebaTokenizer()"


# ---- notebooks/17_subwords.ipynb · cell id ch17-046 ----
_WORD_PATTERN = re.compile(r" ?(?:\w+(?:'\w+)*|[^\w ]+)")


def split_words(text):
    """BPE 之前的切分：把规范化的 text（单个空格分隔）切成词，返回 list[str]。

    一个词是一串连续的字母、数字或汉字（正则表达式的 \\w，中间可以夹撇号，如 don't），
    或一串连续的其他字符（标点、符号）；词前面有空格时，空格记作 '▁' 放在词首。合并规则不跨过词的边界。
    ''.join(split_words(text)).replace('▁', ' ') == text。
    """
    return [word.replace(" ", SPACE_MARK) for word in _WORD_PATTERN.findall(text)]


# ---- notebooks/17_subwords.ipynb · cell id ch17-049 ----
def merge_pair(symbols, pair):
    """在符号序列 symbols（list[str]）里从左到右合并每一处不重叠的 pair = (a, b)，返回新的列表。"""
    a, b = pair
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            merged.append(a + b)
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def count_pairs(words):
    """words：{符号元组: 次数}。返回 Counter {(a, b): 相邻出现的总次数}（一个词里出现几次就算几次）。"""
    counts = collections.Counter()
    for symbols, freq in words.items():
        for pair in zip(symbols, symbols[1:]):
            counts[pair] += freq
    return counts


# ---- notebooks/17_subwords.ipynb · cell id ch17-053 ----
def learn_bpe(word_freqs, num_merges=None, vocab_size=None, min_freq=2):
    """在词频表 word_freqs（{词: 次数}）上学习 BPE 的合并规则，返回 (alphabet, merges)。

    alphabet：出现过的全部字符，按 Unicode 码位排序；merges：[(a, b), ...]，按学到的先后排列。
    每一步合并出现次数最多的相邻符号对（在一个词里从左到右合并每一处不重叠的出现）。次数相同时，
    取左符号在词表中位置靠前的，再比右符号。词表的顺序是：先字母表（按码位），再是按产生的先后排列的
    合并结果（同一个字符串由不同的符号对合并而成时，只在第一次产生时记一个位置）。
    num_merges 与 vocab_size 恰好给一个：学到这么多条合并规则，或者字母表加合并结果共这么多个子词时停止；
    出现次数最多的符号对也不到 min_freq 次时提前停止。
    """
    if (num_merges is None) == (vocab_size is None):
        raise ValueError("num_merges 和 vocab_size 要恰好给一个：合并规则的条数，或者子词的个数（含字母表）")
    for name, value in (("num_merges", num_merges), ("vocab_size", vocab_size)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} 应是非负整数，收到 {value!r}")
    alphabet = sorted({ch for word in word_freqs for ch in word})
    if vocab_size is not None and vocab_size < len(alphabet):
        raise ValueError(f"vocab_size={vocab_size} 比字母表还小：语料里有 {len(alphabet)} 个不同的字符，"
                         "在字符上做的 BPE 要把它们都放进词表。请把 vocab_size 至少设为这个数。")
    rank = {symbol: i for i, symbol in enumerate(alphabet)}     # 子词 -> 在词表中的位置
    words = [list(word) for word in word_freqs]                 # 每个词当前的切分
    freqs = list(word_freqs.values())
    counts = count_pairs({tuple(symbols): freq for symbols, freq in zip(words, freqs)})
    where = collections.defaultdict(set)                        # 符号对 -> 含有它的词的编号
    for i, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            where[pair].add(i)
    # 堆里的键 (-次数, 左符号的位置, 右符号的位置) 互不相同，所以取出的顺序是确定的
    heap = [(-count, rank[a], rank[b], a, b) for (a, b), count in counts.items()]
    heapq.heapify(heap)
    merges = []
    while heap and (num_merges is None or len(merges) < num_merges) \
            and (vocab_size is None or len(rank) < vocab_size):
        neg_count, rank_a, rank_b, a, b = heapq.heappop(heap)
        count = counts.get((a, b), 0)
        if count != -neg_count:                 # 过时的记录：按当前次数放回（次数为 0 就丢掉）
            if count > 0:
                heapq.heappush(heap, (-count, rank_a, rank_b, a, b))
            continue
        if count < min_freq:
            break
        merges.append((a, b))
        rank.setdefault(a + b, len(rank))
        changed = set()
        for i in where.pop((a, b)):
            old = words[i]
            new = merge_pair(old, (a, b))
            if len(new) == len(old):            # 这个词里的 (a, b) 已在先前的合并中消失
                continue
            for pair in zip(old, old[1:]):
                counts[pair] -= freqs[i]
            for pair in zip(new, new[1:]):
                counts[pair] += freqs[i]
                where[pair].add(i)
                changed.add(pair)
            words[i] = new
        counts.pop((a, b), None)
        for pair in changed:
            if counts[pair] > 0:
                heapq.heappush(heap, (-counts[pair], rank[pair[0]], rank[pair[1]], *pair))
    return alphabet, merges


# ---- notebooks/17_subwords.ipynb · cell id ch17-056 ----
class BPETokenizer:
    """字节对编码（BPE，Sennrich 等人 2016）词元化器，在字符上学习合并规则（learn_bpe）。

    - normalize(text)：'▁' 当作空格，空白合并成一个空格，去掉首尾空白；lowercase=True 时再转小写。
    - tokenize(text)：normalize 之后用 split_words 切成词（词首的 '▁' 表示前面有空格），每个词从单个字符
      开始，按学到的先后应用合并规则。训练时没见过的字符自成一个词元（不在 symbols 里，词表会把它映射成
      '<unk>'），所以对任何 str s 都有 detokenize(tokenize(s)) == normalize(s)。
    - detokenize(tokens)：拼接，'▁' 换回空格，合并多余的空白。
    - symbols：全部子词（tuple），先是字母表（按码位），再是按学到的先后排列的合并结果（重复的只记一次）。
    - state_dict() / from_state_dict(state)，save(path) / load(path)：保存为 JSON、读回。
    """

    def __init__(self, alphabet, merges, lowercase=False):
        self.alphabet = list(alphabet)
        self.merges = [tuple(pair) for pair in merges]
        self.lowercase = bool(lowercase)
        known, symbols = set(self.alphabet), list(self.alphabet)
        if len(known) != len(self.alphabet) or any(not isinstance(c, str) or len(c) != 1 for c in self.alphabet):
            raise ValueError("alphabet 应是互不相同的单个字符")
        for k, pair in enumerate(self.merges):
            if len(pair) != 2 or not all(isinstance(s, str) and s in known for s in pair):
                raise ValueError(f"第 {k} 条合并规则 {pair!r} 不是两个已有子词组成的对"
                                 "（合并规则必须按学到的先后排列）。")
            if pair[0] + pair[1] not in known:
                known.add(pair[0] + pair[1])
                symbols.append(pair[0] + pair[1])
        self.symbols = tuple(symbols)
        self._ranks = {pair: k for k, pair in enumerate(self.merges)}
        self._cache = {}

    @classmethod
    def learn(cls, texts, num_merges=None, *, vocab_size=None, min_freq=2, lowercase=False):
        """在句子 texts（str 的列表或其他可迭代对象）上学习，返回 BPETokenizer。
        num_merges、vocab_size、min_freq 的含义同 learn_bpe；vocab_size 不含 <pad>、<unk> 这些特殊词元。"""
        if isinstance(texts, str):
            raise TypeError("texts 应是句子的列表，收到的是一个 str：请写成 [text]。")
        normalizer = cls([], [], lowercase)
        word_freqs = collections.Counter(
            word for text in texts for word in split_words(normalizer.normalize(text)))
        alphabet, merges = learn_bpe(word_freqs, num_merges, vocab_size, min_freq)
        return cls(alphabet, merges, lowercase)


    def truncated(self, num_merges):
        """只用前 num_merges 条合并规则的词元化器，也就是只学 num_merges 条时会得到的那一个。"""
        return type(self)(self.alphabet, self.merges[:num_merges], self.lowercase)

    def normalize(self, text):
        d2l.check_text(text)
        return _clean_space(text.lower() if self.lowercase else text)

    def _segment(self, word):
        if word not in self._cache:
            symbols = list(word)
            while len(symbols) > 1:
                best = min(zip(symbols, symbols[1:]), key=lambda pair: self._ranks.get(pair, len(self._ranks)))
                if best not in self._ranks:
                    break
                symbols = merge_pair(symbols, best)
            self._cache[word] = symbols
        return self._cache[word]

    def tokenize(self, text):
        return [symbol for word in split_words(self.normalize(text)) for symbol in self._segment(word)]

    def detokenize(self, tokens):
        d2l.check_token_list(tokens)
        return _clean_space("".join(tokens))

    def state_dict(self):
        return {"kind": "BPETokenizer", "version": 1, "lowercase": self.lowercase,
                "alphabet": "".join(self.alphabet), "merges": [list(pair) for pair in self.merges]}

    @classmethod
    def from_state_dict(cls, state):
        if not isinstance(state, dict) or state.get("kind") != "BPETokenizer" or state.get("version") != 1:
            raise ValueError("这不是 BPETokenizer.state_dict() 保存的状态（kind 应为 'BPETokenizer'，version 为 1）。")
        return cls(list(state["alphabet"]), state["merges"], state["lowercase"])

    def save(self, path):
        """把状态写成 JSON 文件 path（先写临时文件再改名，写到一半中断不会留下残缺的文件）。"""
        path = Path(path)
        part = path.with_name(path.name + ".part")
        part.write_text(json.dumps(self.state_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(part, path)

    @classmethod
    def load(cls, path):
        """读回 save 写的文件，返回 BPETokenizer。"""
        try:
            state = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"无法从 {path} 读出 BPETokenizer（{error}）：请传入 save() 写的 JSON 文件。") from error
        return cls.from_state_dict(state)

    def __repr__(self):
        return (f"BPETokenizer(字母表 {len(self.alphabet)} 个字符，合并规则 {len(self.merges)} 条，"
                f"lowercase={self.lowercase})")
