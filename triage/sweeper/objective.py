"""One sweep trial: sample a configuration (its LR a back-off below the measured boundary of its
updater, batch size and init), rule out implied out-of-memory, train with pruning, and end
COMPLETE (feasible or infeasible, with a finite penalty) or PRUNED. A final-stage trial trains
the settings queued for it at the full budget, unpruned."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage import optuna_private
from triage.builders import StepSchedule
from triage.choices import NESTEROV, updater_optimizer
from triage.errors import ProbeError
from triage.lr_finder.strategies.nan_boundary import LR_FLOOR
from triage.probe import ProbeSettings, run_probe
from triage.probe.device import memory_signature, resolve_device
from triage.sweeper import design, final
from triage.sweeper.boundaries import Boundaries
from triage.sweeper.budget import FINAL, trial_seed
from triage.sweeper.final import DECAY
from triage.sweeper.importance import fix_unimportant
from triage.sweeper.priorband import PriorBandSampler
from triage.sweeper.pruning import Pruning, SnapshotPruner
from triage.sweeper.sampling import FixingSampler
from triage.sweeper.settings import SweepSettings
from triage.sweeper.space import LRPrior, SearchSpace
from triage.sweeper.worker import SurplusTrial, slot, surplus, worker_id
from triage.task import PreparedTask

FEASIBLE = "feasible"  # constraint name: > 0 means infeasible


class Objective:
    """One trial: sample, check implied OOM, train with pruning, record the evidence.

    Args:
        prepared, space, settings: the sweep's task, search space and settings.
        device: this worker's device.
        prior: the lr-find result, if any.
        dropout: whether the model has dropout layers to tune.
        penalty: the value of an infeasible trial (the untrained model's validation loss).
        target: trials the search may hold; a trial beyond them is given back (surplus).
        grid: only queued grid points run.
        boundaries: the divergence boundaries a back-off is taken below (spaces with
            ``backoff``).
        schedule: sample the step schedule in the search (False: the final stage judges it).
    """

    def __init__(self, prepared: PreparedTask, space: SearchSpace, settings: SweepSettings, *,
                 device: str, prior: LRPrior | None, dropout: bool, penalty: float,
                 target: int | None, grid: bool, boundaries: Boundaries | None = None,
                 schedule: bool = True) -> None:
        self.prepared, self.space, self.settings = prepared, space, settings
        self.device, self.prior, self.dropout = device, prior, dropout
        self.penalty, self.target, self.grid = penalty, target, grid
        self.boundaries, self.schedule = boundaries, schedule
        self.prune = settings.pruner != "none"
        self.memory_key = memory_signature(resolve_device(device))

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        # One read of the study serves the target, the OOM check and every pruning decision.
        trials = trial.study.get_trials(deepcopy=False)
        if trial.user_attrs.get("stage") == FINAL:
            if final.queued_twice(trials, trial.number):
                trial.set_user_attr("surplus", True)
                raise SurplusTrial("two workers queued the same final-stage run")
            settings = ProbeSettings.from_dict(trial.user_attrs["settings"])
            return self._train(trial, settings.with_(device=self.device), pruned=False)
        place = slot(trials, trial.number)
        reseed(trial.study.sampler, self.settings.seed, place)
        if (self.grid and trial.user_attrs.get("origin") != "grid") or (
                self.target is not None and surplus(trials, trial.number, self.target)):
            trial.set_user_attr("surplus", True)
            raise SurplusTrial(f"the study already holds its {self.target} trials")
        if not self.grid:
            design.follow(trial.study, trials, self.space, self.prior, self.target)
            fix_unimportant(trial.study, trials)
        values = self.space.suggest(trial, self.prior, self.dropout, self.prepared.task.epochs,
                                    schedule=self.schedule)
        if self.space.relative:
            reason = self._lr_below_boundary(trial, values)
            if reason is not None:
                return self._infeasible(trial, reason)
        settings = probe_settings(values, trial_seed(self.settings.seed, place),
                                  self.device, self.settings.precision,
                                  self.settings.world_size)
        trial.set_user_attr("settings", settings.to_dict())
        finished = [t for t in trials if t.state == TrialState.COMPLETE]
        if isinstance(trial.study.pruner, SnapshotPruner):
            trial.study.pruner.refresh(trial.study, finished)
        implied = _implied_oom(finished, self._oom_key(settings), settings.batch_size)
        if implied is not None:
            return self._infeasible(trial, f"out of memory: trial {implied.number} ran out at "
                                    f"batch size {implied.user_attrs['settings']['batch_size']}")
        # The first design runs unpruned: its back-offs lie a decade apart, and a slow starter
        # (a small LR) looks worse early whatever its final loss.
        start = trial.user_attrs.get("origin") == design.START
        return self._train(trial, settings, pruned=self.prune and not start)

    def _lr_below_boundary(self, trial: optuna.Trial, values: dict[str, Any]) -> str | None:
        """Set ``values['lr']`` to the trial's boundary divided by its back-off (inside the
        space's LR bounds); or say why the trial cannot run."""
        assert self.boundaries is not None
        optimizer, nesterov, momentum = updater_settings(values)
        before = self.boundaries.trained
        measured = self.boundaries.get({
            "optimizer": optimizer, "nesterov": nesterov, "momentum": momentum,
            "batch_size": values.get("batch_size", 32), "init": values.get("init", "default")})
        trial.set_user_attr("boundary", {"max_finite_lr": measured.max_finite_lr,
                                         "divergence_lr": measured.divergence_lr,
                                         "source": measured.source,
                                         "steps": self.boundaries.trained - before})
        if measured.max_finite_lr is None:
            return (f"diverges within {self.boundaries.window} steps at every LR down to "
                    f"{LR_FLOOR:g} with this updater, batch size and init")
        low, high = self.space.lr_bounds()
        values["lr"] = min(max(measured.max_finite_lr / values["backoff"], low), high)
        return None

    def _train(self, trial: optuna.Trial, settings: ProbeSettings, *, pruned: bool) -> float:
        pruning = Pruning(trial, pruned, settings.epochs or self.prepared.task.epochs)
        try:
            result = run_probe(self.prepared, settings, [pruning])
        except ProbeError as exc:
            trial.set_user_attr("error", str(exc))
            raise
        trial.set_user_attr("result", result.evidence(timing=True))
        if result.oom:
            trial.set_user_attr("oom_key", self._oom_key(settings))
            return self._infeasible(trial, "out of memory")
        if result.diverged:
            return self._infeasible(trial, f"diverged at step {result.divergence_step} "
                                    f"({result.divergence_reason})")
        if pruning.pruned_at is not None:
            trial.set_constraint(FEASIBLE, -1.0)
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
        if result.val_loss is None:
            return self._infeasible(trial, "validation loss not finite")
        trial.set_constraint(FEASIBLE, -1.0)
        return result.val_loss

    def _oom_key(self, settings: ProbeSettings) -> str:
        return f"{self.memory_key}|{settings.optimizer}"

    def _infeasible(self, trial: optuna.Trial, reason: str) -> float:
        trial.set_user_attr("infeasible", reason)
        trial.set_constraint(FEASIBLE, 1.0)
        return self.penalty


def updater_settings(values: dict[str, Any]) -> tuple[str, bool, float]:
    """(optimizer, nesterov, momentum) of a sampled configuration: momentum 0.9 for SGD and
    none for the others unless the space sets it."""
    optimizer, nesterov = updater_optimizer(values.get("optimizer", NESTEROV))
    momentum = values.get("momentum")
    if momentum is None:
        momentum = 0.9 if optimizer == "sgd" else 0.0
    return optimizer, nesterov, momentum


def probe_settings(values: dict[str, Any], seed: int, device: str,
                   precision: str = "32", world_size: int = 1) -> ProbeSettings:
    """The probe a sampled configuration describes (the documents' step schedule included)."""
    optimizer, nesterov, momentum = updater_settings(values)
    schedule = None
    if values.get("schedule_every") is not None:
        schedule = StepSchedule(values["schedule_after"], values["schedule_every"], DECAY)
    return ProbeSettings(
        lr=values["lr"], optimizer=optimizer, momentum=momentum,
        nesterov=nesterov, weight_decay=values.get("weight_decay") or 0.0,
        batch_size=values.get("batch_size", 32), init=values.get("init", "default"),
        schedule=schedule, dropout=values.get("dropout"),
        grad_clip_norm=values.get("grad_clip_norm"), seed=seed, device=device,
        precision=precision, world_size=world_size,
    )


def _implied_oom(finished: list[FrozenTrial], key: str, batch_size: int) -> FrozenTrial | None:
    """A finished trial that ran out of memory at this key with a batch no larger."""
    for trial in finished:
        if (trial.user_attrs.get("oom_key") == key
                and trial.user_attrs["settings"]["batch_size"] <= batch_size):
            return trial
    return None


def reseed(sampler: optuna.samplers.BaseSampler, seed: int, number: int) -> None:
    """Make a trial's random draws depend on (seed, its place ``number``) alone: a rerun
    repeats them, and workers sharing a study never draw the same stream."""
    while isinstance(sampler, (FixingSampler, PriorBandSampler)):
        sampler = sampler.base if isinstance(sampler, FixingSampler) else sampler.model
    optuna_private.reseed_sampler(sampler, trial_seed(seed, number))
