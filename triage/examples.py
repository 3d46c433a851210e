"""Bundled example tasks, all on data that ships with scikit-learn (no download).

Each function returns a fresh Task; inputs (and regression targets) are standardised with
statistics from the training split only, as the source documents insist.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from triage.task import Task


def _split(X: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    stratify = y if y.dtype.kind in "iu" else None
    return tuple(train_test_split(X, y, test_size=0.2, random_state=seed, stratify=stratify))


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def _digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    data = load_digits()
    X_tr, X_te, y_tr, y_te = _split(data.data, data.target.astype(np.int64))
    # Pixels share one scale, so normalise them together rather than per feature.
    mean, std = X_tr.mean(), X_tr.std()
    norm = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return norm(X_tr), norm(X_te), y_tr, y_te


def _mlp(n_in: int, n_out: int, hidden: int = 64) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, n_out),
    )


def digits_mlp() -> Task:
    """10-class MLP on the 8x8 digits (1,437 train / 360 val); the default example."""
    X_tr, X_te, y_tr, y_te = _digits()
    return Task(model=lambda: _mlp(64, 10), train=(X_tr, y_tr), val=(X_te, y_te),
                loss="cross_entropy", name="digits_mlp", epochs=10)


class _SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        return self.head(self.features(x.view(-1, 1, 8, 8)).flatten(1))


def digits_cnn() -> Task:
    """A two-layer CNN on the 8x8 digits images."""
    X_tr, X_te, y_tr, y_te = _digits()
    return Task(model=_SmallCNN, train=(X_tr.reshape(-1, 1, 8, 8), y_tr),
                val=(X_te.reshape(-1, 1, 8, 8), y_te), loss="cross_entropy",
                name="digits_cnn", epochs=10)


class _RowLSTM(nn.Module):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def digits_lstm() -> Task:
    """An LSTM reading each digit image as a sequence of 8 rows of 8 pixels."""
    X_tr, X_te, y_tr, y_te = _digits()
    return Task(model=_RowLSTM, train=(X_tr.reshape(-1, 8, 8), y_tr),
                val=(X_te.reshape(-1, 8, 8), y_te), loss="cross_entropy",
                name="digits_lstm", epochs=10)


def diabetes_mlp() -> Task:
    """Regression: disease progression from 10 features (353 train / 89 val), MSE on z-scores."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    X_tr, X_te, y_tr, y_te = _split(data.data, data.target.reshape(-1, 1))
    X_tr, X_te = _standardise(X_tr, X_te)
    y_tr, y_te = _standardise(y_tr, y_te)
    return Task(model=lambda: _mlp(10, 1, hidden=32), train=(X_tr, y_tr), val=(X_te, y_te),
                loss="mse", name="diabetes_mlp", epochs=30)


def breast_cancer_mlp() -> Task:
    """Binary classification (455 train / 114 val) with one logit and BCE-with-logits."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X_tr, X_te, y_tr, y_te = _split(data.data, data.target.astype(np.int64))
    X_tr, X_te = _standardise(X_tr, X_te)
    to_col = lambda y: y.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: _mlp(30, 1, hidden=32), train=(X_tr, to_col(y_tr)),
                val=(X_te, to_col(y_te)), loss="bce_with_logits", name="breast_cancer_mlp",
                epochs=20)


def wine_mlp() -> Task:
    """3-class wine cultivars from 13 chemical measurements (142 train / 36 val)."""
    from sklearn.datasets import load_wine

    data = load_wine()
    X_tr, X_te, y_tr, y_te = _split(data.data, data.target.astype(np.int64))
    X_tr, X_te = _standardise(X_tr, X_te)
    return Task(model=lambda: _mlp(13, 3, hidden=32), train=(X_tr, y_tr), val=(X_te, y_te),
                loss="cross_entropy", name="wine_mlp", epochs=30)


EXAMPLES: dict[str, Callable[[], Task]] = {
    "digits_mlp": digits_mlp,
    "digits_cnn": digits_cnn,
    "digits_lstm": digits_lstm,
    "diabetes_mlp": diabetes_mlp,
    "breast_cancer_mlp": breast_cancer_mlp,
    "wine_mlp": wine_mlp,
}
