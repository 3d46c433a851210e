"""The seam every training and evaluation loop goes through: one batch in, its loss and the
output it came from out.

The probe engine's training loop, validation, the Task's fit check and doctor's forward pass all
call a ``Step``; none of them calls the model or the loss directly. Two steps exist:

- ``DefaultStep``: an ``(x, y)`` batch trains as ``loss(model(x), y)`` (a tuple or dict output
  gives its first tensor to the loss); a dict batch goes to ``model(**batch)`` and the output
  must carry its loss (Hugging Face's convention: labels in the batch, ``output.loss``).
- ``CustomStep``: the user's own ``step(model, batch)`` returning a scalar loss, a dict with
  ``"loss"``, or an object with ``.loss``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from triage.errors import TaskError
from triage.losses import LossFn

_MARK = "_triage_step_failure"  # set on an exception raised inside a step


class StepOutput(NamedTuple):
    """What one batch gave: the scalar loss and the model's output it was computed from."""

    loss: torch.Tensor
    output: Any


class StepFailure(NamedTuple):
    """Where a step raised: in the ``model``, the ``loss`` or the user's ``step``; for the loss,
    the model's output it was given (so a fit check can say what the model returned)."""

    part: str
    output: Any = None


Step = Callable[[nn.Module, Any], StepOutput]


def _mark(exc: BaseException, failure: StepFailure) -> None:
    if getattr(exc, _MARK, None) is None:
        setattr(exc, _MARK, failure)


class DefaultStep:
    """A step for programs without one: ``(x, y)`` batches with ``loss_fn``, or dict batches
    whose model output carries the loss.

    An exception from the model or the loss is re-raised as it is (an out-of-memory error stays
    one), marked with the part that raised it (see ``failure``).
    """

    def __init__(self, loss_fn: LossFn) -> None:
        self.loss_fn = loss_fn

    def __call__(self, model: nn.Module, batch: Any) -> StepOutput:
        if isinstance(batch, Mapping):
            try:
                out = model(**batch)
            except Exception as exc:
                _mark(exc, StepFailure("model"))
                raise
            return StepOutput(carried_loss(out), out)
        x, y = batch
        try:
            out = model(x)
        except Exception as exc:
            _mark(exc, StepFailure("model"))
            raise
        try:
            return StepOutput(self.loss_fn(primary(out), y), out)
        except Exception as exc:
            _mark(exc, StepFailure("loss", out))
            raise


class CustomStep:
    """The user's ``step(model, batch)``: its scalar loss, ``result["loss"]`` or ``result.loss``
    is the loss, and the whole result is the output."""

    def __init__(self, step: Callable[[nn.Module, Any], Any]) -> None:
        self.step = step

    def __call__(self, model: nn.Module, batch: Any) -> StepOutput:
        try:
            result = self.step(model, batch)
        except Exception as exc:
            _mark(exc, StepFailure("step"))
            raise
        return StepOutput(result if torch.is_tensor(result) else carried_loss(result, "step"),
                          result)


def carried_loss(output: Any, source: str = "model's output") -> torch.Tensor:
    """The loss an output carries: ``output.loss`` or ``output["loss"]``.

    Raises:
        TaskError: it carries none.
    """
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if not torch.is_tensor(loss):
        raise TaskError(
            f"the {source} ({type(output).__name__}) carries no loss: return the loss, a dict "
            "with 'loss' or an object with .loss (for a dict batch, put the labels in the batch "
            "or give Task(step=...))")
    return loss


def primary(output: Any) -> Any:
    """The tensor an output stands for: itself, its ``logits``, or the first tensor of a tuple,
    list or dict (a model returning ``(logits, hidden)``); the output itself otherwise."""
    if torch.is_tensor(output):
        return output
    logits = output.get("logits") if isinstance(output, Mapping) else getattr(output, "logits",
                                                                             None)
    if torch.is_tensor(logits):
        return logits
    values = output.values() if isinstance(output, Mapping) else (
        output if isinstance(output, (tuple, list)) else ())
    return next((v for v in values if torch.is_tensor(v)), output)


def failure(exc: BaseException) -> StepFailure | None:
    """Where inside a step ``exc`` was raised, or None when it is not known."""
    return getattr(exc, _MARK, None)


def targets(batch: Any) -> torch.Tensor | None:
    """The targets of an ``(x, y)`` batch (what accuracy compares with); None for other
    batches."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and torch.is_tensor(batch[1]):
        return batch[1]
    return None
