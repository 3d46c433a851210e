"""Back off below the divergence boundary, choosing among candidates by validation loss.

The documents: the best learning rates sit 1-10x below the range where NaNs start, and one
should back off by factors of 3. We try 3x and 9x first; while the lowest rungs validate best,
the evidence says the optimum lies further down (typical of Adam, whose best LR often sits far
below its boundary), so we keep stepping down by 3 until ``patience + 1`` rungs in a row
validate worse than the best. Remaining budget refines the winner by half rungs (sqrt(3)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from triage.errors import SettingsError
from triage.lr_finder.strategies.base import Context, Strategy, lookahead
from triage.lr_finder.strategies.nan_boundary import LR_FLOOR, Boundary
from triage.probe import ProbeResult, ProbeSettings

MIN_CANDIDATE_STEPS = 20
_Rungs = tuple[dict[float, float], int]  # (validation loss per rung, steps left)


@dataclass(frozen=True)
class Candidate:
    lr: float
    backoff: float
    val_loss: float | None  # None: diverged or out of memory
    steps: int


@dataclass(frozen=True)
class Choice:
    """The recommended LR and why.

    Attributes:
        lr: the recommendation.
        backoff: max_finite_lr (where divergence starts) / lr.
        rule: which rule decided, in words.
        candidates: every candidate evaluated, in order.
    """

    lr: float
    backoff: float
    rule: str
    candidates: list[Candidate] = field(default_factory=list)


class BackOff(Strategy[Choice]):
    """Choose an LR below ``boundary`` by short validation runs.

    Args:
        boundary: the divergence boundary found before.
        factor: ladder step (the documents' 3).
        patience: keep stepping down until the best candidate is this many steps above the
            lowest one tried (validation loss is noisy; one worse step is not proof).
        candidate_steps: longest validation run; also capped by the task's full budget and by
            the step budget left (shared among ``expected_candidates``).
        expected_candidates: how many runs the remaining budget is planned for.
    """

    name = "backoff"
    label = "back-off"

    def __init__(
        self,
        boundary: Boundary,
        factor: float = 3.0,
        patience: int = 1,
        candidate_steps: int = 300,
        expected_candidates: int = 5,
    ) -> None:
        if not factor > 1:
            raise SettingsError(f"back-off factor must be > 1, got {factor!r}")
        if patience < 0 or expected_candidates < 2:
            raise SettingsError(f"need patience >= 0 and expected_candidates >= 2, got "
                                f"{patience!r} and {expected_candidates!r}")
        self.boundary, self.factor, self.patience = boundary, factor, patience
        self.candidate_steps, self.expected = candidate_steps, expected_candidates

    def next_rung(self, losses: dict[float, float], steps_left: int, steps: int,
                  top: float) -> float | None:
        """The ladder position to validate next, given validation losses so far (inf: the
        run diverged), or None when done: rungs 1 and 2 (3x and 9x below ``top``); then one
        more rung down while the best is among the last ``patience + 1``; then half rungs
        either side of the best."""
        def can_try(k: float) -> bool:
            return steps_left >= steps and top / self.factor**k >= LR_FLOOR

        for k in (1.0, 2.0):  # the budget was checked for these before the ladder started
            if k not in losses:
                return k
        ladder = [k for k in losses if k == int(k)]
        lowest, best = max(ladder), min(ladder, key=losses.__getitem__)
        settled = math.isfinite(losses[best]) and best < lowest - self.patience
        if can_try(lowest + 1) and not settled:
            return lowest + 1
        if not math.isfinite(losses[best]):
            return None
        for k in (best + 0.5, best - 0.5):
            if k >= 1 and k not in losses and can_try(k):
                return k
        return None

    def run(self, context: Context) -> Choice:
        top = self.boundary.max_finite_lr
        full = context.prepared.budget_steps(context.base.effective_batch_size)
        steps = min(self.candidate_steps, full, context.steps_left // self.expected)
        if steps < min(MIN_CANDIDATE_STEPS, full):
            lr = top / self.factor
            return Choice(lr, self.factor, f"step budget left no room for validation runs: the "
                          f"documents' {self.factor:g}x back-off without further evidence")
        scores: dict[float, Candidate] = {}  # ladder position k -> candidate at top / factor**k

        def at(k: float) -> ProbeSettings:
            return context.settings(top / self.factor**k, steps=steps, evaluate=True)

        def branches(state: _Rungs, k: float) -> list[_Rungs]:
            """Rung k turning out worst, or best, of all so far (worst first: past the first
            rungs, a rung further down is mostly worse than the best above it)."""
            losses, left = state
            finite = [v for v in losses.values() if math.isfinite(v)] or [0.0]
            return [({**losses, k: max(finite) + 1}, left - steps),
                    ({**losses, k: min(finite) - 1}, left - steps)]

        def next_of(state: _Rungs) -> float | None:
            return self.next_rung(state[0], state[1], steps, top)

        losses: dict[float, float] = {}
        while (k := next_of((losses, context.steps_left))) is not None:
            ahead = lookahead(next_of, branches, (losses, context.steps_left), context.width)
            result = context.probe([at(k)], self.name, [at(j) for j in ahead[1:]])[0]
            scores[k] = Candidate(at(k).lr, top / at(k).lr, _val(result), result.steps)
            losses[k] = math.inf if scores[k].val_loss is None else scores[k].val_loss
        best = min(losses, key=losses.__getitem__)
        lowest = max(k for k in losses if k == int(k))
        candidates = [scores[k] for k in sorted(scores)]
        if not math.isfinite(losses[best]):
            lr = top / self.factor ** (lowest + 1)
            return Choice(lr, top / lr, "every candidate diverged in longer runs: stepped one "
                          "more factor below the lowest, unvalidated; rerun with a smaller batch "
                          "or look for instability (triage doctor)", candidates)
        return Choice(scores[best].lr, scores[best].backoff, _rule(best, self.factor, steps),
                      candidates)


def _val(result: ProbeResult) -> float | None:
    return result.objective if result.ok else None


def _rule(k: float, factor: float, steps: int) -> str:
    backoff = factor**k
    where = ("inside the documents' 3-10x range" if backoff <= 10.5 else
             "beyond the documents' 3-10x range because validation loss kept improving further "
             "down")
    return (f"{backoff:.3g}x below the divergence boundary, {where} (best validation loss after "
            f"{steps} steps among the candidates)")
