"""Held-out tasks for ``sweep_vs_optuna.py``, written (2026-12-04) before the sweep strategy of
issue 21 was designed or tuned, and never changed to suit it.

Each is a small program of a kind users bring that the bundled examples do not cover: a deep
tanh network on a non-linear boundary, a wider classifier with dropout on many noisy features,
and a recurrent network on a long-range regression (the adding problem). Data is generated, so
the tasks need nothing but scikit-learn and numpy; inputs (and regression targets) are
standardised with training statistics only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from triage.task import Task


def _standardise(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return ((train - mean) / std).astype(np.float32), ((val - mean) / std).astype(np.float32)


def moons_tanh() -> Task:
    """Two interleaved half-moons with label noise, a 4-layer tanh MLP, one logit (BCE)."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=1500, noise=0.3, random_state=11)
    X_tr, X_va = _standardise(X[:1200], X[1200:])
    y = y.astype(np.float32).reshape(-1, 1)

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                             nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))

    return Task(model=model, train=(X_tr, y[:1200]), val=(X_va, y[1200:]),
                loss="bce_with_logits", name="moons_tanh", epochs=20)


def classify5_dropout() -> Task:
    """Five classes from 30 features (12 informative, 6 redundant, 2% flipped labels), an MLP
    with dropout after each hidden layer."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=2500, n_features=30, n_informative=12,
                               n_redundant=6, n_classes=5, class_sep=1.0, flip_y=0.02,
                               random_state=7)
    X_tr, X_va = _standardise(X[:2000], X[2000:])

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(30, 128), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(128, 5))

    return Task(model=model, train=(X_tr, y[:2000].astype(np.int64)),
                val=(X_va, y[2000:].astype(np.int64)), loss="cross_entropy",
                name="classify5_dropout", epochs=15)


class _AddingGRU(nn.Module):
    def __init__(self, hidden: int = 24) -> None:
        super().__init__()
        self.gru = nn.GRU(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.head(out[:, -1])


def adding_gru() -> Task:
    """The adding problem (Hochreiter & Schmidhuber): 20 steps of (value, marker); the target
    is the sum of the two marked values. A GRU reads the sequence, a linear head regresses."""
    rng = np.random.default_rng(5)
    n, length = 1250, 20
    values = rng.uniform(0, 1, size=(n, length))
    markers = np.zeros((n, length))
    for i in range(n):
        first = rng.integers(0, length // 2)
        second = rng.integers(length // 2, length)
        markers[i, [first, second]] = 1.0
    X = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=1, keepdims=True)
    y_tr, y_va = _standardise(y[:1000], y[1000:])
    return Task(model=_AddingGRU, train=(X[:1000], y_tr), val=(X[1000:], y_va), loss="mse",
                name="adding_gru", epochs=12)


TASKS: dict[str, Callable[[], Task]] = {
    "moons_tanh": moons_tanh,
    "classify5_dropout": classify5_dropout,
    "adding_gru": adding_gru,
}
