"""Wrong (and other right) answers to `make_checkpoint` (checkpoints and resuming). Keyed by check
name; see exercise_support."""
from __future__ import annotations

import copy
import io
import random

import torch

from exercise_support import right, wrong


# ------------------------------------------------------------------------------------------------
# make_checkpoint(net, optimizer, epoch, loss_history)

def _good(net, optimizer, epoch, loss_history):
    return {'model': copy.deepcopy(net.state_dict()), 'optimizer': copy.deepcopy(optimizer.state_dict()),
            'epoch': epoch, 'loss_history': list(loss_history),
            'rng': {'torch': torch.get_rng_state(), 'python': random.getstate()}}


def model_by_reference(net, optimizer, epoch, loss_history):
    return dict(_good(net, optimizer, epoch, loss_history), model=net.state_dict())


def optimizer_by_reference(net, optimizer, epoch, loss_history):
    return dict(_good(net, optimizer, epoch, loss_history), optimizer=optimizer.state_dict())


def shallow_copy_of_the_state_dicts(net, optimizer, epoch, loss_history):
    # dict.copy() copies the dictionary, not the tensors in it: they still follow the live model
    return dict(_good(net, optimizer, epoch, loss_history), model=net.state_dict().copy())


def no_torch_rng(net, optimizer, epoch, loss_history):
    state = _good(net, optimizer, epoch, loss_history)
    state['rng']['torch'] = torch.zeros_like(state['rng']['torch'])
    return state


def torch_rng_of_a_fresh_seed(net, optimizer, epoch, loss_history):
    state = _good(net, optimizer, epoch, loss_history)
    state['rng']['torch'] = torch.Generator().manual_seed(0).get_state()
    return state


def no_python_rng(net, optimizer, epoch, loss_history):
    state = _good(net, optimizer, epoch, loss_history)
    state['rng']['python'] = random.Random(0).getstate()
    return state


def history_by_reference(net, optimizer, epoch, loss_history):
    return dict(_good(net, optimizer, epoch, loss_history), loss_history=loss_history)


def epoch_off_by_one(net, optimizer, epoch, loss_history):
    return dict(_good(net, optimizer, epoch, loss_history), epoch=epoch + 1)


def without_rng(net, optimizer, epoch, loss_history):
    state = _good(net, optimizer, epoch, loss_history)
    del state['rng']
    return state


def rng_as_a_tuple(net, optimizer, epoch, loss_history):
    return dict(_good(net, optimizer, epoch, loss_history), rng=(torch.get_rng_state(), random.getstate()))


def stores_a_rng_that_does_not_restore(net, optimizer, epoch, loss_history):
    state = _good(net, optimizer, epoch, loss_history)
    state['rng']['torch'] = 'seed 0'
    return state


def only_the_model(net, optimizer, epoch, loss_history):
    return copy.deepcopy(net.state_dict())


def the_model_object(net, optimizer, epoch, loss_history):
    return dict(_good(net, optimizer, epoch, loss_history), model=net)


def reads_a_missing_key(net, optimizer, epoch, loss_history):
    return {'model': net.state_dict().copy(), 'optimizer': optimizer.state_dict()['params']}


def through_torch_save(net, optimizer, epoch, loss_history):
    """What torch.save followed by torch.load gives: a deep copy of everything."""
    buffer = io.BytesIO()
    torch.save(_good(net, optimizer, epoch, loss_history), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def stored_in_float64(net, optimizer, epoch, loss_history):
    """float32 → float64 → float32 is exact, and load_state_dict casts back to the parameters' dtype."""
    state = _good(net, optimizer, epoch, loss_history)
    state['model'] = {name: t.double() if t.is_floating_point() else t for name, t in state['model'].items()}
    return state


def cloned_tensors(net, optimizer, epoch, loss_history):
    state = _good(net, optimizer, epoch, loss_history)
    state['model'] = {name: t.detach().clone() for name, t in net.state_dict().items()}
    return state


WRONG = {
    "make_checkpoint": [
        wrong(model_by_reference, "state['model'] 不是快照", "copy.deepcopy(net.state_dict())"),
        wrong(optimizer_by_reference, "state['optimizer'] 不是快照", "copy.deepcopy(optimizer.state_dict())"),
        wrong(shallow_copy_of_the_state_dicts, "state['model'] 不是快照"),
        wrong(no_torch_rng, "torch.get_rng_state()"),
        wrong(torch_rng_of_a_fresh_seed, "torch.get_rng_state()"),
        wrong(no_python_rng, "random.getstate()"),
        wrong(history_by_reference, "list(loss_history)"),
        wrong(epoch_off_by_one, "state['epoch'] 应当是 2"),
        wrong(without_rng, "缺少 ['rng']"),
        wrong(rng_as_a_tuple, "state['rng'] 应当是字典"),
        wrong(stores_a_rng_that_does_not_restore, "恢复模型、优化器和随机数状态时出错"),
        wrong(only_the_model, "返回的字典缺少"),
        wrong(the_model_object, "恢复模型、优化器和随机数状态时出错"),
        wrong(reads_a_missing_key, "你的代码出错", "KeyError", "在你的代码 `reads_a_missing_key`"),
    ],
}

RIGHT = {
    "make_checkpoint": [right(_good, label="deep_copies"), right(through_torch_save), right(cloned_tensors),
                        right(stored_in_float64)],
}
