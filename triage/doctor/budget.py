"""Doctor's time budget: probes get as many steps as the measured step time allows.

A probe's length is wanted in steps (300 at the user's LR, 100 at a tiny one, ...), capped by
the examples it sees (a batch of 2,000 does not need 300 steps to show a trend), then shortened
by one factor for all probes when their planned work would not fit in what is left of the
budget. The factor is re-estimated before each probe from the step times measured so far; no
probe is cut below ``MIN_STEPS`` (the fewest a loss trend is judged on). Shortened probes are
recorded so the report can say so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from triage.errors import SettingsError
from triage.probe.result import JUDGED_STEPS

DEFAULT_SECONDS = 60.0
EXAMPLES = 300 * 32  # what a 300-step probe at the documents' default batch size sees
MIN_STEPS = JUDGED_STEPS
HEADROOM = 0.8  # plan to use this share of the time left (model builds, evaluation)


@dataclass
class Budget:
    """Seconds for the whole diagnosis (None: no limit) and what was measured against them.

    Attributes:
        seconds: the budget.
        started: ``time.perf_counter()`` when the diagnosis started.
        step_seconds: measured seconds per step, by batch size.
        shortened: probe name -> (steps wanted, steps given), for the probes cut to fit.
    """

    seconds: float | None = DEFAULT_SECONDS
    started: float = field(default_factory=time.perf_counter)
    step_seconds: dict[int, float] = field(default_factory=dict)
    shortened: dict[str, tuple[int, int]] = field(default_factory=dict)
    planned: float = 0.0  # steps (at the user's batch size) the remaining probes want

    def __post_init__(self) -> None:
        if self.seconds is not None and not self.seconds > 0:
            raise SettingsError(f"budget must be > 0 seconds, got {self.seconds!r}")

    def left(self) -> float:
        if self.seconds is None:
            return math.inf
        return self.seconds - (time.perf_counter() - self.started)

    def measured(self, batch_size: int, steps: int, seconds: float) -> None:
        """Record a probe's speed (the latest probe of a batch size wins)."""
        if steps > 0 and seconds > 0:
            self.step_seconds[batch_size] = seconds / steps

    def plan(self, steps: float) -> None:
        """Announce work still to come (in steps at the measured speed)."""
        self.planned += steps

    def steps(self, name: str, wanted: int, batch_size: int, by_examples: bool = True) -> int:
        """Steps for probe ``name``: ``wanted`` (with ``by_examples``, capped by examples seen
        for large batches), shortened when the planned work would overrun the time left."""
        limit = max(MIN_STEPS * 2, math.ceil(EXAMPLES / batch_size)) if by_examples else wanted
        capped = min(wanted, limit)
        per_step = self._per_step(batch_size)
        work = max(self.planned, capped)
        self.planned = max(0.0, self.planned - capped)
        if per_step is None or self.seconds is None:
            given = capped
        else:
            factor = min(1.0, HEADROOM * max(self.left(), 0.0) / (work * per_step))
            given = max(MIN_STEPS, math.floor(capped * factor))
        given = min(given, wanted)
        if given < wanted:
            self.shortened[name] = (wanted, given)
        return given

    def affords(self, steps: int, batch_size: int) -> bool:
        """Whether ``steps`` more steps at the measured speed fit in the time left (always,
        without a limit or a measurement)."""
        per_step = self._per_step(batch_size)
        return self.seconds is None or per_step is None or steps * per_step <= self.left()

    def _per_step(self, batch_size: int) -> float | None:
        """The measured time for this batch size, else the nearest measured one scaled
        linearly (at least a quarter of it: small batches keep fixed per-step costs)."""
        if batch_size in self.step_seconds:
            return self.step_seconds[batch_size]
        if not self.step_seconds:
            return None
        size, seconds = min(self.step_seconds.items(), key=lambda kv: abs(kv[0] - batch_size))
        return seconds * max(0.25, batch_size / size)
