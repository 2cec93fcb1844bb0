# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""2. 机器翻译数据集: the saved code of notebooks/02_machine_translation_data.ipynb (generated)."""

import collections
import datetime
import gc
import hashlib
import os
import random
import re
import stat
import torch
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'FRA_ENG_URL',
    'FRA_ENG_SHA1',
    'DataError',
    'cache_dir',
    'download',
    'extract_zip',
    'find_fra_eng',
    'read_data_nmt',
    'preprocess_nmt',
    'tokenize_nmt',
    'Vocab',
    'truncate_pad',
    'build_array_nmt',
    'load_array',
    'load_data_nmt',
    'split_nmt',
    'load_data_nmt_split',
    'DATE_FORMATS',
    'FIRST_DATE',
    'LAST_DATE',
    'format_date',
    'date_split',
    'make_date_pairs',
    'tokenize_dates',
    'load_data_dates',
]


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-005 ----
FRA_ENG_URL = "https://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
FRA_ENG_SHA1 = "94646ad1522d915e7b0f9296181140edcf86a4f5"


class DataError(RuntimeError):
    """数据文件出了问题（取不到、校验和不对、内容损坏）；消息里写明该怎么办。"""


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-007 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-009 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-011 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-013 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-017 ----
def preprocess_nmt(text):
    """预处理英法语料：不换行空格（U+202F、U+00A0）换成普通空格，转小写，
    并在前面不是空格的 , . ! ? 前插入一个空格。返回新的 str。"""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    # 在“前一个字符不是空格、后一个字符是 , . ! ?”的位置插入空格
    return re.sub(r"(?<=[^ ])(?=[,.!?])", " ", text)


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-023 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-037 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-043 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-047 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-066 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-074 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-080 ----
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


# ---- notebooks/02_machine_translation_data.ipynb · cell id ch02-086 ----
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
