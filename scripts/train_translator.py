"""训练一个英译法的翻译模型：本书的 d2l.train_seq2seq 加上第 16 章的配方，一个进程或多个进程都行。

一台笔记本电脑（一个进程，CPU 或一块 GPU）：

    python scripts/train_translator.py --max-steps 2000 --checkpoint runs/fra.pt

一台有 N 块 GPU 的机器（每块 GPU 一个进程，DDP）：

    torchrun --standalone --nproc_per_node=N scripts/train_translator.py --max-steps 2000 --checkpoint runs/fra.pt

几台机器（每台都运行这一行，--node_rank 分别是 0、1、……；MASTER 是 0 号机器的地址）：

    torchrun --nnodes=2 --nproc_per_node=N --node_rank=0 --rdzv_backend=c10d --rdzv_endpoint=MASTER:29500 \\
        scripts/train_translator.py --max-steps 2000 --checkpoint runs/fra.pt

用同样的命令再运行一次，就从 --checkpoint 续训（检查点由一个进程写的还是多个进程写的都可以）。
附录 B（notebooks/22_appendix_distributed.ipynb）解释这些命令和 DDP 做了什么。
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import d2l_local as d2l  # noqa: E402


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help 显示各选项的默认值，结尾的启动命令保留原来的换行。"""


def build_parser():
    parser = argparse.ArgumentParser(
        description='用本书的 train_seq2seq 和第 16 章的配方训练英译法的翻译模型；'
                    '用 python 启动是一个进程，用 torchrun 启动是多个进程（DDP，附录 B）。',
        epilog='启动的方法：' + __doc__.split('\n', 1)[1], formatter_class=_HelpFormatter)
    data = parser.add_argument_group('数据（英法语料，由环境变量 D2L_DATA_DIR 或附录 A.1 的缓存文件夹找到）')
    data.add_argument('--max-tokens', type=int, default=9,
                      help='只用两侧都不超过这么多个词元的句对（load_data_nmt_split 的 max_tokens）')
    data.add_argument('--min-freq', type=int, default=5, help='词表只收训练集里出现至少这么多次的词元')
    data.add_argument('--num-train', type=int, default=None, help='最多用这么多个训练句对（默认全部）')
    model = parser.add_argument_group('模型')
    model.add_argument('--model', choices=('transformer', 'gru'), default='transformer',
                       help='transformer：第 14 章的 Transformer；gru：第 4、5 章的 GRU 编码器–解码器')
    model.add_argument('--num-hiddens', type=int, default=256, help='隐状态（和嵌入）的维数')
    model.add_argument('--num-layers', type=int, default=2, help='编码器、解码器各有几层')
    model.add_argument('--num-heads', type=int, default=4, help='Transformer 的头数 h（要整除 --num-hiddens）')
    model.add_argument('--dropout', type=float, default=0.1, help='暂退概率')
    model.add_argument('--tie', action='store_true', help='目标嵌入与输出层共享权重（第 16.7 节）')
    train = parser.add_argument_group('训练（第 16 章的配方）')
    train.add_argument('--batch-tokens', type=int, default=1024,
                       help='每个进程每批最多多少个目标位置；有效批量是它乘以进程数（附录 B）')
    train.add_argument('--lr', type=float, default=1e-3, help='峰值学习率（对应有效批量）')
    train.add_argument('--schedule', choices=('linear', 'constant', 'noam'), default='linear',
                       help='linear：预热后线性降到预算结束时的 0；constant：不变；noam：Transformer 论文的调度')
    train.add_argument('--warmup', type=float, default=0.05,
                       help="linear：预热占预算的比例；noam：预热的步数（整数）")
    train.add_argument('--label-smoothing', type=float, default=0.1, help='标签平滑的 ε')
    train.add_argument('--precision', choices=('auto', 'fp32', 'bf16', 'fp16'), default='auto',
                       help='混合精度（第 16.6 节）；auto：先量一量这台机器上哪种更快')
    train.add_argument('--max-steps', type=int, default=None, help='预算：最多更新这么多步（每一步所有进程一起走）')
    train.add_argument('--time-budget', type=float, default=None, help='预算：最多训练这么多秒（以 0 号进程的墙上时间为准）')
    train.add_argument('--epochs', type=int, default=None, help='预算：最多训练这么多轮；三种预算先用完的那个结束训练')
    train.add_argument('--seed', type=int, default=0, help='模型初始化和分批的随机数种子（各进程相同）')
    train.add_argument('--cpu-threads', type=int, default=1, help='在 CPU 上训练时每个进程用几个线程')
    out = parser.add_argument_group('检查点与评估（只有 0 号进程做）')
    out.add_argument('--checkpoint', default=None,
                     help='检查点文件；已存在时从它续训。每 --save-every-steps 步和结束时（原子地）写入')
    out.add_argument('--save-every-steps', type=int, default=200, help='每多少步保存一次检查点')
    out.add_argument('--valid-sentences', type=int, default=0,
                     help='训练结束时在这么多个验证句子上算 BLEU（0：不评估）')
    out.add_argument('--report', default=None, help='训练结束时把结果（步数、词元数、速度、BLEU……）写成 JSON 文件')
    dist = parser.add_argument_group('多个进程（由 torchrun 启动时才用得上）')
    dist.add_argument('--backend', choices=('auto', 'nccl', 'gloo'), default='auto',
                      help='进程间通信的后端；auto：有 GPU 时 nccl，否则 gloo')
    dist.add_argument('--timeout', type=float, default=300.0,
                      help='等待其他进程的最长秒数（建立连接、每次梯度平均）；超过就报错退出，而不是一直等下去')
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    budgets = (args.max_steps, args.time_budget, args.epochs)
    if all(b is None for b in budgets):
        parser.error('请至少给出一种预算：--max-steps、--time-budget 或 --epochs')
    return args


def distributed_setup(args):
    """torchrun 启动时（环境变量里有 WORLD_SIZE）建立进程组；返回 (world_size, rank, device)。"""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    cuda = torch.cuda.is_available()
    device = torch.device(f'cuda:{local_rank}' if cuda else 'cpu')
    if cuda:
        torch.cuda.set_device(device)
    if world == 1:
        return 1, 0, device
    backend = args.backend if args.backend != 'auto' else ('nccl' if cuda else 'gloo')
    try:
        torch.distributed.init_process_group(backend, timeout=datetime.timedelta(seconds=args.timeout))
    except Exception as error:  # 连不上 0 号进程、端口被占用……
        raise SystemExit(f'进程 {os.environ.get("RANK", "?")}：{args.timeout:g} 秒内没能与其他进程建立连接'
                         f'（{type(error).__name__}: {error}）。请检查 --rdzv_endpoint / MASTER_ADDR 的地址和端口、'
                         '各台机器的 --nnodes 是否一致、防火墙；或者调大 --timeout。') from None
    return world, torch.distributed.get_rank(), device


def load_data(args):
    """英法语料按英语句子划分（seed=0）；返回 (训练数组, src_vocab, tgt_vocab, num_steps, splits)。"""
    num_steps = args.max_tokens + 1  # 最多 max_tokens 个词元，再加 <eos>
    train_iter, src_vocab, tgt_vocab, splits = d2l.load_data_nmt_split(
        batch_size=64, num_steps=num_steps, seed=0, max_tokens=args.max_tokens, min_freq=args.min_freq,
        num_train=args.num_train)
    return train_iter.dataset.tensors, src_vocab, tgt_vocab, num_steps, splits


def make_batches(arrays, args, world, rank):
    """本进程的一份 TokenBatches：各进程用同一个 seed，每轮的批轮流分给各进程（第 16.3 节）。"""
    return d2l.TokenBatches(arrays, args.batch_tokens, trim_source=args.model == 'transformer', seed=args.seed,
                            num_shards=world, shard=rank)


def build_model(args, src_vocab, tgt_vocab):
    torch.manual_seed(args.seed)  # 各进程的初始参数相同（DDP 也会把 0 号进程的参数广播给其他进程）
    h = args.num_hiddens
    if args.model == 'transformer':
        encoder = d2l.TransformerEncoder(len(src_vocab), h, h, h, h, [h], h, 2 * h, args.num_heads,
                                         args.num_layers, args.dropout)
        decoder = d2l.TransformerDecoder(len(tgt_vocab), h, h, h, h, [h], h, 2 * h, args.num_heads,
                                         args.num_layers, args.dropout)
    else:
        encoder = d2l.Seq2SeqEncoder(len(src_vocab), h, h, args.num_layers, args.dropout)
        decoder = d2l.Seq2SeqDecoder(len(tgt_vocab), h, h, args.num_layers, args.dropout)
    net = d2l.EncoderDecoder(encoder, decoder)
    return d2l.tie_weights(net) if args.tie else net


def main(argv=None):
    args = parse_args(argv)
    world, rank, device = distributed_setup(args)
    try:
        arrays, src_vocab, tgt_vocab, num_steps, splits = load_data(args)
        batches = make_batches(arrays, args, world, rank)
        net = build_model(args, src_vocab, tgt_vocab)
        if rank == 0:
            print(f'{world} 个进程，设备 {device}；训练句对 {batches.num_pairs:,}，每个进程每轮 {len(batches)} 批，'
                  f'有效批量约 {world * args.batch_tokens} 个目标位置', flush=True)
        result = d2l.train_seq2seq(
            net, batches, args.lr, args.epochs, tgt_vocab, device, checkpoint_path=args.checkpoint,
            save_every_steps=args.save_every_steps if args.checkpoint else None, plot=False,
            cpu_threads=args.cpu_threads, schedule=args.schedule,
            warmup=int(args.warmup) if args.schedule == 'noam' else args.warmup, max_steps=args.max_steps,
            time_budget=args.time_budget, label_smoothing=args.label_smoothing, precision=args.precision,
            betas=(0.9, 0.98), init='xavier' if args.model == 'gru' else None)
        report = dict(world_size=world, steps=result.steps, epochs_seen=result.epochs_seen, tokens=result.tokens,
                      seconds=result.seconds, tokens_per_sec=result.tokens_per_sec, loss=result.loss,
                      precision=result.precision, bleu=None)
        if rank == 0 and args.valid_sentences > 0:
            sources, references = d2l.group_references(*splits['valid'])
            pick = sorted(random.Random(0).sample(range(len(sources)), min(args.valid_sentences, len(sources))))
            report['bleu'] = d2l.evaluate_bleu(net, [sources[i] for i in pick], [references[i] for i in pick],
                                               src_vocab, tgt_vocab, num_steps, device, precision=result.precision)
            print(f'验证集 BLEU（{len(pick)} 句，贪心解码）{report["bleu"]:.1f}', flush=True)
        if rank == 0 and args.report:
            Path(args.report).write_text(json.dumps(report, ensure_ascii=False, indent=1) + '\n', encoding='utf-8')
        return 0 if math.isfinite(result.loss) else 1
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == '__main__':
    sys.exit(main())
