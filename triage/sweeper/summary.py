"""What a sweep study holds, read back from any storage: the trials table, the best trial as a
recommended config, and warnings for best values on the edge of their range."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from triage import atomic
from triage.config import Config
from triage.errors import OutputError, StorageError
from triage.probe import ProbeSettings
from triage.storage import local_file, make_storage, redact
from triage.storage.studies import READY
from triage.sweeper.boundaries import boundary_study, probe_steps
from triage.sweeper.budget import FINAL, spent
from triage.sweeper.final import choose
from triage.sweeper.importance import FIXED, measure
from triage.sweeper.space import LRPrior, SearchSpace
from triage.sweeper.space_file import parse_space
from triage.sweeper.worker import surplus

EDGE = 0.05  # a value within 5% of its range's width (log width for log ranges) is on the edge
COLUMNS = ("optimizer", "nesterov", "lr", "momentum", "batch_size", "init", "weight_decay",
           "dropout", "grad_clip_norm", "schedule_after", "schedule_every")


@dataclass
class SweepSummary:
    """A study's trials and their verdict.

    Attributes:
        study: the study name.
        table: one row per trial (see ``trials_table``).
        best: the recommended config (the final stage's choice), or None without a feasible
            trial.
        edges: one warning per best value on the edge of its search range.
        counts: trials per outcome (complete, pruned, infeasible, failed, running, waiting).
        steps: training steps all trials used (the search's and the final stage's).
        spent: training steps by part: lr_find, boundaries, search, final, total.
        budget: the budget in trainings and the steps of one training (None: trials only).
        importances: each searched setting's importance for validation loss (shares of 1).
        fixed: settings fixed early because they did not matter: value and why.
        rule: why the recommendation won.
    """

    study: str
    table: pd.DataFrame
    best: Config | None
    edges: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    spent: dict[str, int] = field(default_factory=dict)
    budget: dict[str, Any] | None = None
    importances: dict[str, float] = field(default_factory=dict)
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    rule: str | None = None


def outcome(trial: FrozenTrial) -> str:
    """complete, pruned, infeasible, failed, running or waiting."""
    if trial.state == TrialState.COMPLETE:
        return "infeasible" if "infeasible" in trial.user_attrs else "complete"
    return {TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
            TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}[trial.state]


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: stage, outcome, objective, evidence and the hyperparameters it ran
    with (the back-off and the boundary below which it ran, where the LR is a back-off)."""
    return _table(study.get_trials(deepcopy=False))


def _table(trials: list[FrozenTrial]) -> pd.DataFrame:
    rows = []
    for trial in trials:
        if trial.user_attrs.get("surplus"):
            continue
        settings = trial.user_attrs.get("settings") or {}
        result = trial.user_attrs.get("result") or {}
        schedule = settings.get("schedule") or {}
        stage = trial.user_attrs.get("stage", "search")
        if stage == FINAL:
            stage = f"final ({trial.user_attrs['variant']} of {trial.user_attrs['of']})"
        row: dict[str, Any] = {
            "trial": trial.number, "stage": stage, "outcome": outcome(trial),
            "value": trial.value if trial.state == TrialState.COMPLETE else None,
            "val_loss": result.get("val_loss"), "val_accuracy": result.get("val_accuracy"),
            "epochs": result.get("epochs"), "steps": result.get("steps"),
            "reason": trial.user_attrs.get("infeasible") or trial.user_attrs.get("error"),
            "retry_of": (trial.system_attrs.get("retry_history") or [None])[-1],
            "worker": trial.user_attrs.get("worker"), "wall_time": result.get("wall_time"),
            "backoff": trial.params.get("backoff"),
            "boundary": (trial.user_attrs.get("boundary") or {}).get("max_finite_lr"),
            "boundary_steps": (trial.user_attrs.get("boundary") or {}).get("steps"),
            "seed": settings.get("seed"),
        }
        for name in COLUMNS:
            row[name] = schedule.get(name.replace("schedule_", "") + "_epochs") \
                if name.startswith("schedule_") else settings.get(name)
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["trial", "stage", "outcome", "value"])


def summarize(study: optuna.Study, storage_url: str | None = None,
              target: int | None = None, probes: optuna.Study | None = None) -> SweepSummary:
    """Rebuild everything from the study (and its boundary probes) alone, so ``triage report``
    can, from any machine.

    With the sweep's ``target``, a running trial that is one too many (another worker is
    about to give it back, see ``worker.surplus``) is not part of the summary, so every worker
    that finishes reports the same sweep.
    """
    identity = study.user_attrs.get(READY)
    if not identity or identity.get("command") != "sweep":
        raise StorageError(f"study {study.study_name!r} was not created by 'triage sweep'; "
                           "nothing to report")
    trials = study.get_trials(deepcopy=False)
    if target is not None:
        trials = [t for t in trials
                  if t.state != TrialState.RUNNING or not surplus(trials, t.number, target)]
    table = _table(trials)
    counts = table["outcome"].value_counts().to_dict() if len(table) else {}
    used = spent(trials, 0 if probes is None else probe_steps(probes),
                 identity.get("lr_find_steps") or 0)
    budget = None
    if study.user_attrs.get("budget") and identity.get("training_steps"):
        budget = {"trainings": study.user_attrs["budget"],
                  "training_steps": identity["training_steps"],
                  "spent_trainings": round(used.total / identity["training_steps"], 2)}
    found = measure(trials, min_trials=5)
    fixed_early = study.user_attrs.get(FIXED, {})
    summary = SweepSummary(study.study_name, table, None, [], counts,
                           used.search + used.final, used.as_dict(), budget,
                           found.shares, fixed_early)
    verdict = choose(trials)
    if verdict is None:
        return summary
    chosen = verdict.trial
    source = chosen if chosen.user_attrs.get("stage") != FINAL else next(
        t for t in trials if t.number == chosen.user_attrs["of"])
    space = parse_space(identity["space_doc"], identity["space"])
    prior = (LRPrior(identity["lr_center"], identity.get("lr_updater"))
             if identity.get("lr_center") else None)
    edges = edge_warnings(space, source, prior, identity.get("epochs"))
    settings = ProbeSettings.from_dict(chosen.user_attrs["settings"])
    result = source.user_attrs.get("result", {})
    evidence = {
        "study": study.study_name, "storage": redact(storage_url), "best_trial": source.number,
        "val_loss": result.get("val_loss"), "val_accuracy": result.get("val_accuracy"),
        "score": _round(verdict.score), "rule": verdict.rule,
        "epochs": result.get("epochs"), "trials": counts, "steps_used": used.total,
        "steps": used.as_dict(), "budget": budget,
        "space": identity["space"], "sampler": identity["sampler"],
        "lr_center": identity.get("lr_center"), "lr_updater": identity.get("lr_updater"),
        "backoff": source.params.get("backoff"),
        "boundary": (source.user_attrs.get("boundary") or {}).get("max_finite_lr"),
        "importances": {k: round(v, 3) for k, v in found.shares.items()},
        "fixed": {k: {"value": v["value"], "why": v["why"]} for k, v in fixed_early.items()},
        "seed": identity.get("seed"),
        "edges": edges,
    }
    summary.best = Config.from_settings(settings, task=identity["task"],
                                        data=identity.get("data"), sweep=evidence)
    summary.edges, summary.rule = edges, verdict.rule
    return summary


def _round(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def edge_warnings(space: SearchSpace, best: FrozenTrial, prior: LRPrior | None,
                  epochs: int | None = None) -> list[str]:
    """A best value at the end of its range suggests the optimum lies beyond it, unless the
    range cannot go further (n >= 1, k > n, k below the ``epochs`` budget, ...)."""
    warnings = []
    for name, value in best.params.items():
        dist = best.distributions[name]
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            numbers = [c for c in dist.choices if isinstance(c, (int, float))
                       and not isinstance(c, bool)]
            if len(numbers) > 2 and value in (min(numbers), max(numbers)):
                side = "smallest" if value == min(numbers) else "largest"
                warnings.append(f"{name} = {value} is the {side} of the choices {numbers}: "
                                "add values beyond it to the space")
            continue
        low, high = dist.low, dist.high
        if dist.log:
            position = (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
        else:
            position = (value - low) / (high - low)
        if EDGE < position < 1 - EDGE or (position <= EDGE and _hard_floor(name, low, best)) or (
                position >= 1 - EDGE and _hard_ceiling(name, high, best, epochs)):
            continue
        side = "lower" if position <= EDGE else "upper"
        windowed = name.startswith("lr") and prior is not None and space.lr_window(
            best.params.get("optimizer"), prior) is not None
        where = (f"the lr-find window [{low:.3g}, {high:.3g}] around {prior.lr:.3g}"  # type: ignore[union-attr]
                 if windowed else f"its range [{low:g}, {high:g}]")
        fix = ("rerun lr-find or widen around_lr_find" if windowed
               else "widen the range in the space file")
        warnings.append(f"{name} = {value:.3g} sits at the {side} edge of {where}: the best "
                        f"value may lie beyond it; {fix}")
    return warnings


def _hard_floor(name: str, low: float, best: FrozenTrial) -> bool:
    """A lower end nothing can go below: n >= 1, k > n, no negative dropout or momentum."""
    if name == "schedule_after":
        return low <= best.params.get("schedule_every", 1) + 1
    return (name, low) in (("schedule_every", 1), ("dropout", 0.0), ("momentum", 0.0))


def _hard_ceiling(name: str, high: float, best: FrozenTrial, epochs: int | None) -> bool:
    """An upper end the budget sets: k below the epochs, n below k."""
    if name == "schedule_after":
        return epochs is not None and high >= epochs - 1
    if name == "schedule_every":
        return high >= best.params.get("schedule_after", math.inf) - 1 or (
            epochs is not None and high >= epochs - 2)
    return False


def load_summary(storage: str, study_name: str | None = None) -> SweepSummary:
    """Summarise a sweep study from its storage; without a name, the storage's only sweep.

    Raises:
        StorageError: unreachable storage, unknown study, or several sweeps and no name.
    """
    file = local_file(storage)
    if file is not None and not file.exists():  # reading must not create it
        raise StorageError(f"storage {storage!r} does not exist; give the journal file or "
                           "database the sweep wrote (its --storage)")
    backend = make_storage(storage)
    try:
        studies = optuna.get_all_study_summaries(backend, include_best_trial=False)
    except Exception as exc:
        raise StorageError(f"cannot read storage {redact(storage)!r}: {exc}") from exc
    sweeps = [s.study_name for s in studies
              if (s.user_attrs.get(READY) or {}).get("command") == "sweep"]
    if study_name is None:
        if len(sweeps) != 1:
            found = ", ".join(sweeps) or "none"
            raise StorageError(f"storage {redact(storage)!r} holds {len(sweeps)} sweep studies "
                               f"({found}); choose one with --study")
        study_name = sweeps[0]
    if study_name not in {s.study_name for s in studies}:
        raise StorageError(f"no study {study_name!r} in storage {redact(storage)!r}; it holds: "
                           f"{', '.join(sorted(s.study_name for s in studies)) or 'nothing'}")
    probes = None
    if boundary_study(study_name) in {s.study_name for s in studies}:
        probes = optuna.load_study(study_name=boundary_study(study_name), storage=backend)
    return summarize(optuna.load_study(study_name=study_name, storage=backend), storage,
                     probes=probes)


def write_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write the trials table atomically as CSV or Parquet, chosen by the file suffix."""
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    if suffix not in ("csv", "parquet"):
        raise OutputError(f"table {os.fspath(path)!r}: use a .csv or .parquet file name")
    try:
        with atomic.atomic_path(path) as tmp:
            if suffix == "csv":
                table.to_csv(tmp, index=False)
            else:
                table.to_parquet(tmp, index=False)
    except ImportError as exc:
        raise OutputError(f"table {os.fspath(path)!r}: Parquet needs pyarrow, which is not "
                          f"installed ({type(exc).__name__}); pip install pyarrow or write "
                          ".csv") from None
