import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from triage import Task
from triage.data import TensorData
from triage.errors import TaskError

import tasks


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


X, Y = tasks._blobs(50)


@pytest.mark.parametrize("train", [
    (X, Y),
    (torch.from_numpy(X), torch.from_numpy(Y)),
    (pd.DataFrame(X), pd.Series(Y)),
    TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)),
])
def test_accepts_each_data_form(train):
    prepared = Task(model=_mlp, train=train).prepare()
    assert prepared.n_train == 40  # 20% held out
    assert len(prepared.val) == 10
    assert prepared.accuracy == "multiclass"


def test_numpy_float64_becomes_float32():
    prepared = Task(model=_mlp, train=(X.astype(np.float64), Y), val=(X, Y)).prepare()
    assert isinstance(prepared.train, TensorData)
    assert prepared.train.X.dtype == torch.float32


def test_holdout_is_seeded_and_disjoint():
    task = Task(model=_mlp, train=(np.arange(50, dtype=np.float32)[:, None].repeat(4, 1), Y))
    a, b = task.prepare(0), Task(model=_mlp, train=task.train).prepare(0)
    assert torch.equal(a.val.X, b.val.X)
    c = task.prepare(1)
    assert not torch.equal(a.val.X, c.val.X)
    seen = set(a.train.X[:, 0].tolist()) | set(a.val.X[:, 0].tolist())
    assert len(seen) == 50


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"train": (X[:0], Y[:0])}, "empty"),
    ({"train": (X, Y[:-1])}, "50 samples but y has 49"),
    ({"train": (np.where(np.arange(200).reshape(50, 4) == 7, np.nan, X), Y)}, "NaN"),
    ({"train": X}, r"\(X, y\) pair"),
    ({"model": lambda: nn.Linear(4, 1), "loss": "mse"}, "would broadcast"),
    ({"model": lambda: nn.Linear(3, 3)}, "failed on a batch"),
    ({"model": lambda: nn.Linear(4, 2)}, "one output per class"),
    ({"model": lambda: "not a module"}, "not an nn.Module"),
    ({"loss": "bce_with_logits"}, "does not fit loss 'bce_with_logits'"),
])
def test_bad_tasks_raise_one_line_errors(kwargs, message):
    args = {"model": _mlp, "train": (X, Y), **kwargs}
    with pytest.raises(TaskError, match=message) as info:
        Task(**args).prepare()
    assert "\n" not in str(info.value)


def test_factory_that_raises():
    def factory():
        raise ValueError("boom\nsecond line")
    with pytest.raises(TaskError, match="factory raised ValueError: boom;"):
        Task(model=factory, train=(X, Y)).prepare()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": _mlp()}, "zero-argument factory"),
    ({"loss": "hinge"}, "unknown loss 'hinge'"),
    ({"epochs": 0}, "epochs must be a positive integer"),
])
def test_bad_task_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(TaskError, match=message):
        Task(**{"model": _mlp, "train": (X, Y), **kwargs})


def test_custom_loss_callable():
    def my_loss(out, target):
        return nn.functional.cross_entropy(out, target)
    task = Task(model=_mlp, train=(X, Y), loss=my_loss)
    assert task.loss_name == "my_loss"
    assert task.prepare().accuracy is None
