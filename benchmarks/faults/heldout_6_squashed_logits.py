"""A sixth held-out fault set, written after ``heldout_5_keras_defaults.py`` was scored once and
before the changes its misses suggest (learning rates far too low, squashing activations on
the logits, constant inits, tiny inits); never tuned on.

Same rules as ``heldout_1_forum_style.py``: forum-style programs, each faulty one naming the
families a right diagnosis points at; the correct ones (recurrent, float64, dropout and
batch-norm, tagging, bag-of-embeddings) must get no error.
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


def _images(n: int = 900, seed: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """10x10 images in 0..1: a bright 3x3 patch in one of four quadrants (the label)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.3, size=(n, 1, 10, 10))
    y = rng.integers(0, 4, n)
    for i, q in enumerate(y):
        r, c = 1 + 5 * (q // 2) + rng.integers(0, 2), 1 + 5 * (q % 2) + rng.integers(0, 2)
        X[i, 0, r:r + 3, c:c + 3] = 1.0
    return X.astype(np.float32), y.astype(np.int64)


def _cnn(act: type = nn.ReLU) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), act(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 5 * 5, 4))


def _regression(n: int = 1000, features: int = 6, seed: int = 81) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    y = (X[:, 0] - 2 * X[:, 1] + np.sin(X[:, 2]) + rng.normal(0, 0.1, n)).astype(np.float32)
    X, y, Xv, yv = split(X, ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1))
    return X, y, Xv, yv


def _sequences(n: int, length: int, seed: int, first: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Random walks labelled by the sign of their first (or last) ten steps' sum."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, length, 1)).astype(np.float32)
    part = X[:, :10, 0] if first else X[:, -10:, 0]
    return X, (part.sum(axis=1) > 0).astype(np.int64)


class _LastStep(nn.Module):
    def __init__(self, rnn: type = nn.GRU, dtype: torch.dtype = torch.float32,
                 out: int = 2) -> None:
        super().__init__()
        self.rnn = rnn(1, 16, batch_first=True, dtype=dtype)
        self.head = nn.Linear(16, out, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][:, -1])


# -- faulty ---------------------------------------------------------------------------------

def sgd_1e4_cnn() -> Task:
    X, y = _images()
    return Task(model=_cnn, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="sgd_1e4_cnn", epochs=10)


def adamw_lr_half() -> Task:
    X, y, Xv, yv = classification(1200, 12, classes=3, seed=82)
    return Task(model=lambda: mlp(12, 3, hidden=64), train=(X, y), val=(Xv, yv),
                name="adamw_lr_half", epochs=10)


def adagrad_1e4_regression() -> Task:
    X, y, Xv, yv = _regression()
    return Task(model=lambda: mlp(6, 1, hidden=64), train=(X, y), val=(Xv, yv), loss="mse",
                name="adagrad_1e4_regression", epochs=10)


def sigmoid_logits_cnn() -> Task:
    X, y = _images(seed=83)
    net = lambda: nn.Sequential(_cnn(), nn.Sigmoid())  # noqa: E731
    return Task(model=net, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="sigmoid_logits_cnn", epochs=10)


def relu6_regression_head() -> Task:
    X, y, Xv, yv = _regression(seed=84)
    return Task(model=lambda: mlp(6, 1, tail=(nn.ReLU6(),)), train=(X, y), val=(Xv, yv),
                loss="mse", name="relu6_regression_head", epochs=20)


def softplus_head_centred_target() -> Task:
    X, y, Xv, yv = _regression(seed=85)
    return Task(model=lambda: mlp(6, 1, tail=(nn.Softplus(),)), train=(X, y), val=(Xv, yv),
                loss=nn.L1Loss(), name="softplus_head_centred_target", epochs=20)


def softmax_into_nll() -> Task:
    """Probabilities, not log-probabilities, into ``NLLLoss``."""
    X, y, Xv, yv = classification(1200, 10, classes=4, seed=86)
    return Task(model=lambda: mlp(10, 4, tail=(nn.Softmax(dim=1),)), train=(X, y),
                val=(Xv, yv), loss=nn.NLLLoss(), name="softmax_into_nll", epochs=20)


def bce_on_percentages() -> Task:
    X, y, Xv, yv = _regression(seed=87)
    pct = lambda t: (50 + 15 * t).astype(np.float32)  # noqa: E731
    return Task(model=lambda: mlp(6, 1), train=(X, pct(y)), val=(Xv, pct(yv)),
                loss=nn.BCEWithLogitsLoss(), name="bce_on_percentages", epochs=20)


def huber_on_class_ids() -> Task:
    X, y, Xv, yv = classification(1200, 10, classes=6, seed=88)
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: mlp(10, 1), train=(X, col(y)), val=(Xv, col(yv)),
                loss=nn.HuberLoss(), name="huber_on_class_ids", epochs=20)


def images_times_255() -> Task:
    X, y = _images(seed=89)
    X = (X * 255).astype(np.float32)
    return Task(model=_cnn, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="images_times_255", epochs=10)


def target_is_a_year() -> Task:
    X, y, Xv, yv = _regression(seed=90)
    year = lambda t: (2000 + 8 * t).astype(np.float32)  # noqa: E731
    return Task(model=lambda: mlp(6, 1), train=(X, year(y)), val=(Xv, year(yv)),
                loss="mse", name="target_is_a_year", epochs=20)


def val_images_scaled_twice() -> Task:
    """Validation images divided by 255 once more than the training ones."""
    X, y = _images(seed=91)
    return Task(model=_cnn, train=(X[:720], y[:720]), val=(X[720:] / 255, y[720:]),
                name="val_images_scaled_twice", epochs=10)


def log_of_zero_feature() -> Task:
    """A count column log-transformed without +1: counts of zero become -inf."""
    X, y, Xv, yv = classification(1200, 6, seed=92)
    rng = np.random.default_rng(92)
    counts = lambda n: np.log(rng.poisson(2.0, (n, 1))).astype(np.float32)  # noqa: E731
    with np.errstate(divide="ignore"):
        X, Xv = np.hstack([X, counts(len(X))]), np.hstack([Xv, counts(len(Xv))])
    return Task(model=lambda: mlp(7, 2), train=(X, y), val=(Xv, yv),
                name="log_of_zero_feature", epochs=20)


def _ones(m: nn.Linear) -> None:
    nn.init.ones_(m.weight)
    nn.init.zeros_(m.bias)


def ones_init_mlp() -> Task:
    X, y, Xv, yv = classification(1200, 12, classes=3, seed=93)
    return Task(model=lambda: reinit(mlp(12, 3, hidden=64), _ones), train=(X, y),
                val=(Xv, yv), name="ones_init_mlp", epochs=20)


def sigmoid_normal_two_four_layers() -> Task:
    X, y, Xv, yv = classification(1200, 16, classes=3, seed=94)
    return Task(model=lambda: reinit(mlp(16, 3, hidden=128, act=nn.Sigmoid, depth=4),
                                      lambda m: nn.init.normal_(m.weight, 0.0, 2.0)),
                train=(X, y), val=(Xv, yv), name="sigmoid_normal_two_four_layers", epochs=20)


def gru_over_400_steps() -> Task:
    X, y = _sequences(400, 400, seed=95)
    return Task(model=_LastStep, train=(X[:320], y[:320]), val=(X[320:], y[320:]),
                name="gru_over_400_steps", epochs=5)


def matmul_chain_functional() -> Task:
    """Weights as bare parameters multiplied in a row, with no activation between them."""
    rng = np.random.default_rng(96)
    X = rng.normal(size=(1000, 2)).astype(np.float32)
    y = (np.hypot(X[:, 0], X[:, 1]) > 1.2).astype(np.int64)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w1 = nn.Parameter(torch.randn(2, 32) * 0.5)
            self.w2 = nn.Parameter(torch.randn(32, 32) * 0.2)
            self.w3 = nn.Parameter(torch.randn(32, 2) * 0.2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x @ self.w1 @ self.w2 @ self.w3

    return Task(model=Net, train=(X[:800], y[:800]), val=(X[800:], y[800:]),
                name="matmul_chain_functional", epochs=20)


# -- correct --------------------------------------------------------------------------------

def embedding_bag_topics() -> Task:
    rng = np.random.default_rng(100)
    y = rng.integers(0, 4, 1000)
    words = np.where(rng.random((1000, 10)) < 0.4, rng.integers(0, 8, (1000, 10)) + 8 * y[:, None],
                     rng.integers(32, 60, (1000, 10))).astype(np.int64)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bag = nn.EmbeddingBag(60, 16, mode="mean")
            self.head = nn.Linear(16, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.bag(x))

    return Task(model=Net, train=(words[:800], y[:800]), val=(words[800:], y[800:]),
                name="embedding_bag_topics", epochs=10)


def float64_gru_classifier() -> Task:
    X, y = _sequences(600, 30, seed=101, first=False)
    X = X.astype(np.float64)
    return Task(model=lambda: _LastStep(dtype=torch.float64), train=(X[:480], y[:480]),
                val=(X[480:], y[480:]), name="float64_gru_classifier", epochs=10)


def dropout_batchnorm_cnn() -> Task:
    X, y = _images(seed=102)
    net = lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),  # noqa: E731
                                nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3),
                                nn.Linear(8 * 5 * 5, 4))
    return Task(model=net, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="dropout_batchnorm_cnn", epochs=10)


def gru_tagger_previous_sign() -> Task:
    """Tagging: each position's label is the sign of the previous position's value."""
    rng = np.random.default_rng(103)
    X = rng.normal(size=(800, 24, 1)).astype(np.float32)
    Y = np.zeros((800, 24), dtype=np.int64)
    Y[:, 1:] = (X[:, :-1, 0] > 0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(1, 16, batch_first=True)
            self.head = nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.gru(x)[0]).transpose(1, 2)  # (N, C, T) for cross-entropy

    return Task(model=Net, train=(X[:640], Y[:640]), val=(X[640:], Y[640:]),
                name="gru_tagger_previous_sign", epochs=10)


def nesterov_table() -> Task:
    X, y, Xv, yv = classification(1000, 12, classes=3, seed=104)
    X, Xv = standardise(X, Xv)
    return Task(model=lambda: mlp(12, 3, hidden=64), train=(X, y), val=(Xv, yv),
                name="nesterov_table", epochs=20)


FAULTS: dict[str, Program] = {
    "sgd_1e4_cnn": Program(sgd_1e4_cnn, ("learning_rate",), {**PLAIN_SGD, "lr": 1e-4}),
    "adamw_lr_half": Program(adamw_lr_half, ("learning_rate",), {**ADAM, "optimizer": "adamw",
                                                                  "lr": 0.5}),
    "adagrad_1e4_regression": Program(adagrad_1e4_regression, ("learning_rate",),
                                      {**ADAM, "optimizer": "adagrad", "lr": 1e-4}),
    "sigmoid_logits_cnn": Program(sigmoid_logits_cnn, ("activation",), {**ADAM, "lr": 1e-3}),
    "relu6_regression_head": Program(relu6_regression_head, ("activation",),
                                     {**ADAM, "lr": 1e-3}),
    "softplus_head_centred_target": Program(softplus_head_centred_target, ("activation",),
                                            {**ADAM, "lr": 1e-3}),
    "softmax_into_nll": Program(softmax_into_nll, ("activation", "loss"), {**ADAM, "lr": 1e-3}),
    "bce_on_percentages": Program(bce_on_percentages, ("loss",), {**ADAM, "lr": 1e-3}),
    "huber_on_class_ids": Program(huber_on_class_ids, ("loss",), {**ADAM, "lr": 1e-3}),
    "images_times_255": Program(images_times_255, ("data",), {"lr": 0.01}),
    "target_is_a_year": Program(target_is_a_year, ("data",), {**ADAM, "lr": 1e-3}),
    "val_images_scaled_twice": Program(val_images_scaled_twice, ("data",), {**ADAM, "lr": 1e-3}),
    "log_of_zero_feature": Program(log_of_zero_feature, ("data",), {**ADAM, "lr": 1e-3}),
    "ones_init_mlp": Program(ones_init_mlp, ("init",), {"lr": 0.01}),
    "sigmoid_normal_two_four_layers": Program(sigmoid_normal_two_four_layers,
                                              ("init", "activation"), {"lr": 0.05}),
    "gru_over_400_steps": Program(gru_over_400_steps, ("model",), {**ADAM, "lr": 1e-3}),
    "matmul_chain_functional": Program(matmul_chain_functional, ("activation",),
                                       {**ADAM, "lr": 1e-2}),
}

CLEAN: dict[str, Program] = {
    "embedding_bag_topics": Program(embedding_bag_topics, (), {**ADAM, "lr": 1e-2}),
    "float64_gru_classifier": Program(float64_gru_classifier, (), {**ADAM, "lr": 3e-3}),
    "dropout_batchnorm_cnn": Program(dropout_batchnorm_cnn, (), {**ADAM, "lr": 3e-3}),
    "gru_tagger_previous_sign": Program(gru_tagger_previous_sign, (), {**ADAM, "lr": 1e-2}),
    "nesterov_table": Program(nesterov_table, (), {"lr": 0.05}),
}
