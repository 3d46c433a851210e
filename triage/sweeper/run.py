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

import random
from typing import Any

import optuna

from triage.builders import has_dropout
from triage.choices import SWEEP_STORAGE
from triage.errors import SettingsError
from triage.probe.device import resolve_device, worker_device
from triage.probe.runner import evaluate
from triage.rng import seeded
from triage.storage import make_storage
from triage.storage.studies import join_study
from triage.sweeper.objective import Objective
from triage.sweeper.settings import SweepSettings, make_pruner, make_sampler
from triage.sweeper.space import LRPrior, SearchSpace
from triage.sweeper.summary import SweepSummary, summarize
from triage.sweeper.worker import TrialCallback, work
from triage.task import Task, build_model


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
        TriageError: bad task, space, storage, a study created by another command, or a
            prior for an updater the space does not run.
    """
    if prior is not None and prior.updater is not None and prior.updater not in space.updaters():
        raise SettingsError(
            f"lr-find measured updater {prior.updater!r}, which space {space.name!r} does not "
            f"run ({', '.join(space.updaters())}); add it to the space's optimizer choices or "
            f"run lr-find with one of those (--optimizer)")
    prepared = task.prepare(settings.seed)
    device = worker_device(settings.device)
    with seeded(settings.seed):  # the untrained model's loss: what infeasible trials score
        model = build_model(task)
        penalty = evaluate(prepared, model.to(resolve_device(device)), resolve_device(device))[0]
    dropout = has_dropout(model)
    grid = (space.grid(prior, dropout, settings.grid_levels, task.epochs)
            if settings.sampler == "grid" else None)
    if grid is not None:
        random.Random(settings.seed).shuffle(grid)
    name = study_name or default_study(task, space)
    identity = {"command": "sweep", "task": task.name, "space": space.name,
                "space_doc": space.raw, "sampler": settings.sampler,
                "lr_center": prior.lr if prior else None,
                "lr_updater": prior.updater if prior else None, "seed": settings.seed,
                "epochs": task.epochs, "data": dict(task.data) if task.data else None}
    study = join_study(
        make_storage(storage, settings.heartbeat_interval, settings.grace_period,
                     settings.max_retry),
        name, identity, make_sampler(settings), make_pruner(settings, task.epochs),
        on_create=lambda s: _first_trials(s, space, prior, grid, settings.trials),
        storage_url=storage,
    )
    target = settings.trials
    if grid is not None:
        _first_trials(study, space, prior, grid, settings.trials)
        target = min(target, len(grid))
    objective = Objective(prepared, space, settings, device=device, prior=prior,
                          dropout=dropout, penalty=1e6 if penalty is None else penalty,
                          target=target, grid=grid is not None)
    work(study, objective, target, settings.timeout, on_trial)
    return summarize(study, storage, target)


def default_study(task: Task, space: SearchSpace) -> str:
    """The study a sweep of ``task`` over ``space`` uses unless told another."""
    return f"triage-sweep-{task.name}-{space.name}"


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
