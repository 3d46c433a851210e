"""How a model trains, all but its learning rate: the one settings type probes, configs and
every command build on, validated here and nowhere else.

``Training`` holds what a config records (updater, batch size, init, schedule, dropout,
clipping, precision); ``ProbeSettings`` adds a learning rate and how one run goes (steps,
seed, device). A command checks its options by building a ``Training`` before it loads a task,
so no learning rate is invented to validate the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from triage.builders import StepSchedule
from triage.choices import INITS, PRECISIONS
from triage.errors import SettingsError
from triage.optimizers import OptimizerConfig, canonical
from triage.validate import (
    check_choice,
    check_count,
    check_dropout,
    check_positive,
    check_positive_int,
)

if TYPE_CHECKING:
    from triage.probe.settings import ProbeSettings
    from triage.task import Task


@dataclass(frozen=True)
class Training:
    """How a model trains, apart from the learning rate; validated at construction.

    Args:
        optimizer: ``sgd``, ``adam``, ``adamw``, ``rmsprop``, ``adagrad``, any ``torch.optim``
            class by name (``LBFGS``, ...), or ``task`` (the Task's own factory); see
            ``triage.optimizers``.
        momentum: SGD/RMSProp momentum (other optimizers keep their own defaults).
        nesterov: Nesterov momentum for SGD (the documents' default updater).
        weight_decay: L2 penalty.
        batch_size: samples per step.
        init: ``default`` (the framework's), ``xavier``, ``he`` or ``lecun``; biases zeroed.
        schedule: step decay, or None for a constant LR.
        dropout: rate for every dropout layer of the model, or None to keep the model's own.
        grad_clip_norm: clip the global gradient norm to this, or None (off while searching).
        precision: ``32``, ``bf16`` (bfloat16 autocast) or ``16-mixed`` (float16 autocast
            with loss scaling; CUDA only). Divergence is judged on the unscaled loss.
        world_size: data-parallel workers the training runs on, each taking ``batch_size``
            samples a step (one averaged gradient over ``effective_batch_size``). On one
            device a step accumulates ``world_size`` micro-batches of ``batch_size``, so
            BatchNorm's statistics are per micro-batch, as they are per worker.
        warmup_epochs: Goyal et al.'s gradual warmup for several workers: over this many
            epochs the LR rises step by step from lr / ``world_size`` (the one-worker LR the
            linear rule scales) to lr; None for none.
    """

    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    batch_size: int = 32
    init: str = "default"
    schedule: StepSchedule | None = None
    dropout: float | None = None
    grad_clip_norm: float | None = None
    precision: str = "32"
    world_size: int = 1
    warmup_epochs: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "optimizer", canonical(self.optimizer))
        check_choice("init", self.init, INITS)
        check_positive("momentum", self.momentum, allow_zero=True)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if self.optimizer == "sgd" and self.nesterov and self.momentum <= 0:
            raise SettingsError("Nesterov SGD needs momentum > 0; set --momentum or --no-nesterov")
        check_positive_int("batch_size", self.batch_size)
        check_dropout(self.dropout)
        if self.grad_clip_norm is not None:
            check_positive("grad_clip_norm", self.grad_clip_norm)
        check_choice("precision", self.precision, PRECISIONS)
        check_positive_int("world_size", self.world_size)
        if self.warmup_epochs is not None:
            check_positive_int("warmup_epochs", self.warmup_epochs)
            if self.world_size == 1:
                raise SettingsError("warmup_epochs ramps the LR up from lr / world_size, so it "
                                    "needs world_size > 1; drop it for one worker")

    @property
    def effective_batch_size(self) -> int:
        """Samples behind one optimizer step: every worker's batch together."""
        return self.batch_size * self.world_size

    def optimizer_at(self, lr: float) -> OptimizerConfig:
        """The optimizer at ``lr``; momentum and Nesterov only where triage applies them (SGD;
        momentum for RMSProp too), so configs do not show unused values."""
        return OptimizerConfig(
            self.optimizer, lr, self.momentum if self.optimizer in ("sgd", "rmsprop") else 0.0,
            self.nesterov and self.optimizer == "sgd", self.weight_decay)

    def scheduler(self, optimizer: Any, steps_per_epoch: int) -> tuple[Any, bool]:
        """(the LR scheduler for these settings or None, whether it steps after every
        optimizer step rather than after every epoch)."""
        from triage.builders import make_scheduler, make_step_scheduler  # torch

        if self.warmup_epochs is None:
            return make_scheduler(optimizer, self.schedule), False
        return make_step_scheduler(optimizer, self.schedule, steps_per_epoch,
                                   self.warmup_epochs * steps_per_epoch,
                                   1 / self.world_size), True

    def training(self) -> Training:
        """Just the training settings (a ``ProbeSettings`` drops its LR and run)."""
        return Training(**self._fields())

    def at(self, lr: float, **run: Any) -> ProbeSettings:
        """A probe's settings: these, at ``lr``, with ``run``'s steps, seed, device, ..."""
        from triage.probe.settings import ProbeSettings

        return ProbeSettings(lr=lr, **self._fields(), **run)

    def _fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(Training)}

    def with_(self, **changes: Any) -> Any:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def updater_for(optimizer: str | None, task: Task | None) -> str:
    """The updater a command trains with: the one named, else the Task's own, else Nesterov
    SGD (the documents' default)."""
    return optimizer or (task.updater if task is not None else "sgd")


def check_run(seed: int, device: str, precision: str = "32") -> None:
    """Where and how reproducibly a run trains: a seed, a device that exists in this torch
    build's vocabulary and that can train in ``precision``.

    Raises:
        SettingsError: naming the value and what to use instead.
    """
    check_count("seed", seed)
    check_choice("precision", precision, PRECISIONS)
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda")
                                           or device.startswith("cuda:")):
        raise SettingsError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    from triage.probe.device import check_precision

    check_precision(precision, device)
