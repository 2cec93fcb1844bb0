# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""7. 训练: the saved code of notebooks/07_training.ipynb (generated)."""

import dataclasses
import math
import os
import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'grad_clipping',
    'xavier_init_weights',
    'make_adam',
    'try_gpu',
    'train_epoch_seq2seq',
    'TrainResult',
    'train_seq2seq',
]


# ---- notebooks/07_training.ipynb · cell id ch07-09 ----
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


# ---- notebooks/07_training.ipynb · cell id ch07-13 ----
def xavier_init_weights(module):
    """Xavier 均匀初始化：nn.Linear 的权重，以及 RNN（GRU、LSTM……）的每个权重矩阵；偏置不动。
    用法：net.apply(xavier_init_weights)。"""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    if isinstance(module, nn.RNNBase):
        for name, param in module.named_parameters():
            if name.startswith('weight'):
                nn.init.xavier_uniform_(param)


# ---- notebooks/07_training.ipynb · cell id ch07-17 ----
def make_adam(net, lr):
    """Adam 优化器；torch 支持时用 fused 版本（一个核函数做完全部参数的更新；CPU 上要 torch >= 2.4）。"""
    params = list(net.parameters())
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


# ---- notebooks/07_training.ipynb · cell id ch07-19 ----
def try_gpu(i=0):
    """有第 i 块 GPU 就返回 torch.device('cuda:i')，否则返回 CPU。"""
    return torch.device(f'cuda:{i}' if torch.cuda.device_count() > i else 'cpu')


# ---- notebooks/07_training.ipynb · cell id ch07-22 ----
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


# ---- notebooks/07_training.ipynb · cell id ch07-24 ----
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


# ---- notebooks/07_training.ipynb · cell id ch07-25 ----
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
