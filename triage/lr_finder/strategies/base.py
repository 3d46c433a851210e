"""Strategies: small, named searches that ask for probes and read their evidence."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from triage.errors import TriageError
from triage.probe import ProbeResult, ProbeSettings
from triage.task import PreparedTask
from triage.training import Training

# runner(settings, phase) -> results in order; a runner that trains several probes at once
# also takes runner(settings, phase, spare): probes a strategy will probably ask for next,
# started alongside when a slot is free and kept until they are asked for.
ProbeRunner = Callable[..., list[ProbeResult]]
R = TypeVar("R")
S = TypeVar("S")
X = TypeVar("X")


@dataclass
class Probe:
    """One probe as a strategy saw it: which phase asked for it, and what it found."""

    phase: str
    result: ProbeResult


@dataclass
class Context:
    """What a strategy works with.

    Attributes:
        prepared: the validated task.
        base: how every probe trains (optimizer, batch size, init, precision); each probe
            has its own LR.
        run: how every probe runs (``seed``, ``device``: ``ProbeSettings`` fields).
        runner: runs probes (through the study); the only way a strategy trains anything.
        max_steps: training steps all strategies together may spend.
        width: probes the runner trains at once (1: one after another). Above 1, strategies
            name spare probes; only the probes they ask for enter the history and the step
            count, so the search takes the same path at every width.
        history: every probe so far, in order.
    """

    prepared: PreparedTask
    base: Training
    runner: ProbeRunner
    max_steps: int
    width: int = 1
    run: dict[str, Any] = field(default_factory=dict)
    history: list[Probe] = field(default_factory=list)

    def settings(self, lr: float, **changes: Any) -> ProbeSettings:
        """A probe of this search at ``lr`` (``changes``: its steps, ``evaluate``, ...)."""
        return self.base.at(lr, **{**self.run, **changes})

    @property
    def steps_used(self) -> int:
        return sum(p.result.steps for p in self.history)

    @property
    def steps_left(self) -> int:
        return self.max_steps - self.steps_used

    def probe(self, settings: Sequence[ProbeSettings], phase: str,
              spare: Sequence[ProbeSettings] = ()) -> list[ProbeResult]:
        """Run probes and add them to the history; ``spare`` ones may start alongside (only
        when ``width`` > 1) and stay out of the history until asked for."""
        if spare and self.width > 1:
            results = self.runner(settings, phase, spare)
        else:
            results = self.runner(settings, phase)
        self.history.extend(Probe(phase, r) for r in results)
        return results


class Strategy(abc.ABC, Generic[R]):
    """A named search. Subclasses implement ``run`` and ask ``context.probe`` for evidence."""

    name: str = "strategy"  # the phase its probes are recorded under
    label: str = "strategy"  # the phase as people read it

    @abc.abstractmethod
    def run(self, context: Context) -> R:
        """Run the search and return its finding."""
        raise NotImplementedError


def lookahead(next_of: Callable[[S], X | None], branches: Callable[[S, X], Sequence[S]],
              state: S, count: int) -> list[X]:
    """Up to ``count`` probes a search may ask for from ``state``, likeliest first: its next
    probe, then (breadth first) the probes after it for each outcome ``branches`` imagines.
    A search that cannot go on from an imagined state (it would raise) adds nothing there."""
    out: list[X] = []
    frontier = [state]
    while frontier and len(out) < count:
        current = frontier.pop(0)
        try:
            probe = next_of(current)
        except TriageError:
            continue
        if probe is None or probe in out:
            continue
        out.append(probe)
        frontier.extend(branches(current, probe))
    return out
