"""This rank's share of a data-parallel probe step, under ``DistributedDataParallel``.

Every rank draws the same global batch (same seed, same data order), takes its own
micro-batch of it (``split_batch``: the ones ``--world-size`` accumulates on one device)
and DDP averages the gradients. Each rank's loss is weighted so that the average is exactly
the accumulated gradient of the one-device plan: sum over ranks of (share/n) x the share's
gradient. The step's loss is summed across ranks, so every rank's divergence watch sees the
same number and they stop together (one rank's NaN is everyone's).

DDP wraps the task's step, not the model (``_Step``): the step may call the model any way
(``training_step``, keyword batches), and DDP's forward is still what runs it, so the
gradients are synchronised. A DDP communication hook reads each rank's own gradient before
the average: with the averaged one, the two batch sizes of the gradient noise scale.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.nn.parallel import DistributedDataParallel

from triage.data import batch_size, first_batch, split_batch, to_device
from triage.probe.group import Job
from triage.task import PreparedTask


class _Step(nn.Module):
    """The task's step as a module, so that DDP's forward runs it."""

    def __init__(self, model: nn.Module, step: Callable[[nn.Module, Any], Any]) -> None:
        super().__init__()
        self.model, self.step = model, step

    def forward(self, batch: object) -> torch.Tensor:
        return self.step(self.model, batch).loss


class Shard:
    """Computes this rank's part of each step's gradient; the averaged gradient lands in the
    model's ``.grad``, as it would after accumulating every worker's micro-batch.

    Args:
        job: the torchrun job.
        prepared: the task (its step, and a batch to see which parameters it uses).
        model: the probe's model, already on ``device``.
        device: this rank's device.
    """

    def __init__(self, job: Job, prepared: PreparedTask, model: nn.Module,
                 device: torch.device) -> None:
        self.job = job
        self.module = DistributedDataParallel(
            _Step(model, prepared.step),
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=_leaves_parameters_out(job, prepared, model, device))
        # the hook's state holds no reference back to the module: a cycle through DDP's C++
        # reducer is one Python's collector cannot see, and the module and its process group
        # would live until the interpreter's exit (where gloo's threads abort)
        self._own = _Own()
        self.module.register_comm_hook(self._own, _hook)

    def backward(self, batch: object, amp: Any, scale: Callable[[torch.Tensor], torch.Tensor],
                 sample: bool) -> tuple[torch.Tensor, float | None]:
        """Forward and backward of this rank's micro-batch; returns the batch's mean loss
        (the same on every rank) and, when ``sample``, the mean over ranks of their own
        gradients' squared norms (None otherwise)."""
        n, size, rank = batch_size(batch), self.job.size, self.job.rank
        parts = split_batch(batch, size)
        sample = sample and len(parts) == size
        mine = parts[rank] if rank < len(parts) else parts[0]
        # a rank without a micro-batch (a last batch smaller than the job) adds nothing
        weight = batch_size(mine) * size / n if rank < len(parts) else 0.0
        self._own.sampling, self._own.squares = sample, 0.0
        with amp:
            local = self.module(mine)
        scale(local * weight).backward()
        total = (local.detach().float() * (weight / size)).reshape(())
        dist.all_reduce(total)
        own = None
        if sample:
            squares = torch.as_tensor(self._own.squares, dtype=torch.float64,
                                      device=total.device)
            dist.all_reduce(squares)
            own = float(squares) / size
        self._own.sampling = False
        return total, own


class _Own:
    """What the communication hook records: this rank's own squared gradient norm."""

    def __init__(self) -> None:
        self.sampling = False
        self.squares: torch.Tensor | float = 0.0


def _leaves_parameters_out(job: Job, prepared: PreparedTask, model: nn.Module,
                           device: torch.device) -> bool:
    """Whether a step leaves some of the model's parameters without a gradient (a head the
    loss does not use): DDP must then look for them every step. Tried once per task, on a
    copy, with the random state put back (the probe's draws stay as they were)."""
    key = id(prepared)
    if key not in job.unused:
        copy = deepcopy(model)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            prepared.step(copy, to_device(first_batch(prepared.train, 2), device)).loss.backward()
        job.unused[key] = any(p.requires_grad and p.grad is None for p in copy.parameters())
    return job.unused[key]


def _hook(own, bucket):  # type: ignore[no-untyped-def]
    """Record this rank's own gradient (before averaging) on sampled steps, then average.
    (Not annotated: DDP checks a hook's annotations against its classes, not strings.)"""
    if own.sampling:
        own.squares = own.squares + bucket.buffer().double().pow(2).sum()
    return allreduce_hook(None, bucket)  # type: ignore[arg-type]
