"""A held-out fault set for doctor, written apart from ``seen_zoo.py`` and never tuned on.

Programs in the style of forum posts ported to PyTorch: Keras habits, tiny data, unscaled
tables, wrong heads, learning rates that are merely too low for the user's budget, and correct
programs doctor must leave alone (recurrent, sequence-to-sequence, float64). Each faulty
program names the families a right diagnosis points at (``triage.doctor.FAMILIES``); where two
readings are both right (a stack of linear layers trained with MSE on one-hot targets: the
missing activations and the loss), both are listed. Thresholds in ``triage/doctor`` are tuned
on ``seen_zoo.py`` only; this set is scored as it is (``doctor_faults.py --set holdout``).

Data comes from scikit-learn generators and datasets the bundled examples do not use (wine,
iris, moons, make_classification) or is synthesised here (tables, bar images, waves, tokens).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from triage.task import Task

from ._common import (
    ADAM,
    PLAIN_SGD,
    Program,
    classification,
    mlp,
    split,
    standardise,
)


def _wine() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_wine

    d = load_wine()
    X, y, Xv, yv = split(d.data, d.target.astype(np.int64))
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def _iris() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_iris

    d = load_iris()
    X, y, Xv, yv = split(d.data, d.target.astype(np.int64))
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def _moons(n: int = 1000) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.2, random_state=0)
    X, y, Xv, yv = split(X, y.astype(np.float32).reshape(-1, 1))
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def _bars(n: int = 600, size: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey-level images (0..255) of one horizontal (class 0) or vertical (class 1) bar."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 60, size=(n, 1, size, size))
    y = rng.integers(0, 2, n)
    where = rng.integers(1, size - 1, n)
    for i in range(n):
        if y[i]:
            X[i, 0, :, where[i]] = 255
        else:
            X[i, 0, where[i], :] = 255
    return X.astype(np.float32), y.astype(np.int64)


def _linear_regression(n: int = 1000, features: int = 10) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, 1)) * 0.5
    y = (X @ w + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return split(X, y)


def _smooth_regression(n: int = 800, features: int = 6) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(n, features))
    y = np.tanh(X[:, :1] * X[:, 1:2]) + np.cos(X[:, 2:3]) + 0.3 * X[:, 3:4]
    y = (y - y.mean()) / y.std()
    return split(X.astype(np.float32), y.astype(np.float32))


# -- learning rate too low for the user's budget ----------------------------------------------

def wide_mlp_plain_sgd() -> Task:
    """SGD 0.01 without momentum, a 512-wide MLP, batches of 1,000: 5 steps an epoch."""
    X, y, Xv, yv = classification(6000, 40, classes=4, seed=1)
    return Task(model=lambda: mlp(40, 4, hidden=512), train=(X, y), val=(Xv, yv),
                name="wide_mlp_plain_sgd", epochs=10)


def rmsprop_linear_regression() -> Task:
    """One linear layer, RMSprop 1e-3, 5 epochs: the weights move 1e-3 a step."""
    X, y, Xv, yv = _linear_regression()
    return Task(model=lambda: nn.Linear(10, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name="rmsprop_linear_regression", epochs=5)


def adam_five_epochs_iris() -> Task:
    X, y, Xv, yv = _iris()
    return Task(model=lambda: mlp(4, 3, hidden=16), train=(X, y), val=(Xv, yv),
                name="adam_five_epochs_iris", epochs=5)


# -- wrong heads and activations --------------------------------------------------------------

def keras_dense1_softmax() -> Task:
    """``Dense(1, activation='softmax')`` ported as Linear(16, 1) + Softmax(dim=1), BCELoss."""
    X, y, Xv, yv = _moons()
    return Task(model=lambda: mlp(2, 1, hidden=16, tail=(nn.Softmax(dim=1),)),
                train=(X, y), val=(Xv, yv), loss=nn.BCELoss(), name="keras_dense1_softmax",
                epochs=20)


class _OneUnitSoftmax(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(20, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.out(torch.relu(self.hidden(x))), dim=-1)


def functional_one_unit_softmax() -> Task:
    X, y, Xv, yv = classification(1000, 20)
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=_OneUnitSoftmax, train=(X, col(y)), val=(Xv, col(yv)),
                loss=nn.BCEWithLogitsLoss(), name="functional_one_unit_softmax", epochs=20)


def linear_stack_onehot_mse() -> Task:
    """Three Linear layers with nothing between them, MSE on one-hot wine labels, SGD 0.5."""
    X, y, Xv, yv = _wine()
    onehot = lambda t: np.eye(3, dtype=np.float32)[t]  # noqa: E731
    return Task(model=lambda: nn.Sequential(nn.Linear(13, 64), nn.Linear(64, 64),
                                            nn.Linear(64, 3)),
                train=(X, onehot(y)), val=(Xv, onehot(yv)), loss="mse",
                name="linear_stack_onehot_mse", epochs=50)


class _TwoLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.fc2(self.fc1(x)))  # the activations were forgotten


def functional_linear_stack_moons() -> Task:
    X, y, Xv, yv = _moons()
    return Task(model=_TwoLinear, train=(X, y), val=(Xv, yv), loss="bce_with_logits",
                name="functional_linear_stack_moons", epochs=20)


class _ReluHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = mlp(6, 32, hidden=32)
        self.out = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.out(torch.relu(self.body(x))))


def functional_relu_regression_head() -> Task:
    X, y, Xv, yv = _smooth_regression()
    return Task(model=_ReluHead, train=(X, y), val=(Xv, yv), loss="mse",
                name="functional_relu_regression_head", epochs=20)


def sigmoid_into_cross_entropy_iris() -> Task:
    X, y, Xv, yv = _iris()
    return Task(model=lambda: mlp(4, 3, hidden=16, tail=(nn.Sigmoid(),)), train=(X, y),
                val=(Xv, yv), name="sigmoid_into_cross_entropy_iris", epochs=50)


# -- init -------------------------------------------------------------------------------------

def _normal_init(std: float) -> Callable[[nn.Module], None]:
    def init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
    return init


def tanh_unit_normal_init() -> Task:
    """Weights drawn N(0, 1) (a 'random init' from a tutorial) under tanh: units sit at +-1."""
    X, y, Xv, yv = classification(1200, 20, classes=3, seed=2)

    def model() -> nn.Module:
        net = mlp(20, 3, hidden=256, act=nn.Tanh, depth=3)
        net.apply(_normal_init(1.0))
        return net
    return Task(model=model, train=(X, y), val=(Xv, yv), name="tanh_unit_normal_init",
                epochs=20)


def sigmoid_uniform_init() -> Task:
    X, y, Xv, yv = _wine()

    def model() -> nn.Module:
        net = mlp(13, 3, hidden=128, act=nn.Sigmoid, depth=2)
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -1.0, 1.0)
        return net
    return Task(model=model, train=(X, y), val=(Xv, yv), name="sigmoid_uniform_init",
                epochs=50)


def deep_tanh_default_init() -> Task:
    X, y, Xv, yv = classification(1200, 20, classes=3, seed=3)
    return Task(model=lambda: mlp(20, 3, hidden=64, act=nn.Tanh, depth=12), train=(X, y),
                val=(Xv, yv), name="deep_tanh_default_init", epochs=20)


# -- loss and targets -------------------------------------------------------------------------

def mse_on_class_labels() -> Task:
    """Wine classes 0/1/2 as float targets of a one-output MSE regression."""
    X, y, Xv, yv = _wine()
    col = lambda t: t.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return Task(model=lambda: mlp(13, 1), train=(X, col(y)), val=(Xv, col(yv)), loss="mse",
                name="mse_on_class_labels", epochs=50)


def l1_on_onehot_softmax() -> Task:
    X, y, Xv, yv = classification(1000, 16, classes=4, seed=4)
    onehot = lambda t: np.eye(4, dtype=np.float32)[t]  # noqa: E731
    return Task(model=lambda: mlp(16, 4, tail=(nn.Softmax(dim=1),)), train=(X, onehot(y)),
                val=(Xv, onehot(yv)), loss=nn.L1Loss(), name="l1_on_onehot_softmax",
                epochs=20)


def bce_on_continuous_target() -> Task:
    X, y, Xv, yv = _smooth_regression()
    return Task(model=lambda: mlp(6, 1), train=(X, y), val=(Xv, yv), loss="bce_with_logits",
                name="bce_on_continuous_target", epochs=20)


# -- data ---------------------------------------------------------------------------------------

def _customers(n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    age = rng.uniform(18, 80, n)
    income = rng.lognormal(11, 0.5, n)
    tenure = rng.integers(0, 30, n)
    balance = rng.uniform(0, 120_000, n)
    logit = 0.05 * (age - 45) - 1e-5 * (income - 60_000) + 2e-5 * (balance - 60_000)
    churn = (logit + rng.normal(0, 0.5, n) > 0).astype(np.int64)
    return np.stack([age, income, tenure, balance], 1).astype(np.float32), churn


def unscaled_customer_table() -> Task:
    X, y = _customers()
    X, y, Xv, yv = split(X, y)
    return Task(model=lambda: mlp(4, 2), train=(X, y), val=(Xv, yv),
                name="unscaled_customer_table", epochs=20)


def house_prices_raw_target() -> Task:
    """Standardised features, prices in dollars (1e5..6e5) as the MSE target."""
    X, y, Xv, yv = _smooth_regression()
    return Task(model=lambda: mlp(6, 1, hidden=64), train=(X, y * 90_000 + 300_000),
                val=(Xv, yv * 90_000 + 300_000), loss="mse", name="house_prices_raw_target",
                epochs=20)


class _BarsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(16 * 3 * 3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


def bars_cnn_raw_pixels() -> Task:
    X, y = _bars()
    return Task(model=_BarsCNN, train=(X[:480], y[:480]), val=(X[480:], y[480:]),
                name="bars_cnn_raw_pixels", epochs=10)


def val_left_unnormalised() -> Task:
    """The scaler was fitted and applied to the training split only."""
    rng = np.random.default_rng(7)
    X = rng.normal(50, 10, size=(800, 8))
    y = (np.sin(X[:, :1] / 10) + (X[:, 1:2] - 50) / 10 > 0).astype(np.int64).ravel()
    X, y, Xv, yv = split(X, y)
    X, = standardise(X)
    return Task(model=lambda: mlp(8, 2), train=(X, y), val=(Xv.astype(np.float32), yv),
                name="val_left_unnormalised", epochs=20)


def bars_cnn_lr_one() -> Task:
    X, y = _bars()
    X = X / 255.0
    return Task(model=_BarsCNN, train=(X[:480], y[:480]), val=(X[480:], y[480:]),
                name="bars_cnn_lr_one", epochs=10)


FAULTS: dict[str, Program] = {
    "wide_mlp_plain_sgd": Program(wide_mlp_plain_sgd, ("learning_rate",),
                                  {**PLAIN_SGD, "lr": 0.01, "batch_size": 1000}),
    "rmsprop_linear_regression": Program(rmsprop_linear_regression, ("learning_rate",),
                                         {"optimizer": "rmsprop", "momentum": 0.0,
                                          "nesterov": False, "lr": 1e-3, "batch_size": 64}),
    "adam_five_epochs_iris": Program(adam_five_epochs_iris, ("learning_rate",),
                                     {**ADAM, "lr": 1e-3, "batch_size": 16}),
    "keras_dense1_softmax": Program(keras_dense1_softmax, ("activation",),
                                    {**ADAM, "lr": 1e-3}),
    "functional_one_unit_softmax": Program(functional_one_unit_softmax, ("activation",),
                                           {**ADAM, "lr": 1e-3}),
    "linear_stack_onehot_mse": Program(linear_stack_onehot_mse, ("activation", "loss"),
                                       {**PLAIN_SGD, "lr": 0.5, "batch_size": 16}),
    "functional_linear_stack_moons": Program(functional_linear_stack_moons, ("activation",),
                                             {**ADAM, "lr": 1e-2}),
    "functional_relu_regression_head": Program(functional_relu_regression_head,
                                               ("activation",), {**ADAM, "lr": 1e-3}),
    "sigmoid_into_cross_entropy_iris": Program(sigmoid_into_cross_entropy_iris,
                                               ("activation",), {"lr": 0.05,
                                                                 "batch_size": 16}),
    "tanh_unit_normal_init": Program(tanh_unit_normal_init, ("init", "activation"),
                                     {"lr": 0.01}),
    "sigmoid_uniform_init": Program(sigmoid_uniform_init, ("init", "activation"),
                                    {"lr": 0.05, "batch_size": 16}),
    "deep_tanh_default_init": Program(deep_tanh_default_init, ("init", "activation"),
                                      {"lr": 0.01}),
    "mse_on_class_labels": Program(mse_on_class_labels, ("loss",), {**ADAM, "lr": 1e-3,
                                                                    "batch_size": 16}),
    "l1_on_onehot_softmax": Program(l1_on_onehot_softmax, ("loss",), {**ADAM, "lr": 1e-3}),
    "bce_on_continuous_target": Program(bce_on_continuous_target, ("loss",),
                                        {**ADAM, "lr": 1e-3}),
    "unscaled_customer_table": Program(unscaled_customer_table, ("data",),
                                       {**ADAM, "lr": 1e-3}),
    "house_prices_raw_target": Program(house_prices_raw_target, ("data",),
                                       {**ADAM, "lr": 1e-3}),
    "bars_cnn_raw_pixels": Program(bars_cnn_raw_pixels, ("data",), {"lr": 0.01}),
    "val_left_unnormalised": Program(val_left_unnormalised, ("data",), {**ADAM, "lr": 1e-3}),
    "bars_cnn_lr_one": Program(bars_cnn_lr_one, ("learning_rate",), {"lr": 1.0}),
}


# -- correct programs ---------------------------------------------------------------------------

class _Sequence(nn.Module):
    """pytorch/examples' time-sequence model: two LSTMCells stepped in a Python loop, a Linear
    head per step, the outputs joined with ``torch.cat`` (float64 throughout)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        h1 = c1 = torch.zeros(x.size(0), 51, dtype=x.dtype, device=x.device)
        h2 = c2 = torch.zeros(x.size(0), 51, dtype=x.dtype, device=x.device)
        for step in x.split(1, dim=1):
            h1, c1 = self.lstm1(step, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            outputs.append(self.linear(h2))
        return torch.cat(outputs, dim=1)


def time_sequence_lstm() -> Task:
    rng = np.random.default_rng(8)
    T, L, N = 20, 60, 100
    base = np.arange(L) + rng.integers(-4 * T, 4 * T, N).reshape(N, 1)
    waves = np.sin(base / T).astype(np.float64)
    X, y = waves[:, :-1], waves[:, 1:]
    return Task(model=lambda: _Sequence().double(), train=(X[3:], y[3:]), val=(X[:3], y[:3]),
                loss="mse", name="time_sequence_lstm", epochs=15)


class _Seq2Seq(nn.Module):
    """A GRU encoder-decoder that reverses token sequences (the decoder reads the encoder's
    final state and the previous target position's embedding of the reversed input)."""

    def __init__(self, vocab: int = 12, hidden: int = 48) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.encoder = nn.GRU(32, hidden, batch_first=True)
        self.decoder = nn.GRU(32, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.embed(src))
        start = torch.zeros_like(src[:, :1])
        shifted = torch.cat([start, src.flip(1)[:, :-1]], dim=1)  # teacher forcing
        out, _ = self.decoder(self.embed(shifted), state)
        return self.out(out)


def _token_ce(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))


def seq2seq_gru_reverse() -> Task:
    rng = np.random.default_rng(9)
    src = rng.integers(1, 12, size=(1200, 8)).astype(np.int64)
    tgt = src[:, ::-1].copy()
    return Task(model=_Seq2Seq, train=(src[:1000], tgt[:1000]), val=(src[1000:], tgt[1000:]),
                loss=_token_ce, name="seq2seq_gru_reverse", epochs=20)


def float64_table_regression() -> Task:
    X, y, Xv, yv = _smooth_regression()
    X, Xv = (a.astype(np.float64) for a in (X, Xv))
    y, yv = (a.astype(np.float64) for a in (y, yv))
    return Task(model=lambda: mlp(6, 1, hidden=64).double(), train=(X, y), val=(Xv, yv),
                loss="mse", name="float64_table_regression", epochs=40)


def bars_cnn_clean() -> Task:
    X, y = _bars(seed=1)
    X = (X - X.mean()) / X.std()
    return Task(model=_BarsCNN, train=(X[:480], y[:480]), val=(X[480:], y[480:]),
                name="bars_cnn_clean", epochs=10)


def keras_dense1_sigmoid() -> Task:
    X, y, Xv, yv = _moons()
    return Task(model=lambda: mlp(2, 1, hidden=16, tail=(nn.Sigmoid(),)), train=(X, y),
                val=(Xv, yv), loss=nn.BCELoss(), name="keras_dense1_sigmoid", epochs=30)


def iris_log_softmax_nll() -> Task:
    X, y, Xv, yv = _iris()
    return Task(model=lambda: mlp(4, 3, hidden=16, tail=(nn.LogSoftmax(dim=1),)),
                train=(X, y), val=(Xv, yv), loss="nll", name="iris_log_softmax_nll", epochs=60)


class _BagOfWords(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(50, 16, mode="mean")
        self.out = nn.Linear(16, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.bag(tokens))


def bag_of_words_text() -> Task:
    rng = np.random.default_rng(10)
    y = rng.integers(0, 3, 900)
    topical = rng.integers(0, 10, size=(900, 12)) + 10 * y[:, None]  # each class's words
    noise = rng.integers(30, 50, size=(900, 12))
    tokens = np.where(rng.random((900, 12)) < 0.5, topical, noise).astype(np.int64)
    return Task(model=_BagOfWords, train=(tokens[:720], y[:720]), val=(tokens[720:], y[720:]),
                name="bag_of_words_text", epochs=15)


CLEAN: dict[str, Program] = {
    "time_sequence_lstm": Program(time_sequence_lstm, (), {"optimizer": "LBFGS", "lr": 0.8,
                                                           "momentum": 0.0, "nesterov": False,
                                                           "batch_size": 97}),
    "seq2seq_gru_reverse": Program(seq2seq_gru_reverse, (), {**ADAM, "lr": 3e-3}),
    "float64_table_regression": Program(float64_table_regression, (), {**ADAM, "lr": 1e-3}),
    "bars_cnn_clean": Program(bars_cnn_clean, (), {"lr": 0.05}),
    "keras_dense1_sigmoid": Program(keras_dense1_sigmoid, (), {**ADAM, "lr": 1e-2}),
    "iris_log_softmax_nll": Program(iris_log_softmax_nll, (), {"lr": 0.05, "batch_size": 16}),
    "bag_of_words_text": Program(bag_of_words_text, (), {**ADAM, "lr": 1e-2}),
}
