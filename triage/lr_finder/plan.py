"""What lr-find will spend on a task, decided before the first probe.

lr-find should cost a small multiple of what it saves: on a task whose whole training is a few
hundred steps, 2,000 steps of probes would be several trainings. The step budget is therefore
at most ``BUDGET_TIMES`` the task's full budget (never below ``MIN_BUDGET``, and never above the
user's ``--max-steps``), and every part of the procedure shrinks with it in proportion: the
divergence window keeps its share of the budget (``--steps`` / ``--max-steps``, 100 / 2,000 by
default), so the three-LR probe, the boundary and the back-off's validation runs keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.probe.fused import fusable
from triage.probe.parallel import Parallelism, count_parameters, plan
from triage.probe.settings import ProbeSettings
from triage.task import PreparedTask
from triage.torchrun import launched

BUDGET_TIMES = 2
MIN_BUDGET = 300  # below it the three LRs and a boundary cannot both be probed
MIN_WINDOW = 20  # fewer steps cannot tell learning from noise (see ProbeResult.not_learning)


@dataclass(frozen=True)
class Plan:
    """How lr-find runs on one task.

    Attributes:
        parallelism: how many probes train at once.
        max_steps: the step budget all probes share.
        steps: the divergence window (each boundary probe's length).
        full_budget: the task's whole training in steps (its epochs at the batch size).
        shrunk: the budget is below the user's ``--max-steps`` because the task is small.
        world_size: the workers probes stand for (each step accumulates one micro-batch each).
        batch_size: each worker's batch.
        purpose: why this search runs, when it is not the first (said before it probes).
    """

    parallelism: Parallelism
    max_steps: int
    steps: int
    full_budget: int
    shrunk: bool
    world_size: int = 1
    batch_size: int = 32
    purpose: str = ""

    def describe(self) -> list[str]:
        """What the command line says before probing."""
        lines = [self.purpose] if self.purpose else []
        lines.append(self.parallelism.describe())
        if self.world_size > 1:
            how = ("each rank trains one micro-batch and DDP averages the gradients"
                   if launched() == self.world_size else
                   "each step accumulates one micro-batch per worker on this device")
            lines.append(f"for {self.world_size} workers of batch {self.batch_size} (effective "
                         f"batch {self.world_size * self.batch_size}): {how}; BatchNorm "
                         "statistics are per micro-batch, as they are per worker without "
                         "SyncBatchNorm")
        if self.shrunk:
            lines.append(f"step budget {self.max_steps} ({BUDGET_TIMES}x your full training "
                         f"of {self.full_budget} steps), divergence window {self.steps} steps")
        return lines


def budget(max_steps: int, steps: int, full_budget: int) -> tuple[int, int, bool]:
    """(step budget, divergence window, shrunk) for the user's ``max_steps`` and ``steps``
    on a task whose full training is ``full_budget`` steps."""
    cap = min(max_steps, max(BUDGET_TIMES * full_budget, MIN_BUDGET))
    if cap >= max_steps:
        return max_steps, steps, False
    window = min(steps, max(MIN_WINDOW, round(steps * cap / max_steps)))
    return cap, window, True


def make_plan(prepared: PreparedTask, first: ProbeSettings, max_steps: int, steps: int,
              parallel: str | int, purpose: str = "") -> Plan:
    """The plan for lr-find on ``prepared`` whose ``first`` probe is given: the budget for
    its size, and how probes run (``--parallel``'s choice, one at a time where a GPU's fused
    probes cannot be fused)."""
    full = prepared.budget_steps(first.effective_batch_size)
    cap, window, shrunk = budget(max_steps, steps, full)
    parallelism = plan(parallel, first.device, count_parameters(prepared.task))
    if parallelism.fused:
        unfusable = fusable(prepared, [first.with_(steps=window, evaluate=False)])
        if unfusable is not None:
            parallelism = Parallelism(1, f"cannot fuse: {unfusable}")
    return Plan(parallelism, cap, window, full, shrunk, first.world_size, first.batch_size,
                purpose)
