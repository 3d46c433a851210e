"""The seam every training and evaluation loop goes through: one batch in, its loss and the
output it came from out.

The probe engine's training loop, validation, the Task's fit check and doctor's forward pass all
call a ``Step``; none of them calls the model or the loss directly. Today a step is the ``(x, y)``
form, ``loss(model(x), y)``; a custom training step is another ``Step``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn

from triage.losses import LossFn

_MARK = "_triage_step_failure"  # set on an exception raised inside a step


class StepFailure(NamedTuple):
    """Where a step raised: in the ``model`` or in the ``loss``; for the loss, the model's
    output it was given (so a fit check can say what the model returned)."""

    part: str
    output: Any = None


class StepOutput(NamedTuple):
    """What one batch gave: the scalar loss and the model's output it was computed from."""

    loss: torch.Tensor
    output: Any


Step = Callable[[nn.Module, Any], StepOutput]


class LossStep:
    """The ``(x, y)`` form: ``loss_fn(model(x), y)``.

    An exception from the model or the loss is re-raised as it is (an out-of-memory error stays
    one), marked with the part that raised it (see ``failed_part``).
    """

    def __init__(self, loss_fn: LossFn) -> None:
        self.loss_fn = loss_fn

    def __call__(self, model: nn.Module, batch: Any) -> StepOutput:
        x, y = batch
        try:
            out = model(x)
        except Exception as exc:
            setattr(exc, _MARK, StepFailure("model"))
            raise
        try:
            return StepOutput(self.loss_fn(out, y), out)
        except Exception as exc:
            setattr(exc, _MARK, StepFailure("loss", out))
            raise


def failure(exc: BaseException) -> StepFailure | None:
    """Where inside a step ``exc`` was raised, or None when it is not known."""
    return getattr(exc, _MARK, None)


def targets(batch: Any) -> torch.Tensor:
    """The targets of an ``(x, y)`` batch (what accuracy and doctor's checks compare with)."""
    return batch[1]
