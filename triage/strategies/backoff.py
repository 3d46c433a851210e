"""Back off below the divergence boundary, choosing among candidates by validation loss.

The documents: the best learning rates sit 1-10x below the range where NaNs start, and one
should back off by factors of 3. We try 3x and 9x first; when the lower one validates better,
the evidence says the optimum lies further down (typical of Adam, whose best LR often sits far
below its boundary) and we keep stepping down by 3 while validation keeps improving. Remaining
budget refines the winner by half steps (factor sqrt(3)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from triage.errors import SettingsError
from triage.probe import ProbeResult
from triage.strategies.base import Context, Strategy
from triage.strategies.nan_boundary import LR_FLOOR, Boundary

MIN_CANDIDATE_STEPS = 20


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
        backoff: max_stable_lr / lr.
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
        candidate_steps: longest validation run; also capped by the task's full budget and by
            the step budget left (shared among ``expected_candidates``).
        expected_candidates: how many runs the remaining budget is planned for.
    """

    name = "backoff"

    def __init__(
        self,
        boundary: Boundary,
        factor: float = 3.0,
        candidate_steps: int = 300,
        expected_candidates: int = 4,
    ) -> None:
        if not factor > 1:
            raise SettingsError(f"back-off factor must be > 1, got {factor!r}")
        self.boundary, self.factor = boundary, factor
        self.candidate_steps, self.expected = candidate_steps, expected_candidates

    def run(self, context: Context) -> Choice:
        top = self.boundary.max_stable_lr
        full = context.prepared.steps_per_epoch(context.base.batch_size) * (
            context.base.epochs or context.prepared.task.epochs)
        steps = min(self.candidate_steps, full, context.steps_left // self.expected)
        if steps < MIN_CANDIDATE_STEPS:
            lr = top / self.factor
            return Choice(lr, self.factor, f"step budget left no room for validation runs: the "
                          f"documents' {self.factor:g}x back-off without further evidence")
        evaluated: dict[float, Candidate] = {}

        def lr_at(k: float) -> float:
            return top / self.factor**k

        def score(k: float) -> float:
            lr = lr_at(k)
            if lr not in evaluated:
                result = context.probe(
                    [context.base.with_(lr=lr, steps=steps, evaluate=True)], self.name)[0]
                evaluated[lr] = Candidate(lr, self.factor**k, _val(result), result.steps)
            value = evaluated[lr].val_loss
            return math.inf if value is None else value

        def affordable() -> bool:
            return context.steps_left >= steps

        ks = [1.0, 2.0]
        for k in ks:
            score(k)
        # Step down while the lowest candidate is the best (or everything diverged).
        while affordable() and lr_at(ks[-1] + 1) >= LR_FLOOR:
            best_k = min(ks, key=score)
            if best_k != ks[-1] and math.isfinite(score(best_k)):
                break
            ks.append(ks[-1] + 1)
            score(ks[-1])
        best_k = min(ks, key=score)
        # Refine by half steps around the winner while the budget allows.
        for k in (best_k + 0.5, best_k - 0.5):
            if k >= 1 and affordable() and math.isfinite(score(best_k)):
                score(k)
        ks = sorted({*ks, *(k for k in (best_k + 0.5, best_k - 0.5) if lr_at(k) in evaluated)})
        best_k = min(ks, key=score)
        candidates = list(evaluated.values())
        if not math.isfinite(score(best_k)):
            lr = lr_at(ks[-1] + 1)
            return Choice(lr, top / lr, "every candidate diverged in longer runs: stepped one "
                          "more factor below the lowest, unvalidated; rerun with a smaller batch "
                          "or look for instability (triage doctor)", candidates)
        return Choice(lr_at(best_k), self.factor**best_k, _rule(best_k, self.factor, steps),
                      candidates)


def _val(result: ProbeResult) -> float | None:
    return result.objective if result.ok else None


def _rule(k: float, factor: float, steps: int) -> str:
    backoff = factor**k
    where = (f"{backoff:.3g}x below the divergence boundary, inside the documents' 3-10x range"
             if 2.5 <= backoff <= 10.5 else
             f"{backoff:.3g}x below the divergence boundary, beyond the documents' 3-10x range "
             "because validation loss kept improving further down"
             if backoff > 10.5 else
             f"{backoff:.3g}x below the divergence boundary, closer than the documents' 3x "
             "because it validated best")
    return f"{where} (best validation loss after {steps} steps among the candidates)"
