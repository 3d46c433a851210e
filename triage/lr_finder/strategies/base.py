"""Strategies: small, named searches that ask for probes and read their evidence."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from triage.probe import ProbeResult, ProbeSettings
from triage.task import PreparedTask

ProbeRunner = Callable[[Sequence[ProbeSettings], str], list[ProbeResult]]
R = TypeVar("R")


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
        base: settings every probe starts from (optimizer, batch size, init, seed, device).
        runner: runs probes (through the study); the only way a strategy trains anything.
        max_steps: training steps all strategies together may spend.
        history: every probe so far, in order.
    """

    prepared: PreparedTask
    base: ProbeSettings
    runner: ProbeRunner
    max_steps: int
    history: list[Probe] = field(default_factory=list)

    @property
    def steps_used(self) -> int:
        return sum(p.result.steps for p in self.history)

    @property
    def steps_left(self) -> int:
        return self.max_steps - self.steps_used

    def probe(self, settings: Sequence[ProbeSettings], phase: str) -> list[ProbeResult]:
        """Run probes and add them to the history."""
        results = self.runner(settings, phase)
        self.history.extend(Probe(phase, r) for r in results)
        return results


class Strategy(abc.ABC, Generic[R]):
    """A named search. Subclasses implement ``run`` and ask ``context.probe`` for evidence."""

    name: str = "strategy"

    @abc.abstractmethod
    def run(self, context: Context) -> R:
        """Run the search and return its finding."""
        raise NotImplementedError
