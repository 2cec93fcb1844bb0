# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""9. 预测与评估: the saved code of notebooks/09_prediction_and_evaluation.ipynb (generated)."""

import collections
import math
import torch
from torch.nn import functional as F
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'check_vocabs',
    'prepare_source',
    'eval_mode',
    'predict_seq2seq',
    'bleu',
    'ngram_counts',
    'corpus_bleu',
    'group_references',
    'predict_seq2seq_beam',
]


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-09 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-25 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-37 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-38 ----
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


# ---- notebooks/09_prediction_and_evaluation.ipynb · cell id ch09-42 ----
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
