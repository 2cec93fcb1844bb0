# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""18. 从零训练一个中英翻译器: the saved code of notebooks/18_zh_en_translator.ipynb (generated)."""

import math
import numbers
import re
import torch
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'build_translation_data',
    'transformer_translator',
    'tokenize_13a',
    'tokenize_zh',
    'sacre_bleu',
    'cross_attention',
    'top_k_filter',
    'top_p_filter',
    'sample_seq2seq',
]


# ---- notebooks/18_zh_en_translator.ipynb · cell id ch18-008 ----
def build_translation_data(pairs, source, src_tokenizer, tgt_tokenizer, num_steps):
    '''把英中句对 pairs（[(英语, 中文), ...]）变成一个方向的训练数据，返回 (arrays, src_vocab, tgt_vocab)。

    - source：'en'（英译中）或 'zh'（中译英），源语言；
    - 两边各用自己的词元化器切分，在切分结果上建词表（保留 '<pad>'、'<bos>'、'<eos>'，收下全部出现过的词元）；
    - 词元数超过 num_steps - 1 的句对（放不下 '<eos>'）不用于训练；
    - arrays = (X, X_valid_len, Y, Y_valid_len)，X、Y 形状 (句对数, num_steps)，可直接交给 d2l.TokenBatches。
    '''
    if source not in ('en', 'zh'):
        raise ValueError(f"source 应是 'en'（英译中）或 'zh'（中译英），收到 {source!r}")
    if not pairs:
        raise ValueError('pairs 是空的：没有可以训练的句对')
    src_lines, tgt_lines = [], []
    for en, zh in pairs:
        src, tgt = (en, zh) if source == 'en' else (zh, en)
        src_tokens, tgt_tokens = src_tokenizer.tokenize(src), tgt_tokenizer.tokenize(tgt)
        if 0 < len(src_tokens) < num_steps and 0 < len(tgt_tokens) < num_steps:
            src_lines.append(src_tokens)
            tgt_lines.append(tgt_tokens)
    if not src_lines:
        raise ValueError(f'没有一个句对短于 num_steps={num_steps} 个词元：请增大 num_steps')
    reserved = ['<pad>', '<bos>', '<eos>']
    src_vocab = d2l.Vocab(src_lines, reserved_tokens=reserved)
    tgt_vocab = d2l.Vocab(tgt_lines, reserved_tokens=reserved)
    X, X_valid_len = d2l.build_array_nmt(src_lines, src_vocab, num_steps)
    Y, Y_valid_len = d2l.build_array_nmt(tgt_lines, tgt_vocab, num_steps)
    return (X, X_valid_len, Y, Y_valid_len), src_vocab, tgt_vocab


# ---- notebooks/18_zh_en_translator.ipynb · cell id ch18-011 ----
def transformer_translator(src_vocab, tgt_vocab, num_hiddens, num_layers, num_heads, ffn_num_hiddens,
                           dropout):
    '''第 14 章的 Transformer 编码器–解码器，输出层与目标嵌入共享权重（d2l.tie_weights）。
    键、查询、值的维数和层规范化的形状都取 num_hiddens。'''
    h = num_hiddens
    encoder = d2l.TransformerEncoder(len(src_vocab), h, h, h, h, [h], h, ffn_num_hiddens, num_heads,
                                     num_layers, dropout)
    decoder = d2l.TransformerDecoder(len(tgt_vocab), h, h, h, h, [h], h, ffn_num_hiddens, num_heads,
                                     num_layers, dropout)
    return d2l.tie_weights(d2l.EncoderDecoder(encoder, decoder))


# ---- notebooks/18_zh_en_translator.ipynb · cell id ch18-024 ----
_13A_RULES = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),  # 标点和符号两边加空格
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),                 # 句点、逗号：前面不是数字时切开
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),                 # 后面不是数字时切开
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),                      # 数字后面的连字符
]


def _apply_13a_rules(text):
    for pattern, replacement in _13A_RULES:
        text = pattern.sub(replacement, text)
    return ' '.join(text.split())


def tokenize_13a(text):
    '''sacrebleu 的 '13a' 词元化（WMT 的 mteval-v13a 脚本）：返回用空格分隔词元的 str。'''
    text = text.replace('<skipped>', '').replace('-\n', '').replace('\n', ' ')
    if '&' in text:
        text = text.replace('&quot;', '"').replace('&amp;', '&').replace('&lt;', '<').replace('&gt;', '>')
    return _apply_13a_rules(f' {text} ')


# sacrebleu 的 'zh' 词元化认作“中文字符”的码位区间，逐项照抄。有几个区间的端点在它的源代码里写成了
# 两个字符的字符串（如 '\u20000'），按字符串比较大小，所以实际覆盖的范围比注释里的 Unicode 区块宽
# （例如也包括弯引号 ’）；照抄才能得到与 sacrebleu 相同的分数。
_ZH_RANGES = [
    ('\u3400', '\u4db5'), ('\u4e00', '\u9fa5'), ('\u9fa6', '\u9fbb'), ('\uf900', '\ufa2d'),
    ('\ufa30', '\ufa6a'), ('\ufa70', '\ufad9'), ('\u20000', '\u2a6d6'), ('\u2f800', '\u2fa1d'),
    ('\uff00', '\uffef'), ('\u2e80', '\u2eff'), ('\u3000', '\u303f'), ('\u31c0', '\u31ef'),
    ('\u2f00', '\u2fdf'), ('\u2ff0', '\u2fff'), ('\u3100', '\u312f'), ('\u31a0', '\u31bf'),
    ('\ufe10', '\ufe1f'), ('\ufe30', '\ufe4f'), ('\u2600', '\u26ff'), ('\u2700', '\u27bf'),
    ('\u3200', '\u32ff'), ('\u3300', '\u33ff'),
]


def tokenize_zh(text):
    '''sacrebleu 的 'zh' 词元化：每个汉字（和全角标点）单独成为一个词元，其余部分按 13a 的规则切分。'''
    return _apply_13a_rules(''.join(f' {ch} ' if any(lo <= ch <= hi for lo, hi in _ZH_RANGES) else ch
                                    for ch in text.strip()))


def sacre_bleu(hypotheses, references, tokenize='13a', lowercase=False):
    '''与 sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize, lowercase=lowercase).score
    相同的语料级 BLEU（百分制，0 到 100）。

    hypotheses、references：等长的 str 列表，每句一个参考译文，都是未经词元化的原文（英语译文先 detokenize）。
    tokenize：'13a'（英语等用空格分词的语言）或 'zh'（中文：每个汉字一个词元）。
    按 sacrebleu 的规则小写（lowercase=True 时）、去掉行尾空白、词元化，再交给第 9 章的 d2l.corpus_bleu。
    （sacrebleu 在某一阶的匹配数为 0 时还会做平滑，d2l.corpus_bleu 直接给 0：只在很小的测试集上才会不同。）
    '''
    tokenizers = {'13a': tokenize_13a, 'zh': tokenize_zh}
    if tokenize not in tokenizers:
        raise ValueError(f"tokenize 应是 '13a'（英语）或 'zh'（中文），收到 {tokenize!r}")
    for name, texts in (('hypotheses', hypotheses), ('references', references)):
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError(f'{name} 应是 str 的列表（每句一项，未经词元化的原文），收到 {texts!r:.60}')
    if len(hypotheses) != len(references):
        raise ValueError(f'hypotheses 有 {len(hypotheses)} 句，references 有 {len(references)} 句：每句要有一个参考译文')
    split = tokenizers[tokenize]
    prepare = lambda s: split((s.lower() if lowercase else s).rstrip())
    return 100 * d2l.corpus_bleu([prepare(h) for h in hypotheses], [prepare(r) for r in references])


# ---- notebooks/18_zh_en_translator.ipynb · cell id ch18-037 ----
def cross_attention(step_weights, src_len):
    '''predict_seq2seq(..., save_attention_weights=True) 给出的一个句子的注意力权重 → 编码器–解码器注意力。

    step_weights：每生成一个词元一项，每项是 (自注意力, 编码器–解码器注意力)，各是每层一项、形状
    (num_heads, 1, 键的个数) 的张量（d2l.TransformerDecoder）。返回形状
    (num_layers, num_heads, 生成的词元数, src_len) 的张量：只留源句子前 src_len 个位置（有效长度）。
    '''
    if not step_weights:
        raise ValueError('没有注意力权重：调用 predict_seq2seq 时要传 save_attention_weights=True')
    return torch.stack([torch.stack([w[:, 0, :src_len] for w in cross]) for _, cross in step_weights], dim=2)


# ---- notebooks/18_zh_en_translator.ipynb · cell id ch18-050 ----
def top_k_filter(logits, k):
    '''只留每一行（最后一维）最大的 k 个 logits，其余换成 -inf；k 为 None 或不小于词表大小时原样返回。
    与第 k 大的值相等的 logits 都留下。'''
    if k is None or k >= logits.shape[-1]:
        return logits
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f'top_k 应是正整数（每步只在概率最大的 k 个词元里抽样），收到 {k!r}')
    kth = logits.topk(k, dim=-1).values[..., -1:]            # 每行第 k 大的值 (..., 1)
    return logits.masked_fill(logits < kth, -math.inf)


# ---- notebooks/18_zh_en_translator.ipynb · cell id ch18-052 ----
def top_p_filter(logits, p):
    '''核采样（Holtzman 等人，2020）的过滤：每行（最后一维）按概率从大到小，留下累积概率刚好达到 p 的
    最少几个词元（至少一个），其余的 logits 换成 -inf；返回新的张量。p 为 None 或不小于 1 时原样返回。'''
    if p is None or p >= 1:
        return logits
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not p > 0:
        raise ValueError(f'top_p 应是 0 到 1 之间的数（留下的词元的累积概率），收到 {p!r}')
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs          # 排在它前面的词元的概率之和
    drop_sorted = before >= p                      # 前面的已经凑够 p：它不需要了（第一个永远留下）
    return logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), -math.inf)


# ---- notebooks/18_zh_en_translator.ipynb · cell id ch18-054 ----
def sample_seq2seq(net, src_sentence, src_vocab, tgt_vocab, num_steps, device, *, num_samples=1,
                   temperature=1.0, top_k=None, top_p=None, seed=0, src_tokenizer=None, tgt_tokenizer=None):
    '''随机采样 num_samples 个译文（list[str]）。每一步：logits / temperature，再经过 top_k_filter 和
    top_p_filter，softmax 之后用 torch.multinomial 抽一个词元；抽到 '<eos>' 的译文结束，最多 num_steps 个词元。

    随机数来自 torch.Generator(device).manual_seed(seed)，不动全局的随机数状态；其余参数同 d2l.predict_seq2seq。
    top_k=1（或 temperature 趋于 0）就是贪心搜索。
    '''
    if not isinstance(temperature, numbers.Real) or not 0 < temperature < math.inf:
        raise ValueError(f'temperature 应是有限的正数（1 是模型原来的分布，越小越接近贪心搜索），收到 {temperature!r}')
    if not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError(f'num_samples 应是正整数（要几个译文），收到 {num_samples!r}')
    if not isinstance(src_sentence, str):
        raise TypeError(f'src_sentence 应是一个 str（一个源句子），收到 {type(src_sentence).__name__}')
    d2l.check_prediction_inputs(net, src_vocab, tgt_vocab, device)
    tgt_tokenizer = d2l.check_tokenizer(tgt_tokenizer, 'tgt_tokenizer')
    X, valid_lens, _ = d2l.prepare_source([src_sentence] * int(num_samples), src_vocab, num_steps, device,
                                          src_tokenizer=src_tokenizer)
    generator = torch.Generator(device=X.device).manual_seed(seed)
    bos, eos = tgt_vocab['<bos>'], tgt_vocab['<eos>']
    steps = []
    with d2l.eval_mode(net), torch.no_grad():
        state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
        dec_X = torch.full((X.shape[0], 1), bos, dtype=torch.long, device=X.device)
        finished = torch.zeros(X.shape[0], dtype=torch.bool, device=X.device)
        for _ in range(num_steps):
            Y, state = net.decoder(dec_X, state)                      # (num_samples, 1, len(tgt_vocab))
            logits = top_p_filter(top_k_filter(Y[:, -1].float() / temperature, top_k), top_p)
            dec_X = torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)   # (num_samples, 1)
            steps.append(dec_X[:, 0])
            finished |= dec_X[:, 0] == eos
            if bool(finished.all()):
                break
    translations = []
    for ids in torch.stack(steps, dim=1).tolist():
        length = ids.index(eos) if eos in ids else len(ids)
        translations.append(d2l.detokenize_checked(tgt_tokenizer, tgt_vocab.to_tokens(ids[:length])))
    return translations
