# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""附录 A.2 训练的工具: the saved code of notebooks/20_appendix_training_tools.ipynb (generated)."""

import io
import math
import numbers
import os
import random
import stat
import sys
import tempfile
import time
import torch
from torch import nn
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'Timer',
    'Accumulator',
    'Animator',
    'check_positive',
    'as_device',
    'check_batch',
    'NonFiniteError',
    'nonfinite_names',
    'CheckpointError',
    'CHECKPOINT_FORMAT',
    'checkpoint_target',
    'save_checkpoint',
    'load_checkpoint',
    'reseed_cudnn_dropout',
    'check_train_args',
    'check_epoch',
    'budget_seconds',
]


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-03 ----
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


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-06 ----
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


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-09 ----
class Animator:
    """一张随训练更新的折线图（API 同 d2l：add(x, y)，y 可以是几条曲线各一个值）。

    在 IPython 内核（Jupyter、Colab）里：第一次重画时显示一张 PNG，之后原地替换它
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
        """添加一个点；redraw=False 只记录不重画（重画一次要把整张图渲染成 PNG）。"""
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


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-13 ----
def check_positive(name, value, *, integer=False, hint=''):
    """value 应是有限的正数（integer=True 时是正整数），否则抛出说明怎样改的 TypeError/ValueError；
    返回 value。hint 是对这个参数的说明，放进错误信息里。"""
    kind = '正整数' if integer else '正数'
    about = f'（{hint}）' if hint else ' '
    expected = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, expected):
        advice = f'，例如写成 {name}={max(1, round(value))}' if integer and isinstance(value, numbers.Real) \
            and not isinstance(value, bool) and math.isfinite(value) else ''
        raise TypeError(f'{name}{about}应是{kind}，收到的是 {type(value).__name__} {value!r}：'
                        f'请传入一个{kind}{advice}。')
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f'{name}{about}应是{kind}（有限且大于 0），收到的是 {value!r}：请传入一个{kind}。')
    return value

def as_device(device):
    """把 'cpu'、'cuda:0' 这样的字符串（或 torch.device）变成 torch.device，并确认这个设备存在。"""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device 应是 torch.device，或 'cpu'、'cuda:0' 这样的字符串，收到的是 {device!r}："
                         '请用 d2l.try_gpu()，它有 GPU 时返回 GPU，没有时返回 CPU。') from None
    if device.type == 'cuda' and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f'没有 {device} 这块 GPU（这台机器有 {torch.cuda.device_count()} 块）：'
                         '请用 d2l.try_gpu()，它有 GPU 时返回 GPU，没有时返回 CPU。')
    return device

def check_batch(batch, tgt_vocab_size=None):
    """训练循环的每个小批量应是 (X, X_valid_len, Y, Y_valid_len) 四个张量；tgt_vocab_size 给出时，
    还检查在 CPU 上的标签 Y 都是目标词表里的索引。返回这四个张量。"""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 4
            and all(isinstance(t, torch.Tensor) for t in batch)):
        got = f'{len(batch)} 个元素的 {type(batch).__name__}' if isinstance(batch, (tuple, list)) \
            else type(batch).__name__
        raise ValueError(f'data_iter 的每个小批量应是 (X, X_valid_len, Y, Y_valid_len) 四个张量，'
                         f'收到的是 {got}：请用 d2l.load_data_nmt、d2l.load_array 这类函数构造数据。')
    Y = batch[2]
    if tgt_vocab_size is not None and Y.device.type == 'cpu' and Y.numel() > 0:
        low, high = int(Y.min()), int(Y.max())
        if low < 0 or high >= tgt_vocab_size:
            raise ValueError(f'标签 Y 里有目标词表之外的索引（最小 {low}，最大 {high}，目标词表只有 '
                             f'{tgt_vocab_size} 个词元）：Y 应当用传给 train_seq2seq 的 tgt_vocab 构造；'
                             '请检查是不是把源词表和目标词表弄反了。')
    return tuple(batch)

class NonFiniteError(FloatingPointError):
    """训练中出现了 nan 或 inf（损失、梯度或参数），或者要保存的状态里有 nan 或 inf。"""

def nonfinite_names(named_tensors):
    """(名字, 张量) 对里含 nan 或 inf 的浮点张量的名字。张量都在同一个设备上时只同步一次。"""
    named = [(name, t) for name, t in named_tensors if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not named:
        return []
    flags = [torch.isfinite(t).all() for _, t in named]
    if len({f.device for f in flags}) == 1:
        finite = torch.stack(flags).tolist()
    else:
        finite = [bool(f) for f in flags]
    return [name for (name, _), ok in zip(named, finite) if not ok]


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-17 ----
class CheckpointError(RuntimeError):
    """检查点读不出来、写不了，或者与要恢复的模型、优化器不符。"""


CHECKPOINT_FORMAT = 'd2l_local.train_seq2seq/1'


def checkpoint_target(path):
    """检查点真正要写的文件（path 是符号链接时，是它指向的文件）。确认它不是文件夹、所在的文件夹
    存在（不存在就建好）并且可写；否则抛出说明怎么办的 CheckpointError。"""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f'checkpoint_path 应是一个文件路径（str 或 pathlib.Path），收到的是 '
                        f'{type(path).__name__}。') from None
    target = os.path.realpath(path)  # 符号链接：写到它指向的文件，链接本身不变
    if os.path.isdir(target):
        raise CheckpointError(f'checkpoint_path {path} 是一个文件夹，不是文件：请在后面加上文件名，'
                              f'例如 {os.path.join(path, "model.pt")}。')
    folder = os.path.dirname(target)
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CheckpointError(f'无法在 {folder} 里写检查点（{error}）：请换一个可写的 checkpoint_path。') from None
    return target


def _interrupted(error):
    """error 是不是由 KeyboardInterrupt 引起的（torch.save 会把 C++ 回调里的中断包装成 RuntimeError）。"""
    for _ in range(20):
        if error is None:
            return False
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


def _file_mode(target):
    """新写的检查点的权限：沿用旧文件的；没有旧文件时与 open() 新建的文件相同（0o666 去掉 umask）。"""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _state_problems(state):
    """要保存的状态里含 nan 或 inf 的部分的名字。"""
    named = [(f'模型参数 {k}', v) for k, v in state['model'].items()]
    named += [(f'优化器状态 {i}.{k}', v) for i, entry in state['optimizer'].get('state', {}).items()
              for k, v in entry.items()]
    bad = nonfinite_names(named)
    if not all(math.isfinite(x) for x in state['loss_history']):
        bad.append('损失记录')
    return bad


def save_checkpoint(path, net, optimizer, epoch, loss_history=()):
    """把训练现场原子地写进 path：模型和优化器的状态、已训练的轮数 epoch、每轮的损失，
    以及续训所需的随机数状态（torch CPU、CUDA、Python random）。
    先写同一文件夹里的临时文件，落盘后再 os.replace，所以 path 上永远是一个完整的检查点。
    含 nan/inf 的状态不写（抛出 NonFiniteError）；写到一半出错或被中断时，path 上的旧文件不变。"""
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(f'epoch 应是非负整数（已训练的轮数），收到的是 {epoch!r}。')
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
    bad = _state_problems(state)
    if bad:
        raise NonFiniteError(f'不保存检查点：{"、".join(bad[:3])}{" 等" if len(bad) > 3 else ""}里有 nan 或 inf'
                             f'（训练发散了）。{path} 保持原样；请调小学习率后从它续训，或者重新构造模型从头训练。')
    target = checkpoint_target(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(target) + '.', suffix='.tmp', dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, 'wb') as f:
            try:
                torch.save(state, f)
            except RuntimeError as error:
                if _interrupted(error):  # Ctrl-C 落在 torch.save 里：还原成普通的中断
                    raise KeyboardInterrupt(f'保存检查点时被中断：{path} 没有被改动。') from None
                raise
            f.flush()
            os.fsync(f.fileno())  # 确实写到磁盘上之后才替换
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):  # 只有出错或被中断时它才还在：删掉，旧检查点不受影响
            os.remove(tmp)


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-19 ----
def _read_checkpoint(path):
    """torch.load 检查点并检查它的格式、轮数和损失记录；读不出或不对时抛出 CheckpointError。"""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f'检查点路径 {path} 是一个文件夹，不是文件：请给出检查点文件的路径，'
                              f'例如 {os.path.join(path, "model.pt")}。')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise
    except PermissionError as error:
        raise CheckpointError(f'没有权限读检查点 {path}（{error}）：请检查文件的权限，'
                              '或者换一个 checkpoint_path。') from None
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
    epoch, history = state['epoch'], state['loss_history']
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise CheckpointError(f'检查点 {path} 记录的已训练轮数是 {epoch!r}，不是非负整数：文件被改动过或已损坏。'
                              '请换回一份完好的副本，或者删除它从头训练。')
    if not (isinstance(history, list) and all(isinstance(x, float) and math.isfinite(x) for x in history)):
        raise CheckpointError(f'检查点 {path} 的损失记录不是有限数的列表：文件被改动过，或者来自一次发散的训练。'
                              '请换回一份完好的副本，或者删除它从头训练。')
    return state

def _check_model_state(path, own, saved):
    """比较模型与检查点的参数名和形状，并确认检查点的参数里没有 nan/inf；有问题时抛出 CheckpointError。"""
    if not (isinstance(saved, dict) and all(isinstance(v, torch.Tensor) for v in saved.values())):
        raise CheckpointError(f'检查点 {path} 里的模型参数已损坏：请换回一份完好的副本，或者删除它从头训练。')
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
    bad = nonfinite_names(saved.items())
    if bad:
        raise CheckpointError(f'检查点 {path} 里的模型参数 {", ".join(bad[:3])} 有 nan 或 inf：保存它的那次训练'
                              '已经发散，不能用来续训。请换回更早的检查点，或者删除它从头训练。')

def _check_optimizer_state(path, net, optimizer, saved):
    """确认 optimizer 管理的是 net 的参数，检查点里的优化器状态与它的参数组、参数形状一致。"""
    own_params = [p for group in optimizer.param_groups for p in group['params']]
    net_params = {id(p) for p in net.parameters()}
    if any(id(p) not in net_params for p in own_params):
        raise CheckpointError('optimizer 管理的不是这个模型的参数：请用这个模型的参数构造优化器'
                              '（例如 d2l.make_adam(net, lr)）之后再读入检查点。')
    try:
        groups, entries = saved['param_groups'], saved['state']
        saved_sizes = [len(group['params']) for group in groups]
        saved_ids = [i for group in groups for i in group['params']]
    except (TypeError, KeyError):
        raise CheckpointError(f'检查点 {path} 里的优化器状态已损坏：请换回一份完好的副本，'
                              '或者删除它从头训练。') from None
    own_sizes = [len(group['params']) for group in optimizer.param_groups]
    if saved_sizes != own_sizes:
        raise CheckpointError(f'检查点 {path} 里的优化器状态属于另一组参数（各参数组的大小是 {saved_sizes}，'
                              f'这个 optimizer 是 {own_sizes}）：请用模型的全部参数构造优化器，例如 '
                              'd2l.make_adam(net, lr)；或者换一个 checkpoint_path。')
    for own_group, saved_group in zip(optimizer.param_groups, groups):
        for key in ('betas', 'momentum'):
            if (key in own_group) != (key in saved_group):
                raise CheckpointError(f'检查点 {path} 里的优化器状态来自另一种优化器：请用与保存时相同的优化器'
                                      '（train_seq2seq 用的是 d2l.make_adam），或者换一个 checkpoint_path。')
    by_id = dict(zip(saved_ids, own_params))
    problems = []
    for i, entry in entries.items():
        param = by_id.get(i)
        if param is None or not isinstance(entry, dict):
            problems.append(f'  参数 {i}：检查点里有它的状态，优化器里没有这个参数')
            continue
        for key, value in entry.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and tuple(value.shape) != tuple(param.shape):
                problems.append(f'  参数 {i} 的 {key}：检查点里的形状是 {tuple(value.shape)}，'
                                f'参数的形状是 {tuple(param.shape)}')
    bad = nonfinite_names((f'参数 {i} 的 {k}', v) for i, entry in entries.items() if isinstance(entry, dict)
                          for k, v in entry.items())
    problems += [f'  {name}：有 nan 或 inf' for name in bad]
    if problems:
        raise CheckpointError(f'检查点 {path} 里的优化器状态与这个优化器不符，不能用来续训：\n'
                              + '\n'.join(problems[:5])
                              + '\n请用与保存时同样的模型和优化器续训，或者换一个 checkpoint_path。')

def _check_rng_state(path, rng):
    """在一次性的生成器上试着设置检查点里的随机数状态，确认它们完好（不动全局的生成器）。"""
    try:
        torch.Generator().set_state(rng['torch'])
        random.Random().setstate(rng['python'])
        if not (isinstance(rng['cuda'], list) and all(isinstance(s, torch.Tensor) and s.dtype == torch.uint8
                                                      for s in rng['cuda'])):
            raise ValueError('cuda')
    except Exception:
        raise CheckpointError(f'检查点 {path} 里的随机数状态已损坏：请换回一份完好的副本，'
                              '或者删除它从头训练。') from None

def load_checkpoint(path, net, optimizer=None, *, restore_rng=False):
    """读入 save_checkpoint 写的检查点，恢复 net（和 optimizer）的状态；restore_rng=True 时
    还恢复随机数状态（续训时需要）。返回 {'epoch': 已训练轮数, 'loss_history': [...]}。
    先检查一切，再改动任何东西：检查点读不出、不完整、含 nan/inf，或与 net、optimizer 不符时，
    抛出 CheckpointError，net、optimizer 和随机数状态都保持不变。"""
    state = _read_checkpoint(path)
    _check_model_state(path, net.state_dict(), state['model'])
    if optimizer is not None:
        _check_optimizer_state(path, net, optimizer, state['optimizer'])
    if restore_rng:
        _check_rng_state(path, state['rng'])
    # 全部检查通过，才开始改动
    net.load_state_dict(state['model'])
    if optimizer is not None:
        optimizer.load_state_dict(state['optimizer'])
    if restore_rng:
        torch.set_rng_state(state['rng']['torch'])
        if torch.cuda.is_available() and len(state['rng']['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['rng']['cuda'])
        random.setstate(state['rng']['python'])
    return {'epoch': state['epoch'], 'loss_history': state['loss_history']}


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-21 ----
def reseed_cudnn_dropout(device):
    """GPU 上：让 cuDNN 的 RNN dropout 下一次使用时从 CUDA 随机数生成器重新取种子；CPU 上什么也不做。
    重新设定生成器的状态（这里设成它原来的样子）时，PyTorch 会让 cuDNN 丢掉自己缓存的 dropout 状态。"""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.set_rng_state(torch.cuda.get_rng_state(device), device)


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-29 ----
def check_train_args(net, data_iter, lr, num_epochs, tgt_vocab, device, *, checkpoint_path=None,
                     save_every=10, theta=1.0, plot_every=10, cpu_threads=1):
    """train_seq2seq 在训练第一步之前做的检查；每个错误都说明怎样改。返回 torch.device。"""
    if not isinstance(net, nn.Module):
        raise TypeError(f'net 应是一个 nn.Module（例如 d2l.EncoderDecoder），收到的是 {type(net).__name__}。')
    check_positive('lr', lr, hint='学习率，例如 0.005')
    check_positive('num_epochs', num_epochs, integer=True, hint='训练到第几轮为止')
    check_positive('theta', theta, hint='梯度裁剪的阈值，例如 1')
    check_positive('save_every', save_every, integer=True, hint='每隔几轮保存一次检查点')
    check_positive('plot_every', plot_every, integer=True, hint='每隔几轮重画一次损失曲线')
    if cpu_threads is not None:
        check_positive('cpu_threads', cpu_threads, integer=True, hint='在 CPU 上训练时用几个线程；None 表示不改')
    if '<bos>' not in getattr(tgt_vocab, 'token_to_idx', tgt_vocab):
        raise ValueError("tgt_vocab 里没有 '<bos>'：构造词表时请用 "
                         "reserved_tokens=['<pad>', '<bos>', '<eos>'] 保留它。")
    if not hasattr(data_iter, '__iter__'):
        raise TypeError(f'data_iter 应是可以遍历的小批量数据（例如 DataLoader），收到的是 {type(data_iter).__name__}。')
    if hasattr(data_iter, '__len__') and len(data_iter) == 0:
        raise ValueError('data_iter 是空的，一个小批量也没有：请检查数据是否读进来了'
                         '（例如 num_examples 是否为 0、批量是否大于样本数而又丢弃了不完整的批量）。')
    device = as_device(device)
    resuming = checkpoint_path is not None and os.path.exists(checkpoint_path)
    bad = [] if resuming else nonfinite_names(net.named_parameters())
    if bad:
        raise NonFiniteError(f'训练开始之前，模型参数 {", ".join(bad[:3])} 里就有 nan 或 inf（多半是上一次训练'
                             '发散了）：请重新构造模型（再调用一次创建它的代码）之后再训练。')
    if checkpoint_path is not None:
        checkpoint_target(checkpoint_path)  # 现在就发现写不了，而不是训练了 save_every 轮之后
    return device

def check_epoch(epoch, epoch_loss, num_tokens, grads_finite, net, *, lr, checkpoint_path=None):
    """train_seq2seq 每轮结束、保存检查点之前的检查：这一轮训练了有效词元，损失、梯度和参数都是有限数。
    有问题时抛出说明原因和办法的错误；这一轮不会被保存。"""
    if num_tokens == 0:
        raise ValueError(f'第 {epoch} 轮 data_iter 没有给出任何有效词元：它是空的，或者是只能遍历一次的'
                         '生成器（上一轮已经用完）。请传入可以反复遍历的数据，例如 d2l.load_data_nmt 返回的'
                         ' DataLoader。这一轮没有保存。')
    problems = []
    if not math.isfinite(epoch_loss):
        problems.append(f'每词元损失是 {epoch_loss}')
    if not grads_finite:
        problems.append('某个小批量的梯度范数是 inf 或 nan（梯度裁剪救不回它：inf 乘以 0 得 nan）')
    bad = nonfinite_names(net.named_parameters())
    if bad:
        problems.append(f'参数 {", ".join(bad[:3])}{" 等" if len(bad) > 3 else ""}里有 nan 或 inf')
    if problems:
        if checkpoint_path is not None and os.path.exists(checkpoint_path):
            kept = f'这一轮没有保存：检查点 {checkpoint_path} 仍是之前保存的状态，重新运行时会从它续训。'
        else:
            kept = '模型的参数已经坏了，请重新构造模型之后再训练。'
        raise NonFiniteError(f'第 {epoch} 轮训练出现了 nan 或 inf：{"；".join(problems)}。最常见的原因是学习率'
                             f'太大（lr={lr}），训练发散了；也可能是梯度爆炸。请把 lr 调小（例如减到十分之一）。{kept}')


# ---- notebooks/20_appendix_training_tools.ipynb · cell id ch20-36 ----
def budget_seconds(seconds):
    """训练单元格的时间预算：seconds 乘以环境变量 D2L_BUDGET_SCALE（没有设置时为 1）。
    seconds 与 D2L_BUDGET_SCALE 都必须是有限的正数，否则抛出说明怎样改的错误。"""
    check_positive('seconds', seconds, hint='训练单元格的时间预算，单位是秒')
    raw = os.environ.get('D2L_BUDGET_SCALE', '1')
    try:
        scale = float(raw)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f'环境变量 D2L_BUDGET_SCALE 应是一个正数（例如 0.05），现在是 {raw!r}：'
                         '请改正它，或者删除它（删除后按单元格里写的预算训练）。')
    return seconds * scale
