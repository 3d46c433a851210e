"""Real faulty TensorFlow training programs, ported to PyTorch, each with the fix from its source.

Issue 24's set from the TensorFlow program bugs benchmark of Zhang et al., "An Empirical Study on
TensorFlow Program Bugs" (ISSTA 2018, github.com/ForeverZyh/TensorFlow-Program-Bugs, commit
158ba0a). The benchmark keeps a buggy and a fixed copy of every subject (StackOverflow questions
under ``StackOverflow/<cause>-<n>/<question>-{buggy,fix}``, GitHub projects under
``Github/<cause>-<n>``). Only subjects whose fault shows in training (NaN, divergence, a model
that learns badly) are ported; crashes, API misuse and shape errors are left out.
README.md (this folder) lists the source of every program, the fault, the fix and what the port
changed.

Each buggy program reproduces its subject's fault; its ``_fixed`` twin applies the benchmark's
fix and nothing else. The graphs are translated one to one: the same layer sizes (one hidden
layer narrowed, see the CNN), activations, hand-written losses (passed as callables), optimizer
and settings, initialisers (TF's ``truncated_normal`` redraws beyond two standard deviations, as
``nn.init.trunc_normal_`` with ``a=-2 std, b=2 std`` does) and batch size. The number of updates
is kept where the fault needs it (the softmax regressions' NaN comes after thousands of
updates); the CNN, the DBN and the 3-point fit train for fewer (noted at each).

MNIST becomes scikit-learn's ``load_digits`` scaled to 0..1 (MNIST's ``input_data`` also gives
0..1 pixels): 8x8 for the CNN and the DBN, resized to MNIST's 28x28 layout for the two softmax
regressions, whose NaN depends on the input size. The toy data the questions build in code is
kept, drawn with the benchmark's seeds; validation points are added. The 3-point fit (38447935)
is a shape bug that does not crash: the targets broadcast against the outputs and the model
trains to the wrong answer, so it is kept.

Written 2026-12-05, before any doctor change for issue 24, without looking at doctor's checks:
the ground-truth families come from each fix alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from triage.task import Task

from ._common import ADAM, PLAIN_SGD, Program, split


def _trunc_normal(t: torch.Tensor, std: float) -> torch.Tensor:
    """TF's ``truncated_normal(stddev=std)``: redrawn beyond two standard deviations."""
    return nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)


def _digits(one_hot: bool, image: bool = False, mnist_size: bool = False
            ) -> tuple[np.ndarray, ...]:
    """MNIST stand-in: scikit-learn's 8x8 digits scaled to 0..1 (1437 train, 360 val).

    ``mnist_size``: each digit resized (bilinear) to 20x20 and centred in 28x28 with zeros, as
    MNIST lays out its digits: 784 inputs with MNIST's scale (mean pixel 0.16, mean squared norm
    79; MNIST's are 0.13 and about 80), for the programs whose fault depends on the input size.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    if mnist_size:
        t = torch.nn.functional.interpolate(torch.from_numpy(X).reshape(-1, 1, 8, 8),
                                            size=(20, 20), mode="bilinear", align_corners=False)
        X = torch.nn.functional.pad(t, (4, 4, 4, 4)).reshape(len(X), 784).numpy()
    if image:
        X = X.reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    if one_hot:
        y = np.eye(10, dtype=np.float32)[y]
    return split(X, y)


# --- tfbugs_logreg_log0: softmax regression with -sum(y * log(softmax)) ------------------------
# Github/IPS-9 (aymericdamien/TensorFlow-Examples, "2 - Basic Classifiers/logistic_regression.py"):
# cost = -tf.reduce_sum(y * tf.log(activation)); once a softmax output underflows to 0 the loss
# and every gradient turn NaN. Fix: tf.reduce_mean(-tf.reduce_sum(y * tf.log(activation + 1e-8),
# reduction_indices=1)).


def _log0_sum(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(p)).sum()


def _log0_fixed(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (-(y * torch.log(p + 1e-8)).sum(dim=1)).mean()


def _softmax_regression() -> nn.Module:
    net = nn.Sequential(nn.Linear(784, 10), nn.Softmax(dim=1))
    nn.init.zeros_(net[0].weight)  # tf.zeros([784, 10])
    nn.init.zeros_(net[0].bias)
    return net


LOGREG_EPOCHS = 917  # 25 MNIST epochs of 550 batches = 13,750 updates; 15 batches here


def _logreg_task(name: str, loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Task:
    X, y, Xv, yv = _digits(one_hot=True, mnist_size=True)
    return Task(model=_softmax_regression, train=(X, y), val=(Xv, yv), loss=loss, name=name,
                epochs=LOGREG_EPOCHS)


# --- tfbugs_43239467: MNIST CNN whose logits go through ReLU -----------------------------------
# StackOverflow/IPS-11/43239467: fc_layer applies tf.nn.relu, also to the 10-way output layer fed
# to softmax_cross_entropy_with_logits. Fix: fc_layer(..., activation=None) for the logits.


class _Cnn(nn.Module):
    """conv 5x5/32 + pool, conv 5x5/64 + pool, fc, fc 10 (the question's CNN, on 8x8 digits:
    the flatten is 2x2x64 instead of 7x7x64 and fc1 has 256 units instead of 1024, to stay
    under 200k parameters)."""

    def __init__(self, relu_logits: bool, hidden: int = 256) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(2 * 2 * 64, hidden)
        self.fc2 = nn.Linear(hidden, 10)
        self.relu_logits = relu_logits
        for m in (self.conv1, self.conv2, self.fc1, self.fc2):
            _trunc_normal(m.weight, 0.1)
            nn.init.constant_(m.bias, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = nn.functional.max_pool2d
        x = pool(torch.relu(self.conv1(x)), 2)
        x = pool(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        x = self.fc2(x)
        return torch.relu(x) if self.relu_logits else x


def _cnn_task(name: str, relu_logits: bool) -> Task:
    X, y, Xv, yv = _digits(one_hot=True, image=True)
    # the question trains 2000 batches of 100; 30 epochs of 15 batches = 450 updates here
    return Task(model=lambda: _Cnn(relu_logits), train=(X, y.argmax(1)), val=(Xv, yv.argmax(1)),
                loss="cross_entropy", name=name, epochs=30)


# --- tfbugs_dbn_softmax: DBN fine-tuning with a cross-entropy on raw logits --------------------
# Github/IPS-7 (blackecho/Deep-Learning-TensorFlow, model.py _create_cost_function_node): the
# 'cross_entropy' cost -mean(y log clip(out) + (1-y) log clip(1-out)) is applied to the softmax
# layer's raw logits. Fix: model_output = tf.nn.softmax(model_output) before the cost.


def _bce_clipped(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """model.py's 'cross_entropy': -mean(y log clip(p, 1e-10, inf) + (1-y) log clip(1-p, ...))."""
    return -(y * torch.log(p.clamp(min=1e-10))
             + (1 - y) * torch.log((1 - p).clamp(min=1e-10))).mean()


def _bce_on_softmax(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _bce_clipped(torch.softmax(z, dim=1), y)


def _dbn() -> nn.Module:
    """run_dbn.py --rbm_layers=512,256: relu layers 512, 256 and a linear softmax layer, each
    truncated_normal(0.1) with biases 0.1 (dbn.py; the RBM pretraining is left out)."""
    net = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                        nn.Linear(256, 10))
    for m in net:
        if isinstance(m, nn.Linear):
            _trunc_normal(m.weight, 0.1)
            nn.init.constant_(m.bias, 0.1)
    return net


def _dbn_task(name: str, loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Task:
    X, y, Xv, yv = _digits(one_hot=True)
    # run_dbn.py's 10 fine-tuning epochs, batch 10: 1,440 updates here (55,000 on MNIST)
    return Task(model=_dbn, train=(X, y), val=(Xv, yv), loss=loss, name=name, epochs=10)


# --- tfbugs_33641799: softmax regression, summed cross-entropy, SGD lr 0.01 --------------------
# StackOverflow/IPS-14/33641799: the beginners' MNIST softmax regression with
# -tf.reduce_sum(y_ * tf.log(y)) over a batch of 205 and GradientDescentOptimizer(0.01): the
# loss goes NaN. Fix: learning rate 0.005.


def _sgd_logreg_task(name: str) -> Task:
    X, y, Xv, yv = _digits(one_hot=True, mnist_size=True)
    # the question's 1000 batches of 205: 143 epochs of 8 batches (7 full) here
    return Task(model=_softmax_regression, train=(X, y), val=(Xv, yv), loss=_log0_sum,
                name=name, epochs=143)


# --- tfbugs_43636736: linear regression on x = 0..99 with SGD lr 0.5 ---------------------------
# StackOverflow/IPS-15/43636736: Yhat = W [x, 1], W = ones, MSE = sum((Y - Yhat)^2) / (2T),
# GradientDescentOptimizer(0.5) on raw x up to 99: the loss blows up to inf/NaN.
# Fix: learning rate 0.0005.


def _line() -> tuple[np.ndarray, ...]:
    """The question's data: x = 0..99 with a column of ones, y = 2 x + 4 + 10 U(0, 1) (numpy
    seeded 20180130 as in the benchmark); a second noise draw on the same x for validation."""
    rng = np.random.RandomState(20180130)
    t = np.arange(100, dtype=np.float32)
    X = np.stack([t, np.ones(100, dtype=np.float32)], axis=1)
    y, yv = ((2 * t + 4 + 10 * rng.random_sample(100)).astype(np.float32)[:, None]
             for _ in range(2))
    return X, y, X.copy(), yv


def _half_mse(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((y - p) ** 2).sum() / (2 * len(y))


def _no_bias_linear(n_in: int, init: Callable[[torch.Tensor], object]) -> nn.Module:
    net = nn.Linear(n_in, 1, bias=False)
    init(net.weight)
    return net


def _line_task(name: str) -> Task:
    X, y, Xv, yv = _line()
    return Task(model=lambda: _no_bias_linear(2, nn.init.ones_), train=(X, y), val=(Xv, yv),
                loss=_half_mse, name=name, epochs=100)


# --- tfbugs_46577203: quadratic fit with summed squares, SGD lr 0.01 ---------------------------
# StackOverflow/IPS-17/46577203: A x^2 + B x + C from zeros on x = 0..3, loss
# tf.reduce_sum(tf.square(model - y)), GradientDescentOptimizer(0.01): diverges to NaN.
# Fix: learning rate 0.001.


class _Quadratic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.abc = nn.Parameter(torch.zeros(3))  # A, B, C = tf.Variable([0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.abc[0] * x ** 2 + self.abc[1] * x + self.abc[2]


def _sum_squares(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((p - y) ** 2).sum()


def _quadratic_task(name: str) -> Task:
    X = np.array([[0], [1], [2], [3]], dtype=np.float32)
    Xv = np.array([[0.5], [1.5], [2.5]], dtype=np.float32)
    return Task(model=_Quadratic, train=(X, X ** 2), val=(Xv, Xv ** 2), loss=_sum_squares,
                name=name, epochs=100)


# --- tfbugs_39939881: linear regression with plain gradient descent at lr 0.1 ------------------
# StackOverflow/IPS-5/39939881: y = w x + b + U(-1, 1) for 8 points x ~ U(-8, 8), W = B = 0,
# tf.reduce_mean(tf.square(y_ - y)), GradientDescentOptimizer(1e-1): the loss explodes.
# Fix: AdamOptimizer(1e-1).


def _points() -> tuple[np.ndarray, ...]:
    """The question's own draw (Python's ``random`` seeded 20180130 as in the benchmark):
    w, b ~ U(-8, 8), 8 points x ~ U(-8, 8), y = w x + b + U(-1, 1); 8 more points from the same
    generator for validation."""
    import random

    rng = random.Random(20180130)
    w, b = rng.uniform(-8, 8), rng.uniform(-8, 8)
    sets = []
    for _ in range(2):
        x = [rng.uniform(-8, 8) for _ in range(8)]
        y = [w * v + b + rng.uniform(-1, 1) for v in x]
        sets += [np.array(x, dtype=np.float32)[:, None], np.array(y, dtype=np.float32)[:, None]]
    return tuple(sets)


class _Scalar(nn.Module):
    """y = x * W + B with W, B = tf.zeros([1])."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w + self.b


def _points_task(name: str) -> Task:
    X, y, Xv, yv = _points()
    return Task(model=_Scalar, train=(X, y), val=(Xv, yv), loss="mse", name=name, epochs=100)


# --- tfbugs_38447935: least squares whose targets broadcast against the outputs ----------------
# StackOverflow/UT-15/38447935: y = tf.matmul(x, w) is (3, 1), y_ is (3,), so
# tf.reduce_mean(tf.square(y_ - y)) averages a 3x3 grid of every output against every target and
# w never fits y = x. Fix: y_ = tf.expand_dims(y_, axis=1).


def _mean_square(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((y - p) ** 2).mean()


FITTING_EPOCHS = 15000  # the question's 50,000 full-batch updates, cut to keep the run short


def _fitting_task(name: str, expand: bool) -> Task:
    X = np.array([[1, 1], [1, 2], [1, 3]], dtype=np.float32)
    Xv = np.array([[1, 1.5], [1, 2.5], [1, 4]], dtype=np.float32)
    y, yv = X[:, 1].copy(), Xv[:, 1].copy()
    if expand:
        y, yv = y[:, None], yv[:, None]
    return Task(model=lambda: _no_bias_linear(2, lambda w: _trunc_normal(w, 0.1)), train=(X, y),
                val=(Xv, yv), loss=_mean_square, name=name, epochs=FITTING_EPOCHS)



def _adam(lr: float, batch_size: int) -> dict:
    return {**ADAM, "lr": lr, "batch_size": batch_size}


def _sgd(lr: float, batch_size: int) -> dict:
    return {**PLAIN_SGD, "lr": lr, "batch_size": batch_size}


FAULTS: dict[str, Program] = {
    "tfbugs_logreg_log0": Program(
        lambda: _logreg_task("tfbugs_logreg_log0", _log0_sum), ("loss",), _adam(0.005, 100)),
    "tfbugs_43239467": Program(
        lambda: _cnn_task("tfbugs_43239467", True), ("activation",), _adam(1e-3, 100)),
    "tfbugs_dbn_softmax": Program(
        lambda: _dbn_task("tfbugs_dbn_softmax", _bce_clipped), ("activation",), _sgd(0.01, 10)),
    "tfbugs_33641799": Program(
        lambda: _sgd_logreg_task("tfbugs_33641799"), ("learning_rate",), _sgd(0.01, 205)),
    "tfbugs_43636736": Program(
        lambda: _line_task("tfbugs_43636736"), ("learning_rate",), _sgd(0.5, 100)),
    "tfbugs_46577203": Program(
        lambda: _quadratic_task("tfbugs_46577203"), ("learning_rate",), _sgd(0.01, 4)),
    "tfbugs_39939881": Program(
        lambda: _points_task("tfbugs_39939881"), ("optimizer",), _sgd(0.1, 8)),
    "tfbugs_38447935": Program(
        lambda: _fitting_task("tfbugs_38447935", False), ("data",), _adam(1e-4, 3)),
}

CLEAN: dict[str, Program] = {
    "tfbugs_logreg_log0_fixed": Program(
        lambda: _logreg_task("tfbugs_logreg_log0_fixed", _log0_fixed), (), _adam(0.005, 100)),
    "tfbugs_43239467_fixed": Program(
        lambda: _cnn_task("tfbugs_43239467_fixed", False), (), _adam(1e-3, 100)),
    "tfbugs_dbn_softmax_fixed": Program(
        lambda: _dbn_task("tfbugs_dbn_softmax_fixed", _bce_on_softmax), (), _sgd(0.01, 10)),
    "tfbugs_33641799_fixed": Program(
        lambda: _sgd_logreg_task("tfbugs_33641799_fixed"), (), _sgd(0.005, 205)),
    "tfbugs_43636736_fixed": Program(
        lambda: _line_task("tfbugs_43636736_fixed"), (), _sgd(0.0005, 100)),
    "tfbugs_46577203_fixed": Program(
        lambda: _quadratic_task("tfbugs_46577203_fixed"), (), _sgd(0.001, 4)),
    "tfbugs_39939881_fixed": Program(
        lambda: _points_task("tfbugs_39939881_fixed"), (), _adam(0.1, 8)),
    "tfbugs_38447935_fixed": Program(
        lambda: _fitting_task("tfbugs_38447935_fixed", True), (), _adam(1e-4, 3)),
}
