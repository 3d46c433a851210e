"""The divergence boundary: the highest LR that survives the first N steps, found geometrically.

The documents: NaNs within the first 100 iterations mean the LR is too high; reduce it by a
factor of 3 until they stop. We bracket the boundary with the probes already run (extending the
bracket by factors of 10 when every probe agrees), then halve the bracket in log space until its
ends are within ``precision`` of each other. A probe that survives but whose loss does not fall
(stuck at chance after a too-large first step) is reported as not learning: the highest LR
that survives *and learns* is the max stable LR, while the back-off starts, as the documents
say, from where divergence starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from triage.errors import SettingsError, TriageError
from triage.lr_finder.strategies.base import Context, Strategy, lookahead
from triage.probe import ProbeResult, ProbeSettings

LR_CEILING = 10.0
LR_FLOOR = 1e-9


class DivergesEverywhere(TriageError):
    """Even the smallest LR diverges: the cause is not the learning rate."""


@dataclass(frozen=True)
class Boundary:
    """Where training stops being stable.

    Attributes:
        max_finite_lr: highest LR probed that did not diverge in ``steps`` steps (the
            back-off's anchor).
        divergence_lr: lowest LR probed above it that did, or None when none did up to the
            ceiling.
        steps: the probe length that defines 'stable'.
        max_stable_lr: highest LR probed that did not diverge and whose loss fell (see
            ``ProbeResult.not_learning``); None when no probe learned.
    """

    max_finite_lr: float
    divergence_lr: float | None
    steps: int
    max_stable_lr: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.divergence_lr is None else self.divergence_lr / self.max_finite_lr


class NanBoundary(Strategy[Boundary]):
    """Bracket and narrow the divergence boundary.

    Args:
        steps: probe length; divergence within it means 'too high'.
        precision: stop when divergence_lr / max_stable_lr is at most this (> 1).
        reserve: fraction of the step budget to leave for later strategies.
        start: the first LR probed when no probe of this length ran yet.
        expand: the factor the bracket is extended by while every probe agrees (the sweep
            starts near a boundary it already knows for a neighbouring setting and extends by
            less than lr-find, which starts blind).
    """

    name = "nan_boundary"
    label = "boundary"

    def __init__(self, steps: int = 100, precision: float = 2.0, reserve: float = 0.4,
                 start: float = 1e-3, expand: float = 10.0) -> None:
        if not precision > 1:
            raise SettingsError(f"boundary precision must be > 1, got {precision!r}")
        if not 0 <= reserve < 1:
            raise SettingsError(f"reserve must be in [0, 1), got {reserve!r}")
        if not (start > 0 and expand > 1):
            raise SettingsError(f"need start > 0 and expand > 1, got {start!r} and {expand!r}")
        self.steps, self.precision, self.reserve = steps, precision, reserve
        self.start, self.expand = start, expand

    def _runs(self, context: Context) -> dict[float, ProbeResult]:
        return {p.result.settings.lr: p.result for p in context.history
                if p.result.settings.steps == self.steps}

    def _outcomes(self, context: Context) -> dict[float, bool]:
        """LR -> diverged, over every probe of this length run so far."""
        return {lr: not r.ok for lr, r in self._runs(context).items()}

    def _boundary(self, context: Context, lo: float, hi: float | None) -> Boundary:
        learned = [lr for lr, r in self._runs(context).items()
                   if r.ok and not r.not_learning and lr <= lo]
        return Boundary(lo, hi, self.steps, max(learned, default=None))

    def _probe(self, context: Context, lr: float, spare: list[float]) -> None:
        def at(x: float) -> ProbeSettings:
            return context.settings(x, steps=self.steps, evaluate=False)

        context.probe([at(lr)], self.name, [at(x) for x in spare])

    def _everywhere(self) -> str:
        return (f"training diverges within {self.steps} steps at every LR down to {LR_FLOOR:g}: "
                "the cause is the model, data or loss, not the learning rate; check for "
                "unnormalised data and unstable layers (triage doctor)")

    def next_lr(self, seen: dict[float, bool], steps_left: int, max_steps: int) -> float | None:
        """The LR to probe next given ``seen`` (LR -> diverged), or None when the boundary is
        found: extend the bracket by ``expand`` while every probe agrees, then narrow it
        geometrically while the budget keeps ``reserve`` of ``max_steps`` for later.

        Raises:
            DivergesEverywhere: every LR down to ``LR_FLOOR`` diverged.
            SettingsError: the budget ran out before any LR stayed stable.
        """
        if not seen:
            return self.start
        affordable = steps_left >= self.steps
        if not any(seen.values()):
            top = max(seen)
            return min(top * self.expand, LR_CEILING) if top < LR_CEILING and affordable else None
        hi = min(lr for lr, diverged in seen.items() if diverged)
        lo = max((lr for lr, diverged in seen.items() if not diverged and lr < hi), default=None)
        if lo is None:
            if hi <= LR_FLOOR:
                raise DivergesEverywhere(self._everywhere())
            if not affordable:
                raise SettingsError(f"the step budget ran out before any LR down to {hi:g} "
                                    "stayed stable; raise --max-steps")
            return max(hi / self.expand, LR_FLOOR)
        if hi / lo > self.precision and steps_left - self.steps >= self.reserve * max_steps:
            return math.sqrt(lo * hi)
        return None

    def guesses(self, seen: dict[float, bool], steps_left: int, max_steps: int,
                count: int) -> list[float]:
        """Up to ``count`` LRs this search may probe after ``seen``, likeliest first: the
        next probe, then the probes after it for either of its outcomes (stable first)."""
        def next_of(state: tuple[dict[float, bool], int]) -> float | None:
            return self.next_lr(state[0], state[1], max_steps)

        def branches(state: tuple[dict[float, bool], int],
                     lr: float) -> list[tuple[dict[float, bool], int]]:
            # a diverged probe stops early: its cost is unknown, so count it in full
            return [({**state[0], lr: diverged}, state[1] - self.steps)
                    for diverged in (False, True)]

        return lookahead(next_of, branches, (seen, steps_left), count)

    def run(self, context: Context) -> Boundary:
        seen = self._outcomes(context)
        while (lr := self.next_lr(seen, context.steps_left, context.max_steps)) is not None:
            after = self.guesses(seen, context.steps_left, context.max_steps, context.width)
            self._probe(context, lr, after[1:])
            seen = self._outcomes(context)
        if not any(seen.values()):
            return self._boundary(context, max(seen), None)
        hi = min(lr for lr, diverged in seen.items() if diverged)
        lo = max(lr for lr, diverged in seen.items() if not diverged and lr < hi)
        return self._boundary(context, lo, hi)
