"""Tiny seeded CPU tasks for the tests; also usable as TASK files (tests/tasks.py:blobs)."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from triage import Task


def _blobs(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    X = centres[y] + rng.normal(size=(n, 4)).astype(np.float32)
    return X.astype(np.float32), y.astype(np.int64)


def blobs() -> Task:
    """3-class classification, 96 train / 24 val samples, a one-hidden-layer MLP."""
    X, y = _blobs()
    return Task(model=lambda: nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)),
                train=(X[:96], y[:96]), val=(X[96:], y[96:]), loss="cross_entropy",
                name="blobs", epochs=3)


def linear_regression() -> Task:
    """y = Xw + noise with 5 features; a linear model and MSE; validation held out."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = (X @ rng.normal(size=(5, 1)) + 0.1 * rng.normal(size=(80, 1))).astype(np.float32)
    return Task(model=lambda: nn.Linear(5, 1), train=(X, y), loss="mse", name="linreg", epochs=2)


def quadratic(scale: float = 10.0) -> Task:
    """loss = (w * scale)^2 for one weight: plain SGD diverges exactly above lr = 1 / scale^2."""
    X = torch.full((64, 1), scale)
    y = torch.zeros(64, 1)
    return Task(model=lambda: nn.Linear(1, 1, bias=False), train=(X, y), val=(X, y), loss="mse",
                name=f"quadratic{scale:g}", epochs=1)


class NaNLayer(nn.Module):
    """A broken custom layer: divides by zero, so every output is NaN whatever the LR."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) / torch.zeros(())


def always_nan() -> Task:
    X, y = _blobs(40)
    return Task(model=NaNLayer, train=(X, y), val=(X, y), loss="cross_entropy", name="nan")


tiny = blobs()  # a Task instance, for the module:attr form
not_a_task = 42


def raises() -> Task:
    raise RuntimeError("cannot build")


class _Slow(nn.Module):
    """blobs' MLP, slowed to ~50 ms a forward pass so that a test can stop a worker mid-trial."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.05)
        return self.net(x)


def slow_blobs() -> Task:
    X, y = _blobs()
    return Task(model=_Slow, train=(X[:96], y[:96]), val=(X[96:], y[96:]), loss="cross_entropy",
                name="slow_blobs", epochs=4)


class _Dropped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def dropout_blobs() -> Task:
    """blobs with a dropout layer, so that sweeps tune its rate."""
    X, y = _blobs()
    return Task(model=_Dropped, train=(X[:96], y[:96]), val=(X[96:], y[96:]),
                loss="cross_entropy", name="dropout_blobs", epochs=3)
