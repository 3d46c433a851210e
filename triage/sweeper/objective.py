"""One sweep trial: sample a configuration, rule out implied out-of-memory, train with pruning,
and end COMPLETE (feasible or infeasible, with a finite penalty) or PRUNED."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage import optuna_private
from triage.builders import StepSchedule
from triage.choices import NESTEROV, updater_optimizer
from triage.errors import ProbeError
from triage.probe import ProbeSettings, run_probe
from triage.probe.device import memory_signature, resolve_device
from triage.sweeper.pruning import Pruning, SnapshotPruner
from triage.sweeper.settings import SweepSettings
from triage.sweeper.space import LRPrior, SearchSpace
from triage.sweeper.worker import SurplusTrial, surplus, worker_id
from triage.task import PreparedTask

FEASIBLE = "feasible"  # constraint name: > 0 means infeasible
DECAY = 1.5  # the documents: divide the LR by 1.5 every n epochs after k epochs


class Objective:
    """One trial: sample, check implied OOM, train with pruning, record the evidence.

    Args:
        prepared, space, settings: the sweep's task, search space and settings.
        device: this worker's device.
        prior: the lr-find result the LR is centred on, if any.
        dropout: whether the model has dropout layers to tune.
        penalty: the value of an infeasible trial (the untrained model's validation loss).
        target: trials the study should hold; a trial beyond them is given back (surplus).
        grid: only queued grid points run.
    """

    def __init__(self, prepared: PreparedTask, space: SearchSpace, settings: SweepSettings, *,
                 device: str, prior: LRPrior | None, dropout: bool, penalty: float,
                 target: int, grid: bool) -> None:
        self.prepared, self.space, self.settings = prepared, space, settings
        self.device, self.prior, self.dropout = device, prior, dropout
        self.penalty, self.target, self.grid = penalty, target, grid
        self.prune = settings.pruner != "none"
        self.memory_key = memory_signature(resolve_device(device))

    def __call__(self, trial: optuna.Trial) -> float:
        reseed(trial.study.sampler, self.settings.seed, trial.number)
        trial.set_user_attr("worker", worker_id())
        # One read of the study serves the target, the OOM check and every pruning decision.
        trials = trial.study.get_trials(deepcopy=False)
        if (self.grid and trial.user_attrs.get("origin") != "grid") or surplus(
                trials, trial.number, self.target):
            trial.set_user_attr("surplus", True)
            raise SurplusTrial(f"the study already holds its {self.target} trials")
        values = self.space.suggest(trial, self.prior, self.dropout, self.prepared.task.epochs)
        settings = probe_settings(values, self.settings.seed, self.device,
                                  self.settings.precision)
        trial.set_user_attr("settings", settings.to_dict())
        key = f"{self.memory_key}|{settings.optimizer}"
        finished = [t for t in trials if t.state == TrialState.COMPLETE]
        if isinstance(trial.study.pruner, SnapshotPruner):
            trial.study.pruner.refresh(trial.study, finished)
        implied = _implied_oom(finished, key, settings.batch_size)
        if implied is not None:
            return self._infeasible(trial, f"out of memory: trial {implied.number} ran out at "
                                    f"batch size {implied.user_attrs['settings']['batch_size']}")
        pruning = Pruning(trial, self.prune)
        try:
            result = run_probe(self.prepared, settings, [pruning])
        except ProbeError as exc:
            trial.set_user_attr("error", str(exc))
            raise
        trial.set_user_attr("result", result.evidence(timing=True))
        if result.oom:
            trial.set_user_attr("oom_key", key)
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

    def _infeasible(self, trial: optuna.Trial, reason: str) -> float:
        trial.set_user_attr("infeasible", reason)
        trial.set_constraint(FEASIBLE, 1.0)
        return self.penalty


def probe_settings(values: dict[str, Any], seed: int, device: str,
                   precision: str = "32") -> ProbeSettings:
    """The probe a sampled configuration describes (the documents' step schedule included)."""
    optimizer, nesterov = updater_optimizer(values.get("optimizer", NESTEROV))
    momentum = values.get("momentum")
    if momentum is None:
        momentum = 0.9 if optimizer == "sgd" else 0.0
    schedule = None
    if values.get("schedule_every") is not None:
        schedule = StepSchedule(values["schedule_after"], values["schedule_every"], DECAY)
    return ProbeSettings(
        lr=values["lr"], optimizer=optimizer, momentum=momentum,
        nesterov=nesterov, weight_decay=values.get("weight_decay") or 0.0,
        batch_size=values.get("batch_size", 32), init=values.get("init", "default"),
        schedule=schedule, dropout=values.get("dropout"),
        grad_clip_norm=values.get("grad_clip_norm"), seed=seed, device=device,
        precision=precision,
    )


def _implied_oom(finished: list[FrozenTrial], key: str, batch_size: int) -> FrozenTrial | None:
    """A finished trial that ran out of memory at this key with a batch no larger."""
    for trial in finished:
        if (trial.user_attrs.get("oom_key") == key
                and trial.user_attrs["settings"]["batch_size"] <= batch_size):
            return trial
    return None


def reseed(sampler: optuna.samplers.BaseSampler, seed: int, number: int) -> None:
    """Make a trial's random draws depend on (seed, trial number) alone: a rerun repeats them,
    and workers sharing a study never draw the same stream."""
    optuna_private.reseed_sampler(sampler, (seed * 1_000_003 + number) % 2**32)
