"""ProbeSettings: the hyperparameters of one short, instrumented training run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from triage.builders import StepSchedule
from triage.choices import INITS, PRECISIONS
from triage.errors import SettingsError
from triage.optimizers import OptimizerConfig, OptimizerFactory, canonical
from triage.probe.device import check_precision
from triage.validate import (
    check_choice,
    check_count,
    check_dropout,
    check_positive,
    check_positive_int,
)

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ProbeSettings:
    """One probe's hyperparameters, validated at construction.

    Args:
        lr: learning rate (> 0).
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
        steps: stop after this many optimizer steps; None runs ``epochs``.
        epochs: epochs to run when ``steps`` is None; None means the task's budget.
        seed: seeds the model's initialisation and the data order.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        evaluate: compute validation loss (and accuracy) at the end.
        precision: ``32``, ``bf16`` (bfloat16 autocast) or ``16-mixed`` (float16 autocast
            with loss scaling; CUDA only). Divergence is judged on the unscaled loss.
    """

    lr: float
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    batch_size: int = 32
    init: str = "default"
    schedule: StepSchedule | None = None
    dropout: float | None = None
    grad_clip_norm: float | None = None
    steps: int | None = None
    epochs: int | None = None
    seed: int = 0
    device: str = "auto"
    evaluate: bool = True
    precision: str = "32"

    def __post_init__(self) -> None:
        check_positive("lr", self.lr)
        object.__setattr__(self, "optimizer", canonical(self.optimizer))
        check_choice("init", self.init, INITS)
        check_positive("momentum", self.momentum, allow_zero=True)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if self.optimizer == "sgd" and self.nesterov and self.momentum <= 0:
            raise SettingsError("Nesterov SGD needs momentum > 0; set --momentum or --no-nesterov")
        for name in ("batch_size", "steps", "epochs"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        check_count("seed", self.seed)
        check_dropout(self.dropout)
        if self.grad_clip_norm is not None:
            check_positive("grad_clip_norm", self.grad_clip_norm)
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise SettingsError(
                f"unknown device {self.device!r}; use auto, cpu, cuda or cuda:N"
            )
        check_choice("precision", self.precision, PRECISIONS)
        check_precision(self.precision, self.device)

    @property
    def updater(self) -> OptimizerConfig:
        """The optimizer these settings train with; momentum and Nesterov only where triage
        applies them (SGD; momentum for RMSProp too), so configs do not show unused values."""
        return OptimizerConfig(
            self.optimizer, self.lr,
            self.momentum if self.optimizer in ("sgd", "rmsprop") else 0.0,
            self.nesterov and self.optimizer == "sgd", self.weight_decay)

    def make_optimizer(self, params: Any, factory: OptimizerFactory | None = None
                       ) -> torch.optim.Optimizer:
        """The optimizer over ``params`` (``factory``: the Task's, for ``task``)."""
        return self.updater.make(params, factory)

    def with_(self, **changes: Any) -> ProbeSettings:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schedule"] = asdict(self.schedule) if self.schedule else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeSettings:
        data = dict(data)
        if data.get("schedule"):
            data["schedule"] = StepSchedule(**data["schedule"])
        return cls(**data)
