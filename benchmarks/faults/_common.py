"""What the held-out sets share: the ``Program`` record, the user's updater options and the
data/model helpers later sets reuse from earlier ones.

Moved here unchanged from the sets that first wrote them (``Program``, ``PLAIN_SGD``, ``ADAM``,
``standardise``, ``split``, ``classification`` and ``mlp`` from held-out set 1, ``bumps`` from
set 2, ``reinit`` from set 5), so every program builds the same model and data as before.
The seen zoo (``seen_zoo.py``) keeps its own ``Case`` and helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from triage.probe import ProbeSettings
from triage.task import Task

PLAIN_SGD = {"optimizer": "sgd", "momentum": 0.0, "nesterov": False}
ADAM = {"optimizer": "adam", "momentum": 0.0, "nesterov": False}


@dataclass(frozen=True)
class Program:
    """A task factory, the right families (empty: a correct program) and the user's settings."""

    task: Callable[[], Task]
    families: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def settings(self, seed: int = 0, device: str = "cpu") -> ProbeSettings:
        return ProbeSettings(**{"lr": 0.01, "optimizer": "sgd", "device": device,
                                "seed": seed, **self.options})


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-8
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def split(X: np.ndarray, y: np.ndarray, val: float = 0.2, seed: int = 0
          ) -> tuple[np.ndarray, ...]:
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(len(X) * (1 - val))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]


def classification(n: int, features: int, classes: int = 2, seed: int = 0
                   ) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=features, n_informative=features // 2,
                               n_classes=classes, random_state=seed)
    X, y, Xv, yv = split(X, y.astype(np.int64))
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def mlp(n_in: int, n_out: int, hidden: int = 32, act: type = nn.ReLU, depth: int = 2,
        tail: tuple[nn.Module, ...] = ()) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, n_out), *tail)


def bumps(n: int = 900, size: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images (0..1) with one bright blob in the left (class 0) or right (class 1) half."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.2, size=(n, 1, size, size))
    y = rng.integers(0, 2, n)
    rows = rng.integers(1, size - 1, n)
    cols = rng.integers(1, size // 2 - 1, n) + y * (size // 2)
    for i in range(n):
        X[i, 0, rows[i] - 1: rows[i] + 2, cols[i] - 1: cols[i] + 2] = 1.0
    return X.astype(np.float32), y.astype(np.int64)


def reinit(net: nn.Sequential, init: Callable[[nn.Linear], object]) -> nn.Sequential:
    """The user's own initialiser applied to every Linear layer."""
    for m in net:
        if isinstance(m, nn.Linear):
            init(m)
    return net
