"""The one probe loop: lanes (copies of a model) trained in step on the same batches.

A sequential probe is one lane; a fused probe (``fused.py``) is K lanes whose forward and
backward run as one ``vmap``. Everything else is here, once: the data order, the step count,
per-lane optimizer steps with the instruments around them, the divergence watch, epochs and
their schedule, and the final check for a non-finite gradient. What differs between the two
is how the lanes' losses and gradients are computed: a ``Stepper``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from triage import interrupt
from triage.data import Data, TensorData, batches
from triage.probe.device import is_oom, release_memory
from triage.probe.monitor import DivergenceWatch, GradientMonitor, reference_steps
from triage.probe.settings import ProbeSettings
from triage.task import PreparedTask


@dataclass
class Lane:
    """One copy's training state.

    Attributes:
        optimizer: its own optimizer (its own LR).
        monitor: samples its gradient norm and update ratio.
        watch: its divergence watch.
        scheduler: its LR scheduler, or None.
        per_step: the scheduler steps after every optimizer step (a warmup), not every epoch.
        steps: the steps it trained, set when it stops.
    """

    optimizer: torch.optim.Optimizer
    monitor: GradientMonitor
    watch: DivergenceWatch
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    per_step: bool = False
    steps: int | None = None

    def observe(self, step: int, norm: torch.Tensor | None) -> bool:
        """Sample the gradients before the update on the monitor's steps; True if sampled."""
        sampled = self.monitor.wants(step)
        if sampled:
            self.monitor.before_step(norm)
        return sampled

    def update(self, sampled: bool, scaler: torch.amp.GradScaler | None = None) -> None:
        """The optimizer step (under loss scaling, an overflowed step is skipped and the
        scale lowered), then the update ratio on sampled steps."""
        if scaler is None:
            self.optimizer.step()
        else:
            scaler.step(self.optimizer)
            scaler.update()
        if sampled:
            self.monitor.after_step()


def new_watch(device: torch.device, batch_size: int, explosions: bool = True
              ) -> DivergenceWatch:
    """A divergence watch for ``device``: on a GPU losses are read back every 10 steps only;
    on the CPU reading is free. Its starting loss is averaged over
    ``monitor.reference_steps(batch_size)`` steps; without ``explosions`` only a non-finite
    loss stops a probe."""
    return DivergenceWatch(check_every=1 if device.type == "cpu" else 10,
                           reference_steps=reference_steps(batch_size), explosions=explosions)


class Stepper(abc.ABC):
    """Computes one training step of the live lanes on a batch."""

    scaled: bool = False  # float16 loss scaling: an overflow is a skipped step, not a failure

    @abc.abstractmethod
    def step(self, batch: object, lanes: list[Lane], step: int) -> list[torch.Tensor]:
        """Run forward, backward and each lane's optimizer step; return each lane's loss."""


def planned_steps(prepared: PreparedTask, settings: ProbeSettings) -> int:
    """The steps a probe with ``settings`` trains unless it diverges or is stopped."""
    return settings.steps or prepared.budget_steps(settings.effective_batch_size,
                                                   settings.epochs)


def train(
    prepared: PreparedTask,
    settings: ProbeSettings,
    lanes: list[Lane],
    stepper: Stepper,
    device: torch.device,
    generator: torch.Generator,
    on_epoch_end: Callable[[int], bool] | None = None,
) -> int:
    """Train every lane until it diverges, the planned steps are done, or ``on_epoch_end``
    returns True after a complete epoch; returns the steps the loop ran. Each lane's
    ``steps`` is set."""
    data = place(prepared.train, device)
    total = planned_steps(prepared, settings)
    size = settings.effective_batch_size  # every worker's batch: one step's samples
    per_epoch, step, epoch = prepared.steps_per_epoch(size), 0, 0
    alive, stop = list(lanes), False
    while step < total and alive and not stop:
        in_epoch = 0
        for batch in batches(data, size, device, generator):
            interrupt.check()  # a Ctrl-C lost in a finaliser is raised here
            losses = stepper.step(batch, alive, step)
            for lane, loss in zip(alive, losses, strict=True):
                if lane.watch.add(loss):
                    lane.steps = step + 1
                elif lane.per_step and lane.scheduler is not None:
                    lane.scheduler.step()
            step += 1
            in_epoch += 1
            alive = [lane for lane in alive if lane.steps is None]
            if not alive or step >= total:
                break
        if alive and in_epoch == per_epoch:  # a complete epoch
            epoch += 1
            for lane in alive:
                if lane.scheduler is not None and not lane.per_step:
                    lane.scheduler.step()
            if on_epoch_end is not None:
                stop = on_epoch_end(epoch)
    _finish(lanes, step, stepper.scaled)
    return step


def _finish(lanes: list[Lane], step: int, scaled: bool) -> None:
    """Read back pending losses; a last sampled gradient that is not finite fails the lane
    (unless loss scaling skipped that step)."""
    for lane in lanes:
        if lane.steps is None:
            lane.steps = step
        if not lane.watch.flush():
            last = lane.monitor.last_grad_norm()
            if not scaled and last is not None and not math.isfinite(last):
                lane.watch.fail(step - 1, "non-finite gradient")


def place(data: Data, device: torch.device) -> Data:
    """Tensor data moves to the device once; if it does not fit, batches move one at a time."""
    if not isinstance(data, TensorData):
        return data
    try:
        return data.to(device)
    except Exception as exc:
        if not is_oom(exc):
            raise
        release_memory(device)
        return data
