"""Pruning a sweep's trials on their per-epoch validation loss, cheaply on shared storages."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial

from triage.optuna_private import FinishedTrialsView
from triage.probe import ProbeCallback


class SnapshotPruner(optuna.pruners.BasePruner):
    """Runs a percentile/median pruner against the finished trials read once per trial.

    Optuna's median pruner reads every finished trial at every report; on a shared RDB or
    journal that is a full read per epoch per worker. Finished trials never change, so one
    read when the trial starts suffices: trials finishing meanwhile count from the next trial
    on. Without a snapshot (``refresh`` not called) it defers to the wrapped pruner as is.
    """

    def __init__(self, pruner: optuna.pruners.BasePruner) -> None:
        self.pruner = pruner
        self._view: FinishedTrialsView | None = None

    def refresh(self, study: optuna.Study, finished: Sequence[FrozenTrial]) -> None:
        """Take the snapshot: the study's COMPLETE trials as of now."""
        self._view = FinishedTrialsView(study.direction, list(finished))

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return self.pruner.prune(self._view or study, trial)  # type: ignore[arg-type]


class Pruning(ProbeCallback):
    """Reports each epoch's validation loss to the trial and stops when the pruner says so."""

    def __init__(self, trial: optuna.Trial, enabled: bool) -> None:
        self.trial = trial
        self.enabled = enabled
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch: int, val_loss: float | None) -> bool:
        if val_loss is None:
            return False  # the divergence watch ends the run
        self.trial.report(val_loss, epoch)
        if self.enabled and self.trial.should_prune():
            self.pruned_at = epoch
            return True
        return False
