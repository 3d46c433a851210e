"""Hooks into a probe's training loop. Every hook does nothing by default."""

from __future__ import annotations


class ProbeCallback:
    """Subclass and override the hooks you need (pruning, logging, early stopping)."""

    def on_epoch_end(self, epoch: int, val_loss: float | None) -> bool:
        """After each complete epoch (1-based) with the validation loss (None if not finite).

        Returns:
            True to stop the probe here (it is then marked ``stopped_early``).
        """
        return False
