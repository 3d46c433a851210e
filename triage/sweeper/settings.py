"""How a sweep runs: its settings, and the Optuna sampler and pruner they choose."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from triage.choices import PRUNERS, SAMPLERS, SWEEP_STORAGE
from triage.errors import SettingsError
from triage.sweeper.budget import check_budget
from triage.sweeper.priorband import PriorBandSampler
from triage.sweeper.pruning import PROGRESS, Hyperband, SnapshotPruner
from triage.sweeper.sampling import FixingSampler
from triage.training import check_run
from triage.validate import check_choice, check_count, check_positive_int

MEMORY = ":memory:"  # --storage's word for a study kept in memory only


@dataclass(frozen=True)
class SweepSettings:
    """How a sweep runs, validated at construction (before any task is loaded).

    Args:
        trials: at most this many search trials (shared by all workers); None: as many as the
            budget pays for.
        budget: full trainings' worth of training steps the sweep may spend, lr-find's
            included when it starts from lr-find (see ``triage.sweeper.budget``); None: no
            limit but ``trials``.
        timeout: seconds after which this worker starts no new trial; None for no limit.
        sampler: ``priorband`` (default: lr-find's configuration and the documents' defaults,
            the incumbent's neighbours and TPE, mixed), ``tpe``, ``random`` or ``grid``.
        pruner: ``hyperband`` (default: Hyperband's brackets over epochs, every trial visible to
            the sampler), ``median`` or ``none``.
        seed: seeds every trial's model and data order, the hold-out split and the sampler.
        device: ``auto`` (the GPU the scheduler gave this worker, else CPU), ``cpu``, ``cuda:N``.
        heartbeat_interval: seconds between heartbeats of a running trial.
        grace_period: seconds without heartbeat before a trial counts as dead (default 2x).
        max_retry: how often a dead worker's trial is queued again (0: never).
        grid_levels: points per numeric range on the grid.
        precision: ``32``, ``bf16`` or ``16-mixed`` for every trial.
        world_size: data-parallel workers every trial trains on, each with the trial's batch
            size (under torchrun, its processes: each trial a DDP job across them).
    """

    trials: int | None = None
    budget: float | None = 20.0
    timeout: float | None = None
    sampler: str = "priorband"
    pruner: str = "hyperband"
    seed: int = 0
    device: str = "auto"
    heartbeat_interval: int = 60
    grace_period: int | None = None
    max_retry: int = 3
    grid_levels: int = 3
    precision: str = "32"
    world_size: int = 1

    def __post_init__(self) -> None:
        if self.trials is None and self.budget is None:
            raise SettingsError("a sweep needs a budget (--budget, in full trainings) or a "
                                "number of trials (--trials)")
        if self.trials is not None:
            check_positive_int("trials", self.trials)
        if self.budget is not None:
            check_budget(self.budget)
        check_positive_int("heartbeat_interval", self.heartbeat_interval)
        check_positive_int("grid_levels", self.grid_levels)
        check_positive_int("world_size", self.world_size)
        if self.grace_period is not None:
            check_positive_int("grace_period", self.grace_period)
        if self.timeout is not None and not (isinstance(self.timeout, (int, float))
                                             and self.timeout > 0):
            raise SettingsError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("pruner", self.pruner, PRUNERS)
        check_count("max_retry", self.max_retry)
        check_run(self.seed, self.device, self.precision)


def shared_storage(storage: str | None, workers: int = 1) -> str | None:
    """The storage URL a sweep's study lives in: the default journal file when none is given,
    None (memory) for ``:memory:``.

    Raises:
        SettingsError: several workers without a storage they can share.
    """
    url = None if storage == MEMORY else storage or SWEEP_STORAGE
    if workers > 1 and url is None:
        raise SettingsError(f"--workers {workers} needs a storage the workers share; drop "
                            f"--storage {MEMORY} (the default journal file works)")
    return url


def make_sampler(settings: SweepSettings,
                 prior: dict[str, Any] | None = None) -> optuna.samplers.BaseSampler:
    """PriorBand around ``prior`` (trial parameters), TPE, or random search (grid: the queued
    points only), keeping the settings fixed early."""
    if settings.sampler in ("tpe", "priorband"):
        # Few random start-up trials: the lr-find prior and the start point already inform it.
        startup = 8 if settings.trials is None else min(10, max(3, settings.trials // 4))
        base: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(
            seed=settings.seed, n_startup_trials=startup)
    else:
        base = optuna.samplers.RandomSampler(seed=settings.seed)
    if settings.sampler == "priorband":
        base = PriorBandSampler(base, prior or {}, settings.seed)
    return FixingSampler(base)


def make_pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
    """The pruner, deciding on validation losses reported in ninths of the budget
    (``pruning.progress``)."""
    if settings.pruner == "median":
        # No pruning in the first fifth of the budget: slow starters (small LRs, adaptive
        # updaters) are not judged on their first steps.
        return SnapshotPruner(optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2))
    if settings.pruner == "hyperband":
        return Hyperband(settings.seed, min_resource=1, max_resource=PROGRESS,
                         reduction_factor=3)
    return optuna.pruners.NopPruner()
