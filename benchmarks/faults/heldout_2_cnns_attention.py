"""A second held-out fault set, written after the first (``heldout_1_forum_style.py``) was
scored once and before any change that score suggested; never tuned on.

Same rules as ``heldout_1_forum_style.py``: programs in the style of forum posts, each faulty
one naming the families a right diagnosis points at; correct ones (recurrent,
sequence-to-sequence, float64, attention) must get no error. Data is synthesised here or comes
from scikit-learn datasets and generators used by neither the bundled examples nor the first
set's same programs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from triage.task import Task

from ._common import ADAM, PLAIN_SGD, Program, bumps, split, standardise


def _sensors(n: int = 1200, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Raw sensor readings (pressure ~1013 hPa, temperature ~290 K, humidity %, rpm)."""
    rng = np.random.default_rng(seed)
    pressure = rng.normal(1013, 8, n)
    temperature = rng.normal(290, 6, n)
    humidity = rng.uniform(10, 95, n)
    rpm = rng.normal(3000, 400, n)
    score = ((pressure - 1013) / 8 - (temperature - 290) / 6 + (rpm - 3000) / 400
             + rng.normal(0, 0.5, n))
    return np.stack([pressure, temperature, humidity, rpm], 1).astype(np.float32), \
        (score > 0).astype(np.int64)


def _waves(n: int = 800, seed: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Regression on 12 smooth features."""
    from sklearn.datasets import make_friedman2

    X, y = make_friedman2(n_samples=n, noise=0.0, random_state=seed)
    X = (X - X.mean(0)) / X.std(0)
    return X.astype(np.float32), ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1)


def _classes(n: int = 1500, features: int = 24, classes: int = 5, seed: int = 13
             ) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=features, n_informative=12,
                               n_classes=classes, n_clusters_per_class=1, random_state=seed)
    X, y, Xv, yv = split(X, y.astype(np.int64))
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def _net(n_in: int, n_out: int, hidden: int = 48, act: type = nn.ReLU,
         tail: tuple[nn.Module, ...] = ()) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), act(), nn.Linear(hidden, hidden), act(),
                         nn.Linear(hidden, n_out), *tail)


class _Conv(nn.Module):
    def __init__(self, act: Callable[[torch.Tensor], torch.Tensor] = torch.relu,
                 out: int = 2, tail: nn.Module | None = None) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 3, padding=1), nn.Conv2d(6, 12, 3, padding=1)
        self.fc = nn.Linear(12 * 5 * 5, out)
        self.act, self.tail = act, tail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(self.act(self.c2(self.act(self.c1(x)))), 2)
        out = self.fc(h.flatten(1))
        return self.tail(out) if self.tail is not None else out


# -- faulty ---------------------------------------------------------------------------------

def bumps_dense1_softmax() -> Task:
    X, y = bumps()
    col = y.astype(np.float32).reshape(-1, 1)
    return Task(model=lambda: _Conv(out=1, tail=nn.Softmax(dim=-1)), train=(X[:720], col[:720]),
                val=(X[720:], col[720:]), loss=nn.BCELoss(), name="bumps_dense1_softmax",
                epochs=10)


def waves_sgd_1e3() -> Task:
    X, y = _waves()
    X, y, Xv, yv = split(X, y)
    return Task(model=lambda: _net(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="waves_sgd_1e3", epochs=8)


def adagrad_low_lr() -> Task:
    X, y, Xv, yv = _classes()
    return Task(model=lambda: _net(24, 5), train=(X, y), val=(Xv, yv), name="adagrad_low_lr",
                epochs=10)


def sigmoid_normal3_init() -> Task:
    X, y, Xv, yv = _classes(seed=14)

    def model() -> nn.Module:
        net = _net(24, 5, hidden=96, act=nn.Sigmoid)
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 3.0)
        return net
    return Task(model=model, train=(X, y), val=(Xv, yv), name="sigmoid_normal3_init",
                epochs=15)


def tanh_cnn_unit_init() -> Task:
    X, y = bumps(seed=1)

    def model() -> nn.Module:
        net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(16 * 5 * 5, 64), nn.Tanh(),
                            nn.Linear(64, 2))
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 1.0)
        return net
    return Task(model=model, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="tanh_cnn_unit_init", epochs=10)


def conv_without_activations() -> Task:
    X, y = bumps(seed=2)
    return Task(model=lambda: _Conv(act=lambda t: t), train=(X[:720], y[:720]),
                val=(X[720:], y[720:]), name="conv_without_activations", epochs=10)


def softmax_mse_onehot() -> Task:
    X, y, Xv, yv = _classes(seed=15)
    onehot = lambda t: np.eye(5, dtype=np.float32)[t]  # noqa: E731
    return Task(model=lambda: _net(24, 5, tail=(nn.Softmax(dim=1),)), train=(X, onehot(y)),
                val=(Xv, onehot(yv)), loss=nn.MSELoss(), name="softmax_mse_onehot", epochs=15)


def l1_on_float_labels() -> Task:
    X, y, Xv, yv = _classes(seed=16)
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: _net(24, 1), train=(X, col(y)), val=(Xv, col(yv)),
                loss=F.l1_loss, name="l1_on_float_labels", epochs=15)


def bce_on_counts() -> Task:
    """A count target (0..40) fed to BCE-with-logits, as if it were a label."""
    rng = np.random.default_rng(17)
    X = rng.normal(size=(1000, 8)).astype(np.float32)
    y = rng.poisson(np.exp(1.5 + 0.8 * X[:, :1])).clip(0, 40).astype(np.float32)
    X, y, Xv, yv = split(X, y)
    return Task(model=lambda: _net(8, 1), train=(X, y), val=(Xv, yv), loss="bce_with_logits",
                name="bce_on_counts", epochs=15)


def raw_sensor_table() -> Task:
    X, y = _sensors()
    X, y, Xv, yv = split(X, y)
    return Task(model=lambda: _net(4, 2), train=(X, y), val=(Xv, yv), name="raw_sensor_table",
                epochs=15)


def target_in_thousands() -> Task:
    X, y = _waves(seed=18)
    X, y, Xv, yv = split(X, y * 900 + 5000)
    return Task(model=lambda: _net(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="target_in_thousands", epochs=15)


def val_pixels_not_divided() -> Task:
    """Training images divided by 255; the validation images were not."""
    X, y = bumps(seed=3)
    return Task(model=_Conv, train=(X[:720], y[:720]), val=(X[720:] * 255, y[720:]),
                name="val_pixels_not_divided", epochs=10)


def adam_lr_one() -> Task:
    X, y, Xv, yv = _classes(seed=19)
    return Task(model=lambda: _net(24, 5), train=(X, y), val=(Xv, yv), name="adam_lr_one",
                epochs=10)


def sigmoid_head_standardised_target() -> Task:
    X, y = _waves(seed=20)
    X, y, Xv, yv = split(X, y)
    return Task(model=lambda: _net(4, 1, tail=(nn.Sigmoid(),)), train=(X, y), val=(Xv, yv),
                loss="mse", name="sigmoid_head_standardised_target", epochs=15)


def relu_on_logits() -> Task:
    X, y, Xv, yv = _classes(seed=21)
    return Task(model=lambda: _net(24, 5, tail=(nn.ReLU(),)), train=(X, y), val=(Xv, yv),
                name="relu_on_logits", epochs=15)


def nan_in_targets() -> Task:
    X, y = _waves(seed=22)
    y = y.copy()
    y[np.random.default_rng(23).integers(0, len(y), 15)] = np.nan
    X, y, Xv, yv = split(X, y)
    return Task(model=lambda: _net(4, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="nan_in_targets", epochs=15)


FAULTS: dict[str, Program] = {
    "bumps_dense1_softmax": Program(bumps_dense1_softmax, ("activation",), {**ADAM, "lr": 1e-3}),
    "waves_sgd_1e3": Program(waves_sgd_1e3, ("learning_rate",),
                             {**PLAIN_SGD, "lr": 1e-3, "batch_size": 64}),
    "adagrad_low_lr": Program(adagrad_low_lr, ("learning_rate",),
                              {"optimizer": "adagrad", "momentum": 0.0, "nesterov": False,
                               "lr": 1e-3}),
    "sigmoid_normal3_init": Program(sigmoid_normal3_init, ("init", "activation"), {"lr": 0.01}),
    "tanh_cnn_unit_init": Program(tanh_cnn_unit_init, ("init", "activation"), {"lr": 0.01}),
    "conv_without_activations": Program(conv_without_activations, ("activation",),
                                        {**ADAM, "lr": 1e-3}),
    "softmax_mse_onehot": Program(softmax_mse_onehot, ("loss",), {**ADAM, "lr": 1e-3}),
    "l1_on_float_labels": Program(l1_on_float_labels, ("loss",), {**ADAM, "lr": 1e-3}),
    "bce_on_counts": Program(bce_on_counts, ("loss",), {**ADAM, "lr": 1e-3}),
    "raw_sensor_table": Program(raw_sensor_table, ("data",), {**ADAM, "lr": 1e-3}),
    "target_in_thousands": Program(target_in_thousands, ("data",), {**ADAM, "lr": 1e-2}),
    "val_pixels_not_divided": Program(val_pixels_not_divided, ("data",), {"lr": 0.05}),
    "adam_lr_one": Program(adam_lr_one, ("learning_rate",), {**ADAM, "lr": 1.0}),
    "sigmoid_head_standardised_target": Program(sigmoid_head_standardised_target,
                                                ("activation",), {**ADAM, "lr": 1e-3}),
    "relu_on_logits": Program(relu_on_logits, ("activation",), {**ADAM, "lr": 1e-3}),
    "nan_in_targets": Program(nan_in_targets, ("data",), {**ADAM, "lr": 1e-3}),
}


# -- correct --------------------------------------------------------------------------------

class _GRUClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru, self.head = nn.GRU(2, 32, batch_first=True), nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0][:, -1])


def gru_sequence_classifier() -> Task:
    rng = np.random.default_rng(24)
    X = rng.normal(size=(900, 30, 2)).astype(np.float32)
    y = (X[:, :, 0].sum(1) > X[:, :, 1].sum(1)).astype(np.int64)
    return Task(model=_GRUClassifier, train=(X[:720], y[:720]), val=(X[720:], y[720:]),
                name="gru_sequence_classifier", epochs=15)


def float64_cnn() -> Task:
    X, y = bumps(seed=4)
    X = ((X - X.mean()) / X.std()).astype(np.float64)
    return Task(model=lambda: _Conv().double(), train=(X[:720], y[:720]),
                val=(X[720:], y[720:]), name="float64_cnn", epochs=10)


class _TinyTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 32)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(1))


def transformer_token_count() -> Task:
    rng = np.random.default_rng(25)
    tokens = rng.integers(0, 10, size=(1000, 12)).astype(np.int64)
    y = ((tokens == 7).sum(1) >= 2).astype(np.int64)
    return Task(model=_TinyTransformer, train=(tokens[:800], y[:800]),
                val=(tokens[800:], y[800:]), name="transformer_token_count", epochs=10)


def sensor_table_sigmoid_bce() -> Task:
    X, y = _sensors(seed=26)
    X, y, Xv, yv = split(X, y.astype(np.float32).reshape(-1, 1))
    X, Xv = standardise(X, Xv)
    return Task(model=lambda: _net(4, 1, tail=(nn.Sigmoid(),)), train=(X, y), val=(Xv, yv),
                loss=nn.BCELoss(), name="sensor_table_sigmoid_bce", epochs=15)


class _CopyLSTM(nn.Module):
    """An LSTM encoder-decoder that copies a token sequence (teacher forcing on the input)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(9, 24)
        self.encoder = nn.LSTM(24, 48, batch_first=True)
        self.decoder = nn.LSTM(24, 48, batch_first=True)
        self.out = nn.Linear(48, 9)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.embed(src))
        shifted = torch.cat([torch.zeros_like(src[:, :1]), src[:, :-1]], dim=1)
        out, _ = self.decoder(self.embed(shifted), state)
        return self.out(out)


def seq2seq_lstm_copy() -> Task:
    rng = np.random.default_rng(27)
    src = rng.integers(1, 9, size=(1000, 6)).astype(np.int64)
    return Task(model=_CopyLSTM, train=(src[:800], src[:800]), val=(src[800:], src[800:]),
                loss=lambda out, y: F.cross_entropy(out.reshape(-1, 9), y.reshape(-1)),
                name="seq2seq_lstm_copy", epochs=15)


CLEAN: dict[str, Program] = {
    "gru_sequence_classifier": Program(gru_sequence_classifier, (), {**ADAM, "lr": 3e-3}),
    "float64_cnn": Program(float64_cnn, (), {"lr": 0.05}),
    "transformer_token_count": Program(transformer_token_count, (), {**ADAM, "lr": 1e-3}),
    "sensor_table_sigmoid_bce": Program(sensor_table_sigmoid_bce, (), {**ADAM, "lr": 1e-2}),
    "seq2seq_lstm_copy": Program(seq2seq_lstm_copy, (), {**ADAM, "lr": 1e-2}),
}
