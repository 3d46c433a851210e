"""How a sweep runs: its settings, and the Optuna sampler and pruner they choose."""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from triage.choices import PRUNERS, SAMPLERS
from triage.errors import SettingsError
from triage.probe import ProbeSettings
from triage.sweeper.pruning import SnapshotPruner
from triage.validate import check_choice, check_count, check_positive_int


@dataclass(frozen=True)
class SweepSettings:
    """How a sweep runs, validated at construction (before any task is loaded).

    Args:
        trials: trials the study should hold when done (shared by all workers).
        timeout: seconds after which this worker starts no new trial; None for no limit.
        sampler: ``tpe`` (default), ``random`` or ``grid``.
        pruner: ``median`` (default), ``hyperband`` or ``none``.
        seed: seeds every trial's model and data order, the hold-out split and the sampler.
        device: ``auto`` (the GPU the scheduler gave this worker, else CPU), ``cpu``, ``cuda:N``.
        heartbeat_interval: seconds between heartbeats of a running trial.
        grace_period: seconds without heartbeat before a trial counts as dead (default 2x).
        max_retry: how often a dead worker's trial is queued again (0: never).
        grid_levels: points per numeric range on the grid.
        precision: ``32``, ``bf16`` or ``16-mixed`` for every trial.
    """

    trials: int
    timeout: float | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    device: str = "auto"
    heartbeat_interval: int = 60
    grace_period: int | None = None
    max_retry: int = 3
    grid_levels: int = 3
    precision: str = "32"

    def __post_init__(self) -> None:
        check_positive_int("trials", self.trials)
        check_positive_int("heartbeat_interval", self.heartbeat_interval)
        check_positive_int("grid_levels", self.grid_levels)
        if self.grace_period is not None:
            check_positive_int("grace_period", self.grace_period)
        if self.timeout is not None and not (isinstance(self.timeout, (int, float))
                                             and self.timeout > 0):
            raise SettingsError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("pruner", self.pruner, PRUNERS)
        check_count("max_retry", self.max_retry)
        ProbeSettings(lr=1e-3, seed=self.seed, device=self.device,  # validates seed, device
                      precision=self.precision)                     # and precision


def make_sampler(settings: SweepSettings) -> optuna.samplers.BaseSampler:
    if settings.sampler == "tpe":
        # Few random start-up trials: the lr-find prior and the start point already inform it.
        startup = min(10, max(3, settings.trials // 4))
        return optuna.samplers.TPESampler(seed=settings.seed, n_startup_trials=startup)
    return optuna.samplers.RandomSampler(seed=settings.seed)  # grid: enqueued points only


def make_pruner(settings: SweepSettings, epochs: int) -> optuna.pruners.BasePruner:
    if settings.pruner == "median":
        # No pruning in the first quarter of the budget: slow starters (small LRs, adaptive
        # updaters) are not judged on their first epoch.
        return SnapshotPruner(optuna.pruners.MedianPruner(
            n_startup_trials=4, n_warmup_steps=max(1, epochs // 4)))
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    return optuna.pruners.NopPruner()
