# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""9. 预测与评估: the saved code of notebooks/09_prediction_and_evaluation.ipynb (generated)."""

import collections
import itertools
import math
import numbers
import re
import torch
from torch.nn import functional as F
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'check_text',
    'check_token_list',
    'WordTokenizer',
    'CharTokenizer',
    'check_tokenizer',
    'tokenize_checked',
    'detokenize_checked',
    'prepare_source',
    'eval_mode',
    'predict_seq2seq',
    'check_vocabs',
    'check_finite_weights',
    'check_prediction_inputs',
    'check_step_logits',
    'bleu_tokens',
    'bleu',
    'ngram_counts',
    'corpus_bleu',
    'corpus_bleu_tokens',
    'group_references',
    'predict_seq2seq_beam',
]


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-tok2 ----
def check_text(text):
    """词元化器的 tokenize、normalize 收到的应是一个 str。"""
    if not isinstance(text, str):
        raise TypeError(f"要切分的应是一个 str，收到 {type(text).__name__}：{text!r:.60}")

def check_token_list(tokens):
    """词元化器的 detokenize 收到的应是词元（str）的列表。"""
    if isinstance(tokens, str) or not all(isinstance(token, str) for token in tokens):
        raise TypeError(f"detokenize 要的是词元（str）的列表，收到 {tokens!r:.60}")

class WordTokenizer:
    """词级词元化器（英法语料的做法）。

    tokenize：d2l.preprocess_nmt（不换行空格变普通空格、小写、标点前加空格），再按空白切分。
    detokenize：用一个空格把词元连起来。它不是 tokenize 的严格逆运算：大小写回不来，
    标点前多了空格（"He's calm." → "he's calm ."）。本书的参考译文也是这样切分后用空格连起来的，
    所以 BLEU 可以直接比较 detokenize 的结果。
    attach_punctuation=True 时，detokenize 再去掉 , . ! ? 前面的空格（"he's calm."），撤销
    preprocess_nmt 加的空格，得到普通的书面英语，交给按原文计分的 BLEU（如 sacrebleu 的 13a 词元化）。
    normalize(text)：detokenize(tokenize(text)) 的结果——小写，空白合并成一个空格、去掉首尾空白，
    标点 , . ! ? 前有一个空格（attach_punctuation=True 时没有）。
    """

    def __init__(self, attach_punctuation=False):
        self.attach_punctuation = bool(attach_punctuation)

    def normalize(self, text):
        check_text(text)
        if self.attach_punctuation:
            return re.sub(r" (?=[,.!?])", "", " ".join(text.lower().split()))
        return " ".join(d2l.preprocess_nmt(text).split())

    def tokenize(self, text):
        check_text(text)
        return d2l.preprocess_nmt(text).split()

    def detokenize(self, tokens):
        check_token_list(tokens)
        text = " ".join(tokens)
        return re.sub(r" (?=[,.!?])", "", text) if self.attach_punctuation else text

    def __repr__(self):
        return "WordTokenizer(attach_punctuation=True)" if self.attach_punctuation else "WordTokenizer()"

class CharTokenizer:
    """字符级词元化器（日期任务、按字符切分的中文）：每个字符是一个词元，空格也是；不做小写等任何预处理。

    detokenize 把字符直接连起来，是 tokenize 的严格逆运算：detokenize(tokenize(s)) == s，
    所以 normalize(text) 就是 text 本身。
    """

    def normalize(self, text):
        check_text(text)
        return text

    def tokenize(self, text):
        check_text(text)
        return list(text)

    def detokenize(self, tokens):
        check_token_list(tokens)
        return "".join(tokens)

    def __repr__(self):
        return "CharTokenizer()"


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-09 ----
def check_tokenizer(tokenizer, name):
    """None → 词级的 WordTokenizer()；否则检查 tokenizer 有 tokenize 和 detokenize 两个方法，原样返回。"""
    if tokenizer is None:
        return WordTokenizer()
    if isinstance(tokenizer, type):
        raise TypeError(f"{name} 应是词元化器的实例，收到的是类 {tokenizer.__name__} 本身：请写成 {tokenizer.__name__}()。")
    missing = [m for m in ('tokenize', 'detokenize') if not callable(getattr(tokenizer, m, None))]
    if missing:
        raise TypeError(f"{name} 应是有 tokenize(text) -> list[str] 和 detokenize(tokens) -> str 两个方法的对象，"
                        f"收到的 {type(tokenizer).__name__}（{tokenizer!r:.40}）没有 {'、'.join(missing)}。"
                        "词级用 d2l.WordTokenizer()（默认），字符级用 d2l.CharTokenizer()。")
    return tokenizer

def tokenize_checked(tokenizer, text, where):
    """tokenizer.tokenize(text)，并检查它返回 str 的列表（where 说明是哪个句子，用在报错里）。"""
    tokens = tokenizer.tokenize(text)
    if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"{type(tokenizer).__name__}.tokenize 应返回 str 的列表，对{where}却返回了 "
                        f"{type(tokens).__name__}：{tokens!r:.60}。请检查词元化器的 tokenize 方法。")
    return list(tokens)

def detokenize_checked(tokenizer, tokens):
    """tokenizer.detokenize(tokens)，并检查它返回 str。"""
    text = tokenizer.detokenize(list(tokens))
    if not isinstance(text, str):
        raise TypeError(f"{type(tokenizer).__name__}.detokenize 应返回 str，却返回了 {type(text).__name__}："
                        f"{text!r:.60}。请检查词元化器的 detokenize 方法。")
    return text

def prepare_source(src_sentences, src_vocab, num_steps, device, *, src_tokenizer=None):
    """检查并编码要翻译的源句子，返回 (X, valid_lens, single)。

    - src_sentences：一个 str，或由 str 组成的 list/tuple；
    - src_tokenizer：切分源句子的词元化器，默认 WordTokenizer()（与英法训练数据相同）；
    - X：形状 (n, num_steps) 的词元索引，在 device 上；valid_lens：形状 (n,)；
    - single：输入是不是单个 str。

    切分后交给 d2l.build_array_nmt，与训练数据的处理完全相同：末尾加 '<eos>'，截断或填充到
    num_steps。词表里没有的词变成 '<unk>'；超过 num_steps 的部分（连同 '<eos>'）被截掉。
    非字符串 → TypeError；空串或只有空白 → ValueError。
    """
    if not isinstance(num_steps, numbers.Integral) or isinstance(num_steps, bool) or num_steps < 1:
        raise ValueError(f"num_steps 应是正整数（最多生成的词元数，也是源句子截断的长度），收到 {num_steps!r}")
    single = isinstance(src_sentences, str)
    if single:
        sentences = [src_sentences]
    elif isinstance(src_sentences, (list, tuple)):
        sentences = list(src_sentences)
        for i, sentence in enumerate(sentences):
            if not isinstance(sentence, str):
                raise TypeError(f"第 {i} 个源句子应是 str，收到 {type(sentence).__name__}：{sentence!r:.60}")
    else:
        raise TypeError("src_sentences 应是一个 str 或由 str 组成的 list，"
                        f"收到 {type(src_sentences).__name__}：{src_sentences!r:.60}")
    tokenizer = check_tokenizer(src_tokenizer, 'src_tokenizer')
    lines = []
    for i, sentence in enumerate(sentences):
        where = '源句子' if single else f'第 {i} 个源句子'
        tokens = tokenize_checked(tokenizer, sentence, where)
        if not tokens or not sentence.strip():
            raise ValueError(f"{where}是空的（或只有空白）：没有可以翻译的词元。请传入至少含一个词的句子；"
                             "批量翻译前先去掉空串：[s for s in sentences if s.strip()]。")
        lines.append(tokens)
    X, valid_lens = d2l.build_array_nmt(lines, src_vocab, int(num_steps))
    return X.to(device), valid_lens.to(device), single


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-15 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-19 ----
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
                    save_attention_weights=False, *, src_tokenizer=None, tgt_tokenizer=None):
    """贪心解码。src_sentence 是 str → (译文 str, 注意力权重列表)；
    是 str 的列表 → 作为**一个批量**解码 → (译文列表, 注意力权重列表的列表)；空列表 → ([], [])。

    - src_tokenizer 切分源句子，tgt_tokenizer 把生成的词元拼成译文；默认都是 WordTokenizer()
      （英法语料的词级切分，译文的词元之间一个空格）；字符级的任务传 CharTokenizer()；
    - 输入的预处理、截断与非法输入的处理见 prepare_source（空串 ValueError，非字符串 TypeError）；
    - 每个句子在生成自己的 '<eos>' 时结束（'<eos>' 不出现在译文里），最多 num_steps 个词元；
      解码器有 reorder_state 时，结束了的句子随即离开批量；全部结束或到达 num_steps 步时停止；
    - 解码时 net 处于评估模式（关掉 dropout），结束后恢复调用者原来的模式；
    - save_attention_weights=True 且解码器有 attention_weights 属性时，每个句子得到一个列表，
      每个生成的词元（含 '<eos>'）一项：该步 net.decoder.attention_weights 中属于这个句子的部分
      （第 0 维按句子取出，在 CPU 上），例如加性注意力是形状 (1, num_steps) 的张量；
      否则（如不带注意力的 GRU 解码器）是空列表。
    - 词表、权重、设备与输出的检查见 check_prediction_inputs、check_step_logits。
    """
    check_prediction_inputs(net, src_vocab, tgt_vocab, device)
    tgt_tokenizer = check_tokenizer(tgt_tokenizer, 'tgt_tokenizer')
    X, valid_lens, single = prepare_source(src_sentence, src_vocab, num_steps, device,
                                           src_tokenizer=src_tokenizer)
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
        dec_X = torch.full((n, 1), bos, dtype=torch.long, device=X.device)  # (批量大小, 1)
        rows = torch.arange(n, device=X.device)       # 批量的每一行是第几个句子
        finished = torch.zeros(n, dtype=torch.bool, device=X.device)
        for _ in range(num_steps):
            Y, state = net.decoder(dec_X, state)      # Y: (批量大小, 1, len(tgt_vocab))
            best, dec_X = Y.max(dim=2)                # 每句 logits 最大的词元 (批量大小, 1)：下一步的输入
            check_step_logits(Y, best, tgt_vocab, len(steps))
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
        outputs = torch.full((n, len(steps)), eos, dtype=torch.long, device=X.device)
        for t, (step_rows, tokens) in enumerate(steps):
            outputs[step_rows, t] = tokens
    translations = []
    for ids in outputs.tolist():
        length = ids.index(eos) if eos in ids else len(ids)
        translations.append(detokenize_checked(tgt_tokenizer, tgt_vocab.to_tokens(ids[:length])))
    if single:
        return translations[0], attention_weights[0]
    return translations, attention_weights


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-chk2 ----
def check_vocabs(net, src_vocab, tgt_vocab):
    """词表必须是训练这个模型时用的那两个：大小与编码器、解码器的嵌入层行数一致（有嵌入层时才查），
    并且保留了预测要用的特殊词元（源：<pad>、<eos>；目标：<bos>、<eos>）。"""
    for name, vocab, part, needed in (('src_vocab', src_vocab, net.encoder, ('<pad>', '<eos>')),
                                      ('tgt_vocab', tgt_vocab, net.decoder, ('<bos>', '<eos>'))):
        for token in needed:
            if token not in vocab:
                raise ValueError(f"{name} 里没有 {token}：预测从 <bos> 开始、到 <eos> 结束，源句子用 <pad> 填充。"
                                 "请传入训练这个模型时用的词表（构造时 reserved_tokens=['<pad>', '<bos>', '<eos>']）。")
        embedding = getattr(part, 'embedding', None)
        rows = getattr(embedding, 'num_embeddings', None)
        if rows is not None and len(vocab) != rows:
            where = '编码器' if part is net.encoder else '解码器'
            raise ValueError(f"{name} 有 {len(vocab)} 个词元，而{where}的嵌入层有 {rows} 行：请传入训练这个"
                             f"模型时用的词表（load_data_* 返回的 {name}）。")

def check_finite_weights(net):
    """net 的每个浮点参数和缓冲区都必须是有限值（没有 NaN、inf）。"""
    for name, tensor in itertools.chain(net.named_parameters(), net.named_buffers()):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"模型的 {name} 里有 NaN 或 inf：这样的权重算不出有意义的译文（贪心搜索会输出一串 <pad>）。"
                             "多半是训练发散了（学习率太大？）：请载入发散之前的检查点，或调小学习率重新训练。")

def check_prediction_inputs(net, src_vocab, tgt_vocab, device):
    """预测前的检查：词表（check_vocabs）、device 与模型所在的设备一致、权重有限（check_finite_weights）。"""
    check_vocabs(net, src_vocab, tgt_vocab)
    try:
        wanted = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} 不是一个设备：请用 d2l.try_gpu()、'cpu' 或 'cuda'。") from error
    param = next(itertools.chain(net.parameters(), net.buffers()), None)
    if param is not None:
        have = param.device
        if have.type != wanted.type or None not in (have.index, wanted.index) and have.index != wanted.index:
            raise ValueError(f"模型的参数在 {have} 上，而 device={str(wanted)!r}：两者要一致。"
                             f"请先 net.to(device)，或者传入 device={str(have)!r}。")
    check_finite_weights(net)

def check_step_logits(Y, best, tgt_vocab, step):
    """解码一步之后的检查：Y (批量大小, 1, vocab_size) 的最后一维等于目标词表大小；
    best（每句最大的 logit）都是有限值。"""
    if Y.shape[-1] != len(tgt_vocab):
        raise ValueError(f"解码器每步输出 {Y.shape[-1]} 个 logits，而 tgt_vocab 有 {len(tgt_vocab)} 个词元："
                         "模型的输出层与词表不匹配，预测出的索引会超出词表或对应错的词。"
                         "请传入训练这个模型时用的 tgt_vocab。")
    if not bool(torch.isfinite(best).all()):
        raise ValueError(f"解码器在第 {step + 1} 步输出了 NaN 或 inf：译文没有意义。"
                         "检查模型的权重和输入（训练是否发散了？）。")


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-25 ----
def bleu_tokens(sequence, what):
    """BLEU 的输入：str 按空白切分成词元列表；list/tuple 须是 str 的序列（已切好的词元），复制一份返回。"""
    if isinstance(sequence, str):
        return sequence.split()
    if isinstance(sequence, (list, tuple)) and all(isinstance(token, str) for token in sequence):
        return list(sequence)
    raise TypeError(f"{what}应是一个 str（词元用空格分隔）或词元列表（str 的 list），收到 "
                    f"{type(sequence).__name__}：{sequence!r:.60}。预测失败时请先检查译文是否生成出来了。")

def bleu(pred_seq, label_seq, k):
    """单句 BLEU（d2l 的定义）：exp(min(0, 1 - len_label/len_pred)) * prod_{n=1}^{k} p_n^(1/2^n)。

    pred_seq、label_seq 是用空格分隔词元的 str（按空白切分），或词元列表。与 d2l 不同，任何输入都不会除以零：
    - 空预测得 0；
    - 预测短于 n 个词元、凑不出 n 元组时：若参考译文也短于 n，这一阶不参与计算（因子为 1）；
      否则 p_n = 0，整个得分为 0。
    """
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k 应是正整数（最长的 n 元组），收到 {k!r}")
    pred_tokens, label_tokens = bleu_tokens(pred_seq, '预测 pred_seq '), bleu_tokens(label_seq, '参考译文 label_seq ')
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-37 ----
def corpus_bleu(predictions, references, max_n=4):
    """语料级 BLEU（Papineni 等，2002），返回 0 到 1 之间的 float。

    - predictions：译文的列表，每句一项：一个 str（词元用空格分隔），或一个词元列表；全部同一种形式；
    - references：与 predictions 等长，每句一项：这个句子的一个参考译文（与预测同一种形式），
      或者若干个参考译文组成的 list（输入的检查与约定见 corpus_bleu_tokens）；
    - 每阶 n 的精度 p_n = 全语料截断后的匹配 n 元组数 / 预测中的 n 元组总数，
      截断上限是该 n 元组在任一参考译文中出现的最多次数；
    - BLEU = BP * exp(mean_n log p_n)，任一 p_n 为 0（或没有 n 元组）时为 0；
    - BP = min(1, exp(1 - r/c))：c 是预测的总词元数，r 是每句取长度最接近预测的参考译文
      （一样近取较短的）后的总长度。
    str 按空白切分，不再做别的词元化：与 sacrebleu 的 tokenize='none' 一致。
    """
    if not isinstance(max_n, numbers.Integral) or isinstance(max_n, bool) or max_n < 1:
        raise ValueError(f"max_n 应是正整数（最长的 n 元组，标准 BLEU 用 4），收到 {max_n!r}")
    pred_tokens_all, ref_tokens_all = corpus_bleu_tokens(predictions, references)
    matches, totals = [0] * max_n, [0] * max_n
    pred_len = ref_len = 0
    for pred_tokens, ref_tokens in zip(pred_tokens_all, ref_tokens_all):
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

def corpus_bleu_tokens(predictions, references):
    """检查 corpus_bleu 的输入并切分，返回 (preds, refs)：preds[i] 是第 i 个预测的词元列表，
    refs[i] 是它的各个参考译文的词元列表组成的 list。

    形式由预测决定，全语料一致：
    - 预测是 str：references[i] 是一个 str，或若干个 str 组成的 list（多个参考译文）；
    - 预测是词元列表：references[i] 是一个词元列表，或若干个词元列表组成的 list。
    预测是 str、参考译文却像词元列表（每个“参考译文”都只有一个词，而预测有多个词）时报错，
    而不是把一个句子的每个词当成一个参考译文，悄悄地算出接近 0 的 BLEU。
    """
    for name, value in (('predictions', predictions), ('references', references)):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} 应是每句一项的 list，收到 {type(value).__name__}：{value!r:.40}。"
                            "只有一个句子时写成 corpus_bleu([prediction], [reference])。")
    if len(predictions) != len(references):
        raise ValueError(f"predictions 有 {len(predictions)} 句，references 有 {len(references)} 句："
                         "每个预测要有一项参考译文（一个，或若干个组成的 list）。")
    as_text = not predictions or isinstance(predictions[0], str)
    form = 'str' if as_text else '词元列表'

    def is_tokens(x):
        return isinstance(x, (list, tuple)) and all(isinstance(t, str) for t in x)

    preds, refs = [], []
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        if not (isinstance(pred, str) if as_text else is_tokens(pred)):
            raise TypeError(f"第 {i} 个预测应是{form}（与第 0 个预测同一种形式），收到 {type(pred).__name__}：{pred!r:.40}")
        if as_text:
            several = [ref] if isinstance(ref, str) else ref
            ok = isinstance(several, (list, tuple)) and len(several) > 0 and all(isinstance(r, str) for r in several)
        else:
            several = [ref] if is_tokens(ref) and len(ref) > 0 else ref
            ok = isinstance(several, (list, tuple)) and len(several) > 0 and all(is_tokens(r) for r in several)
        if not ok:
            hint = ("一个 str，或若干个 str 组成的非空 list" if as_text
                    else "一个词元列表，或若干个词元列表组成的非空 list")
            raise TypeError(f"第 {i} 句的参考译文应是{hint}（预测是{form}），收到 {type(ref).__name__}：{ref!r:.60}。"
                            "参考译文与预测要用同一种形式：都是 str，或都是词元列表。")
        preds.append(pred.split() if as_text else list(pred))
        refs.append([r.split() for r in several] if as_text else [list(r) for r in several])
    if as_text:
        texts = [r for ref in references for r in ([ref] if isinstance(ref, str) else ref)]
        several_refs = any(not isinstance(ref, str) and len(ref) > 1 for ref in references)
        if several_refs and not any(len(t.split()) > 1 for t in texts) and any(len(p) > 1 for p in preds):
            raise ValueError("references 看起来是词元列表：每个“参考译文”都只有一个词，而预测有多个词。"
                             "预测是 str 时，list 表示若干个参考译文。请把参考译文写成 str（' '.join(tokens)），"
                             "或把预测也写成词元列表（prediction.split()）。")
    return preds, refs


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-38 ----
def group_references(source, target):
    """把句对按源句子分组，返回 (sources, references)。

    source、target 是等长的词元列表的列表（如 load_data_nmt_split 返回的 splits['test']）。
    sources：不同的源句子（词元用空格连接的 str），按第一次出现的顺序；
    references[i]：sources[i] 的全部译文（str 的列表），供 corpus_bleu 当作多个参考译文。
    """
    if len(source) != len(target):
        raise ValueError(f"source 有 {len(source)} 句，target 有 {len(target)} 句：应是等长的句对，"
                         "例如 group_references(*splits['test'])。")
    groups = {}
    for src, tgt in zip(source, target):
        groups.setdefault(' '.join(src), []).append(' '.join(tgt))
    return list(groups), list(groups.values())


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-42 ----
def predict_seq2seq_beam(net, src_sentences, src_vocab, tgt_vocab, num_steps, device,
                         beam_size=4, alpha=0.75, *, src_tokenizer=None, tgt_tokenizer=None):
    """束搜索。所有句子的所有束放在一个批量里解码。

    src_sentences 是 str → (译文 str, 候选列表)；是 str 的列表 → (译文列表, 候选列表的列表)。
    候选列表按最终得分从高到低排列，每项是 (译文 str, 得分, log P)，
    得分 = log P / L**alpha，L 是生成的词元数（含 '<eos>'）。
    每步从 (活着的束 × 词表) 个候选中取累积 log P 最大的若干个：以 '<eos>' 结尾的移入“已完成”，
    束宽随之减一；全部完成或到达 num_steps 时停止，此时仍活着的假设也作为候选（没有 '<eos>'）。
    beam_size=1 时与 predict_seq2seq 的贪心解码完全相同。输入的处理、词元化器（src_tokenizer、
    tgt_tokenizer）和各项检查同 predict_seq2seq；alpha 是有限的非负实数。
    """
    if not isinstance(beam_size, numbers.Integral) or isinstance(beam_size, bool) or beam_size < 1:
        raise ValueError(f"beam_size 应是正整数（每步保留的前缀个数，常用 4 左右），收到 {beam_size!r}")
    if (not isinstance(alpha, numbers.Real) or isinstance(alpha, bool)
            or not math.isfinite(alpha) or alpha < 0):
        raise ValueError(f"alpha 应是有限的非负实数（长度归一化的指数：0 不归一化，常用 0.6 到 1），收到 {alpha!r}")
    check_prediction_inputs(net, src_vocab, tgt_vocab, device)
    tgt_tokenizer = check_tokenizer(tgt_tokenizer, 'tgt_tokenizer')
    X, valid_lens, single = prepare_source(src_sentences, src_vocab, num_steps, device,
                                           src_tokenizer=src_tokenizer)
    device = X.device
    n, k = X.shape[0], int(beam_size)
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
        for step in range(num_steps):
            Y, state = net.decoder(dec_X, state)                   # (n*k, 1, V)
            check_step_logits(Y, Y.amax(dim=-1), tgt_vocab, step)
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
            text = detokenize_checked(tgt_tokenizer, tgt_vocab.to_tokens(words))
            ranked.append((text, log_prob / length ** alpha, log_prob))
        ranked.sort(key=lambda c: c[1], reverse=True)
        translations.append(ranked[0][0])
        candidates_all.append(ranked)
    if single:
        return translations[0], candidates_all[0]
    return translations, candidates_all
