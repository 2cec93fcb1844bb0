# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""7. 训练: the saved code of notebooks/07_training.ipynb (generated)."""

import collections
import dataclasses
import io
import math
import os
import random
import sys
import tempfile
import time
import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'grad_clipping',
    'xavier_init_weights',
    'try_gpu',
    'Timer',
    'Accumulator',
    'Animator',
    'CheckpointError',
    'CHECKPOINT_FORMAT',
    'save_checkpoint',
    'load_checkpoint',
    'TrainResult',
    'train_seq2seq',
]


# ---- notebooks/07_training.ipynb · cell id ch07-09 ----
def grad_clipping(net, theta):
    """把 net 全部参数的梯度看成一个向量 g，做 g <- min(1, theta/||g||) g。

    原地修改各参数的 .grad；返回裁剪前的 ||g||（0 维张量，在参数所在的设备上）。
    不调用 .item()，不用 Python 的 if 判断张量，所以在 GPU 上不会迫使 CPU 等待。"""
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
def _make_adam(net, lr):
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
class Timer:
    """记录多段时间：start() 开始一段，stop() 结束这一段并返回它的秒数。"""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self._start = time.perf_counter()

    def stop(self):
        self.times.append(time.perf_counter() - self._start)
        return self.times[-1]

    def avg(self):
        return sum(self.times) / len(self.times)

    def sum(self):
        return sum(self.times)

    def cumsum(self):
        """各段时间的累计和。"""
        out, total = [], 0.0
        for t in self.times:
            total += t
            out.append(total)
        return out


# ---- notebooks/07_training.ipynb · cell id ch07-24 ----
class Accumulator:
    """对 n 个量分别求和。add 的参数可以是 Python 数，也可以是张量：张量留在原设备上累加，
    读取 acc[i] 时才变成 Python 的 float，所以每个小批量都 add 也不会迫使 GPU 同步。"""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        if len(args) != len(self.data):
            raise ValueError(f'这个 Accumulator 累加 {len(self.data)} 个量，add 却收到 {len(args)} 个')
        self.data = [a + b for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return float(self.data[idx])


# ---- notebooks/07_training.ipynb · cell id ch07-27 ----
class Animator:
    """一张随训练更新的折线图（API 同 d2l：add(x, y)，y 可以是几条曲线各一个值）。

    在 IPython 内核（Jupyter、Colab、nbval）里：第一次重画时显示一张 PNG，之后原地替换它
    （display_id），单元格里只留一张图，也不会清掉单元格里的其他输出。
    不在内核里（普通脚本）时只记录数据，不画图；figure() 随时给出一张 matplotlib Figure。
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale='linear', yscale='linear', fmts=('-', 'm--', 'g-.', 'r:'),
                 figsize=(3.5, 2.5), live=None):
        self.xlabel, self.ylabel, self.legend = xlabel, ylabel, legend
        self.xlim, self.ylim, self.xscale, self.yscale = xlim, ylim, xscale, yscale
        self.fmts, self.figsize = fmts, figsize
        self.X, self.Y = None, None
        self.live = ('ipykernel' in sys.modules) if live is None else live  # 是否真的显示
        self._handle = None

    def add(self, x, y, redraw=True):
        """添加一个点；redraw=False 只记录不重画（重画一次要几十毫秒）。"""
        if not hasattr(y, '__len__'):
            y = [y]
        if not hasattr(x, '__len__'):
            x = [x] * len(y)
        if self.X is None:
            self.X, self.Y = [[] for _ in y], [[] for _ in y]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        if redraw:
            self.show()

    def figure(self):
        """用目前的数据画一张新的 matplotlib Figure（不经过 pyplot）。"""
        from matplotlib.figure import Figure
        fig = Figure(figsize=self.figsize)
        ax = fig.add_subplot()
        for i, (x, y) in enumerate(zip(self.X or [], self.Y or [])):
            ax.plot(x, y, self.fmts[i % len(self.fmts)])
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.legend:
            ax.legend(self.legend)
        ax.grid(True)
        fig.tight_layout()
        return fig

    def show(self):
        """在 IPython 内核里显示这张图，或原地替换上一次显示的那张；否则什么也不做。"""
        if not self.live or self.X is None:
            return
        from IPython.display import Image, display
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format='png', dpi=100)
        image = Image(data=buffer.getvalue(), format='png')
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)


# ---- notebooks/07_training.ipynb · cell id ch07-31 ----
class CheckpointError(RuntimeError):
    """检查点读不出来，或者与要恢复的模型不符。"""


CHECKPOINT_FORMAT = 'd2l_local.train_seq2seq/1'


def _check_checkpoint_folder(path):
    """建好检查点所在的文件夹并确认能在里面写文件；返回文件夹。写不了时抛出 CheckpointError。"""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CheckpointError(f'无法在 {folder} 里写检查点（{error}）：请换一个可写的 checkpoint_path。') from None
    return folder


def save_checkpoint(path, net, optimizer, epoch, loss_history=()):
    """把训练现场原子地写进 path：模型和优化器的状态、已训练的轮数 epoch、每轮的损失，
    以及续训所需的随机数状态（torch CPU、CUDA、Python random）。
    先写同一文件夹里的临时文件，落盘后再 os.replace，所以 path 永远是一个完整的检查点。"""
    state = {
        'format': CHECKPOINT_FORMAT,
        'epoch': int(epoch),
        'model': net.state_dict(),
        'optimizer': optimizer.state_dict(),
        'loss_history': [float(x) for x in loss_history],
        'rng': {'torch': torch.get_rng_state(),
                'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                'python': random.getstate()},
    }
    folder = _check_checkpoint_folder(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + '.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())  # 确实写到磁盘上之后才替换
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):  # 只有出错时它才还在：删掉，旧检查点不受影响
            os.remove(tmp)


# ---- notebooks/07_training.ipynb · cell id ch07-33 ----
def _check_shapes(path, own, saved):
    """比较模型与检查点的参数名和形状；不一致时抛出 CheckpointError，列出每一处不同。"""
    problems = []
    for name, tensor in own.items():
        if name not in saved:
            problems.append(f'  {name}：模型里有，检查点里没有')
        elif tuple(saved[name].shape) != tuple(tensor.shape):
            problems.append(f'  {name}：检查点里的形状是 {tuple(saved[name].shape)}，'
                            f'模型里是 {tuple(tensor.shape)}')
    problems += [f'  {name}：检查点里有，模型里没有' for name in saved if name not in own]
    if problems:
        raise CheckpointError(
            f'检查点 {path} 属于另一个形状的模型（shape mismatch），不能用来续训：\n'
            + '\n'.join(problems)
            + '\n若要从头训练这个模型，请删除这个文件，或者换一个 checkpoint_path。')

def load_checkpoint(path, net, optimizer=None, *, restore_rng=False):
    """读入 save_checkpoint 写的检查点，恢复 net（和 optimizer）的状态；restore_rng=True 时
    还恢复随机数状态（续训时需要）。返回 {'epoch': 已训练轮数, 'loss_history': [...]}。
    文件读不出来，或与 net 的参数形状不符时，抛出 CheckpointError，net 保持不变。"""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise CheckpointError(
            f'读不出检查点 {path}：文件可能只写了一半，或者已经损坏。请删除它（或换一个 '
            f'checkpoint_path）从头训练，或者换回一份完好的副本。\n'
            f'（原始错误：{type(error).__name__}: {error}）') from error
    keys = {'format', 'epoch', 'model', 'optimizer', 'loss_history', 'rng'}
    if not (isinstance(state, dict) and state.get('format') == CHECKPOINT_FORMAT and keys <= state.keys()):
        raise CheckpointError(f'{path} 不是 save_checkpoint 写的检查点（它没有被改动）。'
                              '请换一个 checkpoint_path；如果它是 torch.save(net.state_dict()) 存的权重，'
                              '用 net.load_state_dict(torch.load(path)) 读入。')
    _check_shapes(path, net.state_dict(), state['model'])
    net.load_state_dict(state['model'])
    if optimizer is not None:
        optimizer.load_state_dict(state['optimizer'])
    if restore_rng:
        torch.set_rng_state(state['rng']['torch'])
        if torch.cuda.is_available() and len(state['rng']['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['rng']['cuda'])
        random.setstate(state['rng']['python'])
    return {'epoch': state['epoch'], 'loss_history': state['loss_history']}


# ---- notebooks/07_training.ipynb · cell id ch07-35 ----
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


# ---- notebooks/07_training.ipynb · cell id ch07-36 ----
def train_seq2seq(net, data_iter, lr, num_epochs, tgt_vocab, device, *,
                  checkpoint_path=None, save_every=10, theta=1.0,
                  plot=True, plot_every=10, cpu_threads=1):
    """用强制教学训练序列到序列模型，返回 TrainResult。

    checkpoint_path：每 save_every 轮和结束时保存检查点；该文件已存在时从它续训（模型、优化器、
        轮数、损失记录和随机数状态都恢复，结果与没中断过一样）。读不出或形状不符时报错。
    theta：梯度裁剪的阈值。plot：是否画损失曲线（只在 Jupyter 里显示），每 plot_every 轮重画一次。
    cpu_threads：在 CPU 上训练时使用的线程数（结束后恢复）；None 表示不改。
    """
    if '<bos>' not in getattr(tgt_vocab, 'token_to_idx', tgt_vocab):
        raise ValueError("tgt_vocab 里没有 '<bos>'：构造词表时请用 "
                         "reserved_tokens=['<pad>', '<bos>', '<eos>'] 保留它。")
    if checkpoint_path is not None:
        _check_checkpoint_folder(checkpoint_path)  # 现在就发现写不了，而不是训练了 save_every 轮之后
    net.to(device)
    optimizer = _make_adam(net, lr)
    loss = d2l.MaskedSoftmaxCELoss()
    start_epoch, history = 0, []
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        saved = load_checkpoint(checkpoint_path, net, optimizer, restore_rng=True)
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
    animator = Animator(xlabel='epoch', ylabel='loss per token', xlim=[1, num_epochs],
                        live=None if plot else False)
    for epoch, value in enumerate(history, start=1):
        animator.add(epoch, value, redraw=False)
    old_threads = torch.get_num_threads()
    if device.type == 'cpu' and cpu_threads:
        torch.set_num_threads(cpu_threads)
    timer, num_tokens = Timer(), 0.0
    net.train()
    try:
        for epoch in range(start_epoch + 1, num_epochs + 1):
            timer.start()
            metric = Accumulator(2)  # 损失 × 词元数之和，有效词元数（留在设备上）
            for X, X_valid_len, Y, Y_valid_len in data_iter:
                Y = Y[:, :int(Y_valid_len.max())]  # 全是 <pad> 的尾列不进损失，不必计算
                X, X_valid_len, Y, Y_valid_len = [t.to(device) for t in (X, X_valid_len, Y, Y_valid_len)]
                bos = torch.full((Y.shape[0], 1), tgt_vocab['<bos>'], device=device)
                dec_input = torch.cat([bos, Y[:, :-1]], dim=1)  # 强制教学
                Y_hat, _ = net(X, dec_input, X_valid_len)
                l = loss(Y_hat, Y, Y_valid_len)  # 标量：有效词元上的平均损失
                optimizer.zero_grad(set_to_none=True)
                l.backward()
                grad_clipping(net, theta)
                optimizer.step()
                num_batch_tokens = Y_valid_len.sum()
                metric.add(l.detach() * num_batch_tokens, num_batch_tokens)
            history.append(metric[0] / max(metric[1], 1))  # 每轮只在这里同步一次
            timer.stop()
            num_tokens += metric[1]
            animator.add(epoch, history[-1], redraw=(epoch % plot_every == 0 or epoch == num_epochs))
            if checkpoint_path is not None and (epoch % save_every == 0 or epoch == num_epochs):
                save_checkpoint(checkpoint_path, net, optimizer, epoch, history)
    finally:
        torch.set_num_threads(old_threads)
    speed = num_tokens / timer.sum()
    print(f'loss {history[-1]:.3f}, {speed:.0f} tokens/sec on {device}')
    return TrainResult(history[-1], speed, num_epochs - start_epoch, start_epoch, num_epochs,
                       timer.sum(), history)
