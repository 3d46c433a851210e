"""How many probes run at once, and how: ``--parallel auto|N``.

The choice depends on the device, the cores and the model's size, never on the model's
results, so the same command always makes the same choice on the same machine. Results do not
depend on it either (see ``Context.width``): only the wall time does. On a CPU that needs the
arithmetic to be the same at every width too: a small model's probes train with one thread
whether they run one at a time or in workers, since a sum split over two threads rounds
differently and a probe at the edge of stability can then diverge, or validate, the other way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from triage.errors import SettingsError
from triage.torchrun import launched

if TYPE_CHECKING:
    from triage.task import Task

AUTO = "auto"
MAX_AUTO_WORKERS = 3  # the three-LR probe at once; beyond it spare probes are mostly wasted
FUSED = 8  # copies fused on a GPU: for small models about the cost of one
# Below this many parameters a training step is bound by per-operation overhead, not
# arithmetic: one thread trains nearly as fast as many, so workers of one thread each pay off.
# Above it, torch's own threads already use the cores (a 1.2M-parameter CNN on two cores:
# 2 workers took 0.84x the sequential time and, with arithmetic summed in another order,
# recommended the neighbouring half rung; benchmarks/RESULTS.md). Below it one thread is also
# what every probe trains with, one at a time or not (the bundled examples' whole lr-find took
# 0.91-1.02x the time with one thread as with two; benchmarks/RESULTS.md).
SMALL_MODEL = 100_000


@dataclass(frozen=True)
class Parallelism:
    """The probe runner's plan.

    Attributes:
        workers: probes trained at once (1: one after another in this process); workers
            use one CPU thread each (see ``ProbePool``).
        reason: why, in words (printed by the command line).
        fused: on a GPU, the probes run as copies of one model (see ``FusedPool``).
        threads: the torch threads a probe run in this process trains with (None: torch's
            own setting); 1 for a small model on a CPU, so that its arithmetic is that of
            the workers.
    """

    workers: int
    reason: str
    fused: bool = False
    threads: int | None = None

    def describe(self) -> str:
        if self.workers == 1:
            thread = ", one CPU thread" if self.threads == 1 else ""
            return f"probes one at a time{thread} ({self.reason})"
        if self.fused:
            return (f"up to {self.workers} probes at once, fused into one model with torch.func "
                    f"({self.reason})")
        return (f"{self.workers} probes at once in worker processes of one CPU thread each "
                f"({self.reason})")


def check_parallel(value: str | int) -> str | int:
    """``auto`` or an integer >= 1 (a numeric string counts); returns it normalised."""
    if value == AUTO:
        return value
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1 or str(number) != str(value).strip():
        raise SettingsError(f"--parallel must be auto or a positive integer, got {value!r}")
    return number


def plan(parallel: str | int, device: str, parameters: int, cores: int | None = None
         ) -> Parallelism:
    """Choose how probes run for ``--parallel`` on ``device`` for a model of ``parameters``.

    ``auto`` fuses up to ``FUSED`` probes into one model on a GPU; on a CPU of two cores or
    more it runs up to three at once in forked processes when the model is small (under
    ``SMALL_MODEL`` parameters); one at a time with all threads on one core and for a larger
    model. An explicit N > 1 fuses N on a GPU and runs N processes on a CPU. A small model's
    probes train with one CPU thread at every width, ``--parallel 1`` included, so that the
    recommendation does not depend on the width. (Whether the model can be fused is the
    caller's to check: ``triage.probe.fused.fusable``.)

    Raises:
        SettingsError: a bad value.
    """
    parallel = check_parallel(parallel)
    cores = cores or os.cpu_count() or 1
    from triage.probe.device import on_cpu  # imports torch

    cpu = on_cpu(device)
    small = cpu and parameters < SMALL_MODEL
    threads, ranks = (1 if small else None), launched()
    if ranks > 1:  # a probe's ranks already fill the devices; forked workers cannot join them
        return Parallelism(1, f"under torchrun, each probe for {ranks} workers a DDP job "
                              f"across its {ranks} processes", threads=threads)
    return replace(_choose(parallel, cpu, small, parameters, cores), threads=threads)


def _choose(parallel: str | int, cpu: bool, small: bool, parameters: int,
            cores: int) -> Parallelism:
    """``plan``'s choice of width, before the thread count (which follows ``small`` alone)."""
    if parallel == AUTO:
        if not cpu:
            return Parallelism(FUSED, "--parallel auto on a GPU", fused=True)
        if cores < 2:
            return Parallelism(1, "--parallel auto on one CPU core")
        if not small:
            return Parallelism(1, f"--parallel auto: {parameters:,} parameters use all "
                                  f"{cores} cores in one probe")
        return Parallelism(min(cores, MAX_AUTO_WORKERS), f"--parallel auto on {cores} CPU "
                           f"cores, {parameters:,} parameters")
    assert isinstance(parallel, int)
    if parallel == 1:
        return Parallelism(1, "--parallel 1" + (f"; {parameters:,} parameters train on one "
                                                "thread at every width" if small else ""))
    if not cpu:
        return Parallelism(parallel, f"--parallel {parallel} on a GPU", fused=True)
    return Parallelism(parallel, f"--parallel {parallel}")


def count_parameters(task: Task) -> int:
    """The model's parameters, from one model built under a fixed seed (the caller's random
    state is left as it was)."""
    from triage.rng import seeded
    from triage.task import build_model

    with seeded(0):
        return sum(p.numel() for p in build_model(task).parameters())
