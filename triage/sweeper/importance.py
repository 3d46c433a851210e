"""What mattered: Optuna's importance evaluator on the search's trials, and the settings it shows
do not matter, fixed early so that the rest of the budget goes where it pays.

Most search trials are pruned before the full budget, so importances are measured at the
furthest point (in ninths of the budget, as trials report) that enough trials reached, each
trial counted with the validation loss it reported there. The evaluator is Optuna's default,
PED-ANOVA, over the settings every one of those trials has: a setting that exists only in some
trials (weight decay's value when it is on) is represented by its switch, because PED-ANOVA
ranks a setting seen in a handful of trials first on chance alone. On a dozen trials where one
setting of two had no effect, fANOVA still gave it 10-33% of the variance, PED-ANOVA mostly
under 2% (tests/sweeper/test_priorband.py has the case).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from triage.sweeper.budget import FINAL
from triage.sweeper.pruning import PROGRESS

FIXED = "fixed"  # study user attribute: the settings fixed early, with why
MIN_TRIALS = 12  # trials at one point before importances mean anything
FIX_BELOW = 0.05  # a share of the explained variance below which a setting does not matter
NEVER_FIXED = ("backoff",)  # the LR is tuned jointly with everything else (the documents)


@dataclass(frozen=True)
class Importances:
    """Each searched setting's importance for validation loss, as a share of the total.

    Attributes:
        shares: setting -> share (summing to 1), largest first; empty when too few trials.
        at: where they were measured, in ninths of the budget.
        trials: how many trials they rest on.
        best: the setting values of the best of those trials.
    """

    shares: dict[str, float] = field(default_factory=dict)
    at: int = 0
    trials: int = 0
    best: dict[str, object] = field(default_factory=dict)


def measure(trials: list[FrozenTrial], min_trials: int = MIN_TRIALS,
            min_step: int = 1) -> Importances:
    """Importances at the furthest report (in ninths of the budget, from ``min_step`` on) that
    ``min_trials`` feasible search trials made."""
    search = [t for t in trials if t.user_attrs.get("stage") != FINAL
              and t.state in (TrialState.COMPLETE, TrialState.PRUNED)
              and "infeasible" not in t.user_attrs and t.intermediate_values]
    reached: dict[int, int] = {}
    for trial in search:
        for step in trial.intermediate_values:
            reached[step] = reached.get(step, 0) + 1
    steps = [s for s, n in reached.items() if n >= min_trials and s >= min_step]
    if not steps:
        return Importances()
    step = max(steps)
    at = [t for t in search if step in t.intermediate_values]
    common = sorted(set.intersection(*(set(t.params) for t in at)))
    if not common:
        return Importances()
    study = optuna.create_study()
    study.add_trials([create_trial(value=t.intermediate_values[step], params=t.params,
                                   distributions=t.distributions) for t in at])
    try:
        shares = optuna.importance.get_param_importances(
            study, params=common, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    except (ValueError, RuntimeError):  # every value equal, nothing to tell apart
        return Importances()
    best = min(at, key=lambda t: (t.intermediate_values[step], t.number))
    return Importances({k: float(v) for k, v in shares.items()}, step, len(at), best.params)


def fixed(study: optuna.Study) -> dict[str, object]:
    """The settings fixed so far, with their values."""
    return {name: item["value"] for name, item in study.user_attrs.get(FIXED, {}).items()}


def fix_unimportant(study: optuna.Study, trials: list[FrozenTrial]) -> None:
    """Once enough trials reported a third of the way through the budget or beyond (the first
    epochs say more about speed than about where training ends), fix each setting whose share
    is below ``FIX_BELOW`` at the best trial's value, and record why (once per study: later
    trials keep the decision)."""
    if FIXED in study.user_attrs:
        return
    found = measure(trials, min_step=PROGRESS // 3)
    if not found.shares:
        return
    decided = {name: {"value": found.best[name], "share": round(share, 4),
                      "why": f"{share:.0%} of the importance for validation loss "
                             f"(PED-ANOVA) {found.at}/{PROGRESS} of the way through the budget, "
                             f"over {found.trials} trials"}
               for name, share in found.shares.items()
               if share < FIX_BELOW and name not in NEVER_FIXED and name in found.best}
    study.set_user_attr(FIXED, decided)
