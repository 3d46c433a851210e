"""Real faulty Keras / TensorFlow training programs, ported to PyTorch, each with its known fix.

Issue 24's set from the NeuraLint line of benchmarks (Nikanjam, Braiek, Morovati, Khomh,
"Automatic Fault Detection for Deep Learning Programs Using Graph Transformations", TOSEM 2021,
github.com/neuralint/neuralint, ``sample_buggy_scripts/``) and from Keras / TensorFlow GitHub
threads and StackOverflow questions whose fix is known. NeuraLint's real programs are mostly
structural (missing Flatten, wrong shapes) or share one fault (a softmax over a single unit,
already ported as ``deepfd_45378493``); two whose fault shows in training and whose fix is
recorded are ported here (50079585, 51749207), and the rest of the set comes from threads with
a stated fix, chosen for the fault kinds the earlier sets have few of (learning rate,
initialisation, unscaled data). README.md (this folder) lists each program's source, fault,
fix and what the port changed; the comment above each section says the same in short.

Each buggy program reproduces the source's fault; its ``_fixed`` twin applies the fix from the
source and nothing else. Keras defaults are kept where the source relied on them (Adam lr 1e-3,
RMSprop lr 1e-3, SGD without momentum, batch size 32); layers use PyTorch's default
initialisation in place of Keras' glorot_uniform unless the source sets an initialiser.
Datasets are replaced by scikit-learn's bundled ones or by synthetic data with the property the
fault depends on (input and target magnitude), and sizes are scaled down where noted.

Written 2026-12-05, before any doctor change for issue 24, without looking at doctor's checks:
the ground-truth families come from each fix alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from triage.task import Task

from ._common import ADAM, PLAIN_SGD, Program, bumps, split, standardise

RMSPROP = {"optimizer": "rmsprop", "momentum": 0.0, "nesterov": False}


def _digits(scale: float) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (pixels 0..16) times ``scale``, split 80/20, labels 0..9."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X * scale).astype(np.float32)
    return split(X, y.astype(np.int64))


# --- neuralint_keras3040: one linear unit fitting y = 2x on raw x in 0..199, SGD, batch 1 --------
# keras-team/keras issue 3040 ("Simple Linear Regression Nan's after a few iterations"):
# Dense(1), SGD(lr=0.001, decay=1e-6), batch_size=1, one epoch; the weights go to NaN.  The
# author's resolution: "realized my learning rate was too high".  With x up to 199 plain SGD on
# one sample is stable only below lr = 1/x^2 ~ 2.5e-5; the fix uses 1e-5 (the thread gives no
# value).  Keras' decay of 1e-6 per step is negligible over 160 steps and is left out.


def _line() -> tuple[np.ndarray, ...]:
    x = np.arange(200, dtype=np.float32)[:, None]
    return split(x, 2.0 * x)


def _line_task(name: str) -> Task:
    X, y, Xv, yv = _line()
    return Task(model=lambda: nn.Linear(1, 1), train=(X, y), val=(Xv, yv), loss="mse",
                name=name, epochs=1)


# --- neuralint_tf3916: hidden sigmoid layer added to mnist_softmax.py with zero initial weights ---
# tensorflow/tensorflow issue 3916 ("some change to Mnist_softmax.py"): the tutorial's softmax
# regression (W = tf.zeros, GradientDescentOptimizer(0.5), 1000 steps of batch 100) given a
# 1000-unit sigmoid hidden layer whose W1 and W2 are also tf.zeros; accuracy falls from 91.9%.
# Every hidden unit computes the same value and receives the same update, so the layer acts as a
# single unit.  Fix (the thread's answer, and tensorflow PR 13935): random initial weights; the
# fixed twin draws them as the TF tutorials do, truncated normal with stddev 0.1, biases zero.
# MNIST -> digits scaled to 0..1 (64 inputs); 1000 steps of batch 100 = 70 epochs of 1437.


class _ZeroMLP(nn.Module):
    """784 -> 1000 sigmoid -> 10, the issue's h1 = sigmoid(x W1 + b1), y = h1 W2 + b2 (logits;
    the tutorial's softmax sits in its cross-entropy)."""

    def __init__(self, zeros: bool) -> None:
        super().__init__()
        self.hidden, self.out = nn.Linear(64, 1000), nn.Linear(1000, 10)
        for layer in (self.hidden, self.out):
            if zeros:
                nn.init.zeros_(layer.weight)
            else:
                nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.sigmoid(self.hidden(x)))


def _zero_task(name: str, zeros: bool) -> Task:
    X, y, Xv, yv = _digits(1.0 / 16.0)
    return Task(model=lambda: _ZeroMLP(zeros), train=(X, y), val=(Xv, yv),
                loss="cross_entropy", name=name, epochs=70)


# --- neuralint_so52800582: MLP fitting y = x**4 on raw x in [-100, 100) ---------------------------
# StackOverflow 52800582 ("Why do I fail to predict y=x^4 with keras? (y=x^3 works)"):
# Dense(50) sigmoid -> Dense(50) elu -> Dense(1), Adam, mse, full batch (batch_size=len(x)),
# x = arange(-100, 100, 0.5), y = x**4 (up to 1e8); the fit stays an inaccurate line.  Accepted
# answer: inputs of +-100 saturate the sigmoid and targets of 1e8 are out of reach of the
# weights; scale x and y with StandardScaler (shown converging after 2000 full-batch epochs).
# The question trains 100 x 1000 epochs; both twins here get the answer's 2000.


def _quartic(scaled: bool) -> tuple[np.ndarray, ...]:
    x = np.arange(-100, 100, 0.5)[:, None]
    X, y, Xv, yv = (a.astype(np.float32) for a in split(x, x**4))
    if scaled:
        X, Xv = standardise(X, Xv)
        y, yv = standardise(y, yv)
    return X, y, Xv, yv


def _quartic_task(name: str, scaled: bool) -> Task:
    X, y, Xv, yv = _quartic(scaled)
    return Task(model=lambda: nn.Sequential(nn.Linear(1, 50), nn.Sigmoid(), nn.Linear(50, 50),
                                            nn.ELU(), nn.Linear(50, 1)),
                train=(X, y), val=(Xv, yv), loss="mse", name=name, epochs=2000)


# --- neuralint_so50079585: binary image CNN ending in Dense(1) + softmax, categorical loss --
# NeuraLint SO sample 50079585 (StackOverflow 50079585): the Keras blog's small convnet
# (Conv 32-32-64 with relu and 2x2 max pooling, Dense(64) relu, Dropout(0.5), Dense(1)) with
# softmax and categorical_crossentropy on binary labels, RMSprop, batch 16, 10 epochs.  NeuraLint
# labels the softmax over one unit; that output is always 1, and Keras' categorical_crossentropy
# (which renormalises the probabilities) is then 0 whatever the weights.  Fix: sigmoid with
# binary_crossentropy, the blog's own head.  150x150 RGB photos -> 32x32 one-channel images with a
# bright blob in the left (class 0) or right (class 1) half; 1000 images, 800 for training.


def keras_categorical_crossentropy(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras' categorical_crossentropy on probabilities: renormalised over the last axis,
    clipped to [1e-7, 1 - 1e-7], summed over it, averaged over the batch."""
    p = p / p.sum(dim=-1, keepdim=True)
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(y * p.log()).sum(dim=-1).mean()


def _blog_cnn(head: nn.Module) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 2 * 2, 64), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(64, 1), head)


def _blog_cnn_task(name: str, fixed: bool) -> Task:
    X, y = bumps(n=1000, size=32)
    X, y, Xv, yv = split(X, y.astype(np.float32)[:, None])
    if fixed:
        return Task(model=lambda: _blog_cnn(nn.Sigmoid()), train=(X, y), val=(Xv, yv),
                    loss=nn.BCELoss(), name=name, epochs=10)
    return Task(model=lambda: _blog_cnn(nn.Softmax(dim=1)), train=(X, y), val=(Xv, yv),
                loss=keras_categorical_crossentropy, name=name, epochs=10)


# --- neuralint_so51749207: Conv1D signal classifier ending in Dense(1, softmax), binary loss ----
# NeuraLint SO sample 51749207 (StackOverflow 51749207): Conv1D(20, 4, relu, same) on 600-step
# signals, MaxPooling1D(2), Dropout(0.3), Flatten, Dense(50, relu), Dense(1, softmax),
# binary_crossentropy, Nadam, batch 8, 100 epochs.  NeuraLint labels the softmax over one unit:
# the output is 1 for every input and the loss has no gradient.  Fix: sigmoid on the last unit.
# Signals of 600 -> 200 steps (Flatten 2000 wide, 100k parameters); 300 synthetic signals, a
# noisy sine burst in class 1; Nadam -> Adam with its default lr 1e-3 (the options name no Nadam,
# whose Keras default is 2e-3); 100 -> 40 epochs.


def keras_binary_crossentropy(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras' binary_crossentropy on probabilities: clipped to [1e-7, 1 - 1e-7]."""
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def _signals(n: int = 300, steps: int = 200, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = np.arange(steps)
    X = rng.normal(0, 1.0, size=(n, steps))
    for i in np.flatnonzero(y):
        at = rng.integers(0, steps - 40)
        X[i, at:at + 40] += 2.0 * np.sin(2 * np.pi * t[:40] / 10)
    X, yf, Xv, yv = split(X[:, None, :].astype(np.float32), y.astype(np.float32)[:, None])
    return X, yf, Xv, yv


def _signal_net(head: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Conv1d(1, 20, 4, padding="same"), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Dropout(0.3), nn.Flatten(), nn.Linear(20 * 100, 50), nn.ReLU(),
                         nn.Linear(50, 1), head)


def _signal_task(name: str, fixed: bool) -> Task:
    X, y, Xv, yv = _signals()
    head = nn.Sigmoid if fixed else (lambda: nn.Softmax(dim=1))
    return Task(model=lambda: _signal_net(head()), train=(X, y), val=(Xv, yv),
                loss=keras_binary_crossentropy, name=name, epochs=40)


FAULTS: dict[str, Program] = {
    "neuralint_keras3040": Program(lambda: _line_task("neuralint_keras3040"),
                                   ("learning_rate",), {**PLAIN_SGD, "lr": 1e-3, "batch_size": 1}),
    "neuralint_tf3916": Program(lambda: _zero_task("neuralint_tf3916", zeros=True),
                                ("init",), {**PLAIN_SGD, "lr": 0.5, "batch_size": 100}),
    "neuralint_so52800582": Program(lambda: _quartic_task("neuralint_so52800582", scaled=False),
                                    ("data",), {**ADAM, "lr": 1e-3, "batch_size": 320}),
    "neuralint_so50079585": Program(lambda: _blog_cnn_task("neuralint_so50079585", fixed=False),
                                    ("activation", "loss"),
                                    {**RMSPROP, "lr": 1e-3, "batch_size": 16}),
    "neuralint_so51749207": Program(lambda: _signal_task("neuralint_so51749207", fixed=False),
                                    ("activation",), {**ADAM, "lr": 1e-3, "batch_size": 8}),
}

CLEAN: dict[str, Program] = {
    "neuralint_keras3040_fixed": Program(lambda: _line_task("neuralint_keras3040_fixed"),
                                         (), {**PLAIN_SGD, "lr": 1e-5, "batch_size": 1}),
    "neuralint_tf3916_fixed": Program(lambda: _zero_task("neuralint_tf3916_fixed", zeros=False),
                                      (), {**PLAIN_SGD, "lr": 0.5, "batch_size": 100}),
    "neuralint_so52800582_fixed": Program(lambda: _quartic_task("neuralint_so52800582_fixed",
                                                                scaled=True),
                                          (), {**ADAM, "lr": 1e-3, "batch_size": 320}),
    "neuralint_so50079585_fixed": Program(lambda: _blog_cnn_task("neuralint_so50079585_fixed",
                                                                 fixed=True),
                                          (), {**RMSPROP, "lr": 1e-3, "batch_size": 16}),
    "neuralint_so51749207_fixed": Program(lambda: _signal_task("neuralint_so51749207_fixed",
                                                               fixed=True),
                                          (), {**ADAM, "lr": 1e-3, "batch_size": 8}),
}
