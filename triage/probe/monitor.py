"""Cheap training instruments: sampled, and synced with the device only every few steps."""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import median

import torch
from torch import nn

EXPLODE_FACTOR = 4.0  # smoothed loss this many times the starting loss counts as divergence
SMOOTHING = 0.9
# A step's loss over fewer than NOISY_BATCH samples is no reference (at batch size 1 the next
# sample's loss may be 20x the first at any LR): then the starting loss is the mean over the
# first steps that see REFERENCE_SAMPLES samples. From NOISY_BATCH up the first step's loss is
# the start, so short probes (a boundary search's 2-step ones) check from their second step.
NOISY_BATCH = 8
REFERENCE_SAMPLES = 32


def reference_steps(batch_size: int) -> int:
    """The steps whose mean loss is a probe's starting loss at ``batch_size``."""
    return 1 if batch_size >= NOISY_BATCH else -(-REFERENCE_SAMPLES // max(1, batch_size))


class DivergenceWatch:
    """Collects per-step losses without syncing every step and detects divergence.

    A probe diverges when its loss turns non-finite or (with ``explosions``) its bias-corrected
    exponential moving average exceeds ``EXPLODE_FACTOR`` times the starting loss: the mean loss
    of the first ``reference_steps`` steps (checked from then on).
    """

    def __init__(self, check_every: int = 10, reference_steps: int = 1,
                 explosions: bool = True) -> None:
        self.check_every = check_every
        self.reference_steps = max(1, reference_steps)
        self.explosions = explosions
        self.losses: list[float] = []
        self._pending: list[torch.Tensor] = []
        self._avg = 0.0
        self._start: float | None = None
        self._first = 0.0  # sum of the first steps' losses, until the start is known
        self.step: int | None = None
        self.reason: str | None = None

    def add(self, loss: torch.Tensor) -> bool:
        """Record one step's loss; returns True once divergence has been seen."""
        if self.check_every == 1:  # reading a CPU scalar costs nothing: check at once
            value = loss.item()
            if self.reason is None:
                self._check(len(self.losses), value)
            self.losses.append(value if math.isfinite(value) else math.nan)
            return self.reason is not None
        self._pending.append(loss.detach())
        if len(self._pending) >= self.check_every:
            self.flush()
        return self.reason is not None

    def flush(self) -> bool:
        if not self._pending:
            return self.reason is not None
        values = torch.stack(self._pending).float().tolist()
        self._pending.clear()
        for value in values:
            if self.reason is None:
                self._check(len(self.losses), value)
            self.losses.append(value if math.isfinite(value) else math.nan)
        return self.reason is not None

    def fail(self, step: int, reason: str) -> None:
        if self.reason is None:
            self.step, self.reason = step, reason

    def _check(self, step: int, value: float) -> None:
        if not math.isfinite(value):
            self.fail(step, "non-finite loss")
            return
        self._avg = SMOOTHING * self._avg + (1 - SMOOTHING) * value
        if not self.explosions:
            return
        if self._start is None:
            self._first += value
            if step + 1 < self.reference_steps:
                return
            self._start = self._first / (step + 1)
        smoothed = self._avg / (1 - SMOOTHING ** (step + 1))
        limit = EXPLODE_FACTOR * abs(self._start) + 1e-8
        if smoothed > limit:
            self.fail(step, f"loss exploded to {smoothed:.3g} (> {EXPLODE_FACTOR:g}x the start, "
                            f"{self._start:.3g})")


def global_grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of all gradients together, as a device tensor (no host sync)."""
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class GradientMonitor:
    """Samples the global gradient norm and the update:parameter ratio every ``every`` steps."""

    def __init__(self, model: nn.Module, every: int = 25) -> None:
        self.every = every
        self.named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.grad_norms: list[torch.Tensor] = []
        self.ratios: list[torch.Tensor] = []
        self._params = [p.detach() for _, p in self.named]
        self._before: list[torch.Tensor] | None = None  # the weights before a sampled step
        self._before_norms: torch.Tensor | None = None

    def wants(self, step: int) -> bool:
        return step % self.every == 0

    def before_step(self, grad_norm: torch.Tensor | None = None) -> None:
        """Call after backward (and clipping), before ``optimizer.step()`` on sampled steps."""
        grads = [p.grad for _, p in self.named if p.grad is not None]
        if grad_norm is None and grads:
            grad_norm = global_grad_norm(grads)
        if grad_norm is not None:
            self.grad_norms.append(grad_norm.detach())
        if self._before is None:  # one buffer, refilled on every sampled step
            self._before = [p.clone() for p in self._params]
        else:
            torch._foreach_copy_(self._before, self._params)
        self._before_norms = torch.stack(torch._foreach_norm(self._before))

    def after_step(self) -> None:
        if self._before_norms is None:
            return
        torch._foreach_sub_(self._before, self._params)  # minus the update: the same norm
        self.ratios.append(torch.stack(torch._foreach_norm(self._before))
                           / (self._before_norms + 1e-12))
        self._before_norms = None

    def last_grad_norm(self) -> float | None:
        return float(self.grad_norms[-1]) if self.grad_norms else None

    def summary(self) -> tuple[dict[str, float], dict[str, float]]:
        """(gradient-norm summary, median update ratio per parameter tensor)."""
        grad: dict[str, float] = {}
        if self.grad_norms:
            norms = torch.stack(self.grad_norms).float().tolist()
            finite = [v for v in norms if math.isfinite(v)] or [math.nan]
            grad = {"first": norms[0], "median": median(finite), "max": max(finite),
                    "last": norms[-1]}
        ratios: dict[str, float] = {}
        if self.ratios:
            table = torch.stack(self.ratios).float().median(dim=0).values.tolist()
            ratios = {name: value for (name, _), value in zip(self.named, table, strict=True)}
        return grad, ratios


class NoiseScale:
    """The gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, "An
    empirical model of large-batch training", appendix A) from gradients at two batch sizes:
    each worker's own (``small`` samples) and their average (``big``). Both unbiased estimates
    are averaged over the sampled steps before dividing, as EleutherAI's gpt-neox does with
    moving averages, since a single step's |G|^2 estimate is noisy and may be negative.
    """

    def __init__(self, small: int, big: int) -> None:
        self.small, self.big = small, big
        self.norms: list[float] = []  # |G|^2 estimates
        self.traces: list[float] = []  # tr(Sigma) estimates

    def add(self, small_sq: float, big_sq: float) -> None:
        """One step: the workers' mean squared gradient norm and the averaged gradient's."""
        b, big = self.small, self.big
        self.norms.append((big * big_sq - b * small_sq) / (big - b))
        self.traces.append((small_sq - big_sq) / (1 / b - 1 / big))

    def value(self) -> float | None:
        """B_simple, in samples; None before any step or when |G|^2 is not positive."""
        if not self.norms:
            return None
        norm, trace = sum(self.norms) / len(self.norms), sum(self.traces) / len(self.traces)
        ok = norm > 0 and trace > 0 and math.isfinite(norm) and math.isfinite(trace)
        return trace / norm if ok else None


def dead_relu_fraction(model: nn.Module, forward: Callable[[], object]) -> float | None:
    """Share of ``nn.ReLU`` units (features/channels) that output zero for every input that
    ``forward`` (a call of the task's step on one batch) runs through ``model``.

    Returns None when the model has no ``nn.ReLU`` modules (functional ReLUs are invisible).
    """
    counts = [0, 0]  # dead, total

    def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if output.ndim < 2:
            return
        alive = (output != 0).transpose(0, 1).reshape(output.shape[1], -1).any(dim=1)
        counts[0] += int((~alive).sum())
        counts[1] += alive.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    if not handles:
        return None
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            forward()
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return counts[0] / counts[1] if counts[1] else None
