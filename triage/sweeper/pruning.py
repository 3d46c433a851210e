"""Pruning a sweep's trials on their per-epoch validation loss, cheaply on shared storages."""

from __future__ import annotations

import binascii
import math
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial

from triage.optuna_private import FinishedTrialsView, SubsetView
from triage.probe import ProbeCallback
from triage.sweeper.budget import FINAL
from triage.sweeper.worker import places


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


class Hyperband(optuna.pruners.BasePruner):
    """Hyperband (Li et al. 2018) as Optuna's ``HyperbandPruner`` runs it, a bracket of Optuna's
    ``SuccessiveHalvingPruner`` per level of aggressiveness with Optuna's allocation of trials
    to brackets, with two changes a sweep needs:

    - a trial's bracket follows its place in the sweep (``worker.places``), not its number: a
      retried trial keeps its original's bracket and later trials keep theirs, so a resumed
      sweep prunes as an uninterrupted one (Optuna hashes trial numbers, which a retry shifts);
    - the sampler sees every trial: when the study's pruner is a ``HyperbandPruner``, Optuna
      hands the sampler only the new trial's bracket, so TPE starts from scratch in each (its
      docs: with 4 brackets, 4 x 10 start-up trials).

    Args:
        seed: decides, with a trial's place, its bracket.
        min_resource, max_resource, reduction_factor: as Optuna's (in ninths of the budget).
    """

    def __init__(self, seed: int = 0, min_resource: int = 1, max_resource: int = 9,
                 reduction_factor: int = 3) -> None:
        count = round(math.log(max_resource / min_resource, reduction_factor)) + 1
        self.seed = seed
        self.brackets = [optuna.pruners.SuccessiveHalvingPruner(
            min_resource=min_resource, reduction_factor=reduction_factor,
            min_early_stopping_rate=b) for b in range(count)]
        self.shares = [math.ceil(count * reduction_factor ** (count - 1 - b) / (count - b))
                       for b in range(count)]

    def bracket(self, place: int) -> int:
        """The bracket of the trial in ``place``."""
        left = binascii.crc32(f"{self.seed}_{place}".encode()) % sum(self.shares)
        for bracket, share in enumerate(self.shares):
            left -= share
            if left < 0:
                return bracket
        raise AssertionError("unreachable: the shares sum to the modulus")

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        trials = study.get_trials(deepcopy=False)
        place = places(trials)
        mine = self.bracket(place[trial.number])
        members = [t for t in trials if t.user_attrs.get("stage") != FINAL
                   and self.bracket(place[t.number]) == mine]
        return self.brackets[mine].prune(SubsetView(study, members), trial)  # type: ignore[arg-type]


PROGRESS = 9  # the step a trial reports its validation loss at: ninths of the full budget


def progress(epoch: int, epochs: int) -> int:
    """How far ``epoch`` of ``epochs`` is, in ninths (rounded down): Hyperband's rungs at 1, 3
    and 9 (reduction factor 3) then fall at a ninth, a third and all of any budget, instead of
    at epochs 1, 3 and 9, which on a 10-epoch budget prunes trials 90% of the way."""
    return epoch * PROGRESS // epochs


class Pruning(ProbeCallback):
    """Reports the validation loss to the trial as the run progresses (the first epoch to reach
    each ninth of the budget reports it) and stops when the pruner says so."""

    def __init__(self, trial: optuna.Trial, enabled: bool, epochs: int) -> None:
        self.trial = trial
        self.enabled = enabled
        self.epochs = epochs
        self.pruned_at: int | None = None
        self._reported = 0

    def on_epoch_end(self, epoch: int, val_loss: float | None) -> bool:
        if val_loss is None:
            return False  # the divergence watch ends the run
        step = progress(epoch, self.epochs)
        if step <= self._reported:
            return False
        self._reported = step
        self.trial.report(val_loss, step)
        # A trial that trained its whole budget completes: Hyperband would judge it again for a
        # rung beyond the budget and throw the finished run away.
        if self.enabled and epoch < self.epochs and self.trial.should_prune():
            self.pruned_at = epoch
            return True
        return False
