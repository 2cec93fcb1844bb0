# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""3. 小批量、有效长度与留出集: the saved code of notebooks/03_minibatches_and_splits.ipynb (generated)."""

import datetime
import hashlib
import math
import numbers
import random
import torch
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
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


# ---- notebooks/03_minibatches_and_splits.ipynb · cell id ch03-09 ----
def _check_int(name, value, minimum):
    """“个数”一类的参数：value 应是不小于 minimum 的整数（不接受 3.5、True、'8'），返回 int(value)。"""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        example = max(minimum, round(value)) if isinstance(value, float) and math.isfinite(value) else minimum
        raise TypeError(f"{name} 应是整数，收到 {type(value).__name__} {value!r}。"
                        f"请传入整数，例如 {name}={example}。")
    if value < minimum:
        raise ValueError(f"{name} 应是不小于 {minimum} 的整数，收到 {value}。")
    return int(value)


def truncate_pad(line, num_steps, padding_token):
    """返回一个恰好 num_steps 项的新列表：过长截断，过短在末尾补 padding_token。
    不修改 line。"""
    num_steps = _check_int("num_steps", num_steps, 0)
    line = list(line[:num_steps])
    return line + [padding_token] * (num_steps - len(line))


def build_array_nmt(lines, vocab, num_steps):
    """把词元序列变成小批量张量。每个序列末尾加 '<eos>' 后截断或填充到 num_steps。

    返回 (array, valid_len)：array 形状 (len(lines), num_steps)，int64；valid_len 形状
    (len(lines),)，int64，第 i 项是有效长度 min(n_i + 1, num_steps)，n_i 是第 i 个序列的
    词元数。有效长度按序列本身的长度计算，不数非 '<pad>' 的索引：序列里字面上的 '<pad>'
    也是序列的一部分，'<eos>' 总在有效长度之内（除非被截掉）。
    """
    num_steps = _check_int("num_steps", num_steps, 1)
    for token in ("<pad>", "<eos>"):
        if token not in vocab:
            raise ValueError(f"词表里没有 {token}：请在建词表时用 reserved_tokens 保留它，"
                             "例如 Vocab(tokens, reserved_tokens=['<pad>', '<bos>', '<eos>'])。")
    pad, eos, unk = vocab["<pad>"], vocab["<eos>"], vocab.unk
    lookup = vocab.token_to_idx.get  # 与 vocab[line] 相同，但对十几万行更快
    rows, valid_len = [], []
    for i, line in enumerate(lines):
        if isinstance(line, str):
            raise TypeError(f"第 {i} 个序列是字符串 {line[:40]!r}，应是词元列表。"
                            "请先切分，例如 d2l.tokenize_nmt，或 sentence.split()。")
        ids = [lookup(token, unk) for token in line] + [eos]
        rows.append(truncate_pad(ids, num_steps, pad))
        valid_len.append(min(len(ids), num_steps))
    array = torch.tensor(rows, dtype=torch.long).reshape(len(rows), num_steps)
    return array, torch.tensor(valid_len, dtype=torch.long)


# ---- notebooks/03_minibatches_and_splits.ipynb · cell id ch03-15 ----
def load_array(data_arrays, batch_size, is_train=True):
    """用若干个第一维等长的张量构造 DataLoader；is_train=True 时每轮打乱顺序。

    采样器每次给出一整批下标，TensorDataset 用它一次切出整批；打乱的顺序与
    DataLoader(dataset, batch_size, shuffle=True) 完全相同。
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    if isinstance(data_arrays, torch.Tensor):
        raise TypeError("data_arrays 应是若干个张量组成的元组，例如 (X, y)；只有一个张量也要写成 (X,)。")
    sizes = [len(array) for array in data_arrays]
    if not sizes or len(set(sizes)) != 1:
        raise ValueError(f"data_arrays 应是第一维等长的张量（每个样本一行），收到的长度是 {sizes}。")
    if sizes[0] == 0:
        raise ValueError("数据是空的（0 个样本），无法组成小批量。"
                         "请检查生成数据的参数，例如 num_examples、max_tokens、num_train。")
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
    batch_size = _check_int("batch_size", batch_size, 1)
    num_steps = _check_int("num_steps", num_steps, 1)
    num_examples = _check_int("num_examples", num_examples, 1)
    text = d2l.preprocess_nmt(d2l.read_data_nmt())
    source, target = d2l.tokenize_nmt(text, num_examples)
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = d2l.Vocab(source, min_freq=2, reserved_tokens=reserved)
    tgt_vocab = d2l.Vocab(target, min_freq=2, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    data_iter = load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), batch_size)
    return data_iter, src_vocab, tgt_vocab


# ---- notebooks/03_minibatches_and_splits.ipynb · cell id ch03-37 ----
def split_nmt(source, target, valid_frac=0.05, test_frac=0.05, seed=0):
    """按英语句子把句对分成训练/验证/测试三部分。

    同一个英语句子（词元用空格连起来）的所有句对落在同一部分。先把不同的英语
    句子排序，再用 random.Random(seed) 打乱，前 test_frac 份作测试、接着
    valid_frac 份作验证、其余作训练；每部分内句对保持语料中的顺序。
    返回 {'train': (src, tgt), 'valid': (src, tgt), 'test': (src, tgt)}。
    """
    if len(source) != len(target):
        raise ValueError(f"source 和 target 长度不同：{len(source)} 与 {len(target)}。"
                         "它们应来自同一次 tokenize_nmt，第 i 项组成第 i 个句对。")
    fracs = {"valid_frac": valid_frac, "test_frac": test_frac}
    for name, frac in fracs.items():
        if isinstance(frac, bool) or not isinstance(frac, numbers.Real):
            raise TypeError(f"{name} 应是 0 到 1 之间的比例（一个数），收到 {frac!r}。例如 {name}=0.05。")
    if not (0 <= valid_frac and 0 <= test_frac and valid_frac + test_frac < 1):
        raise ValueError("需要 0 <= valid_frac、0 <= test_frac 且两者之和小于 1（要给训练留下句子），"
                         f"收到 valid_frac={valid_frac}, test_frac={test_frac}。")
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


# ---- notebooks/03_minibatches_and_splits.ipynb · cell id ch03-45 ----
def load_data_nmt_split(batch_size, num_steps, *, valid_frac=0.05, test_frac=0.05, seed=0,
                        max_tokens=None, num_train=None, min_freq=2):
    """在整个英法语料上按英语句子划分，返回 (train_iter, src_vocab, tgt_vocab, splits)。

    max_tokens：只保留两侧都不超过 max_tokens 个词元的句对（在划分之前过滤）。
    num_train：训练句对最多取这么多（用 seed 抽取的子集，保持语料顺序）；
    验证集和测试集不受它影响。词表只用训练部分构建。train_iter 的小批量格式
    与 load_data_nmt 相同；splits 的格式同 split_nmt 的返回值（词元列表），
    其中 'train' 是实际用于训练的那部分。
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    num_steps = _check_int("num_steps", num_steps, 1)
    if max_tokens is not None:
        max_tokens = _check_int("max_tokens", max_tokens, 1)
    if num_train is not None:
        num_train = _check_int("num_train", num_train, 1)
    source, target = d2l.tokenize_nmt(d2l.preprocess_nmt(d2l.read_data_nmt()))
    if max_tokens is not None:
        keep = [i for i, (src, tgt) in enumerate(zip(source, target))
                if len(src) <= max_tokens and len(tgt) <= max_tokens]
        if not keep:
            raise ValueError(f"max_tokens={max_tokens} 太小：没有一个句对两侧都不超过 {max_tokens} 个词元。"
                             "请调大 max_tokens（或设为 None，不过滤）。")
        source = [source[i] for i in keep]
        target = [target[i] for i in keep]
    splits = split_nmt(source, target, valid_frac, test_frac, seed)
    train_src, train_tgt = splits["train"]
    if not train_src:
        raise ValueError(f"训练部分是空的：语料里只有 {len(source)} 个句对，划分后没有剩给训练的。"
                         "请调小 valid_frac、test_frac，或调大 max_tokens。")
    if num_train is not None and num_train < len(train_src):
        chosen = sorted(random.Random(seed).sample(range(len(train_src)), num_train))
        train_src = [train_src[i] for i in chosen]
        train_tgt = [train_tgt[i] for i in chosen]
        splits["train"] = (train_src, train_tgt)
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = d2l.Vocab(train_src, min_freq=min_freq, reserved_tokens=reserved)
    tgt_vocab = d2l.Vocab(train_tgt, min_freq=min_freq, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(train_src, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(train_tgt, tgt_vocab, num_steps)
    train_iter = load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), batch_size)
    return train_iter, src_vocab, tgt_vocab, splits


# ---- notebooks/03_minibatches_and_splits.ipynb · cell id ch03-51 ----
DATE_FORMATS = ("zh_numerals", "zh_digits", "en_short", "en_long",
                "en_day_first", "en_weekday", "dotted")
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZH_DIGITS = "〇一二三四五六七八九"


def _check_date(day):
    if not isinstance(day, datetime.date):
        hint = (f"字符串请先转换：datetime.date.fromisoformat({day!r})。" if isinstance(day, str)
                else "例如 datetime.date(2026, 11, 25)。")
        raise TypeError(f"day 应是 datetime.date，收到 {type(day).__name__} {day!r}。{hint}")


def _zh_number(n):
    """1..31 写成汉字：5 → 五，10 → 十，12 → 十二，25 → 二十五，30 → 三十。"""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _ZH_DIGITS[ones]
    return ((_ZH_DIGITS[tens] if tens > 1 else "") + "十"
            + (_ZH_DIGITS[ones] if ones else ""))


def format_date(day, fmt):
    """把 datetime.date 按 DATE_FORMATS 中的一种格式写成字符串。"""
    _check_date(day)
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
    """日期所属的部分：'test'（约十分之一）或 'train'。由日期的 ISO 字符串的 SHA-1
    决定，与随机种子无关，所以测试日期永远不会出现在训练集里。"""
    _check_date(day)
    digest = hashlib.sha1(day.isoformat().encode("ascii")).digest()
    return "test" if int.from_bytes(digest[:4], "big") % 10 == 0 else "train"


# ---- notebooks/03_minibatches_and_splits.ipynb · cell id ch03-57 ----
def make_date_pairs(num_examples, seed=0, split="train"):
    """生成 num_examples 个不重复的 (源字符串, 'YYYY-MM-DD') 日期句对。

    日期取自 1950-01-01 到 2049-12-31 中属于 split（'train' 或 'test'，
    见 date_split）的那些，格式取自 DATE_FORMATS；同样的参数总给出同样的结果。
    """
    if split not in ("train", "test"):
        raise ValueError(f"split 只能是 'train' 或 'test'，收到 {split!r}")
    num_examples = _check_int("num_examples", num_examples, 0)
    num_days = (LAST_DATE - FIRST_DATE).days + 1
    days = [FIRST_DATE + datetime.timedelta(i) for i in range(num_days)]
    days = [day for day in days if date_split(day) == split]
    short = DATE_FORMATS.index("en_short")
    # 五月的缩写 May 与全称相同，en_short 与 en_long 会重复，故去掉这些组合
    candidates = [(d, f) for d, day in enumerate(days) for f in range(len(DATE_FORMATS))
                  if not (f == short and day.month == 5)]
    if num_examples > len(candidates):
        raise ValueError(f"split={split!r} 只有 {len(candidates)} 个不同的日期句对，"
                         f"要不了 {num_examples} 个。请把 num_examples 调小到 {len(candidates)} 以内。")
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
    batch_size = _check_int("batch_size", batch_size, 1)
    num_examples = _check_int("num_examples", num_examples, 1)
    if num_steps is not None:
        num_steps = _check_int("num_steps", num_steps, 1)
    source, target = tokenize_dates(make_date_pairs(num_examples, seed, "train"))
    if num_steps is None:
        num_steps = max(len(line) for line in source) + 1
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = d2l.Vocab(source, reserved_tokens=reserved)
    tgt_vocab = d2l.Vocab(target, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    data_iter = load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), batch_size)
    return data_iter, src_vocab, tgt_vocab
