"""Real faulty PyTorch programs ported from forum threads, Q&A answers and GitHub fixes.

Each program is a training problem somebody actually posted (a discuss.pytorch.org thread, a
StackOverflow question, a GitHub issue and its fixing commit), kept with its own architecture,
loss, optimizer settings, batch size and budget, and paired with the fix the thread's answer
(or the fixing commit) applied and nothing else. The data are bundled scikit-learn sets or
small synthetic stand-ins that keep the property the bug needs (the same input and target
scale). Sources, the one-line fault and
fix, and what the port changed are in README.md (this folder) beside this module.

Written 2026-12-05, before any doctor change for issue 24, for the issue-24 benchmark; the
programs were chosen from their sources and written without looking at doctor's checks (no
code or finding under ``triage/doctor/`` was read), so the set reflects real bugs, not what
the tool tests for. ``families`` is the ground truth: what the known fix changes.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from triage.task import Task

from ._common import ADAM, PLAIN_SGD, Program, split


def _sgd(lr: float, momentum: float = 0.0) -> dict[str, object]:
    return {**PLAIN_SGD, "lr": lr, "momentum": momentum}


# --- forum_fl_mlp_softmax ------------------------------------------------------------------
# shaoxiongji/federated-learning, issue #9, fixed by commit 5ffe3e3 ("fix: remove softmax"):
# models/Nets.py's MLP ended in nn.Softmax(dim=1) while main_nn.py trains it with
# F.cross_entropy (SGD lr 0.01, momentum 0.5, batch 64, 10 epochs, hidden 64, dropout 0.5).


@cache
def _digits_flat() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X = (X - X.mean()) / X.std()  # one global mean/std, as transforms.Normalize((m,), (s,))
    return split(X.astype(np.float32), y.astype(np.int64))


class FedMLP(nn.Module):
    """models/Nets.py's MLP (Linear, Dropout, ReLU, Linear), with or without the softmax."""

    def __init__(self, dim_in: int, dim_hidden: int, dim_out: int, softmax: bool) -> None:
        super().__init__()
        self.layer_input = nn.Linear(dim_in, dim_hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout()
        self.layer_hidden = nn.Linear(dim_hidden, dim_out)
        self.softmax = nn.Softmax(dim=1) if softmax else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)
        x = self.layer_input(x)
        x = self.dropout(x)
        x = self.relu(x)
        x = self.layer_hidden(x)
        return self.softmax(x) if self.softmax is not None else x


def _fl_mlp(softmax: bool, name: str) -> Task:
    X, y, Xv, yv = _digits_flat()
    return Task(model=lambda: FedMLP(64, 64, 10, softmax), train=(X, y), val=(Xv, yv),
                loss="cross_entropy", name=name, epochs=10)


FL_OPTIONS = {**_sgd(0.01, 0.5), "batch_size": 64}


# --- forum_cube_unscaled -------------------------------------------------------------------
# discuss.pytorch.org/t/neural-network-could-not-learn-on-this-type-of-data-why/96648:
# x = 1..3999, target x**3, Linear(1, 50)-ReLU-Linear(50, 1), Adam lr 1e-3, MSELoss, the
# whole set as one batch for 1000 epochs; it never fits. ptrblck's answer: standardise the
# input and the target (and unnormalise the predictions afterwards).


@cache
def _cube(normalise: bool) -> tuple[np.ndarray, ...]:
    x = np.arange(1, 4000, 2, dtype=np.float64)[:, None]  # every other point of 1..3999
    y = x ** 3
    X, Y, Xv, Yv = split(x, y)
    if normalise:
        xm, xs, ym, ys = X.mean(), X.std(), Y.mean(), Y.std()
        X, Xv, Y, Yv = (X - xm) / xs, (Xv - xm) / xs, (Y - ym) / ys, (Yv - ym) / ys
    return tuple(a.astype(np.float32) for a in (X, Y, Xv, Yv))


class CubeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features=1, out_features=50, bias=True)
        self.fc2 = nn.Linear(in_features=50, out_features=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def _cube_task(normalise: bool, name: str) -> Task:
    X, Y, Xv, Yv = _cube(normalise)
    return Task(model=CubeNet, train=(X, Y), val=(Xv, Yv), loss="mse", name=name,
                epochs=1000)


CUBE_OPTIONS = {**ADAM, "lr": 1e-3, "batch_size": 1600}  # full batch: 1600 training points


# --- forum_mnist_sigmoid_nll ---------------------------------------------------------------
# stackoverflow.com/questions/55469311 ("MNIST trained with Sigmoid fails while Softmax works
# fine"): the pytorch/examples MNIST CNN (conv-pool-relu twice, Dropout2d, fc1-relu-dropout,
# fc2) trained with NLLLoss, its last activation F.sigmoid instead of F.log_softmax. The
# accepted answer: mutually exclusive classes want log_softmax + NLLLoss. The question shows
# no optimizer, so the example's own defaults are used (SGD lr 0.01, momentum 0.5, batch 64).


@cache
def _digits_images() -> tuple[np.ndarray, ...]:
    X, y, Xv, yv = _digits_flat()
    return X.reshape(-1, 1, 8, 8), y, Xv.reshape(-1, 1, 8, 8), yv


class MnistNet(nn.Module):
    """The example's Net, its kernels shrunk to 8x8 digits (3 and 2 instead of 5 and 5)."""

    def __init__(self, last: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=3)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=2)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(20, 50)
        self.fc2 = nn.Linear(50, 10)
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 20)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return torch.sigmoid(x) if self.last == "sigmoid" else F.log_softmax(x, dim=1)


def _mnist_task(last: str, name: str) -> Task:
    X, y, Xv, yv = _digits_images()
    return Task(model=lambda: MnistNet(last), train=(X, y), val=(Xv, yv), loss="nll",
                name=name, epochs=60)


MNIST_OPTIONS = {**_sgd(0.01, 0.5), "batch_size": 64}


FAULTS: dict[str, Program] = {
    "forum_fl_mlp_softmax": Program(
        lambda: _fl_mlp(True, "forum_fl_mlp_softmax"), ("activation",), FL_OPTIONS),
    "forum_cube_unscaled": Program(
        lambda: _cube_task(False, "forum_cube_unscaled"), ("data",), CUBE_OPTIONS),
    "forum_mnist_sigmoid_nll": Program(
        lambda: _mnist_task("sigmoid", "forum_mnist_sigmoid_nll"), ("activation",),
        MNIST_OPTIONS),
}

CLEAN: dict[str, Program] = {
    "forum_fl_mlp_softmax_fixed": Program(
        lambda: _fl_mlp(False, "forum_fl_mlp_softmax_fixed"), (), FL_OPTIONS),
    "forum_cube_unscaled_fixed": Program(
        lambda: _cube_task(True, "forum_cube_unscaled_fixed"), (), CUBE_OPTIONS),
    "forum_mnist_sigmoid_nll_fixed": Program(
        lambda: _mnist_task("log_softmax", "forum_mnist_sigmoid_nll_fixed"), (), MNIST_OPTIONS),
}
