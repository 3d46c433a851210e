"""``sweep``: once the LR is sane, search the rest on an Optuna study.

Each trial trains a fresh model for the task's budget with the documents' step schedule,
reports the validation loss every epoch to the pruner, and ends as one of:

- COMPLETE and feasible: its final validation loss is the objective;
- COMPLETE and infeasible (divergence, out of memory, or out of memory implied by a smaller
  batch size that already ran out at the same memory-relevant settings): the constraint
  ``feasible`` is violated and the value is a finite penalty (the untrained model's validation
  loss), so samplers learn from it and no NaN ever reaches the storage;
- PRUNED by the pruner.

Workers started with the same command share one study: they stop when the study holds
``trials`` finished or pending trials, and wait for trials still running elsewhere, so a
killed worker's trial is failed by its stale heartbeat and rerun (Optuna's retry callback).
"""

from __future__ import annotations

import os
import random
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage.builders import StepSchedule, check_choice, check_positive_int, has_dropout
from triage.choices import PRUNERS, SAMPLERS, SWEEP_STORAGE
from triage.errors import ProbeError, SettingsError, TriageError
from triage.probe import ProbeResult, ProbeSettings, run_probe
from triage.probe.device import memory_signature, resolve_device, worker_device
from triage.probe.result import finite_or_none
from triage.probe.runner import evaluate
from triage.pruning import Pruning, SnapshotPruner
from triage.results import SweepSummary, summarize
from triage.rng import seeded
from triage.space import LRPrior, SearchSpace
from triage.study import join_study, make_storage
from triage.task import PreparedTask, Task, build_model

FEASIBLE = "feasible"  # constraint name: > 0 means infeasible
DECAY = 1.5  # the documents: divide the LR by 1.5 every n epochs after k epochs
WORKER = f"{socket.gethostname()}:{os.getpid()}"
TrialCallback = Callable[[FrozenTrial], None]


class SurplusTrial(TriageError):
    """A grid worker got a trial beyond the grid (two workers asked at the same moment)."""


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
        if isinstance(self.max_retry, bool) or not isinstance(self.max_retry, int) \
                or self.max_retry < 0:
            raise SettingsError(f"max_retry must be an integer >= 0, got {self.max_retry!r}")
        ProbeSettings(lr=1e-3, seed=self.seed, device=self.device)  # validates seed and device


def sweep(
    task: Task,
    space: SearchSpace,
    settings: SweepSettings,
    *,
    prior: LRPrior | None = None,
    storage: str | None = SWEEP_STORAGE,
    study_name: str | None = None,
    on_trial: TrialCallback | None = None,
) -> SweepSummary:
    """Run (or join, or resume) a sweep and summarise the whole study.

    Args:
        task: the problem.
        space: the search space.
        settings: trials, sampler, pruner, seed, device, heartbeat and retry.
        prior: an ``lr-find`` result (LR and updater) to centre the LR search on.
        storage: an Optuna storage URL or journal path (None: in memory, not resumable).
        study_name: default ``triage-sweep-<task>-<space>``.
        on_trial: called with each trial this worker finishes.

    Raises:
        TriageError: bad task, space, storage, or a study created by another command.
    """
    prepared = task.prepare(settings.seed)
    device = worker_device(settings.device)
    with seeded(settings.seed):
        model = build_model(task)
    dropout = has_dropout(model)
    penalty = evaluate(prepared, model.to(resolve_device(device)), resolve_device(device))[0]
    grid = (space.grid(prior, dropout, settings.grid_levels)
            if settings.sampler == "grid" else None)
    if grid is not None:
        random.Random(settings.seed).shuffle(grid)
    name = study_name or f"triage-sweep-{task.name}-{space.name}"
    identity = {"command": "sweep", "task": task.name, "space": space.name,
                "space_doc": space.raw, "sampler": settings.sampler,
                "lr_center": prior.lr if prior else None,
                "lr_updater": prior.updater if prior else None, "seed": settings.seed}
    study = join_study(
        make_storage(storage, settings.heartbeat_interval, settings.grace_period,
                     settings.max_retry),
        name, identity, _sampler(settings), _pruner(settings, task.epochs),
        on_create=lambda s: _first_trials(s, space, prior, grid, settings.trials),
        storage_url=storage,
    )
    target = settings.trials
    if grid is not None:
        _first_trials(study, space, prior, grid, settings.trials)
        target = min(target, len(grid))
    objective = Objective(prepared, space, settings, device, prior, dropout,
                          1e6 if penalty is None else penalty, settings.pruner != "none",
                          grid is not None)
    work(study, objective, target, settings.timeout, on_trial)
    return summarize(study, storage)


def _sampler(settings: SweepSettings) -> optuna.samplers.BaseSampler:
    if settings.sampler == "tpe":
        # Few random start-up trials: the lr-find prior and the start point already inform it.
        startup = min(10, max(3, settings.trials // 4))
        return optuna.samplers.TPESampler(seed=settings.seed, n_startup_trials=startup)
    return optuna.samplers.RandomSampler(seed=settings.seed)  # grid: enqueued points only


def _pruner(settings: SweepSettings, epochs: int) -> optuna.pruners.BasePruner:
    if settings.pruner == "median":
        # No pruning in the first quarter of the budget: slow starters (small LRs, adaptive
        # updaters) are not judged on their first epoch.
        return SnapshotPruner(optuna.pruners.MedianPruner(
            n_startup_trials=4, n_warmup_steps=max(1, epochs // 4)))
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    return optuna.pruners.NopPruner()


def _first_trials(study: optuna.Study, space: SearchSpace, prior: LRPrior | None,
                  grid: list[dict[str, Any]] | None, trials: int) -> None:
    """Queue the grid (up to ``trials`` points), or the space's start points."""
    if grid is None:
        for point in space.start_points(prior)[:trials]:
            study.enqueue_trial(point, user_attrs={"origin": "start"})
        return
    done = study.user_attrs.get("grid_enqueued", 0)
    for params in grid[done:trials]:
        study.enqueue_trial(params, user_attrs={"origin": "grid"}, skip_if_exists=True)
    if trials > done:
        study.set_user_attr("grid_enqueued", min(trials, len(grid)))


def work(study: optuna.Study, objective: Callable[[optuna.Trial], float], trials: int,
         timeout: float | None = None, on_trial: TrialCallback | None = None) -> None:
    """Run trials until the study holds ``trials`` finished or pending ones, then wait for
    those running elsewhere: a dead worker's trial goes stale, is failed and queued again
    (Optuna's retry callback), and a waiting worker runs it. A trial interrupted here (Ctrl-C)
    is queued again before the interrupt propagates, so a rerun picks it up. A trial failed
    under this worker by another one (its heartbeat went stale while it ran) is reported
    through ``on_trial`` and the worker goes on: its retry runs elsewhere."""
    deadline = None if timeout is None else time.monotonic() + timeout
    callbacks = [] if on_trial is None else [lambda _study, trial: on_trial(trial)]
    guarded = _Guarded(objective)
    beat = getattr(study._storage, "get_heartbeat_interval", lambda: None)()
    last_running: set[int] = set()
    idle_since = time.monotonic()
    while deadline is None or time.monotonic() < deadline:
        finished, waiting, running = tally(study.get_trials(deepcopy=False))
        if finished >= trials and not waiting:
            return
        if waiting or finished + len(running) < trials:
            guarded.trial = guarded.raised = None
            try:
                study.optimize(guarded, n_trials=1, catch=(ProbeError, SurplusTrial),
                               callbacks=callbacks)
            except KeyboardInterrupt:
                _requeue_interrupted(study)
                raise
            except Exception as exc:
                taken = guarded.taken(study, exc)
                if taken is None:
                    raise
                if on_trial is not None:
                    on_trial(taken)
            continue
        if beat is None:  # nobody can tell a dead worker from a slow one: do not wait forever
            return
        # study.optimize fails stale trials before each trial; a waiting worker does it here,
        # so a dead worker's trial is failed and queued again for the next pass.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        if running != last_running:
            last_running, idle_since = running, time.monotonic()
        elif time.monotonic() - idle_since > 6 * beat:  # they never recorded a heartbeat
            return
        time.sleep(min(beat, 2.0))


class _Guarded:
    """The objective, remembering its trial and what it raised, so that an error Optuna raises
    after the objective (telling a trial that someone else failed) can be told from its own."""

    def __init__(self, objective: Callable[[optuna.Trial], float]) -> None:
        self.objective = objective
        self.trial: optuna.Trial | None = None
        self.raised: BaseException | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        self.trial = trial
        try:
            return self.objective(trial)
        except BaseException as exc:
            self.raised = exc
            raise

    def taken(self, study: optuna.Study, exc: Exception) -> FrozenTrial | None:
        """The trial, if ``exc`` came from Optuna finding it already failed by another worker
        (Optuna raises "Cannot tell a FAIL trial" or fails an internal assertion then)."""
        if self.trial is None or exc is self.raised:
            return None
        mine = study._storage.get_trial(self.trial._trial_id)
        return mine if mine.state == TrialState.FAIL else None


def tally(trials: list[FrozenTrial]) -> tuple[int, int, set[int]]:
    """(finished, waiting, numbers running). A failed trial counts as finished unless it was
    queued again (stale or interrupted) or was a grid surplus."""
    retried = _retried(trials)
    finished = waiting = 0
    running = set()
    for t in trials:
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            finished += 1
        elif t.state == TrialState.FAIL:
            finished += t.number not in retried and not t.user_attrs.get("surplus")
        elif t.state == TrialState.WAITING:
            waiting += 1
        else:
            running.add(t.number)
    return finished, waiting, running


def _retried(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the failed trials that a later trial retries (Optuna's retry history)."""
    return {t.system_attrs["retry_history"][-1] for t in trials
            if t.system_attrs.get("retry_history")}


def _requeue_interrupted(study: optuna.Study) -> None:
    """Queue the trial this worker was running when interrupted again, with its parameters."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    mine = [t for t in trials if t.state == TrialState.FAIL and t.number not in retried
            and t.user_attrs.get("worker") == WORKER and "error" not in t.user_attrs
            and not t.user_attrs.get("surplus")]
    if mine:
        optuna.storages.RetryHeartbeatStaleTrialCallback()(study, mine[-1])


class Objective:
    """One trial: sample, check implied OOM, train with pruning, record the evidence."""

    def __init__(self, prepared: PreparedTask, space: SearchSpace, settings: SweepSettings,
                 device: str, prior: LRPrior | None, dropout: bool, penalty: float,
                 prune: bool, grid: bool) -> None:
        self.prepared, self.space, self.settings = prepared, space, settings
        self.device, self.prior, self.dropout = device, prior, dropout
        self.penalty, self.prune, self.grid = penalty, prune, grid
        self.memory_key = memory_signature(resolve_device(device))

    def __call__(self, trial: optuna.Trial) -> float:
        reseed(trial.study.sampler, self.settings.seed, trial.number)
        trial.set_user_attr("worker", WORKER)
        if self.grid and trial.user_attrs.get("origin") != "grid":
            trial.set_user_attr("surplus", True)
            raise SurplusTrial("the grid is exhausted")
        values = self.space.suggest(trial, self.prior, self.dropout)
        settings = probe_settings(values, self.settings.seed, self.device)
        trial.set_user_attr("settings", settings.to_dict())
        key = f"{self.memory_key}|{settings.optimizer}"
        # One read of the finished trials serves the OOM check and every pruning decision.
        finished = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
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
        trial.set_user_attr("result", compact(result))
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


def probe_settings(values: dict[str, Any], seed: int, device: str) -> ProbeSettings:
    """The probe a sampled configuration describes (the documents' step schedule included)."""
    name = values.get("optimizer", "sgd_nesterov")
    optimizer = "sgd" if name == "sgd_nesterov" else name
    momentum = values.get("momentum")
    if momentum is None:
        momentum = 0.9 if optimizer == "sgd" else 0.0
    schedule = None
    if values.get("schedule_every") is not None:
        schedule = StepSchedule(values["schedule_after"], values["schedule_every"], DECAY)
    return ProbeSettings(
        lr=values["lr"], optimizer=optimizer, momentum=momentum,
        nesterov=name == "sgd_nesterov", weight_decay=values.get("weight_decay") or 0.0,
        batch_size=values.get("batch_size", 32), init=values.get("init", "default"),
        schedule=schedule, dropout=values.get("dropout"),
        grad_clip_norm=values.get("grad_clip_norm"), seed=seed, device=device,
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
    for part in (sampler, getattr(sampler, "_random_sampler", None)):
        lazy = getattr(part, "_rng", None)
        if lazy is not None and hasattr(lazy, "rng"):
            lazy.rng.seed((seed * 1_000_003 + number) % 2**32)


def compact(result: ProbeResult) -> dict[str, Any]:
    """The evidence a trial keeps: per-epoch numbers, not per-step traces."""
    return {
        "steps": result.steps, "epochs": len(result.epoch_val_losses),
        "val_loss": finite_or_none(result.val_loss),
        "val_accuracy": finite_or_none(result.val_accuracy),
        "epoch_val_losses": [finite_or_none(v) for v in result.epoch_val_losses],
        "final_train_loss": finite_or_none(result.final_loss) if result.losses else None,
        "diverged": result.diverged, "divergence_step": result.divergence_step,
        "divergence_reason": result.divergence_reason, "oom": result.oom,
        "grad_norm_median": finite_or_none(result.grad_norm.get("median")),
        "update_ratio_median": finite_or_none(result.median_update_ratio),
        "dead_relu_fraction": finite_or_none(result.dead_relu_fraction),
        "wall_time": round(result.wall_time, 3),
    }
