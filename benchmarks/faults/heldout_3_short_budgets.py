"""A third held-out fault set, written after ``heldout_1_forum_style.py`` and
``heldout_2_cnns_attention.py`` had both been scored and before the changes their shared
misses suggested (short-budget learning rates, saturation in one layer among several); never
tuned on.

Same rules as ``heldout_1_forum_style.py``: forum-style programs, each faulty one naming the
families a right diagnosis points at; correct ones (recurrent, sequence-to-sequence, float64,
multi-label) must get no error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from triage.task import Task

from ._common import ADAM, PLAIN_SGD, Program, bumps, split, standardise
from ._common import mlp as holdout_mlp


def _circles(n: int = 1200, seed: int = 30) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n, noise=0.08, factor=0.5, random_state=seed)
    X, y, Xv, yv = split(X.astype(np.float32), y.astype(np.int64))
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def _table(n: int = 1200, seed: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """Raw columns (income in dollars, age in years, years employed, debt in dollars) and a
    standardised credit score to regress."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.8, 0.4, n)
    age = rng.uniform(20, 70, n)
    employed = rng.uniform(0, 40, n)
    debt = rng.uniform(0, 50_000, n)
    score = np.log(income) + 0.02 * employed - debt / 40_000 + rng.normal(0, 0.1, n)
    score = (score - score.mean()) / score.std()
    return np.stack([income, age, employed, debt], 1).astype(np.float32), \
        score.astype(np.float32).reshape(-1, 1)


def _standard_table(seed: int = 31) -> tuple[np.ndarray, ...]:
    X, y = _table(seed=seed)
    X, y, Xv, yv = split(X, y)
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def _multilabel(n: int = 1000, seed: int = 32) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10)).astype(np.float32)
    Y = np.stack([X[:, 0] + X[:, 1] > 0, X[:, 2] * X[:, 3] > 0, X[:, 4] > 0.5], 1)
    return split(X, Y.astype(np.float32))


def _mlp(n_in: int, n_out: int, hidden: int = 64, **kw: Any) -> nn.Sequential:
    return holdout_mlp(n_in, n_out, hidden=hidden, **kw)


def _init(net: nn.Module, draw: str, scale: float) -> nn.Module:
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            if draw == "normal":
                nn.init.normal_(m.weight, 0.0, scale)
            else:
                nn.init.uniform_(m.weight, -scale, scale)
    return net


# -- faulty ---------------------------------------------------------------------------------

def regression_sgd_short() -> Task:
    X, y, Xv, yv = _standard_table()
    return Task(model=lambda: _mlp(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="regression_sgd_short", epochs=4)


def bumps_cnn_sgd_slow() -> Task:
    X, y = bumps(seed=5)
    return Task(model=lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                                            nn.MaxPool2d(2), nn.Flatten(),
                                            nn.Linear(8 * 5 * 5, 2)),
                train=(X[:720], y[:720]), val=(X[720:], y[720:]), name="bumps_cnn_sgd_slow",
                epochs=3)


def tanh_mlp_normal_half() -> Task:
    X, y, Xv, yv = _circles()
    return Task(model=lambda: _init(_mlp(2, 2, hidden=128, act=nn.Tanh, depth=4), "normal", 0.5),
                train=(X, y), val=(Xv, yv), name="tanh_mlp_normal_half", epochs=20)


def sigmoid_cnn_uniform_two() -> Task:
    X, y = bumps(seed=6)

    def model() -> nn.Module:
        net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Sigmoid(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(8 * 5 * 5, 32), nn.Sigmoid(),
                            nn.Linear(32, 2))
        return _init(net, "uniform", 2.0)
    return Task(model=model, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="sigmoid_cnn_uniform_two", epochs=10)


def log_softmax_one_unit() -> Task:
    X, y, Xv, yv = _circles(seed=33)
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: _mlp(2, 1, tail=(nn.LogSoftmax(dim=1),)), train=(X, col(y)),
                val=(Xv, col(yv)), loss=nn.BCEWithLogitsLoss(), name="log_softmax_one_unit",
                epochs=20)


def linear_stack_circles() -> Task:
    X, y, Xv, yv = _circles(seed=34)
    return Task(model=lambda: nn.Sequential(nn.Linear(2, 32), nn.Linear(32, 32),
                                            nn.Linear(32, 2)),
                train=(X, y), val=(Xv, yv), name="linear_stack_circles", epochs=20)


def smooth_l1_on_class_ids() -> Task:
    from sklearn.datasets import load_iris

    d = load_iris()
    X, y, Xv, yv = split(d.data, d.target.astype(np.float32).reshape(-1, 1), seed=3)
    X, Xv = standardise(X, Xv)
    return Task(model=lambda: _mlp(4, 1, hidden=16), train=(X, y), val=(Xv, yv),
                loss=nn.SmoothL1Loss(), name="smooth_l1_on_class_ids", epochs=40)


def bce_on_zscored_target() -> Task:
    X, y, Xv, yv = _standard_table(seed=35)
    return Task(model=lambda: _mlp(4, 1), train=(X, y), val=(Xv, yv),
                loss=nn.BCEWithLogitsLoss(), name="bce_on_zscored_target", epochs=20)


def income_table_raw() -> Task:
    X, y = _table(seed=36)
    X, y, Xv, yv = split(X, y)
    return Task(model=lambda: _mlp(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="income_table_raw", epochs=20)


def price_in_millions() -> Task:
    X, y, Xv, yv = _standard_table(seed=37)
    return Task(model=lambda: _mlp(4, 1), train=(X, y * 2e5 + 1.2e6),
                val=(Xv, yv * 2e5 + 1.2e6), loss="mse", name="price_in_millions", epochs=20)


def val_shifted() -> Task:
    """The validation split was standardised with its own mean plus a leftover offset."""
    X, y, Xv, yv = _standard_table(seed=38)
    return Task(model=lambda: _mlp(4, 1), train=(X, y), val=(Xv * 20 - 50, yv), loss="mse",
                name="val_shifted", epochs=20)


def sgd_lr_ten() -> Task:
    X, y, Xv, yv = _circles(seed=39)
    return Task(model=lambda: _mlp(2, 2), train=(X, y), val=(Xv, yv), name="sgd_lr_ten",
                epochs=20)


def tanh_head_wide_targets() -> Task:
    X, y, Xv, yv = _standard_table(seed=40)
    return Task(model=lambda: _mlp(4, 1, tail=(nn.Tanh(),)), train=(X, y * 3), val=(Xv, yv * 3),
                loss="mse", name="tanh_head_wide_targets", epochs=20)


def softmax_multilabel_bce_logits() -> Task:
    X, Y, Xv, Yv = _multilabel(seed=41)
    return Task(model=lambda: _mlp(10, 3, tail=(nn.Softmax(dim=1),)), train=(X, Y),
                val=(Xv, Yv), loss="bce_with_logits", name="softmax_multilabel_bce_logits",
                epochs=20)


def inf_in_inputs() -> Task:
    X, y, Xv, yv = _standard_table(seed=42)
    X = X.copy()
    X[np.random.default_rng(43).integers(0, len(X), 10), 2] = np.inf
    return Task(model=lambda: _mlp(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="inf_in_inputs", epochs=20)


FAULTS: dict[str, Program] = {
    "regression_sgd_short": Program(regression_sgd_short, ("learning_rate",),
                                    {**PLAIN_SGD, "lr": 5e-4, "batch_size": 128}),
    "bumps_cnn_sgd_slow": Program(bumps_cnn_sgd_slow, ("learning_rate",),
                                  {**PLAIN_SGD, "lr": 1e-3}),
    "tanh_mlp_normal_half": Program(tanh_mlp_normal_half, ("init", "activation"),
                                    {"lr": 0.01}),
    "sigmoid_cnn_uniform_two": Program(sigmoid_cnn_uniform_two, ("init", "activation"),
                                       {"lr": 0.05}),
    "log_softmax_one_unit": Program(log_softmax_one_unit, ("activation",), {**ADAM, "lr": 1e-3}),
    "linear_stack_circles": Program(linear_stack_circles, ("activation",), {**ADAM, "lr": 1e-3}),
    "smooth_l1_on_class_ids": Program(smooth_l1_on_class_ids, ("loss",),
                                      {**ADAM, "lr": 1e-2, "batch_size": 16}),
    "bce_on_zscored_target": Program(bce_on_zscored_target, ("loss",), {**ADAM, "lr": 1e-3}),
    "income_table_raw": Program(income_table_raw, ("data",), {**ADAM, "lr": 1e-3}),
    "price_in_millions": Program(price_in_millions, ("data",), {**ADAM, "lr": 1e-3}),
    "val_shifted": Program(val_shifted, ("data",), {**ADAM, "lr": 1e-3}),
    "sgd_lr_ten": Program(sgd_lr_ten, ("learning_rate",), {"lr": 10.0}),
    "tanh_head_wide_targets": Program(tanh_head_wide_targets, ("activation",),
                                      {**ADAM, "lr": 1e-3}),
    "softmax_multilabel_bce_logits": Program(softmax_multilabel_bce_logits, ("activation",),
                                             {**ADAM, "lr": 1e-3}),
    "inf_in_inputs": Program(inf_in_inputs, ("data",), {**ADAM, "lr": 1e-3}),
}


# -- correct --------------------------------------------------------------------------------

class _SumLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm, self.head = nn.LSTM(1, 32, batch_first=True), nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


def lstm_running_sum() -> Task:
    rng = np.random.default_rng(44)
    X = rng.normal(size=(800, 20, 1)).astype(np.float32)
    y = X.sum(1) / np.sqrt(20)
    return Task(model=_SumLSTM, train=(X[:640], y[:640]), val=(X[640:], y[640:]), loss="mse",
                name="lstm_running_sum", epochs=20)


def float64_circles_mlp() -> Task:
    X, y, Xv, yv = _circles(seed=45)
    return Task(model=lambda: _mlp(2, 2).double(), train=(X.astype(np.float64), y),
                val=(Xv.astype(np.float64), yv), name="float64_circles_mlp", epochs=20)


class _ShiftGRU(nn.Module):
    """Encoder-decoder GRU that outputs each token's successor (mod 8)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(8, 16)
        self.encoder, self.decoder = (nn.GRU(16, 32, batch_first=True) for _ in range(2))
        self.out = nn.Linear(32, 8)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.embed(src))
        return self.out(self.decoder(self.embed(src), state)[0])


def gru_successor() -> Task:
    rng = np.random.default_rng(46)
    src = rng.integers(0, 8, size=(1000, 7)).astype(np.int64)
    tgt = (src + 1) % 8
    return Task(model=_ShiftGRU, train=(src[:800], tgt[:800]), val=(src[800:], tgt[800:]),
                loss=lambda out, y: nn.functional.cross_entropy(out.reshape(-1, 8),
                                                                y.reshape(-1)),
                name="gru_successor", epochs=15)


def bumps_cnn_adam() -> Task:
    X, y = bumps(seed=7)
    X = (X - X.mean()) / X.std()
    return Task(model=lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                                            nn.MaxPool2d(2), nn.Flatten(),
                                            nn.Linear(8 * 5 * 5, 2)),
                train=(X[:720], y[:720]), val=(X[720:], y[720:]), name="bumps_cnn_adam",
                epochs=10)


def multilabel_bce() -> Task:
    X, Y, Xv, Yv = _multilabel(seed=47)
    return Task(model=lambda: _mlp(10, 3), train=(X, Y), val=(Xv, Yv), loss="bce_with_logits",
                name="multilabel_bce", epochs=30)


CLEAN: dict[str, Program] = {
    "lstm_running_sum": Program(lstm_running_sum, (), {**ADAM, "lr": 1e-2}),
    "float64_circles_mlp": Program(float64_circles_mlp, (), {"lr": 0.05}),
    "gru_successor": Program(gru_successor, (), {**ADAM, "lr": 1e-2}),
    "bumps_cnn_adam": Program(bumps_cnn_adam, (), {**ADAM, "lr": 3e-3}),
    "multilabel_bce": Program(multilabel_bce, (), {**ADAM, "lr": 1e-2}),
}
