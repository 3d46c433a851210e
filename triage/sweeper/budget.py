"""A sweep's budget: K full trainings' worth of training steps, everything counted.

One training is the task's epochs at the base batch size (lr-find's, else 32). Steps are spent
by lr-find (when the sweep starts from its config), by measuring divergence boundaries, by the
search's trials (a pruned trial counts the steps it ran) and by the final stage, which judges
the best configurations at the full budget. The search starts trials while the steps spent so
far (and those of trials running elsewhere, estimated) leave the final stage its share; how
many trials that is, is an outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from triage.errors import SettingsError

FINAL_SHARE = 0.35  # of the budget, for the final stage (whole trainings, at least one)
MAX_FINAL_RUNS = 7  # two finalists on two more seeds each, the schedule on three
FINAL = "final"  # the stage user attribute of a final-stage trial
SEED_SPAN = 2**30  # search trials' seeds lie below it, the final stage's above (all < 2**32)


def trial_seed(seed: int, number: int) -> int:
    """The seed search trial ``number`` of a sweep seeded ``seed`` trains on."""
    return (seed * 1_000_003 + number) % SEED_SPAN


def check_budget(budget: float) -> None:
    """A budget is a number of trainings, at least one."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (
            math.isfinite(budget) and budget >= 1):
        raise SettingsError(f"budget must be a number of full trainings >= 1, got {budget!r}")


@dataclass(frozen=True)
class Budget:
    """K trainings of ``training_steps`` steps each, of which ``before`` were spent already.

    Attributes:
        trainings: K.
        training_steps: one full training (the task's epochs at the base batch size).
        before: steps spent before the sweep started (lr-find's, with ``--from``).
    """

    trainings: float
    training_steps: int
    before: int = 0

    @property
    def total(self) -> int:
        return math.floor(self.trainings * self.training_steps)

    @property
    def final_runs(self) -> int:
        """Full trainings the final stage may run."""
        return max(1, min(MAX_FINAL_RUNS, math.floor(FINAL_SHARE * self.trainings)))

    @property
    def search_limit(self) -> int:
        """The steps spent (everything counted) after which the search starts no trial."""
        return self.total - self.final_runs * self.training_steps

    def check(self) -> None:
        """There must be room for a search and the final stage after what was spent before.

        Raises:
            SettingsError: naming the budget that would fit.
        """
        need = self.before + (self.final_runs + 1) * self.training_steps
        if self.total < need:
            fits = math.ceil(need / self.training_steps)
            spent = (f"lr-find spent {self.before} steps ({self.before / self.training_steps:.1f}"
                     " trainings) of it, and " if self.before else "")
            raise SettingsError(
                f"a budget of {self.trainings:g} trainings ({self.total} steps of "
                f"{self.training_steps} a training) is too small: {spent}the search and the "
                f"final stage need at least {self.final_runs + 1} more; use --budget {fits} or "
                "more")


@dataclass(frozen=True)
class Spent:
    """Steps spent so far, by part."""

    lr_find: int = 0
    boundaries: int = 0
    search: int = 0
    final: int = 0

    @property
    def total(self) -> int:
        return self.lr_find + self.boundaries + self.search + self.final

    def as_dict(self) -> dict[str, int]:
        return {"lr_find": self.lr_find, "boundaries": self.boundaries, "search": self.search,
                "final": self.final, "total": self.total}


def trial_steps(trial: FrozenTrial) -> int:
    """Training steps a finished trial ran (0 for one that never trained)."""
    return int((trial.user_attrs.get("result") or {}).get("steps") or 0)


def spent(trials: list[FrozenTrial], boundary_steps: int, before: int) -> Spent:
    """What the sweep's trials, its boundary probes and lr-find spent."""
    search = final = 0
    for trial in trials:
        if trial.user_attrs.get("stage") == FINAL:
            final += trial_steps(trial)
        else:
            search += trial_steps(trial)
    return Spent(before, boundary_steps, search, final)


def in_flight(trials: list[FrozenTrial]) -> int:
    """An estimate of the steps the trials running now, and the next one, will add: each as
    many as a finished search trial took on average (steps are recorded when a trial ends)."""
    running = sum(t.state == TrialState.RUNNING for t in trials)
    done = [trial_steps(t) for t in trials if t.state.is_finished() and trial_steps(t)
            and t.user_attrs.get("stage") != FINAL]
    return round((running + 1) * (sum(done) / len(done))) if done else 0
