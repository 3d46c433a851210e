"""The first design: lr-find's configuration at three back-offs a decade apart, then the space's
start points at the back-off that won.

The documents try three learning rates a decade or more apart before anything else. Below a
measured boundary that is lr-find's back-off and 10x and 100x further down (``space.ladder``),
trained to the full budget and unpruned: lr-find chose its back-off on short runs, and a full
training on small data often wants an LR 10-100x lower. The best back-off below one updater's
boundary is a good first guess below another's (the exploration behind the default space found
them within 2-4x of each other per task), so the space's own start points (Adam, say) run
next at the back-off that won, instead of at a fixed customary one (a start point of lr-find's
own updater would repeat the winner, and is left out).
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage.sweeper.space import LRPrior, SearchSpace
from triage.sweeper.worker import counted

FOLLOWED = "first_design_backoff"  # study user attribute: the back-off the start points took
START = "start"  # the origin user attribute of a first-design trial (run unpruned)


def follow(study: optuna.Study, trials: list[FrozenTrial], space: SearchSpace,
           prior: LRPrior | None, target: int | None = None) -> None:
    """Once every rung of lr-find's ladder has finished, queue the space's start points at the
    back-off of the best rung (once per study; within ``target`` search trials)."""
    ladder = space.ladder(prior)
    if not ladder or FOLLOWED in study.user_attrs:
        return
    live = counted(trials)
    done = [t for t in live if t.user_attrs.get("origin") == START and t.state.is_finished()]
    if len(done) < len(ladder):
        return
    feasible = [t for t in done if t.state == TrialState.COMPLETE
                and "infeasible" not in t.user_attrs]
    best = min(feasible, key=lambda t: (t.value, t.number)) if feasible else None
    backoff = best.params["backoff"] if best is not None else prior.backoff  # type: ignore[union-attr]
    ran = {p.get("optimizer") for p in ladder}  # that updater ran at this back-off already
    points = space.at_backoff([p for p in space.start_points(None)
                               if p.get("optimizer") not in ran], backoff)
    if target is not None:
        points = points[:max(0, target - len(live))]
    for point in points:
        study.enqueue_trial(point, user_attrs={"origin": START}, skip_if_exists=True)
    study.set_user_attr(FOLLOWED, backoff)
