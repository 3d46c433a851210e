"""Real faulty training programs ported from the DeepLocalize / DeepDiagnosis benchmark.

Source: Wardat, Le, Rajan, "DeepLocalize: Fault Localization for Deep Neural Networks"
(ICSE 2021) and "DeepDiagnosis: Automatically Diagnosing Faults and Recommending Actionable
Fixes in Deep Learning Programs" (ICSE 2022); benchmark repository
https://github.com/Wardat-ISU/DeepLocalize, folder ``Benchmark/StackOverflow/<post>/`` (a buggy
and a corrected Keras program per StackOverflow post; ``Benchmark/StackOverflow/Benchmark.xlsx``
lists each patch). Every program here is one of those posts, translated from Keras to PyTorch:
the same layer sizes, activations, loss, optimizer and settings, batch size and (scaled) epochs,
on bundled scikit-learn or synthetic data with the same scale properties. ``FAULTS`` holds the
buggy programs with the families of their fix; ``CLEAN`` the corrected ones (key + ``_fixed``),
which apply the benchmark's patch and nothing else. README.md (this folder) gives the post,
the fault, the fix and what the port changed for each one.

Keras details kept: Keras 1 ``init='uniform'`` is U(-0.05, 0.05) and ``init='normal'`` is
N(0, 0.05) with zero biases; Keras ``categorical_crossentropy`` on probabilities renormalises
the outputs to sum 1 and clips them to [1e-7, 1 - 1e-7] (``keras_cce`` below); softmax +
categorical cross-entropy is written as logits + ``cross_entropy``; ``binary_crossentropy`` on
a sigmoid/softmax output is ``nn.BCELoss``. Layers without an ``init`` use PyTorch's default
initialisation (Keras used glorot_uniform); SGD's ``decay=1e-6`` is left out (under 1% over
these budgets); Keras RMSprop's rho 0.9 becomes torch's alpha 0.99.

Written 2026-12-05 for issue 24, before any change to doctor for that issue, and without
looking at doctor's checks: the faults are the benchmark's, the fixes the benchmark's patches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from triage.task import Task

from ._common import ADAM, PLAIN_SGD, Program, split

RMSPROP = {"optimizer": "rmsprop", "momentum": 0.0, "nesterov": False}


# ---------------------------------------------------------------- shared helpers


def keras_cce(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Keras ``categorical_crossentropy`` on a probability output: the outputs renormalised to
    sum 1 per row, clipped to [1e-7, 1 - 1e-7], minus the log of the true class (int labels
    stand for Keras's one-hot targets)."""
    p = probs / probs.sum(dim=1, keepdim=True)
    p = p.clamp(1e-7, 1 - 1e-7)
    return -p.gather(1, target.long().view(-1, 1)).log().mean()


def uniform_005(layer: nn.Linear) -> nn.Linear:
    """Keras 1 ``init='uniform'``: weights U(-0.05, 0.05), zero bias."""
    nn.init.uniform_(layer.weight, -0.05, 0.05)
    nn.init.zeros_(layer.bias)
    return layer


def digits(scale: float = 1 / 16, seed: int = 0) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (the MNIST stand-in), pixels 0..16 times ``scale``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y, Xv, yv = split(d.data.astype(np.float64), d.target.astype(np.int64), seed=seed)
    return (X * scale).astype(np.float32), y, (Xv * scale).astype(np.float32), yv


def f32(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float32) for a in arrays]


# ---------------------------------------------------------------- SO 48934338: SGD lr 0.1
# y = 5 x^2 + noise^3 on x in [0, 5); SGD(lr=0.1) on MSE diverges; the fix is lr=0.001.


def _quadratic() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(7)
    X = np.arange(0.0, 5.0, 0.1).reshape(-1, 1)
    y = 5 * X ** 2 + rng.standard_normal((50, 1)) ** 3
    Xv = X + 0.05
    yv = 5 * Xv ** 2 + rng.standard_normal((50, 1)) ** 3
    return tuple(f32(X, y, Xv, yv))


def _quadratic_net() -> nn.Module:
    return nn.Sequential(nn.Linear(1, 50), nn.ReLU(), uniform_005(nn.Linear(50, 30)), nn.ReLU(),
                         nn.Linear(30, 1))


def _task_48934338(name: str, buggy: bool) -> Task:  # the fault is in the settings (lr)
    X, y, Xv, yv = _quadratic()
    return Task(model=_quadratic_net, train=(X, y), val=(Xv, yv), loss="mse", name=name,
                epochs=1000)


# ---------------------------------------------------------------- SO 52800582: y = x^4 unscaled
# x in [-100, 100), y = x^4 up to 1e8, fed raw; the fix standardises x and y.


def _quartic(scaled: bool) -> tuple[np.ndarray, ...]:
    x = np.arange(-100, 100, 0.5).reshape(-1, 1)
    xv = x + 0.25
    y, yv = x ** 4, xv ** 4
    if scaled:  # StandardScaler fitted on the training x and y
        xm, xs, ym, ys = x.mean(), x.std(), y.mean(), y.std()
        x, xv, y, yv = (x - xm) / xs, (xv - xm) / xs, (y - ym) / ys, (yv - ym) / ys
    return tuple(f32(x, y, xv, yv))


def _quartic_net() -> nn.Module:
    return nn.Sequential(nn.Linear(1, 50), nn.Sigmoid(), nn.Linear(50, 50), nn.ELU(),
                         nn.Linear(50, 1))


def _task_52800582(name: str, buggy: bool) -> Task:
    X, y, Xv, yv = _quartic(scaled=not buggy)
    return Task(model=_quartic_net, train=(X, y), val=(Xv, yv), loss="mse", name=name,
                epochs=1000)


# ---------------------------------------------------------------- SO 59325381: labels / 255
# "Scaling data": y_train = y_train / 255 instead of x_test / 255; sparse categorical
# cross-entropy casts the fractional labels to int, so every training label is 0 (and the
# test images stay in 0..255). The fix scales x_test and leaves the labels alone.


def _cnn_59325381() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 64, 3, padding=1), nn.MaxPool2d(2),
        nn.Conv2d(64, 32, 3, padding=1), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 128), nn.ReLU(), nn.Linear(128, 10))


def _task_59325381(name: str, buggy: bool) -> Task:
    X, y, Xv, yv = digits(scale=1 / 16)  # x_train / 255: pixels in [0, 1]
    if buggy:
        y = (y / 255).astype(np.int64)  # Keras casts the float labels: all become 0
        Xv = (Xv * 255).astype(np.float32)  # x_test never scaled: pixels in [0, 255]
    return Task(model=_cnn_59325381, train=(X, y), val=(Xv, yv), loss="cross_entropy",
                name=name, epochs=10)


# ---------------------------------------------------------------- SO 31880720: softmax on 1 unit
# Binary task (all-ones vs all-zeros rows of 128) with Dense(1) + softmax and
# binary_crossentropy: the output is always 1; the fix uses sigmoid.


def _ones_zeros(n: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate([np.ones((n, 128)), np.zeros((n, 128))])
    y = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))])
    return X.astype(np.float32), y.astype(np.float32)


def _net_31880720(out: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        return nn.Sequential(nn.Linear(128, 50), nn.ReLU(), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(50, 50), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(50, 1), out())
    return build


def _task_31880720(name: str, buggy: bool) -> Task:
    X, y = _ones_zeros(1000)
    Xv, yv = _ones_zeros(100)
    model = _net_31880720((lambda: nn.Softmax(dim=1)) if buggy else nn.Sigmoid)
    return Task(model=model, train=(X, y), val=(Xv, yv), loss=nn.BCELoss(), name=name,
                epochs=3)


# ---------------------------------------------------------------- SO 48385830: MSE, no activations
# Nielsen's 784-30-10 network in Keras with N(0, 1) weights and biases and SGD(lr=3.0), but
# without the sigmoid/softmax activations and with MSE on one-hot targets: NaN. The fix adds
# sigmoid (hidden) and softmax (output) and uses categorical cross-entropy.


def _normal_1(layer: nn.Linear) -> nn.Linear:
    nn.init.normal_(layer.weight, std=1.0)
    nn.init.normal_(layer.bias, std=1.0)
    return layer


def _net_48385830_buggy() -> nn.Module:
    return nn.Sequential(_normal_1(nn.Linear(64, 30)), _normal_1(nn.Linear(30, 10)))


def _net_48385830_fixed() -> nn.Module:  # softmax + categorical CE = logits + cross_entropy
    return nn.Sequential(_normal_1(nn.Linear(64, 30)), nn.Sigmoid(),
                         _normal_1(nn.Linear(30, 10)))


def _task_48385830(name: str, buggy: bool) -> Task:
    X, y, Xv, yv = digits(scale=1 / 16)  # x /= 255
    if buggy:
        onehot = np.eye(10, dtype=np.float32)
        return Task(model=_net_48385830_buggy, train=(X, onehot[y]), val=(Xv, onehot[yv]),
                    loss="mse", name=name, epochs=30)
    return Task(model=_net_48385830_fixed, train=(X, y), val=(Xv, yv), loss="cross_entropy",
                name=name, epochs=30)


# ---------------------------------------------------------------- SO 47352366: relu output
# The TensorFlow MNIST tutorial CNN in Keras with a Dense(10) relu output under categorical
# cross-entropy: NaN loss; the fix is a softmax output.


def _net_47352366(out: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        convs = [nn.Conv2d(1, 32, 5, padding=2), nn.Conv2d(32, 64, 5, padding=2)]
        dense = nn.Linear(64 * 2 * 2, 512)
        for layer in (*convs, dense):
            nn.init.constant_(layer.bias, 0.1)
        return nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            convs[0], nn.ReLU(), nn.MaxPool2d(2),
            convs[1], nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), dense, nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(512, 10), out())
    return build


def _task_47352366(name: str, buggy: bool) -> Task:
    X, y, Xv, yv = digits(scale=1 / 16)  # the tutorial's input_data gives pixels in [0, 1]
    model = _net_47352366(nn.ReLU if buggy else (lambda: nn.Softmax(dim=1)))
    return Task(model=model, train=(X, y), val=(Xv, yv), loss=keras_cce, name=name, epochs=20)


# ---------------------------------------------------------------- SO 38648195: softmax + MSE
# Multi-label targets (make_multilabel_classification, 3 labels) fitted with a softmax output
# and mean squared error; the fix is a sigmoid output with binary cross-entropy.


def _multilabel() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=3000, n_features=20, n_classes=3,
                                          random_state=0)
    X, Y, Xv, Yv = split(X, Y, val=0.2, seed=0)
    return tuple(f32(X, Y, Xv, Yv))


def _net_38648195(out: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        return nn.Sequential(nn.Linear(20, 20), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(20, 20), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(20, 3), out())
    return build


def _task_38648195(name: str, buggy: bool) -> Task:
    X, Y, Xv, Yv = _multilabel()
    model = _net_38648195((lambda: nn.Softmax(dim=1)) if buggy else nn.Sigmoid)
    return Task(model=model, train=(X, Y), val=(Xv, Yv), loss="mse" if buggy else nn.BCELoss(),
                name=name, epochs=20)


# ---------------------------------------------------------------- SO 48221692: sigmoid regression
# One-feature linear regression (targets far above 1) with a sigmoid output neuron; the fix
# makes the output linear.


def _line() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 20, size=(400, 1))
    y = 2.5 * x + 7 + rng.normal(0, 3, size=(400, 1))
    X, y, Xv, yv = split(x, y, val=0.25, seed=7)
    return tuple(f32(X, y, Xv, yv))


def _net_48221692(out: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        return nn.Sequential(nn.Linear(1, 5), nn.Sigmoid(), nn.Linear(5, 1), out())
    return build


def _task_48221692(name: str, buggy: bool) -> Task:
    X, y, Xv, yv = _line()
    model = _net_48221692(nn.Sigmoid if buggy else nn.Identity)
    return Task(model=model, train=(X, y), val=(Xv, yv), loss="mse", name=name, epochs=1000)


# ---------------------------------------------------------------- SO 31556268: XOR with MAE + SGD
# XOR with a 2-4-1 sigmoid network, mean absolute error and SGD(lr=0.05, momentum=0.11,
# nesterov); the accepted fix: MSE and Adam (and 10000 epochs instead of 1000).


def _xor() -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[1, 1], [1, 0], [0, 0], [0, 1]], dtype=np.float32)
    y = np.array([[0], [1], [0], [1]], dtype=np.float32)
    return X, y


def _net_xor() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())


def _task_31556268(name: str, buggy: bool) -> Task:
    X, y = _xor()
    return Task(model=_net_xor, train=(X, y), val=(X, y),
                loss=nn.L1Loss() if buggy else "mse", name=name,
                epochs=1000 if buggy else 10000)


# ---------------------------------------------------------------- the sets


def _pair(key: str, build: Callable[[str, bool], Task]) -> tuple[Callable[[], Task], ...]:
    def buggy() -> Task:
        return build(key, True)

    def fixed() -> Task:
        return build(key + "_fixed", False)
    return buggy, fixed


_PAIRS: dict[str, tuple[Callable[[str, bool], Task], tuple[str, ...], dict, dict]] = {
    "deeplocalize_48934338_sgd_lr": (
        _task_48934338, ("learning_rate",),
        {**PLAIN_SGD, "lr": 0.1, "batch_size": 32}, {**PLAIN_SGD, "lr": 0.001, "batch_size": 32}),
    "deeplocalize_59325381_labels_div255": (
        _task_59325381, ("data",),
        {**ADAM, "lr": 1e-3, "batch_size": 32}, {**ADAM, "lr": 1e-3, "batch_size": 32}),
    "deeplocalize_31880720_softmax_binary": (
        _task_31880720, ("activation",),
        {**RMSPROP, "lr": 1e-3, "batch_size": 1}, {**RMSPROP, "lr": 1e-3, "batch_size": 1}),
    "deeplocalize_48385830_mse_no_activations": (
        _task_48385830, ("activation", "loss"),
        {**PLAIN_SGD, "lr": 3.0, "batch_size": 10}, {**PLAIN_SGD, "lr": 3.0, "batch_size": 10}),
    "deeplocalize_47352366_relu_output": (
        _task_47352366, ("activation",),
        {**ADAM, "lr": 1e-3, "batch_size": 50}, {**ADAM, "lr": 1e-3, "batch_size": 50}),
    "deeplocalize_38648195_multilabel_softmax_mse": (
        _task_38648195, ("activation", "loss"),
        {**PLAIN_SGD, "lr": 0.01, "batch_size": 20}, {**PLAIN_SGD, "lr": 0.01, "batch_size": 20}),
    "deeplocalize_52800582_unscaled_quartic": (
        _task_52800582, ("data",),
        {**ADAM, "lr": 1e-3, "batch_size": 400}, {**ADAM, "lr": 1e-3, "batch_size": 400}),
    "deeplocalize_48221692_sigmoid_regression": (
        _task_48221692, ("activation",),
        {**PLAIN_SGD, "lr": 0.01, "batch_size": 300}, {**PLAIN_SGD, "lr": 0.01, "batch_size": 300}),
    "deeplocalize_31556268_xor_mae_sgd": (
        _task_31556268, ("loss", "optimizer"),
        {"optimizer": "sgd", "momentum": 0.11, "nesterov": True, "lr": 0.05, "batch_size": 4},
        {**ADAM, "lr": 1e-3, "batch_size": 4}),
}

FAULTS: dict[str, Program] = {}
CLEAN: dict[str, Program] = {}
for _key, (_build, _families, _bad, _good) in _PAIRS.items():
    _buggy, _fixed = _pair(_key, _build)
    FAULTS[_key] = Program(_buggy, _families, _bad)
    CLEAN[_key + "_fixed"] = Program(_fixed, (), _good)
