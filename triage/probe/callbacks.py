"""Hooks into a probe's training loop. Every hook does nothing by default."""

from __future__ import annotations

from typing import Any


class ProbeCallback:
    """Subclass and override the hooks you need (pruning, logging, instruments)."""

    def on_backward(self, step: int, model: Any) -> None:
        """After each step's backward pass (and clipping), before the optimizer step; the
        model's ``.grad`` tensors hold this step's gradients."""

    def on_epoch_metrics(self, epoch: int, metrics: dict[str, float | None], model: Any) -> None:
        """After each complete epoch (1-based), before ``on_epoch_end``: ``train_loss`` (the
        epoch's mean), ``val_loss`` and ``val_accuracy`` (None where not measured or not
        finite), and the model as it stands."""

    def on_epoch_end(self, epoch: int, val_loss: float | None) -> bool:
        """After each complete epoch (1-based) with the validation loss (None if not finite).
        The validation loss is only measured when some callback overrides an epoch hook.

        Returns:
            True to stop the probe here (it is then marked ``stopped_early``).
        """
        return False


def wants_epochs(callbacks: Any) -> bool:
    """Whether any callback overrides an epoch hook (so epochs must be evaluated)."""
    return any(type(cb).on_epoch_end is not ProbeCallback.on_epoch_end
               or type(cb).on_epoch_metrics is not ProbeCallback.on_epoch_metrics
               for cb in callbacks)
