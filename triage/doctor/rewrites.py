"""Data fixes doctor can apply to a probe: the data findings' fixes, tried counterfactually.

A data finding's fix is a change to the user's preprocessing ("standardise the inputs",
"standardise the targets"). ``verify`` tries it by training a fresh model on a rewritten copy of
the probes' data (train and validation, both with the training split's statistics) and comparing
with a probe on the data as given. A rewrite of the targets changes the scale the loss is read
in, so each rewrite also says how to read its validation loss in the user's units: the same
predictions mapped back to the original scale would have a loss ``scale`` times as large (exact
for a mean squared error with one global std; an L1 loss scales by the std itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from triage.data import TensorData
from triage.losses import LossKind
from triage.task import PreparedTask

STD_FLOOR = 1e-6  # a constant feature is centred, not divided by (almost) zero


@dataclass(frozen=True)
class Rewritten:
    """A probe's data with a fix applied.

    Attributes:
        prepared: the rewritten data, with the task's model, step and loss.
        scale: the validation loss in the user's units is ``scale`` times the one measured.
        what: the rewrite, in words (for the finding's evidence).
    """

    prepared: PreparedTask
    scale: float
    what: str


def _axes(X: torch.Tensor) -> tuple[int, ...]:
    """The axes the statistics are taken over: samples for a table (per column), samples and
    positions for images (per channel, dim 1), samples and steps for sequences (per last-dim
    feature)."""
    if X.ndim <= 2:
        return (0,)
    if X.ndim == 3:
        return (0, 1)
    return (0, *range(2, X.ndim))


def standardise_inputs(prepared: PreparedTask, kind: LossKind | None) -> Rewritten | None:
    """Inputs centred and divided by their std, per feature or channel, with the training
    split's statistics; None when the inputs are not floating tensors."""
    train, val = prepared.train, prepared.val
    if not isinstance(train, TensorData) or not isinstance(val, TensorData) or \
            not train.X.is_floating_point() or len(train) < 2:
        return None
    axes = _axes(train.X)
    mean = train.X.mean(dim=axes, keepdim=True)
    std = train.X.std(dim=axes, keepdim=True).clamp_min(STD_FLOOR)
    return Rewritten(_with(prepared, lambda d: TensorData((d.X - mean) / std, d.y)), 1.0,
                     "inputs standardised with the training split's mean and std")


def standardise_targets(prepared: PreparedTask, kind: LossKind | None) -> Rewritten | None:
    """Regression targets centred per output and divided by one global std (so the loss in
    the user's units is known: x std^2 for a mean squared error, x std for L1); None for other
    losses, or targets that are not floating tensors."""
    power = {"mse": 2, "l1": 1}.get(kind.name if kind is not None else "")
    train, val = prepared.train, prepared.val
    if power is None or not isinstance(train, TensorData) or \
            not isinstance(val, TensorData) or not train.y.is_floating_point() or len(train) < 2:
        return None
    mean = train.y.mean(dim=0, keepdim=True)
    std = float((train.y - mean).pow(2).mean().sqrt())
    if not std > STD_FLOOR:
        return None
    return Rewritten(_with(prepared, lambda d: TensorData(d.X, (d.y - mean) / std)),
                     std ** power, f"targets standardised (std {std:.3g})")


REWRITES: dict[str, Callable[[PreparedTask, LossKind | None], Rewritten | None]] = {
    "inputs": standardise_inputs,
    "targets": standardise_targets,
}


def _with(prepared: PreparedTask, change: Callable[[TensorData], TensorData]) -> PreparedTask:
    """The task on changed data; not rebuildable from its seed (a rewrite is doctor's), so
    data-parallel ranks never train it."""
    return PreparedTask(prepared.task, change(prepared.train),  # type: ignore[arg-type]
                        change(prepared.val), prepared.step,  # type: ignore[arg-type]
                        prepared.accuracy)
