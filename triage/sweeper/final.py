"""The final stage: the best configurations of the search judged at the full budget.

Each search trial trains on a seed of its own, mostly on a truncated run; on small data one
seed's validation loss can differ from another's by a third, so the search's best trial is
partly its luckiest. The final stage spends what the budget left (whole trainings) where the
recommendation is decided, in this order while the budget lasts:

1. the search's two best trials again, each on a second seed (``confirm``);
2. the same two on a third seed;
3. the best so far with the documents' step schedule (after k epochs divide the LR by 1.5
   every n epochs, k > n), which only shows its effect at the full budget, on the same three
   seeds as its parent (``schedule``);
4. while steps are left, the next best trials on two more seeds each.

A run that does not fit what is left is skipped; a later, cheaper one may still run.

The configurations are ranked by their mean validation loss over the seeds they ran on; one
run on a single seed (the best, when nothing confirmed it) ranks by that value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage.builders import StepSchedule
from triage.probe import ProbeSettings
from triage.sweeper.budget import FINAL, SEED_SPAN, trial_seed
from triage.sweeper.space import SearchSpace
from triage.sweeper.worker import slot

DECAY = 1.5  # the documents: divide the LR by 1.5 every n epochs after k epochs
CONFIRM, SCHEDULE = "confirm", "schedule"
FINALISTS = 2  # the search's best trials the final stage runs again
SEEDS = 3  # seeds each finalist is judged on (its search trial's and two more)


@dataclass(frozen=True)
class Run:
    """One final-stage training: a search trial's settings, on another seed, maybe scheduled."""

    of: int  # the search trial it comes from
    variant: str
    settings: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.variant}:{self.of}:{self.settings['seed']}"


def feasible(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE and "infeasible" not in trial.user_attrs


def ranked(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The search's feasible complete trials, best first."""
    done = [t for t in trials if feasible(t) and t.user_attrs.get("stage") != FINAL]
    return sorted(done, key=lambda t: (t.value, t.number))


def plan(trials: list[FrozenTrial], space: SearchSpace, epochs: int, seed: int,
         steps_left: int, cost: Callable[[dict[str, Any]], int]) -> list[Run]:
    """The final stage's runs, most useful first, while their ``cost`` in steps fits in
    ``steps_left``."""
    order = ranked(trials)
    top = order[:FINALISTS]
    if not top:
        return []

    def settings(trial: FrozenTrial, again: int, schedule: StepSchedule | None = None
                 ) -> dict[str, Any]:
        """The trial's settings on its ``again``-th further seed (0: its own)."""
        base = ProbeSettings.from_dict(trial.user_attrs["settings"])
        place = slot(trials, trial.number)
        return base.with_(seed=confirm_seed(seed, place, again) if again else base.seed,
                          schedule=schedule or base.schedule).to_dict()

    wanted = [[Run(t.number, CONFIRM, settings(t, again))]
              for again in range(1, SEEDS) for t in top]
    schedule = documents_schedule(space, epochs)
    if schedule is not None and top[0].user_attrs["settings"].get("schedule") is None:
        wanted.append([Run(top[0].number, SCHEDULE, settings(top[0], again, schedule))
                       for again in range(SEEDS)])
    wanted += [[Run(t.number, CONFIRM, settings(t, again))] for t in order[FINALISTS:]
               for again in range(1, SEEDS)]  # what the budget still has room for
    out: list[Run] = []
    for group in wanted:  # a schedule judged on fewer seeds than its parent would be wasted
        need = sum(cost(run.settings) for run in group)
        if need <= steps_left:
            out += group
            steps_left -= need
    return out


def confirm_seed(seed: int, place: int, again: int) -> int:
    """The ``again``-th further seed of the search trial in ``place`` (no search trial trains
    on it)."""
    return trial_seed(seed, place) + again * SEED_SPAN


def documents_schedule(space: SearchSpace, epochs: int) -> StepSchedule | None:
    """The schedule the final stage tries: decay every n epochs (the space's smallest) after
    half the budget (kept inside the space's range for k), or None without room for k > n."""
    if "schedule_every" not in space.params:
        return None
    bounds = space.schedule_bounds(epochs)
    if bounds is None:
        return None
    n, _, k_low, k_high = bounds
    k = min(max(round(epochs / 2), k_low, n + 1), k_high)
    return StepSchedule(k, n, DECAY)


def enqueue(study: optuna.Study, runs: list[Run]) -> None:
    """Queue the runs (once each, whichever worker gets here first)."""
    for run in runs:
        study.enqueue_trial({FINAL: run.key}, skip_if_exists=True, user_attrs={
            "stage": FINAL, "variant": run.variant, "of": run.of, "settings": run.settings,
            "origin": FINAL})


def queued_twice(trials: list[FrozenTrial], number: int) -> bool:
    """Whether final-stage trial ``number`` repeats a run queued before it (two workers that
    reached the final stage at the same moment both queued it): the later one is given back."""
    def key(trial: FrozenTrial) -> str | None:
        return trial.system_attrs.get("fixed_params", {}).get(FINAL)

    mine = next(key(t) for t in trials if t.number == number)
    return any(t.number < number and key(t) == mine and not t.user_attrs.get("surplus")
               for t in trials)


@dataclass(frozen=True)
class Verdict:
    """The configuration the final stage recommends, and why."""

    trial: FrozenTrial  # the trial whose settings (and, for a variant, schedule) win
    score: float
    rule: str


def choose(trials: list[FrozenTrial]) -> Verdict | None:
    """The best configuration once the final stage ran (as far as it did); None without a
    feasible search trial. Each configuration scores its mean validation loss over the seeds
    it ran on; one that ran on a single seed competes only when nothing ran on more."""
    order = ranked(trials)
    if not order:
        return None
    runs: dict[tuple[str, int], list[FrozenTrial]] = {}
    for t in trials:
        if t.user_attrs.get("stage") == FINAL and t.state == TrialState.COMPLETE:
            runs.setdefault((t.user_attrs["variant"], t.user_attrs["of"]), []).append(t)

    def value(trial: FrozenTrial) -> float:
        return trial.value if feasible(trial) else math.inf  # type: ignore[return-value]

    candidates: list[tuple[float, int, FrozenTrial, str]] = []
    for rank, trial in enumerate(order):
        seen = [trial, *runs.get((CONFIRM, trial.number), [])]
        if len(seen) > 1:
            mean = sum(map(value, seen)) / len(seen)
            values = ", ".join(f"{value(t):.4g}" for t in seen)
            candidates.append((mean, rank, trial, f"mean validation loss {mean:.4g} over "
                               f"{len(seen)} seeds ({values}), {_place(rank)} in the search"))
        scheduled = runs.get((SCHEDULE, trial.number), [])
        if len(scheduled) == SEEDS:
            mean = sum(map(value, scheduled)) / len(scheduled)
            candidates.append((mean, rank, scheduled[0], f"the documents' step schedule: mean "
                               f"validation loss {mean:.4g} over {SEEDS} seeds, against trial "
                               f"{trial.number}'s without it on the same seeds"))
    if not candidates:
        candidates = [(value(order[0]), 0, order[0], "the best trial of the search (the budget "
                       "left no final-stage run to confirm it)")]
    score, _, trial, rule = min(candidates, key=lambda c: (c[0], c[1]))
    if not math.isfinite(score):
        trial, score, rule = order[0], value(order[0]), "the best trial of the search"
    return Verdict(trial, score, rule)


def _place(rank: int) -> str:
    return ("best", "second", "third")[rank] if rank < 3 else f"number {rank + 1}"
