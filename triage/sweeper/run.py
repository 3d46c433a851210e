"""``sweep``: once the LR is sane, search the rest on an Optuna study, within a budget of
full trainings.

1. **Search.** Each trial samples a configuration. In a space with ``backoff`` (the bundled
   ones) its LR is a back-off below the divergence boundary of its updater, batch size and
   init, measured once per sweep with lr-find's engine (``triage.sweeper.boundaries``), so no
   trial runs above a measured boundary and every batch size gets an LR that suits it. A trial
   trains a fresh model, reports the validation loss every epoch to the pruner (Hyperband's
   brackets by default), and ends as one of:

   - COMPLETE and feasible: its final validation loss is the objective;
   - COMPLETE and infeasible (divergence, out of memory, or out of memory implied by a smaller
     batch size that already ran out at the same memory-relevant settings): the constraint
     ``feasible`` is violated and the value is a finite penalty (the untrained model's
     validation loss), so samplers learn from it and no NaN ever reaches the storage;
   - PRUNED by the pruner.

   The search starts trials while the budget leaves the final stage its share (or until
   ``trials``); the step schedule is left to the final stage (searched with the rest when
   there is no budget, hence no final stage).
2. **Final stage** (``triage.sweeper.final``, with a budget): the best configurations at the
   full budget on further seeds, and the best with the documents' step schedule; the
   recommendation is decided there. Without a budget (``trials`` only) the best search trial
   is the recommendation.

Workers started with the same command share one study: each runs search trials while there
is room, waits for trials still running elsewhere (a killed worker's trial is failed by its
stale heartbeat and rerun), queues the final stage once (whichever gets there first) and runs
it with the others.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import optuna

from triage.builders import has_dropout
from triage.choices import SWEEP_STORAGE
from triage.errors import SettingsError, StorageError, first_line
from triage.lr_finder.plan import budget as lr_find_budget
from triage.probe.device import resolve_device, worker_device
from triage.probe.runner import evaluate
from triage.rng import seeded
from triage.storage import make_storage, redact
from triage.storage.studies import join_study
from triage.sweeper import final
from triage.sweeper.boundaries import Boundaries, Measured, boundary_study, probe_steps
from triage.sweeper.budget import FINAL, Budget, in_flight, spent
from triage.sweeper.objective import Objective, updater_settings
from triage.sweeper.settings import SweepSettings, make_pruner, make_sampler
from triage.sweeper.space import LRPrior, SearchSpace
from triage.sweeper.summary import SweepSummary, summarize
from triage.sweeper.worker import Room, TrialCallback, trials_room, work
from triage.task import PreparedTask, Task, build_model

BASE_BATCH = 32  # the documents' starting batch size: one training is the task's epochs at it
LR_FIND_STEPS, LR_FIND_MAX_STEPS = 100, 2000  # lr-find's defaults: its divergence window


def sweep(
    task: Task,
    space: SearchSpace,
    settings: SweepSettings,
    *,
    prior: LRPrior | None = None,
    storage: str | None = SWEEP_STORAGE,
    study_name: str | None = None,
    on_trial: TrialCallback | None = None,
    on_budget: Callable[[Budget], None] | None = None,
) -> SweepSummary:
    """Run (or join, or resume) a sweep and summarise the whole study.

    Args:
        task: the problem.
        space: the search space.
        settings: budget, trials, sampler, pruner, seed, device, heartbeat and retry.
        prior: an ``lr-find`` result: its configuration runs first, its boundary is reused,
            and its steps count against the budget.
        storage: an Optuna storage URL or journal path (None: in memory, not resumable).
        study_name: default ``triage-sweep-<task>-<space>``.
        on_trial: called with each trial this worker finishes (the steps its boundary
            measurement took are in its ``boundary`` attribute).
        on_budget: called with the budget in steps once the task is validated.

    Raises:
        TriageError: bad task, space, storage, budget, a study created by another command,
            or a prior for an updater the space does not run.
    """
    if prior is not None and prior.updater is not None and prior.updater not in space.updaters():
        raise SettingsError(
            f"lr-find measured updater {prior.updater!r}, which space {space.name!r} does not "
            f"run ({', '.join(space.updaters())}); add it to the space's optimizer choices or "
            f"run lr-find with one of those (--optimizer)")
    prepared = task.prepare(settings.seed)
    base_batch = prior.batch_size if prior is not None else BASE_BATCH
    budget = None
    if settings.budget is not None:
        budget = Budget(settings.budget, prepared.budget_steps(base_batch * settings.world_size),
                        prior.steps if prior is not None else 0)
        budget.check()
    backend = make_storage(storage, settings.heartbeat_interval, settings.grace_period,
                           settings.max_retry)  # a bad storage is the first thing said
    device = worker_device(settings.device)
    with seeded(settings.seed):  # the untrained model's loss: what infeasible trials score
        model = build_model(task)
        penalty = evaluate(prepared, model.to(resolve_device(device)), resolve_device(device))[0]
    dropout = has_dropout(model)
    judged_last = settings.budget is not None  # the schedule: by the final stage, if any
    grid = (space.grid(prior, dropout, settings.grid_levels, task.epochs,
                       schedule=not judged_last) if settings.sampler == "grid" else None)
    if grid is not None:
        random.Random(settings.seed).shuffle(grid)
    name = study_name or default_study(task, space)
    target = settings.trials if grid is None else min(settings.trials or len(grid), len(grid))
    study = join_study(
        backend, name, _identity(task, space, settings, prior, budget),
        make_sampler(settings, space.prior_values(prior)), make_pruner(settings),
        on_create=lambda s: _first_trials(s, space, prior, grid, target), storage_url=storage)
    if grid is not None:
        _first_trials(study, space, prior, grid, target)
    if budget is not None:
        study.set_user_attr("budget", settings.budget)  # a rerun may raise it
        if on_budget is not None:
            on_budget(budget)
    probes = _probe_study(name, storage)
    boundaries = None
    if space.relative:
        window = _window(prepared, base_batch * settings.world_size, prior)
        boundaries = Boundaries(study, probes, prepared, window, seed=settings.seed,
                                device=device, precision=settings.precision,
                                world_size=settings.world_size)
        if prior is not None and prior.boundary is not None:
            _remember_lr_find(boundaries, prior)
    objective = Objective(prepared, space, settings, device=device, prior=prior,
                          dropout=dropout, penalty=1e6 if penalty is None else penalty,
                          target=target, grid=grid is not None, boundaries=boundaries,
                          schedule=not judged_last)
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    work(study, objective, search_room(target, budget, probes), settings.timeout, on_trial)
    left = None if deadline is None else deadline - time.monotonic()
    if budget is not None and (left is None or left > 0):  # sized by the budget: none without
        _final_stage(study, objective, budget, probes, settings.seed, left, on_trial)
    return summarize(study, storage, target, probes)


def _final_stage(study: optuna.Study, objective: Objective, budget: Budget,
                 probes: optuna.Study, seed: int, timeout: float | None,
                 on_trial: TrialCallback | None) -> None:
    """Queue the final stage (once, whoever gets here first) within what the budget left, and
    run it with the other workers."""
    trials = study.get_trials(deepcopy=False)
    prepared, workers = objective.prepared, objective.settings.world_size
    steps_left = budget.total - spent(trials, probe_steps(probes), budget.before).total
    final.enqueue(study, final.plan(
        trials, objective.space, prepared.task.epochs, seed, steps_left,
        lambda run: prepared.budget_steps(run["batch_size"] * workers)))
    work(study, objective, lambda _: False, timeout, on_trial)


def default_study(task: Task, space: SearchSpace) -> str:
    """The study a sweep of ``task`` over ``space`` uses unless told another."""
    return f"triage-sweep-{task.name}-{space.name}"


def search_room(target: int | None, budget: Budget | None, probes: optuna.Study) -> Room:
    """Room for another search trial: below ``target`` counted search trials, and the steps
    spent (with those of trials running elsewhere, estimated) below the search's share."""
    below_target = trials_room(target) if target is not None else None

    def room(trials: list[Any]) -> bool:
        search = [t for t in trials if t.user_attrs.get("stage") != FINAL]
        if below_target is not None and not below_target(search):
            return False
        if budget is None:
            return True
        used = spent(trials, probe_steps(probes), budget.before).total + in_flight(trials)
        return used < budget.search_limit

    return room


def _identity(task: Task, space: SearchSpace, settings: SweepSettings, prior: LRPrior | None,
              budget: Budget | None) -> dict[str, Any]:
    """What the study records of the sweep that made it; ``join_study`` checks part of it."""
    return {"command": "sweep", "task": task.name, "space": space.name, "space_doc": space.raw,
            "sampler": settings.sampler, "pruner": settings.pruner,
            "precision": settings.precision, "world_size": settings.world_size,
            "lr_center": prior.lr if prior else None,
            "lr_updater": prior.updater if prior else None, "seed": settings.seed,
            "epochs": task.epochs, "data": dict(task.data) if task.data else None,
            "lr_find_steps": prior.steps if prior else 0,
            "training_steps": budget.training_steps if budget else None}


def _window(prepared: PreparedTask, batch: int, prior: LRPrior | None) -> int:
    """The divergence window boundaries are measured over: lr-find's (its config's, else what
    lr-find would use on this task), and never longer than a full training (divergence after
    the training ends is not the user's problem)."""
    full = prepared.budget_steps(batch)
    if prior is not None and prior.window:
        return min(prior.window, full)
    return min(lr_find_budget(LR_FIND_MAX_STEPS, LR_FIND_STEPS, full)[1], full)


def _remember_lr_find(boundaries: Boundaries, prior: LRPrior) -> None:
    optimizer, nesterov, _ = updater_settings({"optimizer": prior.updater})
    boundaries.remember({"optimizer": optimizer, "nesterov": nesterov,
                         "momentum": prior.momentum, "batch_size": prior.batch_size,
                         "init": prior.init},
                        Measured(prior.boundary, prior.divergence_lr, "lr-find"))


def _probe_study(name: str, storage: str | None) -> optuna.Study:
    """The companion study of boundary probes (asked and told one probe at a time, so on a
    storage without Optuna's heartbeat: a probe killed mid-run is simply run again)."""
    try:
        return optuna.create_study(storage=make_storage(storage),
                                   study_name=boundary_study(name), direction="minimize",
                                   load_if_exists=True)
    except Exception as exc:
        raise StorageError(f"cannot open study {boundary_study(name)!r} in "
                           f"{redact(storage)!r}: {first_line(exc)}") from exc


def _first_trials(study: optuna.Study, space: SearchSpace, prior: LRPrior | None,
                  grid: list[dict[str, Any]] | None, trials: int | None) -> None:
    """Queue the grid (up to ``trials`` points), or the first design: lr-find's ladder when
    there is one (the space's start points follow it, ``first_design.follow``), else the
    space's start points."""
    if grid is None:
        ladder = space.ladder(prior)
        for point in (ladder or space.start_points(prior))[:trials]:
            study.enqueue_trial(point, user_attrs={"origin": "start"})
        return
    done = study.user_attrs.get("grid_enqueued", 0)
    limit = len(grid) if trials is None else trials
    for params in grid[done:limit]:
        study.enqueue_trial(params, user_attrs={"origin": "grid"}, skip_if_exists=True)
    if limit > done:
        study.set_user_attr("grid_enqueued", min(limit, len(grid)))
