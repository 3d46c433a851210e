"""Real faulty Keras training programs, ported to PyTorch, each with the fix from its source.

Issue 24's set from the DeepFD line of benchmarks (Cao et al., ICSE 2022, "DeepFD: Automated
Fault Diagnosis and Localization for Deep Learning Programs", github.com/ArabelaTso/DeepFD).
DeepFD's repository holds full code for only two of its 58 subjects; for the rest it records the
StackOverflow post, the patch and the fault labels (``Benchmark/Benchmark-with-patches.xlsx``),
and most of its StackOverflow subjects are DeepLocalize's (ported by another helper). So the set
is: the DeepFD-only subject whose patch gives the whole model (42514960), plus real Stack Exchange
questions with a known fix (none from the DeepLocalize/DeepDiagnosis benchmark, none
PyTorch-tagged) whose fault is of a kind DeepFD labels; 45378493 has the fault of DeepFD's
subject 42800203, whose own code could not be recovered offline. README.md (this folder) lists the
source of every program, the fault, the fix and what the port changed.

DeepFD's subject 37624102 (a CNN on all-ones vs all-zeros 100x100 images, SGD lr 0.1 with
Nesterov momentum) was ported and dropped: the question's flatten is 73,728 wide (9.4M
parameters); scaled to 16x16 images (1,152 wide, 150k parameters) lr 0.1 trains it to zero loss,
so the fault does not survive the scale-down.

Each buggy program reproduces the question's fault; its ``_fixed`` twin applies the fix from the
answer (or DeepFD's patch) and nothing else. Keras defaults are kept where the question relied
on them (SGD lr 0.01 without momentum, Adam lr 1e-3, batch size 32); layers use PyTorch's
default initialisation in place of Keras' glorot_uniform (no program sets an initialiser).

Written 2026-12-05, before any doctor change for issue 24, without looking at doctor's checks:
the ground-truth families come from each fix alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from triage.task import Task

from ._common import ADAM, PLAIN_SGD, Program, split, standardise

# --- deepfd_45378493: binary Conv1D classifier ending in Dense(1) + softmax ---------------------
# StackOverflow 45378493 (same fault as DeepFD row 41, StackOverflow 42800203): softmax over one
# unit is always 1, so binary_crossentropy has no gradient; answer: sigmoid.


class _Permute(nn.Module):
    """Keras' (steps, channels) layout to PyTorch's (channels, steps)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


def _windows(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Standardised windows of 10 steps x 4 price columns; label 1 when the window trends up
    (about 63% ones, as the question's 608 of 970)."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.15, 0.5, size=(n, 1))
    price = np.cumsum(drift + rng.normal(0, 1.0, size=(n, 10)), axis=1)
    cols = [price + rng.normal(0, 0.3, size=price.shape) for _ in range(4)]
    X = np.stack(cols, axis=2)
    y = (price[:, -3:].mean(1) > price[:, :3].mean(1)).astype(np.float32)[:, None]
    X, y, Xv, yv = split(X, y)
    mean, std = X.mean(axis=(0, 1)), X.std(axis=(0, 1))
    return ((X - mean) / std).astype(np.float32), y, ((Xv - mean) / std).astype(np.float32), yv


def _conv1d_binary(head: nn.Module) -> nn.Module:
    return nn.Sequential(
        _Permute(),
        nn.Conv1d(4, 16, 4, padding="same"), nn.BatchNorm1d(16), nn.LeakyReLU(0.3),
        nn.Dropout(0.2),
        nn.Conv1d(16, 8, 4, padding="same"), nn.BatchNorm1d(8), nn.LeakyReLU(0.3),
        nn.Dropout(0.2),
        nn.Flatten(), nn.Linear(80, 64), nn.BatchNorm1d(64), nn.LeakyReLU(0.3),
        nn.Linear(64, 1), head)


def _conv1d_task(name: str, head: type[nn.Module]) -> Task:
    X, y, Xv, yv = _windows()
    make = (lambda: _conv1d_binary(nn.Softmax(dim=1))) if head is nn.Softmax \
        else (lambda: _conv1d_binary(nn.Sigmoid()))
    return Task(model=make, train=(X, y), val=(Xv, yv), loss=nn.BCELoss(), name=name, epochs=30)


# --- deepfd_284189: linear regression on raw advertising data, SGD, batch 1 ---------------------
# Cross Validated 284189 ("Simple Linear Regression in Keras"): one linear unit, SGD with
# Keras' default lr, batch_size=1, TV budget (0-300) -> sales; loss is NaN from the first
# epoch.  Answer: standardise x and y with StandardScaler (lr left at its default).


def _advertising(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    tv = rng.uniform(0.7, 296.4, size=(200, 1))
    sales = 7.03 + 0.0475 * tv + rng.normal(0, 3.26, size=(200, 1))
    return tuple(a.astype(np.float32) for a in split(tv, sales))


def _advertising_task(name: str, scaled: bool) -> Task:
    X, y, Xv, yv = _advertising()
    if scaled:
        X, Xv = standardise(X, Xv)
        y, yv = standardise(y, yv)
    return Task(model=lambda: nn.Linear(1, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name=name, epochs=30)


# --- deepfd_418955: two stacked linear units fitting y = x^2 + 3 with the target unscaled -------
# Cross Validated 418955 ("Why is deep neural net with linear activation diverges"): x is
# standardised, y = x**2 + 3 for x in 0..99 is not; SGD with default lr diverges.  Resolution in
# the thread: scale the target.


def _square(scaled: bool) -> tuple[np.ndarray, ...]:
    x = np.arange(100, dtype=np.float64)[:, None]
    y = x**2 + 3
    x = (x - x.mean()) / x.std()
    X, y, Xv, yv = (a.astype(np.float32) for a in split(x, y))
    if scaled:
        y, yv = standardise(y, yv)
    return X, y, Xv, yv


def _square_task(name: str, scaled: bool) -> Task:
    X, y, Xv, yv = _square(scaled)
    return Task(model=lambda: nn.Sequential(nn.Linear(1, 1), nn.Linear(1, 1)), train=(X, y),
                val=(Xv, yv), loss="mse", name=name, epochs=300)


# --- deepfd_38604: ten digit classes through one sigmoid unit and binary_crossentropy -----------
# Data Science SE 38604 ("Too low accuracy on MNIST dataset using a neural network"): raw MNIST
# pixels, Dense(64, relu) -> Dense(1, sigmoid), binary_crossentropy on labels 0..9 (the loss goes
# negative, accuracy ~11%).  Answer: ten outputs with softmax and a categorical cross-entropy.


def keras_binary_crossentropy(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras' binary_crossentropy on probabilities: clipped to [1e-7, 1 - 1e-7], and no check
    that targets lie in [0, 1] (torch's BCELoss refuses labels 0..9; Keras takes them)."""
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def _digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X * 255.0 / 16.0).astype(np.float32)  # raw 0..255 pixels, as MNIST's, not normalised
    return split(X, y.astype(np.int64), val=0.33)


def _digits_task(name: str, fixed: bool) -> Task:
    X, y, Xv, yv = _digits()
    if fixed:
        return Task(model=lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
                    train=(X, y), val=(Xv, yv), loss="cross_entropy", name=name, epochs=10)
    yf, yvf = y.astype(np.float32)[:, None], yv.astype(np.float32)[:, None]
    return Task(model=lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1),
                                            nn.Sigmoid()),
                train=(X, yf), val=(Xv, yvf), loss=keras_binary_crossentropy, name=name,
                epochs=10)


# --- deepfd_42514960: deep autoencoder with relu layers and a sigmoid output ----------------------
# DeepFD row 40 (StackOverflow 42514960); patch: every Dense of the autoencoder
# (inputs*2, inputs*2, bottleNeck, inputs*2, inputs*2, inputs) from relu / sigmoid to tanh.
# The question's data is not recoverable offline: the wine table scaled to [-1, 1] stands in.

_WINE_IN, _BOTTLENECK = 13, 4


def _wine_scaled() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_wine

    X, _ = load_wine(return_X_y=True)
    X, _, Xv, _ = split(X, np.zeros(len(X)))
    lo, hi = X.min(axis=0), X.max(axis=0)
    scale = lambda a: np.clip(2 * (a - lo) / (hi - lo) - 1, -1, 1).astype(np.float32)  # noqa: E731
    return scale(X), scale(Xv)


def _autoencoder(hidden: type[nn.Module], out: type[nn.Module]) -> nn.Module:
    n, b = _WINE_IN, _BOTTLENECK
    return nn.Sequential(
        nn.Linear(n, n * 2), hidden(), nn.Linear(n * 2, n * 2), hidden(),
        nn.Linear(n * 2, b), hidden(), nn.Linear(b, n * 2), hidden(),
        nn.Linear(n * 2, n * 2), hidden(), nn.Linear(n * 2, n), out())


def _autoencoder_task(name: str, fixed: bool) -> Task:
    X, Xv = _wine_scaled()
    make = (lambda: _autoencoder(nn.Tanh, nn.Tanh)) if fixed \
        else (lambda: _autoencoder(nn.ReLU, nn.Sigmoid))
    return Task(model=make, train=(X, X.copy()), val=(Xv, Xv.copy()), loss="mse", name=name,
                epochs=100)


FAULTS: dict[str, Program] = {
    "deepfd_45378493": Program(lambda: _conv1d_task("deepfd_45378493", nn.Softmax),
                               ("activation",), {**ADAM, "lr": 1e-3, "batch_size": 128}),
    "deepfd_284189": Program(lambda: _advertising_task("deepfd_284189", scaled=False),
                             ("data",), {**PLAIN_SGD, "lr": 0.01, "batch_size": 1}),
    "deepfd_418955": Program(lambda: _square_task("deepfd_418955", scaled=False),
                             ("data",), {**PLAIN_SGD, "lr": 0.01, "batch_size": 32}),
    "deepfd_38604": Program(lambda: _digits_task("deepfd_38604", fixed=False),
                            ("loss", "activation"), {**ADAM, "lr": 1e-3, "batch_size": 32}),
    "deepfd_42514960": Program(lambda: _autoencoder_task("deepfd_42514960", fixed=False),
                               ("activation",), {**ADAM, "lr": 1e-3, "batch_size": 32}),
}

CLEAN: dict[str, Program] = {
    "deepfd_45378493_fixed": Program(lambda: _conv1d_task("deepfd_45378493_fixed", nn.Sigmoid),
                                     (), {**ADAM, "lr": 1e-3, "batch_size": 128}),
    "deepfd_284189_fixed": Program(lambda: _advertising_task("deepfd_284189_fixed", scaled=True),
                                   (), {**PLAIN_SGD, "lr": 0.01, "batch_size": 1}),
    "deepfd_418955_fixed": Program(lambda: _square_task("deepfd_418955_fixed", scaled=True),
                                   (), {**PLAIN_SGD, "lr": 0.01, "batch_size": 32}),
    "deepfd_38604_fixed": Program(lambda: _digits_task("deepfd_38604_fixed", fixed=True),
                                  (), {**ADAM, "lr": 1e-3, "batch_size": 32}),
    "deepfd_42514960_fixed": Program(lambda: _autoencoder_task("deepfd_42514960_fixed",
                                                               fixed=True),
                                     (), {**ADAM, "lr": 1e-3, "batch_size": 32}),
}
