"""A fifth held-out fault set, written while ``heldout_4_slow_lr_init.py`` was being scored for
the first time and before any change its misses suggest; never tuned on.

Same rules as ``heldout_1_forum_style.py``: forum-style programs (Keras habits, raw tables,
wrong heads, default settings that do not fit the problem), each faulty one naming the families
a right diagnosis points at; the correct ones (recurrent, sequence-to-sequence, float64,
batch-norm, 1-D convolution) must get no error.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from triage.task import Task

from ._common import (
    ADAM,
    PLAIN_SGD,
    Program,
    classification,
    mlp,
    reinit,
    split,
    standardise,
)


def _blobs(n: int = 1200, classes: int = 4, features: int = 8, seed: int = 50
           ) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, centers=classes, n_features=features, cluster_std=2.5,
                      random_state=seed)
    X, y, Xv, yv = split(X.astype(np.float32), y.astype(np.int64))
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def _tokens(n: int = 900, length: int = 16, vocab: int = 40, seed: int = 51
            ) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences labelled by whether token 7 occurs before token 9."""
    rng = np.random.default_rng(seed)
    X = rng.integers(10, vocab, size=(n, length))
    y = rng.integers(0, 2, n)
    for i in range(n):
        a, b = sorted(rng.choice(length, 2, replace=False))
        X[i, a], X[i, b] = (7, 9) if y[i] else (9, 7)
    return X.astype(np.int64), y.astype(np.int64)


def _housing(n: int = 1000, seed: int = 52) -> tuple[np.ndarray, np.ndarray]:
    """Rooms, area (m^2), age (years), distance (km) and a price that depends on them."""
    rng = np.random.default_rng(seed)
    rooms = rng.integers(1, 7, n).astype(float)
    area = rooms * 25 + rng.normal(0, 10, n)
    age = rng.uniform(0, 80, n)
    dist = rng.uniform(0.5, 30, n)
    price = 3000 * area - 800 * age - 4000 * dist + rng.normal(0, 20_000, n) + 150_000
    return np.stack([rooms, area, age, dist], 1).astype(np.float32), price.astype(np.float32)


class _Embed(nn.Module):
    def __init__(self, vocab: int = 40, rnn: type = nn.GRU) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = rnn(16, 32, batch_first=True)
        self.head = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out[:, -1])


# -- faulty ---------------------------------------------------------------------------------

def adam_1e5_gru_text() -> Task:
    X, y = _tokens()
    return Task(model=_Embed, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="adam_1e5_gru_text", epochs=5)


def sgd_momentum_lr_three() -> Task:
    X, y, Xv, yv = _blobs()
    return Task(model=lambda: mlp(8, 4, hidden=64), train=(X, y), val=(Xv, yv),
                name="sgd_momentum_lr_three", epochs=20)


def rmsprop_lr_tenth_cnn() -> Task:
    rng = np.random.default_rng(53)
    X = rng.normal(size=(800, 1, 12, 12)).astype(np.float32)
    y = (X[:, 0, :6].mean(axis=(1, 2)) > X[:, 0, 6:].mean(axis=(1, 2))).astype(np.int64)
    net = lambda: nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.Flatten(),  # noqa: E731
                                nn.Linear(16 * 10 * 10, 2))
    return Task(model=net, train=(X[:640], y[:640]), val=(X[640:], y[640:]),
                name="rmsprop_lr_tenth_cnn", epochs=10)


def mse_on_five_class_ids() -> Task:
    X, y, Xv, yv = _blobs(classes=5, seed=54)
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: mlp(8, 1), train=(X, col(y)), val=(Xv, col(yv)), loss="mse",
                name="mse_on_five_class_ids", epochs=20)


def bce_on_labels_zero_to_three() -> Task:
    X, y, Xv, yv = _blobs(seed=55)
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: mlp(8, 1), train=(X, col(y)), val=(Xv, col(yv)),
                loss=nn.BCEWithLogitsLoss(), name="bce_on_labels_zero_to_three", epochs=20)


def tanh_logits_into_cross_entropy() -> Task:
    X, y, Xv, yv = classification(1200, 20, classes=6, seed=56)
    return Task(model=lambda: mlp(20, 6, tail=(nn.Tanh(),)), train=(X, y), val=(Xv, yv),
                name="tanh_logits_into_cross_entropy", epochs=20)


def softmax_over_the_batch() -> Task:
    """``nn.Softmax(dim=0)``: each class's probabilities sum to one over the batch, and the
    log of them goes to NLLLoss."""
    X, y, Xv, yv = _blobs(seed=57)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = mlp(8, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.log(torch.softmax(self.body(x), dim=0))

    return Task(model=Net, train=(X, y), val=(Xv, yv), loss=nn.NLLLoss(),
                name="softmax_over_the_batch", epochs=20)


def dense1_sigmoid_four_classes() -> Task:
    """Keras' ``Dense(1, activation='sigmoid')`` with 'mse' on the class ids 0..3."""
    X, y, Xv, yv = _blobs(seed=58)
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: mlp(8, 1, tail=(nn.Sigmoid(),)), train=(X, col(y)),
                val=(Xv, col(yv)), loss="mse", name="dense1_sigmoid_four_classes",
                epochs=20)


def epoch_seconds_feature() -> Task:
    """A timestamp column in Unix seconds (~1.7e9) beside standardised features."""
    X, y, Xv, yv = classification(1200, 6, seed=59)
    rng = np.random.default_rng(59)
    stamp = lambda n: (1.7e9 + rng.uniform(0, 3e7, (n, 1))).astype(np.float32)  # noqa: E731
    return Task(model=lambda: mlp(7, 2), train=(np.hstack([X, stamp(len(X))]), y),
                val=(np.hstack([Xv, stamp(len(Xv))]), yv), name="epoch_seconds_feature",
                epochs=20)


def price_in_dollars() -> Task:
    X, price = _housing()
    X, y, Xv, yv = split(X, price.reshape(-1, 1))
    X, Xv = standardise(X, Xv)
    return Task(model=lambda: mlp(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="price_in_dollars", epochs=30)


def log_target_train_only() -> Task:
    """The training prices were log-transformed; the validation prices were not."""
    X, price = _housing(seed=60)
    X, y, Xv, yv = split(X, price.reshape(-1, 1))
    X, Xv = standardise(X, Xv)
    y = np.log(np.clip(y, 1.0, None)).astype(np.float32)
    return Task(model=lambda: mlp(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="log_target_train_only", epochs=30)


def missing_as_minus_999() -> Task:
    """Missing values coded as -999 in two of eight standardised columns."""
    X, y, Xv, yv = classification(1200, 8, seed=61)
    rng = np.random.default_rng(61)
    for A in (X, Xv):
        A[:, 2:4][rng.random((len(A), 2)) < 0.2] = -999.0
    return Task(model=lambda: mlp(8, 2), train=(X, y), val=(Xv, yv),
                name="missing_as_minus_999", epochs=20)


def _constant(m: nn.Linear) -> None:  # Keras: a constant kernel, zero biases
    nn.init.constant_(m.weight, 0.1)
    nn.init.zeros_(m.bias)


def constant_point_one_init() -> Task:
    X, y, Xv, yv = _blobs(seed=62)
    return Task(model=lambda: reinit(mlp(8, 4, hidden=64), _constant), train=(X, y),
                val=(Xv, yv), name="constant_point_one_init", epochs=20)


def relu_tiny_normal_init() -> Task:
    X, y, Xv, yv = classification(1200, 20, classes=3, seed=63)
    return Task(model=lambda: reinit(mlp(20, 3, hidden=64, depth=5),
                                      lambda m: nn.init.normal_(m.weight, 0.0, 0.001)),
                train=(X, y), val=(Xv, yv), name="relu_tiny_normal_init", epochs=20)


def tanh_unit_normal_three_layers() -> Task:
    X, y, Xv, yv = classification(1200, 30, classes=2, seed=64)
    return Task(model=lambda: reinit(mlp(30, 2, hidden=256, act=nn.Tanh, depth=3),
                                      lambda m: nn.init.normal_(m.weight, 0.0, 1.0)),
                train=(X, y), val=(Xv, yv), name="tanh_unit_normal_three_layers", epochs=20)


def lstm_over_600_steps() -> Task:
    rng = np.random.default_rng(65)
    X = rng.normal(size=(400, 600, 1)).astype(np.float32)
    y = (X[:, :20, 0].sum(axis=1) > 0).astype(np.int64)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(1, 16, batch_first=True)
            self.head = nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    return Task(model=Net, train=(X[:320], y[:320]), val=(X[320:], y[320:]),
                name="lstm_over_600_steps", epochs=5)


def two_linears_for_xor() -> Task:
    rng = np.random.default_rng(66)
    X = rng.uniform(-1, 1, size=(1000, 2)).astype(np.float32)
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return Task(model=lambda: nn.Sequential(nn.Linear(2, 16), nn.Linear(16, 2)),
                train=(X[:800], y[:800]), val=(X[800:], y[800:]), name="two_linears_for_xor",
                epochs=30)


# -- correct --------------------------------------------------------------------------------

def gru_order_classifier() -> Task:
    X, y = _tokens(seed=70)
    return Task(model=_Embed, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="gru_order_classifier", epochs=10)


def conv1d_signal() -> Task:
    rng = np.random.default_rng(71)
    t = np.linspace(0, 1, 64)
    freq = rng.integers(0, 3, 900)
    X = np.sin(2 * np.pi * (3 + 4 * freq)[:, None] * t) + rng.normal(0, 0.3, (900, 64))
    net = lambda: nn.Sequential(nn.Conv1d(1, 8, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(8),  # noqa: E731
                                nn.Flatten(), nn.Linear(64, 3))
    X = X.astype(np.float32)[:, None, :]
    return Task(model=net, train=(X[:720], freq[:720].astype(np.int64)),
                val=(X[720:], freq[720:].astype(np.int64)), name="conv1d_signal", epochs=10)


def float64_logistic() -> Task:
    X, y, Xv, yv = classification(800, 10, seed=72)
    return Task(model=lambda: nn.Linear(10, 2).double(), train=(X.astype(np.float64), y),
                val=(Xv.astype(np.float64), yv), name="float64_logistic", epochs=20)


def lstm_running_max() -> Task:
    """Sequence to sequence: each position's output is the running maximum so far."""
    rng = np.random.default_rng(73)
    X = rng.normal(size=(800, 20, 1)).astype(np.float32)
    Y = np.maximum.accumulate(X, axis=1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(1, 32, batch_first=True)
            self.head = nn.Linear(32, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.lstm(x)[0])

    return Task(model=Net, train=(X[:640], Y[:640]), val=(X[640:], Y[640:]), loss="mse",
                name="lstm_running_max", epochs=10)


def batchnorm_housing() -> Task:
    X, price = _housing(seed=74)
    X, y, Xv, yv = split(X, price.reshape(-1, 1))
    X, Xv = standardise(X, Xv)
    y, yv = standardise(y, yv)
    net = lambda: nn.Sequential(nn.Linear(4, 64), nn.BatchNorm1d(64), nn.ReLU(),  # noqa: E731
                                nn.Linear(64, 1))
    return Task(model=net, train=(X, y), val=(Xv, yv), loss="mse", name="batchnorm_housing",
                epochs=20)


FAULTS: dict[str, Program] = {
    "adam_1e5_gru_text": Program(adam_1e5_gru_text, ("learning_rate",), {**ADAM, "lr": 1e-5}),
    "sgd_momentum_lr_three": Program(sgd_momentum_lr_three, ("learning_rate",), {"lr": 3.0}),
    "rmsprop_lr_tenth_cnn": Program(rmsprop_lr_tenth_cnn, ("learning_rate",),
                                    {"optimizer": "rmsprop", "momentum": 0.0,
                                     "nesterov": False, "lr": 0.1}),
    "mse_on_five_class_ids": Program(mse_on_five_class_ids, ("loss",), {**ADAM, "lr": 1e-3}),
    "bce_on_labels_zero_to_three": Program(bce_on_labels_zero_to_three, ("loss",),
                                           {**ADAM, "lr": 1e-3}),
    "tanh_logits_into_cross_entropy": Program(tanh_logits_into_cross_entropy, ("activation",),
                                              {**ADAM, "lr": 1e-3}),
    "softmax_over_the_batch": Program(softmax_over_the_batch, ("activation", "loss"),
                                      {**ADAM, "lr": 1e-3}),
    "dense1_sigmoid_four_classes": Program(dense1_sigmoid_four_classes, ("activation", "loss"),
                                           {**ADAM, "lr": 1e-3}),
    "epoch_seconds_feature": Program(epoch_seconds_feature, ("data",), {**ADAM, "lr": 1e-3}),
    "price_in_dollars": Program(price_in_dollars, ("data",), {**ADAM, "lr": 1e-3}),
    "log_target_train_only": Program(log_target_train_only, ("data",), {**ADAM, "lr": 1e-3}),
    "missing_as_minus_999": Program(missing_as_minus_999, ("data",), {"lr": 0.05}),
    "constant_point_one_init": Program(constant_point_one_init, ("init",), {"lr": 0.05}),
    "relu_tiny_normal_init": Program(relu_tiny_normal_init, ("init",), {"lr": 0.05}),
    "tanh_unit_normal_three_layers": Program(tanh_unit_normal_three_layers,
                                             ("init", "activation"), {"lr": 0.01}),
    "lstm_over_600_steps": Program(lstm_over_600_steps, ("model",), {**ADAM, "lr": 1e-3}),
    "two_linears_for_xor": Program(two_linears_for_xor, ("activation",), {**PLAIN_SGD,
                                                                         "lr": 0.1}),
}

CLEAN: dict[str, Program] = {
    "gru_order_classifier": Program(gru_order_classifier, (), {**ADAM, "lr": 3e-3}),
    "conv1d_signal": Program(conv1d_signal, (), {**ADAM, "lr": 3e-3}),
    "float64_logistic": Program(float64_logistic, (), {"lr": 0.1}),
    "lstm_running_max": Program(lstm_running_max, (), {**ADAM, "lr": 3e-3}),
    "batchnorm_housing": Program(batchnorm_housing, (), {**ADAM, "lr": 3e-3}),
}
