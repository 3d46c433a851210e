"""Tiny seeded CPU tasks for the tests; also usable as TASK files (tests/tasks.py:blobs)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import torch
from torch import nn

from triage import Task


def _blobs(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    X = centres[y] + rng.normal(size=(n, 4)).astype(np.float32)
    return X.astype(np.float32), y.astype(np.int64)


def blobs() -> Task:
    """3-class classification, 96 train / 24 val samples, a one-hidden-layer MLP."""
    X, y = _blobs()
    return Task(model=lambda: nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)),
                train=(X[:96], y[:96]), val=(X[96:], y[96:]), loss="cross_entropy",
                name="blobs", epochs=3)


def linear_regression() -> Task:
    """y = Xw + noise with 5 features; a linear model and MSE; validation held out."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = (X @ rng.normal(size=(5, 1)) + 0.1 * rng.normal(size=(80, 1))).astype(np.float32)
    return Task(model=lambda: nn.Linear(5, 1), train=(X, y), loss="mse", name="linreg", epochs=2)


def quadratic(scale: float = 10.0) -> Task:
    """loss = (w * scale)^2 for one weight: plain SGD diverges exactly above lr = 1 / scale^2."""
    X = torch.full((64, 1), scale)
    y = torch.zeros(64, 1)
    return Task(model=lambda: nn.Linear(1, 1, bias=False), train=(X, y), val=(X, y), loss="mse",
                name=f"quadratic{scale:g}", epochs=1)


class NaNLayer(nn.Module):
    """A broken custom layer: divides by zero, so every output is NaN whatever the LR."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) / torch.zeros(())


def always_nan() -> Task:
    X, y = _blobs(40)
    return Task(model=NaNLayer, train=(X, y), val=(X, y), loss="cross_entropy", name="nan")


tiny = blobs()  # a Task instance, for the module:attr form
not_a_task = 42


def raises() -> Task:
    raise RuntimeError("cannot build")


class _Slow(nn.Module):
    """blobs' MLP, slowed to ~50 ms a forward pass so that a test can stop a worker mid-trial."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.05)
        return self.net(x)


def slow_blobs() -> Task:
    X, y = _blobs()
    return Task(model=_Slow, train=(X[:96], y[:96]), val=(X[96:], y[96:]), loss="cross_entropy",
                name="slow_blobs", epochs=4)


class _Dropped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def dropout_blobs() -> Task:
    """blobs with a dropout layer, so that sweeps tune its rate."""
    X, y = _blobs()
    return Task(model=_Dropped, train=(X[:96], y[:96]), val=(X[96:], y[96:]),
                loss="cross_entropy", name="dropout_blobs", epochs=3)


# Programs of other shapes than (x, y) -> model(x) -> loss(out, y).

class _CarriesItsLoss(nn.Module):
    """The Hugging Face convention: a dict batch with the labels in it, an output with .loss."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.net(features)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


def dict_blobs() -> Task:
    """blobs as a list of dict items, and a model whose output carries its loss."""
    X, y = _blobs()
    items = [{"features": torch.from_numpy(x), "labels": torch.tensor(t)}
             for x, t in zip(X, y, strict=True)]
    return Task(model=_CarriesItsLoss, train=items[:96], val=items[96:], name="dict_blobs",
                epochs=3)


class _TinyVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encode, self.decode = nn.Linear(4, 2 * 2), nn.Linear(2, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_var = self.encode(x).chunk(2, dim=-1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        return self.decode(z), mean, log_var


def vae_step(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction plus KL divergence: a loss on the input, with no targets."""
    recon, mean, log_var = model(x)
    kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(dim=-1).mean()
    return nn.functional.mse_loss(recon, x) + 0.1 * kl


def vae() -> Task:
    """A VAE on blobs' features: items are single tensors, the step is the user's own."""
    X, _ = _blobs()
    rows = list(torch.from_numpy(X))
    return Task(model=_TinyVAE, train=rows[:96], val=rows[96:], step=vae_step, name="vae",
                epochs=3)


class _DoubleNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1)).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def double_regression() -> Task:
    """A float64 model on float64 NumPy data (pytorch/examples' time-sequence habit)."""
    X, _ = _blobs()
    X = X.astype(np.float64)
    y = X.sum(axis=1, keepdims=True) / 4
    return Task(model=_DoubleNet, train=(X, y), loss="mse", name="double_regression", epochs=2)


def lbfgs(lr: float = 0.8) -> torch.optim.LBFGS:
    """A factory for the Task's own optimizer, with a customary LR as its default."""

    def make(params, lr: float = lr) -> torch.optim.LBFGS:
        return torch.optim.LBFGS(params, lr=lr, max_iter=5)

    return make


def lbfgs_regression() -> Task:
    """double_regression trained with its authors' own updater, LBFGS (a Task factory)."""
    task = double_regression()
    task.name, task.optimizer = "lbfgs_regression", lbfgs()
    return task


def own_updater_without_lr() -> Task:
    """A Task whose optimizer factory has no default LR: doctor must be told the LR."""
    task = blobs()
    task.optimizer = lambda params, lr: torch.optim.SGD(params, lr=lr)
    return task


def huber_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The user's own loss on (x, y) batches: Huber, plus a small L1 penalty on the weights."""
    x, y = batch
    penalty = sum(p.abs().sum() for p in model.parameters())
    return nn.functional.huber_loss(model(x), y) + 1e-4 * penalty


def step_regression() -> Task:
    """(x, y) tensors with the user's own step: doctor checks data and model, not overfitting."""
    task = linear_regression()
    task.step, task.name = huber_step, "step_regression"
    return task


_forwards = 0


class _KilledOnRank1(nn.Sequential):
    """The blobs MLP; under torchrun its forward kills rank 1 (SIGKILL, as a crashed host
    would) at call ``TRIAGE_TEST_KILL_AT``, or raises on rank 0 at ``TRIAGE_TEST_RAISE_AT``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        global _forwards
        _forwards += 1
        kill_at = os.environ.get("TRIAGE_TEST_KILL_AT")
        if kill_at and os.environ.get("RANK") == "1" and _forwards >= int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)
        raise_at = os.environ.get("TRIAGE_TEST_RAISE_AT")
        if raise_at and os.environ.get("RANK") == "0" and _forwards == int(raise_at):
            raise ValueError("a bug in rank 0's forward")
        return super().forward(x)


def blobs_killed_rank() -> Task:
    """``blobs`` whose rank 1 dies mid-run under torchrun when TRIAGE_TEST_KILL_AT is set."""
    task = blobs()
    task.model = lambda: _KilledOnRank1(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    return task
