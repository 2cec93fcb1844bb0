# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""16. 训练的配方: the saved code of notebooks/16_training_recipe.ipynb (generated)."""

import contextlib
import dataclasses
import functools
import itertools
import math
import os
import random
import tempfile
import time
import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'cut_batches',
    'TokenBatches',
    'warmup_linear_decay',
    'noam_lr',
    'cpu_bf16_speedup',
    'resolve_precision',
    'mixed_precision',
    'tie_weights',
    'translate_all',
    'evaluate_bleu',
    'ThreadTuner',
    'distributed_world',
    'token_share',
    'train_epoch_recipe',
    'RecipeResult',
    'RECIPE_DEFAULTS',
    'train_seq2seq',
]


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-012 ----
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


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-016 ----
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


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-024 ----
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


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-036 ----
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


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-042 ----
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


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-048 ----
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


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-050 ----
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


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-052 ----
def distributed_world():
    """(进程总数, 本进程的编号)。没有用 torchrun 启动（torch.distributed 没有初始化）时是 (1, 0)。"""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


def token_share(num_tokens):
    """多个进程一起训练时，本进程这一批的有效词元数占全部进程的比例 × 进程数；只有一个进程时是 None。

    每个进程的损失是自己这一批的每词元平均；乘上这个权重，DDP 把各进程的梯度平均之后，
    正好是把各进程的批合成一批时每词元平均损失的梯度（附录 B）。"""
    world, _ = distributed_world()
    if world == 1:
        return None
    mine = num_tokens.detach().sum().float()
    total = mine.clone()
    torch.distributed.all_reduce(total)  # 各进程的词元数之和
    return world * mine / total


def _rng_state():
    return {'torch': torch.get_rng_state(), 'python': random.getstate(),
            'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state):
    torch.set_rng_state(state['torch'])
    random.setstate(state['python'])
    if torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-054 ----
def train_epoch_recipe(net, data_iter, loss, optimizer, tgt_vocab, theta, device, *,
                       precision='fp32', scaler=None, before_step=None, after_step=None):
    """第 7 章 train_epoch_seq2seq 的一轮强制教学训练，加上配方用的几个关键字选项；都不给时与它逐位相同。
    返回 (每词元损失, 有效词元数, 各小批量的梯度范数是否都是有限数)。

    - precision：前向在 mixed_precision(device, precision) 里计算，损失总在 float32 里算；
    - scaler：torch.amp.GradScaler（fp16 时启用）：放大损失再反向，裁剪之前先还原梯度；它会跳过
      梯度里有 inf/nan 的步并减小放大倍数，所以启用时这种步不算作“梯度不是有限数”；
    - before_step()：每一步之前调用（例如设好这一步的学习率）；返回 False 时这一轮到此为止；
    - after_step(l, n)：每一步之后调用；l 是这一批的每词元损失，n 是有效词元数（都还在设备上）。
    多个进程一起训练（附录 B）时，net 是 DDP 包装过的模型，每个进程的损失按 token_share 加权。"""
    bos = tgt_vocab['<bos>']
    vocab_size = len(tgt_vocab) if hasattr(tgt_vocab, 'idx_to_token') else None
    scaling = scaler is not None and scaler.is_enabled()
    metric = d2l.Accumulator(2)  # 损失 × 词元数之和，有效词元数
    grads_finite = torch.ones((), dtype=torch.bool, device=device)
    net.train()
    for batch in data_iter:
        if before_step is not None and before_step() is False:
            break
        X, X_valid_len, Y, Y_valid_len = d2l.check_batch(batch, vocab_size)
        Y = Y[:, :int(Y_valid_len.max())]  # 全是 <pad> 的尾列不进损失，不必计算
        X, X_valid_len, Y, Y_valid_len = [t.to(device) for t in (X, X_valid_len, Y, Y_valid_len)]
        bos_col = torch.full((Y.shape[0], 1), bos, device=device)
        dec_input = torch.cat([bos_col, Y[:, :-1]], dim=1)  # 强制教学
        with mixed_precision(device, precision):
            Y_hat, _ = net(X, dec_input, X_valid_len)
        l = loss(Y_hat.float(), Y, Y_valid_len)  # 损失总在 float32 里算
        optimizer.zero_grad(set_to_none=True)
        weight = token_share(Y_valid_len)  # 只有一个进程时是 None
        objective = l if weight is None else l * weight
        if scaling:
            scaler.scale(objective).backward()  # fp16：先放大损失，免得小梯度下溢成 0
            scaler.unscale_(optimizer)          # 裁剪之前先还原梯度的真实大小
            d2l.grad_clipping(net, theta)
            scaler.step(optimizer)              # 梯度里有 inf/nan 时跳过这一步
            scaler.update()
        else:
            objective.backward()
            grads_finite &= torch.isfinite(d2l.grad_clipping(net, theta))
            optimizer.step()
        num_batch_tokens = Y_valid_len.sum()
        metric.add(l.detach() * num_batch_tokens, num_batch_tokens)
        if after_step is not None:
            after_step(l.detach(), num_batch_tokens)
    num_tokens = metric[1]  # 这一轮唯一的同步
    loss_per_token = metric[0] / num_tokens if num_tokens else math.nan
    return loss_per_token, num_tokens, bool(grads_finite)


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-056 ----
@dataclasses.dataclass
class RecipeResult(d2l.TrainResult):
    """带配方选项的 train_seq2seq 的返回值：TrainResult 的各项，再加上下面这些（都含续训之前）。"""
    steps: int = 0              # 更新的步数
    epochs_seen: float = 0.0    # 走过的轮数（可以不是整数）
    tokens: int = 0             # 训练过的有效目标词元数（多个进程时是全部进程之和）
    precision: str = 'fp32'     # 实际使用的精度
    lr_history: list = dataclasses.field(default_factory=list)     # 每一步的学习率
    valid_history: list = dataclasses.field(default_factory=list)  # [(步数, 验证分数), ...]
    best_score: float = math.nan  # 最好的验证分数
    best_step: int = 0            # 它出现在第几步之后
    threads: str = ''             # CPU 上：各线程数占训练时间的比例（如 '2: 70%, 1: 30%'）
    world_size: int = 1           # 一起训练的进程数


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
    world, rank = distributed_world()
    if world > 1 and (getattr(data_iter, 'num_shards', None), getattr(data_iter, 'shard', None)) != (world, rank):
        raise ValueError(f"这是 {world} 个进程中的第 {rank} 号：每个进程应训练自己的一份数据，请传入 "
                         f"d2l.TokenBatches(..., num_shards={world}, shard={rank})（附录 B）。")


def _saved_by_recipe(path):
    """检查点 path 是不是带配方选项的 train_seq2seq 写的；读不出时返回 None（交给 load_checkpoint 报错）。"""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
        return 'recipe' in state['optimizer']['param_groups'][0]
    except Exception:
        return None


# ---- notebooks/16_training_recipe.ipynb · cell id ch16-058 ----
def train_seq2seq(net, data_iter, lr, num_epochs, tgt_vocab, device, *,
                  checkpoint_path=None, save_every=10, theta=1.0, plot=True, plot_every=10, cpu_threads=1,
                  schedule='constant', warmup=0.05, max_steps=None, time_budget=None, clock='wall',
                  label_smoothing=0.0, precision='fp32', betas=(0.9, 0.999), init='xavier',
                  valid=None, eval_every=None, best_checkpoint_path=None, save_every_steps=None):
    """第 7 章的 train_seq2seq 加上配方选项（都只能按关键字给出）。不给配方选项时与第 7 章的版本
    逐位相同，返回 TrainResult；给了任何一个（或者由 torchrun 启动了多个进程）时返回 RecipeResult。

    第 7 章的参数同第 7 章；配方训练时 plot_every 是每多少步画一个点，cpu_threads 还可以是 'auto'
    （用 ThreadTuner 边训练边选）。配方选项：
    - schedule：'constant'、'linear'（预热 warmup 比例的预算后线性降到预算结束时的 0）、'noam'（warmup
      是预热的步数，峰值为 lr），或函数 f(step, progress) -> 倍数；
    - max_steps、time_budget（秒，按 clock：'wall' 墙上时间或 'process' 本进程的 CPU 时间）：预算，
      先用完的那个结束训练；num_epochs 可以是 None（只由预算决定）；
    - label_smoothing；precision：'fp32'、'bf16'、'fp16'、'auto'（见 resolve_precision）；
    - betas：Adam 的 (beta1, beta2)；init：'xavier' 或 None（保留模型自己的初始化）；
    - valid：函数 valid(net) -> 分数（越大越好），每 eval_every 步（默认每轮）和结束时调用；
      best_checkpoint_path：分数不低于此前最好的分数时把模型存到这里（可用 d2l.load_checkpoint 读回）；
    - save_every_steps：每这么多步也保存一次检查点。
    检查点里还有调度的位置、缩放器的状态和最好的分数：用同样的参数再调用一次，就从断点逐位相同地
    接着训练。torchrun 启动的多个进程里（附录 B），模型由 DDP 包装，只有 0 号进程画图、评估、保存。"""
    # ---- 1. 检查参数：有错就在训练之前报告 ----
    options = dict(schedule=schedule, warmup=warmup, max_steps=max_steps, time_budget=time_budget,
                   clock=clock, label_smoothing=label_smoothing, precision=precision, betas=betas, init=init,
                   valid=valid, eval_every=eval_every, best_checkpoint_path=best_checkpoint_path,
                   save_every_steps=save_every_steps)
    world, rank = distributed_world()
    main = rank == 0  # 只有 0 号进程画图、评估、保存检查点
    recipe = world > 1 or num_epochs is None or cpu_threads == 'auto' or any(
        options[k] is not v and options[k] != v for k, v in RECIPE_DEFAULTS.items())
    if recipe:
        _check_recipe_options(options, num_epochs, data_iter, checkpoint_path)
    device = d2l.check_train_args(net, data_iter, lr, 1 if num_epochs is None else num_epochs, tgt_vocab, device,
                                  checkpoint_path=checkpoint_path, save_every=save_every, theta=theta,
                                  plot_every=plot_every, cpu_threads=None if cpu_threads == 'auto' else cpu_threads)
    if best_checkpoint_path is not None:
        try:
            d2l.checkpoint_target(best_checkpoint_path)
        except d2l.CheckpointError as error:
            raise d2l.CheckpointError(f'best_checkpoint_path：{error}') from None
    # ---- 2. 准备：第 7 章的优化器和损失，加上配方的设定；有检查点就从它续训 ----
    precision = resolve_precision(precision, device)
    net.to(device)
    optimizer, loss = d2l.make_adam(net, lr), d2l.MaskedSoftmaxCELoss(label_smoothing=label_smoothing)
    if recipe:
        for group in optimizer.param_groups:
            group['betas'] = tuple(betas)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == 'fp16')
    progress = dict(steps=0, epoch_steps=0, seconds=0.0, tokens=0, loss_sum=0.0, token_count=0.0,
                    partial_epoch=False, epoch_rng=None, lr_history=[], curve=[], valid_history=[],
                    best_score=-math.inf, best_step=0, scaler={}, rank_rng=None)
    start_epoch, history = 0, []
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        if _saved_by_recipe(checkpoint_path) not in (None, recipe):
            raise d2l.CheckpointError(
                f"检查点 {checkpoint_path} 是{'不' if recipe else ''}带配方选项的 train_seq2seq 写的，"
                f"这次调用{'带' if recipe else '没带'}配方选项：请用写它时的参数续训，或者换一个 checkpoint_path。")
        saved = d2l.load_checkpoint(checkpoint_path, net, optimizer, restore_rng=True)
        start_epoch, history = saved['epoch'], saved['loss_history']
        if recipe:  # 训练进度存在优化器的参数组里（与 torch 的学习率调度器存 initial_lr 的地方相同）
            progress.update(optimizer.param_groups[0].pop('recipe'))
            if progress['scaler'] and scaler.is_enabled():
                scaler.load_state_dict(progress['scaler'])
            if world > 1 and progress['rank_rng'] and len(progress['rank_rng']) == world:
                _set_rng_state(progress['rank_rng'][rank])  # 每个进程接着用自己的随机数（dropout）
        for group in optimizer.param_groups:
            group['lr'] = lr  # 学习率以这次调用为准
    elif init == 'xavier':
        net.apply(d2l.xavier_init_weights)
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

    if (start_epoch >= num_epochs if num_epochs is not None else False) or \
            (recipe and used(progress['steps'], progress['seconds']) >= 1):
        if main:
            print(f'检查点已用完训练预算（第 {progress["steps"]} 步，第 {start_epoch} 轮），无需继续训练。' if recipe
                  else f'检查点已训练到第 {start_epoch} 轮（num_epochs={num_epochs}），无需继续训练。')
        if not recipe:
            return d2l.TrainResult(history[-1] if history else math.nan, 0.0, 0, start_epoch,
                                   num_epochs, 0.0, history)
        return _result(history, 0.0, 0.0, start_epoch, start_epoch, num_epochs, progress, precision,
                       epoch_steps, '', world)
    if main and (start_epoch > 0 or progress['steps'] > 0):
        where = f'第 {progress["steps"]} 步（第 {start_epoch} 轮之后）' if recipe else f'第 {start_epoch} 轮之后'
        print(f'从检查点 {os.path.basename(checkpoint_path)} 的{where}继续训练')
    live = None if plot and main else False
    if recipe:
        animator = d2l.Animator(xlabel='步数', ylabel='每词元训练损失', live=live)
        for step, value in progress['curve']:
            animator.add(step, value, redraw=False)
    else:
        animator = d2l.Animator(xlabel='轮数', ylabel='每词元损失', xlim=[1, num_epochs], live=live)
        for epoch, value in enumerate(history, start=1):
            animator.add(epoch, value, redraw=False)
    model = net
    if world > 1:  # 每个进程一个副本；反向传播时 DDP 把各进程的梯度平均（附录 B）
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == 'cuda' else None)
    old_threads, tuner = torch.get_num_threads(), None
    if device.type == 'cpu' and cpu_threads == 'auto':
        tuner = ThreadTuner([1, os.cpu_count() or 1])
    elif device.type == 'cpu' and cpu_threads:
        torch.set_num_threads(cpu_threads)

    # ======== 副作用都在这里：画图、评估、保存检查点。多个进程时只有 0 号进程做这些 ========
    def save(path, epoch, rank_rng=None):
        if recipe:  # 训练进度放进优化器的参数组，随 save_checkpoint（附录 A.2）原子地写入
            progress['rank_rng'] = rank_rng
            progress['seconds'] = start_seconds + now() - start - side[0]
            progress['scaler'] = scaler.state_dict() if scaler.is_enabled() else {}
            optimizer.param_groups[0]['recipe'] = progress
        try:
            d2l.save_checkpoint(path, net, optimizer, epoch, history)
        finally:
            optimizer.param_groups[0].pop('recipe', None)

    def evaluate():
        rng = _rng_state()  # 验证函数即使用了随机数，也不影响训练的随机数
        score = float(valid(net))
        _set_rng_state(rng)
        net.train()
        progress['valid_history'].append((progress['steps'], score))
        if score >= progress['best_score']:  # 分数相同时留下训练得更久的模型
            progress['best_score'], progress['best_step'] = score, progress['steps']
            if best_checkpoint_path is not None:
                keep_epoch_loss()
                save(best_checkpoint_path, completed_epochs)

    def keep_epoch_loss():
        """一轮中间保存检查点时，把这一轮到目前为止的损失和词元数也存下。"""
        progress['loss_sum'], progress['token_count'] = epoch_metric[0], epoch_metric[1]
    # ======================================================================================

    def rank_rng_states():
        """多个进程时各进程的随机数状态（所有进程都在同一处调用），续训时各自恢复；一个进程时 None。"""
        if world == 1:
            return None
        states = [None] * world
        torch.distributed.all_gather_object(states, _rng_state())
        return states

    def count_tokens():
        """把还在设备上的词元数加进 progress；多个进程时加上全部进程的（所有进程都在同一处调用）。"""
        if pending[0] is not None:
            total = pending[0].detach().clone()
            if world > 1:
                torch.distributed.all_reduce(total)
            progress['tokens'] += int(total)
            pending[0] = None

    def seconds_now():
        seconds = start_seconds + now() - start - side[0]
        if world > 1 and time_budget is not None:  # 以 0 号进程的时钟为准，各进程在同一步停下
            seconds_t = torch.tensor([seconds], dtype=torch.float64, device=device)
            torch.distributed.broadcast(seconds_t, src=0)
            seconds = float(seconds_t)
        return seconds

    def before_step():
        seconds = seconds_now()
        if used(progress['steps'], seconds) >= 1:
            stopped[0] = True
            return False
        step_lr = learning_rate(progress['steps'] + 1, seconds)
        for group in optimizer.param_groups:
            group['lr'] = step_lr
        progress['lr_history'].append(step_lr)
        if tuner is not None:
            tuning[:] = [tuner.before_step(seconds, progress['steps']), time.perf_counter(), seconds]
        return True

    def after_step(l, n):
        if tuner is not None:
            tuner.after_step(tuning[0], time.perf_counter() - tuning[1], tuning[2])
        progress['steps'] += 1
        progress['epoch_steps'] += 1
        pending[0] = n if pending[0] is None else pending[0] + n
        epoch_metric.add(l * n, n)
        step_loss.add(l * n, n)
        side_start, steps = now(), progress['steps']
        if main and plot_every and steps % plot_every == 0:
            value = step_loss[0] / max(step_loss[1], 1)
            progress['curve'].append((steps, value))
            animator.add(steps, value, redraw=len(progress['curve']) % 20 == 0)
            step_loss.reset()
        if main and valid is not None and eval_every is not None and steps % eval_every == 0:
            evaluate()
        if save_every_steps is not None and steps % save_every_steps == 0:
            count_tokens()
            states = rank_rng_states()
            if main:
                keep_epoch_loss()
                save(checkpoint_path, completed_epochs, states)
        side[0] += now() - side_start

    # ---- 3. 训练：每轮调用 train_epoch_recipe（第 7 章的一轮，加上配方），配方时每一步前后各调用一次上面的函数 ----
    timer, num_tokens, completed_epochs = d2l.Timer(), 0.0, start_epoch
    stopped, side, pending, tuning = [False], [0.0], [None], []
    step_loss, epoch_metric = d2l.Accumulator(2), d2l.Accumulator(2)
    start_tokens, start_seconds, start = progress['tokens'], progress['seconds'], now()
    try:
        epochs = range(start_epoch + 1, num_epochs + 1) if num_epochs is not None else itertools.count(start_epoch + 1)
        for epoch in epochs:
            if hasattr(data_iter, 'set_epoch'):
                data_iter.set_epoch(epoch)
            d2l.reseed_cudnn_dropout(device)  # GPU 上续训也与不中断时一样（附录 A.2.5）
            batches = data_iter
            if recipe:
                epoch_metric.reset()
                if progress['epoch_steps'] > 0:
                    # 上次停在这一轮的中间：按这一轮开始时的随机数状态重建迭代器，跳过训练过的批，再换回
                    # 保存时的随机数状态。于是数据顺序和 dropout 都与没中断时相同
                    epoch_metric.add(progress['loss_sum'], progress['token_count'])
                    current = _rng_state()
                    _set_rng_state(progress['epoch_rng'])
                    batches = iter(data_iter)
                    for _ in range(progress['epoch_steps']):
                        next(batches)
                    _set_rng_state(current)
                else:
                    progress['epoch_rng'] = _rng_state()
            timer.start()
            epoch_loss, epoch_tokens, grads_finite = train_epoch_recipe(
                model, batches, loss, optimizer, tgt_vocab, theta, device, precision=precision, scaler=scaler,
                before_step=before_step if recipe else None, after_step=after_step if recipe else None)
            timer.stop()
            if recipe:
                if progress['epoch_steps'] == 0:
                    break  # 预算恰好在上一轮结束时用完
                count_tokens()
                totals = [epoch_metric.data[0], epoch_metric.data[1]]
                if world > 1:  # 这一轮全部进程的损失之和与词元数
                    totals = torch.stack([torch.as_tensor(t, dtype=torch.float32, device=device) for t in totals])
                    torch.distributed.all_reduce(totals)
                epoch_loss, epoch_tokens = float(totals[0]) / max(float(totals[1]), 1), float(totals[1])
            d2l.check_epoch(epoch, epoch_loss, epoch_tokens, grads_finite, net, lr=lr,
                            checkpoint_path=checkpoint_path)  # nan/inf 或空数据：停下，不保存
            history.append(epoch_loss)
            num_tokens += epoch_tokens
            complete = not stopped[0]
            if complete:
                completed_epochs = epoch
                progress['epoch_steps'] = 0
            progress['partial_epoch'] = not complete
            # ---- 4. 副作用：第 7 章是每轮画图、每 save_every 轮保存；配方在每一步之后也有（见上） ----
            side_start = now()
            if main and not recipe:
                animator.add(epoch, epoch_loss, redraw=(epoch % plot_every == 0 or epoch == num_epochs))
            if main and complete and recipe and valid is not None and eval_every is None:
                evaluate()
            last = epoch == num_epochs and not recipe
            if checkpoint_path is not None and complete and (epoch % save_every == 0 or last):
                states = rank_rng_states()
                if main:
                    save(checkpoint_path, epoch, states)
            side[0] += now() - side_start
            if stopped[0]:
                break
        if recipe:
            count_tokens()
            progress['seconds'] = start_seconds + now() - start - side[0]
            if main and valid is not None and (not progress['valid_history'] or
                                               progress['valid_history'][-1][0] != progress['steps']):
                evaluate()
            if checkpoint_path is not None:
                states = rank_rng_states()
                if main:
                    keep_epoch_loss() if progress['partial_epoch'] else progress.update(loss_sum=0.0, token_count=0.0)
                    save(checkpoint_path, completed_epochs, states)
            if main and plot and progress['curve']:
                animator.show()
    finally:
        torch.set_num_threads(old_threads)
    if not recipe:
        speed = num_tokens / timer.sum()
        print(f'每词元损失 {history[-1]:.3f}，每秒 {speed:.0f} 个词元，设备 {device}')
        return d2l.TrainResult(history[-1], speed, num_epochs - start_epoch, start_epoch, num_epochs,
                               timer.sum(), history)
    seconds = progress['seconds'] - start_seconds
    speed = (progress['tokens'] - start_tokens) / seconds if seconds > 0 else 0.0
    threads = ('' if device.type != 'cpu' else tuner.summary() if tuner is not None
               else f'{cpu_threads or old_threads}: 100%')
    result = _result(history, speed, seconds, start_epoch, completed_epochs, num_epochs, progress, precision,
                     epoch_steps, threads, world)
    if main:
        best = f'，验证分数最高 {result.best_score:.2f}（第 {result.best_step} 步）' if valid is not None else ''
        ranks = f'，{world} 个进程' if world > 1 else ''
        print(f'{result.steps} 步（{result.epochs_seen:.2f} 轮），每词元损失 {result.loss:.3f}，'
              f'每秒 {speed:,.0f} 个词元（{device}，{precision}{ranks}）{best}')
    return result


def _result(history, speed, seconds, start_epoch, completed_epochs, num_epochs, progress, precision,
            epoch_steps, threads, world):
    """带配方选项时 train_seq2seq 的返回值。"""
    seen = completed_epochs + (progress['epoch_steps'] / epoch_steps if epoch_steps else 0.0)
    best = progress['best_score'] if progress['valid_history'] else math.nan
    return RecipeResult(history[-1] if history else math.nan, speed, completed_epochs - start_epoch, start_epoch,
                        num_epochs, seconds, list(history), steps=progress['steps'], epochs_seen=seen,
                        tokens=progress['tokens'], precision=precision, lr_history=list(progress['lr_history']),
                        valid_history=[tuple(v) for v in progress['valid_history']], best_score=best,
                        best_step=progress['best_step'], threads=threads, world_size=world)
